/* SPDX-License-Identifier: MIT */
#include "common/monotonic.h"

#include <time.h>

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t monotonic_ms(void)
{
	return (int64_t)(monotonic_ns() / 1000000u);
}
