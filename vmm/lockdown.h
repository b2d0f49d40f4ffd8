/* SPDX-License-Identifier: MIT */
/*
 * The VMM after setup: every capability dropped and the seccomp filter of
 * policy/seccomp/vmm.policy on every thread (docs/security.md).
 */
#ifndef SVMM_LOCKDOWN_H
#define SVMM_LOCKDOWN_H

#include <stddef.h>

/*
 * control_dir_fd is the control socket's directory (O_PATH), the only place
 * the filter lets the VMM remove a file from. 0, or -errno with err set.
 */
int vmm_lockdown(int control_dir_fd, char *err, size_t errlen);

#endif
