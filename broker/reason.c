/* SPDX-License-Identifier: MIT */
#include "broker/reason.h"

#include <stdarg.h>
#include <stdio.h>

int reason_fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return err;
}
