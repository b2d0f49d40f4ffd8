/* SPDX-License-Identifier: MIT */
#include "privileges.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "privilege_drop.h"

int broker_drop_privileges(void)
{
	const char *step = NULL;
	int r = privileges_drop_all(&step);

	/* The uid stays: usbfs nodes are owned by root and opened with DAC permission alone. */
	if (r < 0)
		log_err("cannot %s: %s", step, strerror(-r));
	return r;
}
