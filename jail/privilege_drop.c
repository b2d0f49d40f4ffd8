/* SPDX-License-Identifier: MIT */
#include "jail/privilege_drop.h"

#include <errno.h>
#include <linux/securebits.h>
#include <stdbool.h>
#include <sys/capability.h>
#include <sys/prctl.h>

static int failed(const char **step, const char *what)
{
	int err = -errno;

	if (step)
		*step = what;
	return err ? err : -EPERM;
}

static bool has_setpcap(void)
{
	cap_flag_value_t have = CAP_CLEAR;
	cap_t cur = cap_get_proc();

	if (cur) {
		cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &have);
		cap_free(cur);
	}
	return have == CAP_SET;
}

int privileges_drop_all(const char **step)
{
	cap_t none;
	int r;

	if (has_setpcap()) {
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0)
			return failed(step, "lock the securebits");
		for (cap_value_t c = 0; CAP_IS_SUPPORTED(c); c++) {
			if (cap_drop_bound(c) < 0)
				return failed(step, "empty the bounding set");
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return failed(step, "clear the ambient set");
	none = cap_init();
	if (!none)
		return failed(step, "cap_init");
	r = cap_set_proc(none);
	cap_free(none);
	if (r < 0)
		return failed(step, "drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return failed(step, "set no_new_privs");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return failed(step, "make the process non-dumpable");
	return 0;
}
