/* SPDX-License-Identifier: MIT */
/* Runs one syscall in a forked child under a compiled seccomp filter and reports how the child ended. */
#ifndef SVMM_TEST_SECCOMP_PROBE_H
#define SVMM_TEST_SECCOMP_PROBE_H

#include <stdint.h>

#include "jail/seccomp_policy.h"

enum probe_outcome {
	PROBE_RETURNED,		/* the syscall returned (any result): allowed */
	PROBE_KILLED_SIGSYS,	/* the kernel killed the process: refused */
	PROBE_OTHER,		/* anything else: a test failure */
};

/* The embedded xHCI device policy, parsed (aborts the test on failure). */
const struct seccomp_policy *probe_xhci_policy(void);
/* The embedded VMM policy, parsed with a stand-in control directory fd and pids no process has. */
const struct seccomp_policy *probe_vmm_policy(void);
/* The embedded broker policy, parsed with a stand-in socket directory fd. */
const struct seccomp_policy *probe_broker_policy(void);

/* Forks, loads the policy's filter, calls syscall(nr, args), and reports. */
enum probe_outcome probe_syscall(const struct seccomp_policy *p, int nr, const uint64_t args[6],
				 int *status_out);

#endif
