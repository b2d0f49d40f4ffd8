/* SPDX-License-Identifier: MIT */
/*
 * The one status vocabulary of every svmm protocol: device, control and
 * broker replies carry these values, and the client prints their names,
 * which are crosvm's words ("no_available_port"), so scripts written for
 * crosvm read svmm's errors the same way.
 */
#ifndef SVMM_STATUS_H
#define SVMM_STATUS_H

enum svmm_status {
	SVMM_OK = 0,
	SVMM_E_INVALID,			/* malformed, unknown handle, ambiguous name, a refused name */
	SVMM_E_NO_AVAILABLE_PORT,	/* every root port of the device's speed is taken */
	SVMM_E_NO_SUCH_PORT,
	SVMM_E_NO_SUCH_DEVICE,		/* no node, no sysfs entry, nothing by that name, an empty port */
	SVMM_E_FAILED_TO_OPEN_DEVICE,	/* refused (policy, hub, held) or the open failed */
	SVMM_E_DEVICE_DEAD,		/* the device process is dead (a fatal error, a jail violation) */
	SVMM_E_INTERNAL,
	SVMM_STATUS_END,
};

/* crosvm's word for a status ("ok", "invalid_request", ...), or "?" outside the enum. */
const char *svmm_status_name(unsigned int status);

#endif
