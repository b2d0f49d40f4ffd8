/* SPDX-License-Identifier: MIT */
/*
 * One interrupter's event ring: the Event Ring Segment Table, read once when
 * the guest writes ERSTBA and kept here (so a guest rewriting the table
 * later cannot move the ring under us), the enqueue pointer and Producer
 * Cycle State, and the Event Ring Full condition.
 *
 * Positions are handled as a linear index over all segments. One slot is
 * never written so that "full" and "empty" differ: when only two free slots
 * remain, the second to last receives an Event Ring Full Error event and
 * further events are dropped until the guest moves ERDP.
 */
#include <errno.h>
#include <string.h>

#include "xhci.h"

#define ERST_SEG_MIN 16u
#define ERST_SEG_MAX 4096u

struct erst_entry {
	uint64_t base;
	uint32_t size;
	uint32_t reserved;
};

int xhci_event_ring_setup(struct xhci_interrupter *ir)
{
	struct xhci *x = ir->x;
	uint32_t n = ir->erstsz & 0xffff;

	ir->ring_ok = false;
	ir->full = false;
	if (n == 0)
		return ir->index == 0 ? -EINVAL : 0;	/* a secondary ring may be disabled */
	if (n > XHCI_ERST_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		struct erst_entry e;

		if (guest_memory_read(&x->mem, ir->erstba + 16ull * i, &e, sizeof(e)) < 0)
			return -EFAULT;
		e.base &= ~0x3full;
		e.size &= 0xffff;
		if (e.size < ERST_SEG_MIN || e.size > ERST_SEG_MAX)
			return -EINVAL;
		if (!guest_memory_valid(&x->mem, e.base, 16ull * e.size))
			return -EFAULT;
		ir->seg_base[i] = e.base;
		ir->seg_size[i] = e.size;
	}
	ir->nseg = n;
	ir->enq_seg = 0;
	ir->enq_idx = 0;
	ir->pcs = true;
	ir->ring_ok = true;
	return 0;
}

static uint32_t ring_total(const struct xhci_interrupter *ir)
{
	uint32_t t = 0;

	for (unsigned int i = 0; i < ir->nseg; i++)
		t += ir->seg_size[i];
	return t;
}

static uint32_t enq_linear(const struct xhci_interrupter *ir)
{
	uint32_t t = 0;

	for (unsigned int i = 0; i < ir->enq_seg; i++)
		t += ir->seg_size[i];
	return t + ir->enq_idx;
}

/* ERDP as a linear index; -EFAULT if it points outside the ring. */
static int64_t deq_linear(const struct xhci_interrupter *ir)
{
	uint64_t p = ir->erdp & ~0xfull;
	uint32_t t = 0;

	for (unsigned int i = 0; i < ir->nseg; i++) {
		if (p >= ir->seg_base[i] && p - ir->seg_base[i] < 16ull * ir->seg_size[i])
			return t + (p - ir->seg_base[i]) / 16;
		t += ir->seg_size[i];
	}
	return -EFAULT;
}

/* Free slots between enqueue and dequeue; the whole ring when they are equal (empty). */
static int64_t free_slots(const struct xhci_interrupter *ir)
{
	int64_t deq = deq_linear(ir);
	int64_t total = ring_total(ir);
	int64_t f;

	if (deq < 0)
		return deq;
	f = (deq - (int64_t)enq_linear(ir) + total) % total;
	return f == 0 ? total : f;
}

static int write_slot(struct xhci_interrupter *ir, const struct xhci_trb *ev)
{
	struct xhci *x = ir->x;
	uint64_t addr = ir->seg_base[ir->enq_seg] + 16ull * ir->enq_idx;
	struct xhci_trb t = *ev;

	t.control = (t.control & ~TRB_C) | (ir->pcs ? TRB_C : 0);
	/* The cycle bit hands the TRB to the guest: write it last. */
	if (guest_memory_write(&x->mem, addr, &t, 12) < 0)
		return -EFAULT;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (guest_memory_write(&x->mem, addr + 12, &t.control, 4) < 0)
		return -EFAULT;
	if (++ir->enq_idx == ir->seg_size[ir->enq_seg]) {
		ir->enq_idx = 0;
		if (++ir->enq_seg == ir->nseg) {
			ir->enq_seg = 0;
			ir->pcs = !ir->pcs;
		}
	}
	return 0;
}

/* 0 posted; -ENOSPC dropped (ring full); -ENODEV no ring; -EFAULT ERDP or ring unusable. */
int xhci_event_ring_post(struct xhci_interrupter *ir, const struct xhci_trb *ev)
{
	struct xhci_trb full;
	int64_t f;

	if (!ir->ring_ok)
		return -ENODEV;
	if (ir->full) {
		ir->dropped++;
		return -ENOSPC;
	}
	f = free_slots(ir);
	if (f < 0)
		return (int)f;
	if (f <= 2) {
		memset(&full, 0, sizeof(full));
		full.status = (uint32_t)CC_EVENT_RING_FULL << 24;
		full.control = trb_type_bits(TRB_EV_HOST_CONTROLLER);
		ir->full = true;
		ir->dropped++;
		if (f == 2 && write_slot(ir, &full) < 0)
			return -EFAULT;
		return -ENOSPC;
	}
	return write_slot(ir, ev);
}

bool xhci_event_ring_busy(const struct xhci_interrupter *ir)
{
	int64_t deq;

	if (!ir->ring_ok)
		return false;
	deq = deq_linear(ir);
	return deq >= 0 && (uint32_t)deq != enq_linear(ir);
}

void xhci_event_ring_dequeue_moved(struct xhci_interrupter *ir)
{
	if (ir->ring_ok && ir->full && free_slots(ir) > 2)
		ir->full = false;
}
