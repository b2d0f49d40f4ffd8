/* SPDX-License-Identifier: MIT */
/*
 * Interrupters: IMAN (IP, IE), IMOD moderation, ERSTSZ/ERSTBA/ERDP (EHB).
 *
 * An event that asks for an interrupt makes one "pending". It is asserted
 * (IP and EHB set, message sent or INTx raised) when EHB is clear and no
 * moderation interval is running. Asserting starts the interval (IMODI x
 * 250 ns). An interrupt that comes due within it is held back on a timerfd
 * set for the interval's end, and delivered then: moderation delays
 * interrupts but never loses one. The timer is set only then, not at every
 * interrupt: Linux's interval is 40 us and its interrupts come milliseconds
 * apart, so almost every interval has ended unseen, and a timer per
 * interrupt would wake this process once more for each (costly in the
 * nested lab). When the guest clears EHB while events it has not consumed
 * remain, it is owed another interrupt.
 *
 * A full event ring (event_ring.c) holds up the controller: while any
 * interrupter keeps a backlog, the command ring and the transfer rings fetch
 * nothing new; the ERDP write that empties the last backlog starts them
 * again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/monotonic.h"
#include "devices/xhci/xhci.h"

#define IMOD_DEFAULT	4000u	/* 1 ms, the spec's reset value */

static void try_fire(struct xhci_interrupter *ir);

static void on_timer(void *opaque, uint32_t events)
{
	struct xhci_interrupter *ir = opaque;
	uint64_t n;

	(void)events;
	if (read(ir->timerfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("xhci: timerfd read: %d", errno);
	ir->timer_armed = false;
	try_fire(ir);
}

void xhci_intr_init(struct xhci *x, unsigned int i)
{
	struct xhci_interrupter *ir = &x->intr[i];

	memset(ir, 0, sizeof(*ir));
	ir->x = x;
	ir->index = i;
	ir->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ir->timerfd < 0)
		return;
	ir->backlog = calloc(XHCI_EVENT_BACKLOG, sizeof(*ir->backlog));
	if (!ir->backlog) {
		close(ir->timerfd);
		ir->timerfd = -1;
		return;
	}
	if (event_loop_add_fd(x->loop, ir->timerfd, EPOLLIN, on_timer, ir) < 0) {
		close(ir->timerfd);
		ir->timerfd = -1;
	}
}

void xhci_intr_release(struct xhci_interrupter *ir)
{
	free(ir->backlog);
	ir->backlog = NULL;
	xhci_event_ring_forget(ir);
	if (ir->timerfd < 0)
		return;
	event_loop_del_fd(ir->x->loop, ir->timerfd);
	close(ir->timerfd);
	ir->timerfd = -1;
}

static void disarm(struct xhci_interrupter *ir)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (ir->timer_armed && ir->timerfd >= 0)
		timerfd_settime(ir->timerfd, 0, &its, NULL);
	ir->timer_armed = false;
	ir->interval_end_ns = 0;
}

void xhci_intr_reset(struct xhci_interrupter *ir)
{
	disarm(ir);
	ir->iman = 0;
	ir->imod = IMOD_DEFAULT;
	ir->erstsz = 0;
	ir->erstba = 0;
	ir->erdp = 0;
	ir->ring_ok = false;
	xhci_event_ring_forget(ir);
	ir->pending = false;
	ir->nseg = 0;
}

