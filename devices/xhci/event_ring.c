/* SPDX-License-Identifier: MIT */
/*
 * One interrupter's event ring: the Event Ring Segment Table, read once when
 * the guest writes ERSTBA and kept here (so a guest rewriting the table
 * later cannot move the ring under us), the enqueue pointer and Producer
 * Cycle State, and the Event Ring Full condition.
 *
 * Positions are handled as a linear index over all segments. One slot is
 * never written so that "full" and "empty" differ: when only two free slots
 * remain, the second to last receives an Event Ring Full Error event (xHCI
 * 1.2 section 4.9.4) and nothing more is written until the guest moves ERDP.
 *
 * A guest that is merely slow loses no event: what cannot be written waits,
 * in order, in the interrupter's backlog, and goes to the ring when an ERDP
 * write frees space (after the Event Ring Full Error event the guest has
 * already seen; if the backlog fills the ring again, another one follows).
 * While any interrupter holds a backlog the controller fetches no new
 * command or TD (xhci_intr_backlogged), so what still arrives is what was
 * already at work. The backlog is bounded: a guest that never moves ERDP
 * while work it started keeps completing fills it, and the event that finds
 * it full is -EOVERFLOW, which the caller turns into a Host Controller Error
 * (USBSTS.HCE, an internal error the spec lets the controller report): the
 * controller stops until HCRST instead of growing without limit or silently
 * losing a completion.
 */
#include <errno.h>
#include <string.h>

#include "devices/xhci/xhci.h"

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
	xhci_event_ring_forget(ir);
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

static int write_ring_full(struct xhci_interrupter *ir)
{
	struct xhci_trb full;

	memset(&full, 0, sizeof(full));
	full.status = (uint32_t)CC_EVENT_RING_FULL << 24;
	full.control = trb_type_bits(TRB_EV_HOST_CONTROLLER);
	return write_slot(ir, &full);
}

/*
 * Writes ev unless the ring is (about to be) full: then the Event Ring Full
 * Error event takes the last free slot. 1 written; 0 not written (full); <0
 * ERDP or the ring unusable.
 */
static int write_or_full(struct xhci_interrupter *ir, const struct xhci_trb *ev)
{
	int64_t f;

	if (ir->full)
		return 0;
	f = free_slots(ir);
	if (f < 0)
		return (int)f;
	if (f > 2)
		return write_slot(ir, ev) < 0 ? -EFAULT : 1;
	ir->full = true;
	/* f < 2 only when ERDP jumped backwards; the ring then already ends full. */
	if (f == 2 && write_ring_full(ir) < 0)
		return -EFAULT;
	return 0;
}

static int backlog_push(struct xhci_interrupter *ir, const struct xhci_trb *ev)
{
	if (!ir->backlog || ir->backlog_count == XHCI_EVENT_BACKLOG)
		return -EOVERFLOW;
	ir->backlog[(ir->backlog_head + ir->backlog_count) % XHCI_EVENT_BACKLOG] = *ev;
	ir->backlog_count++;
	return 0;
}

/*
 * 0 written; -ENOSPC kept in the backlog (the ring is full); -EOVERFLOW the
 * backlog is full too; -ENODEV no ring; -EFAULT ERDP or ring unusable.
 */
int xhci_event_ring_post(struct xhci_interrupter *ir, const struct xhci_trb *ev)
{
	int r;

	if (!ir->ring_ok)
		return -ENODEV;
	/* Behind the backlog: order is kept. */
	if (ir->backlog_count == 0) {
		r = write_or_full(ir, ev);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	r = backlog_push(ir, ev);
	return r < 0 ? r : -ENOSPC;
}

bool xhci_event_ring_busy(const struct xhci_interrupter *ir)
{
	int64_t deq;

	if (!ir->ring_ok)
		return false;
	deq = deq_linear(ir);
	return deq >= 0 && (uint32_t)deq != enq_linear(ir);
}

bool xhci_event_ring_backlogged(const struct xhci_interrupter *ir)
{
	return ir->full || ir->backlog_count > 0;
}

/*
 * The guest moved ERDP: once the ring has room again, the backlog goes to
 * it, oldest first, until it is empty or the ring is full again. 0, or
 * -EFAULT if ERDP or the ring is unusable.
 */
int xhci_event_ring_dequeue_moved(struct xhci_interrupter *ir)
{
	int64_t f;

	if (!ir->ring_ok || !ir->full)
		return 0;
	f = free_slots(ir);
	/*
	 * ERDP outside the ring may be half of a 64-bit write (low dword
	 * first): wait for the other half; an event posted meanwhile finds it.
	 */
	if (f <= 2)
		return 0;
	ir->full = false;
	while (ir->backlog_count > 0) {
		int r = write_or_full(ir, &ir->backlog[ir->backlog_head]);

		if (r <= 0)
			return r;
		ir->backlog_head = (ir->backlog_head + 1) % XHCI_EVENT_BACKLOG;
		ir->backlog_count--;
	}
	return 0;
}

void xhci_event_ring_forget(struct xhci_interrupter *ir)
{
	ir->full = false;
	ir->backlog_head = 0;
	ir->backlog_count = 0;
}
