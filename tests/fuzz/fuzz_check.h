/* SPDX-License-Identifier: MIT */
/*
 * What every decoder fuzz target shares: the libFuzzer entry points, and
 * FUZZ_CHECK, an invariant that aborts with its text (libFuzzer then keeps
 * the input as a crash, so a broken invariant fails the run like a crash).
 */
#ifndef SVMM_FUZZ_CHECK_H
#define SVMM_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,     \
				__LINE__, #cond);                                      \
			abort();                                                       \
		}                                                                      \
	} while (0)

/*
 * The message a wire target sends: the input's bytes, cut or zero-padded to
 * want bytes (a seed need not carry a message's trailing zeros), or, with
 * as_is, exactly the input (at most cap bytes), so a wrong size is reached
 * too. Returns the message's length.
 */
static inline size_t fuzz_message(const uint8_t *data, size_t size, int as_is, size_t want,
				  uint8_t *msg, size_t cap)
{
	size_t len = as_is ? (size < cap ? size : cap) : want;

	memset(msg, 0, cap);
	memcpy(msg, data, size < len ? size : len);
	return len;
}

#endif
