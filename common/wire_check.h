/* SPDX-License-Identifier: MIT */
/* What every wire decoder needs (device, control, broker protocols): refusing with a reason, zero checks. */
#ifndef SVMM_WIRE_CHECK_H
#define SVMM_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Refuses a message: sets *why (if not NULL) to the static reason, returns err. */
static inline int wire_refuse(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* True if the n bytes at p are all zero: reserved fields and padding carry nothing. */
static inline bool wire_all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

#endif
