/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_role = "svmm";
static enum log_level log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_role(const char *role)
{
	log_role = role;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int saved_errno = errno;
	int n;

	if (level > log_level)
		return;
	/*
	 * Format into one buffer and write it with a single call, so that lines
	 * of the VMM, the device process and the broker never interleave.
	 */
	n = snprintf(line, sizeof(line), "%s: %s: ", log_role, level_names[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	line[sizeof(line) - 2] = '\0';
	strcat(line, "\n");
	fputs(line, stderr);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
