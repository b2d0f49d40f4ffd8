/* SPDX-License-Identifier: MIT */
#include "vmm/vmm_lockdown.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail/privilege_drop.h"
#include "policy/seccomp_policies.h"

/*
 * Above PID_MAX_LIMIT (2^22): no process has it. A missing child must not
 * become 0 or -1, which kill() and wait4() read as a group or everyone.
 */
#define NO_SUCH_PID 0x7fffffffull

static uint64_t pid_value(pid_t pid)
{
	return pid > 0 ? (uint64_t)pid : NO_SUCH_PID;
}

int vmm_lockdown_policy(const struct vmm_lockdown_targets *t, struct seccomp_policy *policy,
			char *err, size_t errlen)
{
	const struct seccomp_runtime_value runtime[] = {
		{ "control_dir", (uint64_t)t->control_dir_fd },
		{ "vmm_pid", (uint64_t)getpid() },
		{ "device_pid", pid_value(t->device_pid) },
		{ "broker_pid", pid_value(t->broker_pid) },
	};

	if (t->control_dir_fd < 0) {
		snprintf(err, errlen, "lockdown: no control socket directory");
		return -EBADF;
	}
	return seccomp_policies_vmm(runtime, sizeof(runtime) / sizeof(runtime[0]), policy, err, errlen);
}

int vmm_lockdown(const struct vmm_lockdown_targets *t, char *err, size_t errlen)
{
	static struct seccomp_policy policy;
	const char *step = NULL;
	void *filter;
	int r;

	r = vmm_lockdown_policy(t, &policy, err, errlen);
	if (r < 0)
		return r;
	/* Compiled before the privileges go: libseccomp needs nothing the filter forbids after. */
	filter = seccomp_policy_compile(&policy, err, errlen);
	if (!filter)
		return -EINVAL;
	r = seccomp_policy_all_threads(filter);
	if (r < 0) {
		snprintf(err, errlen, "lockdown: cannot apply the filter to every thread: %s", strerror(-r));
		goto out;
	}
	r = privileges_drop_all(&step);
	if (r < 0) {
		snprintf(err, errlen, "lockdown: cannot %s: %s", step, strerror(-r));
		goto out;
	}
	r = seccomp_policy_load(filter);
	if (r < 0)
		snprintf(err, errlen, "lockdown: cannot load the seccomp filter: %s", strerror(-r));
out:
	seccomp_policy_release(filter);
	return r;
}
