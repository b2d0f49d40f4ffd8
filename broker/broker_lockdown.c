/* SPDX-License-Identifier: MIT */
#include "broker/broker_lockdown.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "jail/privilege_drop.h"
#include "policy/seccomp_policies.h"

int broker_lockdown(int socket_dir_fd)
{
	static struct seccomp_policy policy;
	const struct seccomp_runtime_value runtime[] = {
		{ "socket_dir", socket_dir_fd >= 0 ? (uint64_t)socket_dir_fd : BROKER_NO_SOCKET_DIR },
	};
	const char *step = NULL;
	char err[256];
	void *filter;
	int r;

	r = seccomp_policies_broker(runtime, 1, &policy, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return r;
	}
	/* Compiled first: libseccomp allocates, and the privileges are not needed for it. */
	filter = seccomp_policy_compile(&policy, err, sizeof(err));
	if (!filter) {
		log_err("%s", err);
		return -EINVAL;
	}
	r = privileges_drop_all(&step);
	if (r < 0) {
		log_err("cannot %s: %s", step, strerror(-r));
	} else {
		r = seccomp_policy_load(filter);
		if (r < 0)
			log_err("cannot load the seccomp filter: %s", strerror(-r));
	}
	seccomp_policy_release(filter);
	return r;
}
