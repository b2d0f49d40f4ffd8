/* SPDX-License-Identifier: MIT */
/*
 * Event Ring Full (xHCI 1.2 section 4.9.4) as a guest sees it. A guest that
 * is slow to move ERDP finds an Event Ring Full Error event in the last free
 * slot, nothing after it, and once it moves ERDP every completion that could
 * not be written, in order. A guest that never moves ERDP holds the
 * controller up without making it grow: past the bounded backlog it gets
 * Host Controller Error, and HCRST recovers.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/unit/xhci/test_device.h"
#include "devices/xhci/xhci.h"
#include "tests/xhci_driver/xhci_driver.h"

#define SMALL_RING 16
/* One slot stays empty and the Event Ring Full Error event takes the last. */
#define WRITTEN_BEFORE_FULL (SMALL_RING - 2)

static struct drv d;

static bool is_ring_full(const struct xhci_trb *e)
{
	return trb_type(e) == TRB_EV_HOST_CONTROLLER && trb_cc(e) == CC_EVENT_RING_FULL;
}

/* Takes events without acknowledging them until an Event Ring Full Error; returns how many came before. */
static unsigned int take_until_full(unsigned int type, const uint64_t *want, unsigned int nwant)
{
	struct xhci_trb e;
	unsigned int n = 0;

	for (int tries = 0; tries < 5000; tries++) {
		if (!drv_take_event(&d, &e)) {
			drv_alive(&d);
			continue;
		}
		if (is_ring_full(&e))
			return n;
		cr_assert_eq(trb_type(&e), type, "event type %u before the ring filled", trb_type(&e));
		cr_assert_lt(n, nwant);
		cr_assert_eq(e.param, want[n], "event %u out of order", n);
		cr_assert_eq(trb_cc(&e), CC_SUCCESS);
		n++;
	}
	cr_assert_fail("no Event Ring Full Error event");
	return n;
}

/* The ring is full: however long the guest waits, nothing more is written. */
static void assert_nothing_more(void)
{
	struct xhci_trb e;

	for (int i = 0; i < 50; i++) {
		drv_alive(&d);
		cr_assert_not(drv_take_event(&d, &e), "an event written past the Event Ring Full Error");
	}
	cr_assert_eq(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, 0, "HCE on a merely slow guest");
}

/*
 * Acknowledges and takes the rest: every one of want[from..] arrives, in
 * order; further Event Ring Full Errors may come between them (the backlog
 * filled the ring again), nothing else.
 */
static void take_rest(unsigned int type, const uint64_t *want, unsigned int from, unsigned int nwant)
{
	struct xhci_trb e;
	unsigned int n = from;

	drv_ack_events(&d);
	for (int tries = 0; n < nwant && tries < 20000; tries++) {
		if (!drv_take_event(&d, &e)) {
			drv_ack_events(&d);
			continue;
		}
		if (is_ring_full(&e))
			continue;
		cr_assert_eq(trb_type(&e), type);
		cr_assert_eq(e.param, want[n], "event %u out of order (or lost): %#lx type %u cc %u, want %#lx", n, (unsigned long)e.param, trb_type(&e), trb_cc(&e), (unsigned long)want[n]);
		cr_assert_eq(trb_cc(&e), CC_SUCCESS);
		n++;
	}
	cr_assert_eq(n, nwant, "only %u of %u events arrived", n, nwant);
	drv_ack_events(&d);
	drv_alive(&d);
	cr_assert_not(drv_take_event(&d, &e), "an event arrived twice");
}

Test(xhci_event_ring, slow_guest_loses_no_command_completion)
{
	uint64_t cmds[40];
	unsigned int before;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_set_event_ring(&d, SMALL_RING);
	for (unsigned int i = 0; i < 40; i++)
		cmds[i] = drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));
	drv_doorbell(&d, 0, 0);
	before = take_until_full(TRB_EV_CMD_COMPLETION, cmds, 40);
	cr_assert_eq(before, WRITTEN_BEFORE_FULL, "%u completions before the Event Ring Full Error", before);
	assert_nothing_more();
	take_rest(TRB_EV_CMD_COMPLETION, cmds, before, 40);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS, "commands after the backlog");
	drv_stop(&d);
}

Test(xhci_event_ring, slow_guest_loses_no_transfer_event)
{
	struct devproto_reply r;
	uint64_t tds[40], buf;
	unsigned int slot, cc, before;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	r = drv_attach(&d, test_device_image('S', 0), 0);
	cr_assert_eq(r.status, SVMM_OK);
	cr_assert(drv_wait_event(&d, TRB_EV_PORT_STATUS, NULL, 2000));
	drv_port_reset(&d, r.port, true);
	slot = drv_enable_address(&d, r.port, 4, false, &cc);
	cr_assert_eq(cc, CC_SUCCESS);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	drv_set_event_ring(&d, SMALL_RING);
	buf = drv_alloc(&d, 40 * 512, 64);
	/* More TDs than the ring holds events, more than are at the device at once. */
	for (unsigned int i = 0; i < 40; i++)
		tds[i] = drv_ring_push(&d, &d.ep_ring[slot][2], buf + 512ull * i, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 2);
	before = take_until_full(TRB_EV_TRANSFER, tds, 40);
	cr_assert_eq(before, WRITTEN_BEFORE_FULL, "%u transfer events before the Event Ring Full Error", before);
	assert_nothing_more();
	take_rest(TRB_EV_TRANSFER, tds, before, 40);
	drv_stop(&d);
}

/*
 * Each PORTSC write that clears PRC and resets the (empty) port makes one
 * Port Status Change event, and the guest never moves ERDP: the ring fills,
 * then the backlog, then the controller stops with HCE, alive.
 */
Test(xhci_event_ring, guest_that_never_moves_erdp_ends_in_hce)
{
	const uint32_t reset_port1 = (1u << 9) | (1u << 4) | (1u << 21);	/* PP | PR | PRC */
	unsigned int accepted = WRITTEN_BEFORE_FULL + 1 + XHCI_EVENT_BACKLOG - 1;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_set_event_ring(&d, SMALL_RING);
	for (unsigned int i = 0; i < accepted; i++)
		drv_write(&d, d.op + OP_PORTSC(1), 4, reset_port1);
	cr_assert_eq(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, 0, "HCE before the backlog is full");
	drv_write(&d, d.op + OP_PORTSC(1), 4, reset_port1);
	cr_assert(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, "the backlog grows past its bound");
	cr_assert(drv_op_read(&d, OP_USBSTS) & USBSTS_HCH, "HCE without HCHalted");
	drv_alive(&d);
	drv_init(&d);
	cr_assert_eq(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, 0, "HCRST did not clear HCE");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	drv_stop(&d);
}
