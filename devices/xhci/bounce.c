/* SPDX-License-Identifier: MIT */
/*
 * Bounce buffers: the controller-owned copy of each TD's data (the device
 * never sees guest memory). A bulk stream allocates and frees one buffer of
 * the same size per TD; large ones would each be a fresh mmap that faults in
 * and zeroes every page, then is unmapped again. Recently freed buffers are
 * kept for reuse instead, up to XHCI_BOUNCE_CACHE of them and
 * XHCI_BOUNCE_CACHE_BYTES in all, so the cache stays small and bounded
 * whatever the guest does.
 */
#include <stdlib.h>

#include "devices/xhci/xhci.h"

/* Below this, malloc's own bins are as fast as any cache. */
#define BOUNCE_MIN_CACHED (16u << 10)

uint8_t *xhci_bounce_get(struct xhci *x, size_t len, size_t *cap)
{
	struct xhci_bounce_cache *c = &x->bounce;
	unsigned int best = c->n;
	uint8_t *p;

	if (len == 0)
		len = 1;
	if (len >= BOUNCE_MIN_CACHED) {
		/* The smallest cached buffer that fits without wasting more than half of it. */
		for (unsigned int i = 0; i < c->n; i++) {
			if (c->e[i].cap >= len && c->e[i].cap / 2 <= len &&
			    (best == c->n || c->e[i].cap < c->e[best].cap))
				best = i;
		}
		if (best < c->n) {
			p = c->e[best].p;
			*cap = c->e[best].cap;
			c->bytes -= c->e[best].cap;
			c->e[best] = c->e[--c->n];
			return p;
		}
	}
	p = malloc(len);
	*cap = p ? len : 0;
	return p;
}

void xhci_bounce_put(struct xhci *x, uint8_t *p, size_t cap)
{
	struct xhci_bounce_cache *c = &x->bounce;

	if (!p)
		return;
	if (c->closed || cap < BOUNCE_MIN_CACHED || c->n == XHCI_BOUNCE_CACHE ||
	    cap > XHCI_BOUNCE_CACHE_BYTES - c->bytes) {
		free(p);
		return;
	}
	c->e[c->n].p = p;
	c->e[c->n].cap = cap;
	c->n++;
	c->bytes += cap;
}

void xhci_bounce_release(struct xhci *x)
{
	struct xhci_bounce_cache *c = &x->bounce;

	while (c->n)
		free(c->e[--c->n].p);
	c->bytes = 0;
	/* TDs the devices return after this are freed, not cached. */
	c->closed = true;
}
