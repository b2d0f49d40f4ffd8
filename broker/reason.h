/* SPDX-License-Identifier: MIT */
/* A refusal's reason, formatted into the caller's buffer, and its errno returned: one line per check. */
#ifndef SVMM_BROKER_REASON_H
#define SVMM_BROKER_REASON_H

#include <stddef.h>

/* Formats the reason into why (truncated to whylen) and returns err. */
int reason_fail(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
