/* SPDX-License-Identifier: MIT */
#include "trb_ring.h"

#include <string.h>

#define TRB_TYPE_LINK (6u << 10)
#define TRB_LINK_TC 2u

static void put(uint8_t *p, uint64_t param, uint32_t status, uint32_t control)
{
	memcpy(p, &param, 8);
	memcpy(p + 8, &status, 4);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(p + 12, &control, 4);
}

uint64_t trb_ring_put(uint8_t *host, uint64_t base, unsigned int size, unsigned int *idx,
		      bool *cycle, uint64_t param, uint32_t status, uint32_t control,
		      bool withhold)
{
	uint64_t at = base + 16ull * *idx;
	bool c = withhold ? !*cycle : *cycle;

	put(host + 16ull * *idx, param, status, (control & ~1u) | (c ? 1u : 0u));
	if (++*idx == size - 1) {
		put(host + 16ull * *idx, base, 0, TRB_TYPE_LINK | TRB_LINK_TC | (*cycle ? 1u : 0u));
		*idx = 0;
		*cycle = !*cycle;
	}
	return at;
}
