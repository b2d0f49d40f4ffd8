/* SPDX-License-Identifier: MIT */
#include "lockdown.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "privilege_drop.h"
#include "seccomp_policies.h"

int vmm_lockdown(int control_dir_fd, char *err, size_t errlen)
{
	static struct seccomp_policy policy;
	const struct seccomp_runtime_value runtime[] = {
		{ "control_dir", (uint64_t)control_dir_fd },
	};
	const char *step = NULL;
	void *filter;
	int r;

	if (control_dir_fd < 0) {
		snprintf(err, errlen, "lockdown: no control socket directory");
		return -EBADF;
	}
	r = seccomp_policies_vmm(runtime, 1, &policy, err, errlen);
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