/* Wakes try_fire when the running interval ends. False if no timer can be set. */
static bool arm_until(struct xhci_interrupter *ir, uint64_t end_ns)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (ir->timerfd < 0)
		return false;
	its.it_value.tv_sec = (time_t)(end_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(end_ns % 1000000000u);
	if (timerfd_settime(ir->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return false;
	ir->timer_armed = true;
	return true;
}

static void signal_irq(struct xhci_interrupter *ir)
{
	struct xhci *x = ir->x;

	if (!xhci_pci_msix_enabled(x)) {
		xhci_irq_update_intx(x);
		return;
	}
	if ((ir->iman & IMAN_IE) && (x->usbcmd & USBCMD_INTE))
		xhci_irq_interrupt(x, ir->index);
}

static void try_fire(struct xhci_interrupter *ir)
{
	struct xhci *x = ir->x;
	uint64_t now;

	if (!ir->pending || (ir->erdp & ERDP_EHB) || ir->timer_armed)
		return;
	now = monotonic_ns();
	/* Within the interval: held back until it ends (without a timer, not at all). */
	if (now < ir->interval_end_ns && arm_until(ir, ir->interval_end_ns))
		return;
	ir->pending = false;
	ir->iman |= IMAN_IP;
	ir->erdp |= ERDP_EHB;
	x->usbsts |= USBSTS_EINT;
	signal_irq(ir);
	ir->interval_end_ns = now + (uint64_t)(ir->imod & 0xffff) * 250u;
}

void xhci_event(struct xhci *x, unsigned int intr, struct xhci_trb *ev, bool irq)
{
	struct xhci_interrupter *ir;
	int err;

	if (!xhci_running(x))
		return;
	/* An interrupter target the controller does not have falls back to the primary. */
	ir = &x->intr[intr < XHCI_NUM_INTRS ? intr : 0];
	err = xhci_event_ring_post(ir, ev);
	if (err == -EOVERFLOW) {
		/* The bound of event_ring.c: the guest stopped consuming events. */
		xhci_die(x, "event ring full and its backlog too: the guest does not move ERDP");
		return;
	}
	if (err == -EFAULT) {
		xhci_die(x, "event ring dequeue pointer outside the event ring");
		return;
	}
	if (err == -ENODEV) {
		if (ir->index == 0)
			xhci_die(x, "event for the primary interrupter before its event ring exists");
		return;
	}
	/* A full ring (event kept in the backlog) still owes the guest an interrupt for what it holds. */
	if (irq || err == -ENOSPC) {
		ir->pending = true;
		try_fire(ir);
	}
}

void xhci_intr_update_all(struct xhci *x)
{
	xhci_irq_update_intx(x);
	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++) {
		struct xhci_interrupter *ir = &x->intr[i];

		if ((ir->iman & IMAN_IP) && (ir->iman & IMAN_IE) && (x->usbcmd & USBCMD_INTE) &&
		    xhci_pci_msix_enabled(x))
			xhci_irq_interrupt(x, i);
	}
}

uint32_t xhci_intr_read(struct xhci_interrupter *ir, uint32_t reg)
{
	switch (reg) {
	case IR_IMAN: return ir->iman;
	case IR_IMOD: return ir->imod;
	case IR_ERSTSZ: return ir->erstsz;
	case IR_ERSTBA_LO: return (uint32_t)ir->erstba;
	case IR_ERSTBA_HI: return (uint32_t)(ir->erstba >> 32);
	case IR_ERDP_LO: return (uint32_t)ir->erdp;
	case IR_ERDP_HI: return (uint32_t)(ir->erdp >> 32);
	default: return 0;
	}
}

bool xhci_intr_backlogged(const struct xhci *x)
{
	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++) {
		if (xhci_event_ring_backlogged(&x->intr[i]))
			return true;
	}
	return false;
}

static void erdp_written(struct xhci_interrupter *ir)
{
	struct xhci *x = ir->x;
	bool held = xhci_event_ring_backlogged(ir);

	if (xhci_event_ring_dequeue_moved(ir) < 0) {
		xhci_die(x, "event ring dequeue pointer outside the event ring");
		return;
	}
	if (held && !xhci_intr_backlogged(x)) {
		/* The last full ring has room again: fetch what waited. */
		xhci_cmd_resume_fetch(x);
		xhci_slot_resume_fetch(x);
	}
	if (!(ir->erdp & ERDP_EHB) && xhci_event_ring_busy(ir)) {
		ir->pending = true;
		try_fire(ir);
	}
}

void xhci_intr_write(struct xhci_interrupter *ir, uint32_t reg, uint32_t value)
{
	struct xhci *x = ir->x;

	switch (reg) {
	case IR_IMAN: {
		bool was_ie = ir->iman & IMAN_IE;

		ir->iman &= ~(value & IMAN_IP);		/* IP is write-1-to-clear */
		ir->iman = (ir->iman & ~IMAN_IE) | (value & IMAN_IE);
		xhci_irq_update_intx(x);
		if (!was_ie && (ir->iman & IMAN_IE) && (ir->iman & IMAN_IP))
			signal_irq(ir);
		break;
	}
	case IR_IMOD:
		ir->imod = value;
		break;
	case IR_ERSTSZ:
		ir->erstsz = value & 0xffff;
		break;
	case IR_ERSTBA_LO:
		ir->erstba = (ir->erstba & 0xffffffff00000000ull) | (value & ~0x3fu);
		break;
	case IR_ERSTBA_HI:
		/* The high half completes the 64-bit write (low, then high): set the ring up. */
		ir->erstba = (ir->erstba & 0xffffffffull) | ((uint64_t)value << 32);
		if (xhci_event_ring_setup(ir) < 0)
			xhci_die(x, "invalid event ring segment table");
		break;
	case IR_ERDP_LO:
		/* EHB is write-1-to-clear; DESI and the pointer are the guest's. */
		ir->erdp = (ir->erdp & 0xffffffff00000000ull) | (ir->erdp & ERDP_EHB & ~(uint64_t)value) |
			   (value & ~0xfu) | (value & 0x7u);
		erdp_written(ir);
		break;
	case IR_ERDP_HI:
		ir->erdp = (ir->erdp & 0xffffffffull) | ((uint64_t)value << 32);
		erdp_written(ir);
		break;
	default:
		break;
	}
}
