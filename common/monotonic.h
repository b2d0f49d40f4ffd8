/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock (CLOCK_MONOTONIC), for intervals and deadlines in any
 * of the processes: never the wall clock, which an administrator may set.
 */
#ifndef SVMM_MONOTONIC_H
#define SVMM_MONOTONIC_H

#include <stdint.h>

uint64_t monotonic_ns(void);
int64_t monotonic_ms(void);

#endif
