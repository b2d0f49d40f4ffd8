/* SPDX-License-Identifier: MIT */
#include "privileges.h"

#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "log.h"

int broker_drop_privileges(void)
{
	cap_t none;
	int err = 0;

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. */
	if (CAP_IS_SUPPORTED(CAP_SETPCAP)) {
		cap_flag_value_t have = CAP_CLEAR;
		cap_t cur = cap_get_proc();

		if (cur) {
			cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &have);
			cap_free(cur);
		}
		for (cap_value_t c = 0; have == CAP_SET && CAP_IS_SUPPORTED(c); c++) {
			if (cap_drop_bound(c) < 0) {
				err = -errno;
				log_err("cannot drop capability %d from the bounding set: %s", c,
					strerror(errno));
				return err;
			}
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		err = -errno;
		log_err("cannot clear ambient capabilities: %s", strerror(errno));
		return err;
	}
	none = cap_init();
	if (!none)
		return -ENOMEM;
	if (cap_set_proc(none) < 0) {
		err = -errno;
		log_err("cannot drop capabilities: %s", strerror(errno));
	}
	cap_free(none);
	if (err)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_err("cannot set no_new_privs: %s", strerror(errno));
		return err;
	}
	/* No core dump of a process that held device fds, no ptrace by other uid-0 processes without caps. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		err = -errno;
		log_err("cannot make the broker non-dumpable: %s", strerror(errno));
		return err;
	}
	return 0;
}
