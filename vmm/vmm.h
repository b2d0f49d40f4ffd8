/* SPDX-License-Identifier: MIT */
#ifndef SVMM_VMM_H
#define SVMM_VMM_H

#include "args.h"

/* `svmm run`: boots the guest and serves the control socket; returns the exit status. */
int vmm_main(const struct run_options *o);

#endif
