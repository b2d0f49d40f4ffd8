/* SPDX-License-Identifier: MIT */
#include "common/status.h"

static const char *const status_names[SVMM_STATUS_END] = {
	[SVMM_OK] = "ok",
	[SVMM_E_INVALID] = "invalid_request",
	[SVMM_E_NO_AVAILABLE_PORT] = "no_available_port",
	[SVMM_E_NO_SUCH_PORT] = "no_such_port",
	[SVMM_E_NO_SUCH_DEVICE] = "no_such_device",
	[SVMM_E_FAILED_TO_OPEN_DEVICE] = "failed_to_open_device",
	[SVMM_E_DEVICE_DEAD] = "device_dead",
	[SVMM_E_INTERNAL] = "internal_error",
};

const char *svmm_status_name(unsigned int status)
{
	if (status >= SVMM_STATUS_END)
		return "?";
	return status_names[status];
}
