/* SPDX-License-Identifier: MIT */
/*
 * Reading a producer ring (command ring, transfer rings). Link TRBs are
 * followed here, so callers only see the TRBs that do work. Every TRB read is
 * charged to a budget the doorbell refills, and at most XHCI_LINK_MAX Link
 * TRBs are followed in a row: a guest that links a ring to itself, or keeps
 * a ring without a cycle toggle full forever, gets an error, not a hang.
 */
#include <errno.h>

#include "devices/xhci/xhci.h"

/*
 * Returns 1 with the TRB at r's dequeue pointer in *trb (its address in
 * *addr), 0 if the guest has not handed it over yet (cycle bit), -ELOOP on a
 * Link loop or an exhausted budget, -EFAULT if the ring leaves guest memory.
 * Link TRBs passed update r; the returned TRB is not consumed (see advance).
 */
int xhci_ring_fetch(struct xhci *x, struct xhci_ring *r, uint32_t *budget,
		    struct xhci_trb *trb, uint64_t *addr)
{
	for (unsigned int links = 0;; links++) {
		*addr = r->dequeue;
		if (links > XHCI_LINK_MAX || *budget == 0)
			return -ELOOP;
		(*budget)--;
		if (guest_memory_read(&x->mem, r->dequeue, trb, sizeof(*trb)) < 0)
			return -EFAULT;
		if (!!(trb->control & TRB_C) != r->ccs)
			return 0;
		if (trb_type(trb) != TRB_LINK)
			return 1;
		if (trb->control & TRB_LINK_TC)
			r->ccs = !r->ccs;
		r->dequeue = trb->param & ~0xfull;
	}
}

void xhci_ring_advance(struct xhci_ring *r)
{
	r->dequeue += sizeof(struct xhci_trb);
}
