/* SPDX-License-Identifier: MIT */
/*
 * The VMM after setup: every capability dropped and the seccomp filter of
 * policy/seccomp/vmm.policy on every thread (docs/security.md).
 */
#ifndef SVMM_LOCKDOWN_H
#define SVMM_LOCKDOWN_H

#include <stddef.h>
#include <sys/types.h>

#include "jail/seccomp_policy.h"

/*
 * What the filter lets the VMM act on, its runtime values. The VMM keeps
 * uid 0, so each is the one target of a call that could otherwise reach any
 * root process or file.
 */
struct vmm_lockdown_targets {
	int control_dir_fd;	/* the control socket's directory (O_PATH): the one place it removes a file */
	pid_t device_pid;	/* the device process: the one process it may kill and reap; <= 0: none */
	pid_t broker_pid;	/* its own broker child: the other it may reap; <= 0: none (a system broker) */
};

/*
 * The VMM's policy with t's values and the VMM's own pid (the tgid its
 * threads are kicked with): what vmm_lockdown compiles. A pid <= 0 becomes
 * one no process has, never a group. 0, or -errno with err set.
 */
int vmm_lockdown_policy(const struct vmm_lockdown_targets *t, struct seccomp_policy *policy,
			char *err, size_t errlen);

/* Drops every capability and loads vmm_lockdown_policy(t) on every thread. 0, or -errno with err set. */
int vmm_lockdown(const struct vmm_lockdown_targets *t, char *err, size_t errlen);

#endif
