/* SPDX-License-Identifier: MIT */
#ifndef SVMM_BROKER_H
#define SVMM_BROKER_H

#include "args.h"

/* `svmm broker`: the system broker service; returns the exit status. */
int broker_main(const struct broker_options *o);

#endif
