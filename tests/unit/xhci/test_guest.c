/* SPDX-License-Identifier: MIT */
/*
 * The controller as a well-behaved guest (the Linux xhci driver's sequence)
 * sees it, over the real wire protocol against the real forked process.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/monotonic.h"
#include "tests/unit/xhci/test_device.h"
#include "tests/xhci_driver/xhci_driver.h"

static struct drv d;

static unsigned int attach_test(char speed, char mode, unsigned int want_port)
{
	struct devproto_reply r = drv_attach(&d, test_device_image(speed, mode), 0);

	cr_assert_eq(r.status, SVMM_OK, "attach: %s", svmm_status_name(r.status));
	cr_assert_eq(r.port, want_port);
	return r.port;
}

/* Port reset + Enable Slot + Address Device on the test device. */
static unsigned int bring_up(unsigned int port, unsigned int speed)
{
	unsigned int cc;
	unsigned int slot;

	drv_port_reset(&d, port, speed >= 4);
	slot = drv_enable_address(&d, port, speed, false, &cc);
	cr_assert_eq(cc, 1, "Address Device: cc %u", cc);
	return slot;
}

static uint32_t out_ctx_dword(unsigned int slot, unsigned int dci, unsigned int dw)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)drv_ptr(&d, d.out_ctx[slot]) + 32 * dci + 4 * dw, 4);
	return v;
}

Test(xhci_guest, pci_config_and_capabilities)
{
	drv_start(&d, test_device_attach);
	cr_assert_eq(drv_cfg_read(&d, 0, 4), 0x000d1b36u);
	cr_assert_eq(drv_cfg_read(&d, 8, 4) >> 8, 0x0c0330u);
	cr_assert_eq(drv_cfg_read(&d, 0x60, 1), 0x30u, "SBRN");
	/* BAR sizing: 64 KiB, 64-bit memory. */
	drv_cfg_write(&d, 0x10, 4, 0xffffffffu);
	cr_assert_eq(drv_cfg_read(&d, 0x10, 4), 0xffff0004u);
	drv_cfg_write(&d, 0x14, 4, 0xffffffffu);
	cr_assert_eq(drv_cfg_read(&d, 0x14, 4), 0xffffffffu);
	/* MSI-X capability: 4 vectors, table at 0x4000 and PBA at 0x5000 of BAR 0. */
	cr_assert_eq(drv_cfg_read(&d, 0x34, 1), 0x70u);
	cr_assert_eq(drv_cfg_read(&d, 0x70, 4) & 0x07ff00ffu, 0x00030011u);
	cr_assert_eq(drv_cfg_read(&d, 0x74, 4), 0x4000u);
	cr_assert_eq(drv_cfg_read(&d, 0x78, 4), 0x5000u);

	cr_assert_eq(drv_read(&d, 0, 1), 0x40u, "CAPLENGTH");
	cr_assert_eq(drv_read(&d, 2, 2), 0x0120u, "HCIVERSION");
	cr_assert_eq(drv_read(&d, 4, 4), 64u | (4u << 8) | (16u << 24), "HCSPARAMS1");
	cr_assert_eq(drv_read(&d, 0x10, 4) & 0x5u, 1u, "AC64, CSZ=0");
	/* xECP: USB 2.0 ports 1-8, then USB 3.0 ports 9-16. */
	uint32_t xecp = (uint32_t)(drv_read(&d, 0x10, 4) >> 16) * 4;

	cr_assert_eq(drv_read(&d, xecp, 4) & 0xff0000ffu, 0x02000002u);
	cr_assert_eq(drv_read(&d, xecp + 8, 4) & 0xffffu, 0x0801u);
	xecp += ((drv_read(&d, xecp, 4) >> 8) & 0xff) * 4;
	cr_assert_eq(drv_read(&d, xecp, 4) & 0xff00ffffu, 0x03000002u, "last capability");
	cr_assert_eq(drv_read(&d, xecp + 8, 4) & 0xffffu, 0x0809u);
	/* 64-bit registers take both a 64-bit access and two 32-bit ones. */
	drv_write(&d, d.op + OP_DCBAAP_LO, 8, 0x123456789abcdec0ull);
	cr_assert_eq(drv_read(&d, d.op + OP_DCBAAP_LO, 8), 0x123456789abcdec0ull);
	drv_write(&d, d.op + OP_DCBAAP_LO, 4, 0x1000);
	drv_write(&d, d.op + OP_DCBAAP_HI, 4, 0x2);
	cr_assert_eq(drv_read(&d, d.op + OP_DCBAAP_LO, 8), 0x200001000ull);
	drv_stop(&d);
}

Test(xhci_guest, init_noop_and_hcrst)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS, "No-Op");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS, "No-Op");
	/* An unknown command type is a TRB Error, not a crash. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_NORMAL), NULL), CC_TRB_ERROR);
	/* CRCR reads 0 but for CRR. */
	cr_assert_eq(drv_read(&d, 0x58, 8), 8u);
	drv_init(&d);	/* HCRST again, and the sequence works again */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS, "No-Op after HCRST");
	drv_stop(&d);
}

Test(xhci_guest, usb2_enumeration_control_and_bulk)
{
	uint64_t buf = 0, big = 0;
	uint32_t res = 0;
	unsigned int port, slot;
	struct xhci_trb ev;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	port = attach_test('H', 0, 1);
	cr_assert(drv_wait_event(&d, TRB_EV_PORT_STATUS, &ev, 2000), "no port status change event");
	cr_assert_eq(ev.param >> 24, port);
	uint32_t sc = drv_portsc(&d, port);

	cr_assert(sc & 1, "CCS");
	cr_assert(sc & (1u << 17), "CSC");
	cr_assert_eq((sc >> 10) & 0xf, 3, "high speed");
	cr_assert_eq(sc & 2, 0, "USB 2 port enabled before reset");
	slot = bring_up(port, 3);
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 2, "slot Addressed");
	cr_assert_eq(out_ctx_dword(slot, 0, 3) & 0xff, slot, "USB address");
	cr_assert_eq(out_ctx_dword(slot, 1, 0) & 7, 1, "EP0 Running");

	buf = drv_alloc(&d, 64, 64);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 64, buf, 64, &res), CC_SHORT_PACKET, "short");
	cr_assert_eq(res, 64 - 18);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, buf))[0], 18);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, buf))[8], TEST_DEV_VENDOR & 0xff);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 18, buf, 18, &res), CC_SUCCESS);
	cr_assert_eq(drv_control(&d, slot, 0x00, 9, 1, 0, 0, 0, 0, NULL), CC_SUCCESS, "SET_CONFIGURATION");

	cr_assert_eq(drv_configure_bulk(&d, slot, 4, 3, 512), CC_SUCCESS, "Configure Endpoint");
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 3, "slot Configured");
	cr_assert_eq(out_ctx_dword(slot, 3, 0) & 7, 1, "bulk IN Running");
	big = drv_alloc(&d, 8192, 64);
	for (int i = 0; i < 4096; i++)
		((uint8_t *)drv_ptr(&d, big))[i] = (uint8_t)(i * 7);
	cr_assert_eq(drv_bulk(&d, slot, 4, big, 4096, &res), CC_SUCCESS, "bulk OUT");
	cr_assert_eq(res, 0);
	memset(drv_ptr(&d, big), 0, 8192);
	cr_assert_eq(drv_bulk(&d, slot, 3, big, 8192, &res), 13, "bulk IN short");
	cr_assert_eq(res, 4096);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(((uint8_t *)drv_ptr(&d, big))[i], (uint8_t)(i * 7));

	/* Deconfigure, then Disable Slot. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_CONFIGURE_EP) | TRB_DC | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 2, "back to Addressed");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	drv_stop(&d);
}

Test(xhci_guest, usb3_warm_reset_bsr_and_port_info)
{
	uint64_t buf;
	unsigned int port, slot, cc;
	uint64_t in;
	uint32_t *ctx;
	struct devproto_msg m;
	struct devproto_reply r;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	port = attach_test('S', 0, 9);
	cr_assert(drv_portsc(&d, port) & 2, "USB 3 port enabled on connect");
	cr_assert_eq((drv_portsc(&d, port) >> 10) & 0xf, 4, "SuperSpeed");
	m = devproto_msg_init(DEVPROTO_USB_PORT_INFO, 0);
	m.u.port.port = port;
	r = drv_request(&d, &m, -1);
	cr_assert_eq(r.status, SVMM_OK);
	cr_assert_eq(r.info.vendor, TEST_DEV_VENDOR);
	cr_assert_eq(r.info.speed, DEVPROTO_SPEED_SUPER);
	drv_port_reset(&d, port, true);
	/* BSR=1: Default state, no address; then BSR=0. */
	slot = drv_enable_address(&d, port, 4, true, &cc);
	cr_assert_eq(cc, CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 1, "Default");
	cr_assert_eq(out_ctx_dword(slot, 0, 3) & 0xff, 0);
	in = drv_alloc(&d, 33 * 32, 64);
	ctx = drv_ptr(&d, in);
	ctx[INPUT_CTX_ADD] = 1;
	drv_input_slot(ctx, 1, SPEED_SUPER, port);
	drv_input_ep(ctx, 1, EP_TYPE_CONTROL, 512, d.ep_ring[slot][1].base | EP_CTX_DCS, 0);
	cc = drv_command(&d, in, 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | trb_slot_bits(slot), NULL);
	cr_assert_eq(cc, CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 2, "Addressed");
	/* Address Device again: Context State Error. */
	cr_assert_eq(drv_command(&d, in, 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | trb_slot_bits(slot), NULL), CC_CONTEXT_STATE_ERROR);
	/* Evaluate Context changes EP0's max packet size. */
	ctx[INPUT_CTX_ADD] = 2;
	ctx[17] = EP_CTX_TYPE(EP_TYPE_CONTROL) | EP_CTX_MAX_PACKET(9);
	cr_assert_eq(drv_command(&d, in, 0, trb_type_bits(TRB_CMD_EVALUATE_CTX) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 1, 1) >> 16, 9);
	buf = drv_alloc(&d, 18, 64);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 18, buf, 18, NULL), CC_SUCCESS);
	/* Reset Device: back to Default. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_DEVICE) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 0, 3) >> 27, 1);
	drv_stop(&d);
}

Test(xhci_guest, stall_halts_and_reset_endpoint_recovers)
{
	unsigned int slot;
	uint64_t buf;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('H', 0, 1), 3);
	cr_assert_eq(drv_control(&d, slot, 0x80, TEST_REQ_STALL, 0, 0, 8, drv_alloc(&d, 8, 64), 8, NULL), CC_STALL);
	cr_assert_eq(out_ctx_dword(slot, 1, 0) & 7, 2, "EP0 Halted");
	/* A doorbell on a halted endpoint does nothing. */
	drv_doorbell(&d, slot, 1);
	/* Reset Endpoint only applies to a Halted endpoint. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | trb_ep_id_bits(1u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | trb_ep_id_bits(1u) | trb_slot_bits(slot), NULL), CC_CONTEXT_STATE_ERROR);
	cr_assert_eq(out_ctx_dword(slot, 1, 0) & 7, 3, "EP0 Stopped");
	/* Set TR Dequeue to where the driver will continue. */
	struct drv_ring *r = &d.ep_ring[slot][1];
	uint64_t deq = r->base + 16ull * r->idx;

	cr_assert_eq(drv_command(&d, deq | r->cycle, 0, trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(1u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	buf = drv_alloc(&d, 18, 64);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 18, buf, 18, NULL), CC_SUCCESS);
	drv_stop(&d);
}

/*
 * Linux's soft retry: a Transaction Error halts the endpoint on the failed
 * TD; Reset Endpoint with TSP and a doorbell run that same TD again, and the
 * TD queued behind it follows. (Resuming behind the failed TD made Linux
 * report "Transfer event TRB DMA ptr not part of current TD" on a host
 * unplug and spin in its interrupt handler.)
 */
Test(xhci_guest, transaction_error_is_retried_on_the_same_td)
{
	unsigned int slot;
	uint64_t out, in, td1, td2;
	struct xhci_trb ev;
	struct drv_ring *r;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('S', 'E', 9), 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	out = drv_alloc(&d, 512, 64);
	memset(drv_ptr(&d, out), 0x5a, 512);
	cr_assert_eq(drv_bulk(&d, slot, 2, out, 512, NULL), CC_SUCCESS);
	in = drv_alloc(&d, 1024, 64);
	r = &d.ep_ring[slot][3];
	td1 = drv_ring_push(&d, r, in, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC | TRB_ISP);
	td2 = drv_ring_push(&d, r, in + 512, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC | TRB_ISP);
	drv_doorbell(&d, slot, 3);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000));
	cr_assert_eq(ev.param, td1);
	cr_assert_eq(trb_cc(&ev), CC_USB_TRANSACTION_ERROR, "USB Transaction Error");
	cr_assert_eq(out_ctx_dword(slot, 3, 0) & 7, 2, "Halted");
	cr_assert_eq(out_ctx_dword(slot, 3, 2) & ~0xfu, (uint32_t)td1, "dequeue on the failed TD");
	/* Reset Endpoint, TSP set (bit 9): no Set TR Dequeue Pointer follows. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | TRB_TSP | trb_ep_id_bits(3u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	drv_doorbell(&d, slot, 3);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "the failed TD was not retried");
	cr_assert_eq(ev.param, td1, "the retry ran another TD than the failed one");
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000));
	cr_assert_eq(ev.param, td2);
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, in))[0], 0x5a);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, in))[512], 0x5a);
	drv_stop(&d);
}

/*
 * The next event, read the way a guest's interrupt handler reads it: from
 * the event ring in memory, with no register access (which would wait for
 * the controller to finish what it is doing). *state is the state in the
 * output Endpoint Context of dci at that moment, as the handler would read it.
 */
static struct xhci_trb next_event_now(unsigned int slot, unsigned int dci, unsigned int *state)
{
	struct xhci_trb ev;

	for (int waited_us = 0; !drv_take_event(&d, &ev); waited_us += 100) {
		cr_assert_lt(waited_us, 5000000, "no event");
		usleep(100);
	}
	if (state)
		*state = out_ctx_dword(slot, dci, 0) & 7;
	drv_ack_events(&d);
	return ev;
}

/* A command whose completion must be the next event: no Transfer Event comes before it. */
static unsigned int command_alone(uint64_t param, uint32_t control)
{
	uint64_t at = drv_ring_push(&d, &d.cmd, param, 0, control);
	struct xhci_trb ev;

	drv_doorbell(&d, 0, 0);
	ev = next_event_now(0, 0, NULL);
	cr_assert_eq(trb_type(&ev), TRB_EV_CMD_COMPLETION,
		     "event type %u (TRB %#llx, cc %u) before the completion of command type %u",
		     trb_type(&ev), (unsigned long long)ev.param, trb_cc(&ev),
		     (control >> 10) & 0x3f);
	cr_assert_eq(ev.param, at, "completion for another command");
	return trb_cc(&ev);
}

/*
 * A device gone from the host with three bulk IN TDs at it (an ACM's reads
 * when the gadget is unplugged): every transfer ends in error, and the guest
 * recovers as Linux 6.1's xhci-ring.c does. A USB Transaction Error is
 * soft-retried (Reset Endpoint with TSP, doorbell: the same TD runs again)
 * while the ring's error count is at most MAX_SOFT_RETRY; past it the
 * handler reads the Endpoint Context (finish_td) and, the endpoint being
 * Halted, gives the TD back: Reset Endpoint without TSP, Set TR Dequeue
 * Pointer past the TD, doorbell for the next. Every event must be for the
 * TD the guest is on, never one behind its dequeue pointer, in ring order.
 * The device is slow to cancel, so a controller that wrote the event before
 * the context is caught: Linux then gives the TD back with no command at all,
 * the controller stays halted on it and runs it again at the next restart,
 * behind Linux ("TRB DMA ptr not part of current TD" in the lab's gadgets).
 */
Test(xhci_guest, device_gone_tds_given_up_as_linux_does)
{
	enum { NTD = 3, MAX_SOFT_RETRY = 3, DCI = 3 };
	const uint32_t reset_ep = trb_type_bits(TRB_CMD_RESET_EP) | trb_ep_id_bits(DCI), tsp = TRB_TSP;
	const uint32_t set_deq = trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(DCI);
	uint64_t td[NTD + 1], buf;
	bool cycle[NTD + 1];
	unsigned int slot, cur = 0, err_count = 0, state, runs[NTD] = { 0 };
	struct drv_ring *r;
	struct xhci_trb ev;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('S', 'G', 9), 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, DCI, 1024), CC_SUCCESS);
	r = &d.ep_ring[slot][DCI];
	buf = drv_alloc(&d, NTD * 512, 64);
	for (int i = 0; i < NTD; i++) {
		cycle[i] = r->cycle;
		td[i] = drv_ring_push(&d, r, buf + 512ull * i, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC | TRB_ISP);
	}
	/* Past the last TD: the enqueue pointer. */
	td[NTD] = r->base + 16ull * r->idx;
	cycle[NTD] = r->cycle;
	drv_doorbell(&d, slot, DCI);
	while (cur < NTD) {
		ev = next_event_now(slot, DCI, &state);
		cr_assert_eq(trb_type(&ev), TRB_EV_TRANSFER, "event type %u, not a Transfer Event",
			     trb_type(&ev));
		cr_assert_eq(ev.param, td[cur],
			     "Transfer Event for TRB %#llx while the guest is on TD %u at %#llx "
			     "(Linux: 'TRB DMA ptr not part of current TD')",
			     (unsigned long long)ev.param, cur, (unsigned long long)td[cur]);
		cr_assert_eq(trb_cc(&ev), CC_USB_TRANSACTION_ERROR, "TD %u: cc %u, not a USB Transaction Error", cur,
			     trb_cc(&ev));
		runs[cur]++;
		if (err_count++ <= MAX_SOFT_RETRY) {
			cr_assert_eq(command_alone(0, reset_ep | tsp | (slot << 24)), 1, "soft retry's Reset Endpoint");
			drv_doorbell(&d, slot, DCI);
			continue;
		}
		cr_assert_eq(state, 2,
			     "TD %u: the endpoint context said state %u, not Halted, as the guest read "
			     "the Transaction Error: Linux gives the TD back without Reset Endpoint "
			     "and Set TR Dequeue Pointer, and the controller, halted on it, runs it "
			     "again behind Linux's dequeue pointer", cur, state);
		cr_assert_eq(command_alone(0, reset_ep | (slot << 24)), 1, "Reset Endpoint");
		cr_assert_eq(out_ctx_dword(slot, DCI, 2) & ~0xfu, (uint32_t)td[cur],
			     "the stopped endpoint's dequeue pointer is not on the failed TD");
		cr_assert_eq(command_alone(td[cur + 1] | cycle[cur + 1], set_deq | (slot << 24)), 1,
			     "Set TR Dequeue Pointer");
		cur++;
		/* Linux rings only for a ring with TDs left. */
		if (cur < NTD)
			drv_doorbell(&d, slot, DCI);
	}
	/* The first TD through its soft retries, each later one once. */
	cr_assert_eq(runs[0], MAX_SOFT_RETRY + 2);
	for (int i = 1; i < NTD; i++)
		cr_assert_eq(runs[i], 1, "TD %d ran %u times", i, runs[i]);
	/* Nothing more: not at a doorbell on the empty ring, not after a round trip. */
	drv_doorbell(&d, slot, DCI);
	drv_read(&d, 0, 4);
	cr_assert_not(drv_take_event(&d, &ev), "an event after every TD was given up: type %u, TRB %#llx",
		      trb_type(&ev), (unsigned long long)ev.param);
	drv_stop(&d);
}

/*
 * The device left its port (host unplug or detach) while its slot lives
 * on: a TD rung for it waits, with no Transfer Event, until the guest stops
 * the endpoint (QEMU does the same). An error for each at once fed Linux's
 * soft retries and cdc-acm's resubmissions in a loop that kept the guest
 * from the disconnect (CI's gadgets).
 */
Test(xhci_guest, tds_for_a_device_that_left_wait_for_the_guest)
{
	enum { DCI = 3 };
	const uint32_t stop_ep = trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(DCI);
	struct devproto_msg m;
	struct xhci_trb ev;
	unsigned int port, slot;
	uint64_t buf, td;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	port = attach_test('S', 0, 9);
	slot = bring_up(port, 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, DCI, 1024), CC_SUCCESS);
	m = devproto_msg_init(DEVPROTO_USB_DETACH, 0);
	m.u.port.port = port;
	cr_assert_eq(drv_request(&d, &m, -1).status, SVMM_OK);
	cr_assert(drv_wait_event(&d, TRB_EV_PORT_STATUS, &ev, 2000), "no Port Status Change for the disconnect");
	drv_ack_events(&d);

	buf = drv_alloc(&d, 512, 64);
	td = drv_ring_push(&d, &d.ep_ring[slot][DCI], buf, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, DCI);
	usleep(200 * 1000);
	drv_read(&d, 0, 4);	/* a round trip: the doorbell has been handled */
	cr_assert_not(drv_take_event(&d, &ev), "an event for a TD of a device that left: type %u, cc %u",
		      trb_type(&ev), trb_cc(&ev));
	/* The guest, told by the port, stops the endpoint: it stops on the waiting TD. */
	cr_assert_eq(command_alone(0, stop_ep | (slot << 24)), 1, "Stop Endpoint");
	cr_assert_eq(out_ctx_dword(slot, DCI, 0) & 7, 3, "endpoint not Stopped");
	cr_assert_eq(out_ctx_dword(slot, DCI, 2) & ~0xfu, (uint32_t)td,
		     "the stopped endpoint's dequeue pointer is not on the waiting TD");
	drv_stop(&d);
}

Test(xhci_guest, pipelined_tds_complete_in_order)
{
	unsigned int slot;
	uint64_t tds[12];
	struct xhci_trb ev;
	uint64_t buf;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('S', 0, 9), 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	buf = drv_alloc(&d, 12 * 1024, 64);
	/* Twelve OUT TDs, one doorbell: all go to the device at once, report in ring order. */
	for (int i = 0; i < 12; i++)
		tds[i] = drv_ring_push(&d, &d.ep_ring[slot][2], buf + 1024ull * i, 1024, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 2);
	for (int i = 0; i < 12; i++) {
		cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "TD %d not reported", i);
		cr_assert_eq(ev.param, tds[i], "TD %d reported out of order", i);
		cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	}
	drv_stop(&d);
}

/*
 * A bulk IN TD (DCI 3) the device holds (test device mode 'H' or 'F'), and
 * Stop Endpoint queued while it is at the device. Returns the slot.
 */
static unsigned int stop_with_a_held_in_td(char mode, uint64_t *td)
{
	unsigned int slot;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('S', mode, 9), 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	*td = drv_ring_push(&d, &d.ep_ring[slot][3], drv_alloc(&d, 512, 64), 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 3);
	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(3u) | trb_slot_bits(slot));
	drv_doorbell(&d, 0, 0);
	return slot;
}

/*
 * What the guest sees of that stop: the TD's transfer event (completion code
 * td_cc), the command's completion (stop_cc), the endpoint context's state
 * and its dequeue pointer on the TD. Ends the test's controller.
 */
static void expect_stop(unsigned int slot, uint64_t td, uint32_t td_cc, uint32_t stop_cc,
			uint32_t state)
{
	struct xhci_trb ev;

	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "no transfer event for the TD");
	cr_assert_eq(ev.param, td);
	cr_assert_eq(trb_cc(&ev), td_cc, "the TD ended with cc %u, not %u", trb_cc(&ev), td_cc);
	cr_assert(drv_wait_event(&d, TRB_EV_CMD_COMPLETION, &ev, 5000), "no completion for Stop Endpoint");
	cr_assert_eq(trb_cc(&ev), stop_cc, "the stop completed with cc %u, not %u", trb_cc(&ev),
		     stop_cc);
	cr_assert_eq(out_ctx_dword(slot, 3, 0) & 7, state, "endpoint state");
	cr_assert_eq(out_ctx_dword(slot, 3, 2) & ~0xfu, (uint32_t)td, "dequeue pointer");
	drv_stop(&d);
}

Test(xhci_guest, stop_endpoint_waits_for_cancelled_td)
{
	uint64_t td;
	/* 'H': the device holds bulk IN transfers until they are cancelled. */
	unsigned int slot = stop_with_a_held_in_td('H', &td);

	/* Stopped - Length Invalid, then Success; the dequeue pointer back at the cancelled TD. */
	expect_stop(slot, td, 27, 1, 3);
}

/*
 * A TD that fails on the bus while Stop Endpoint waits for its cancel halts
 * the endpoint (its Transaction Error is reported), and the stop of a Halted
 * endpoint is a Context State Error (xHCI 1.2, 4.6.9): Linux then resets the
 * endpoint it raced with. Success would tell it the endpoint is Stopped, and
 * its Set TR Dequeue Pointer would fail on the Halted one.
 */
Test(xhci_guest, stop_endpoint_raced_by_a_failing_td_is_a_context_state_error)
{
	uint64_t td;
	/* 'F': bulk IN transfers are held, and end in a transaction error when cancelled. */
	unsigned int slot = stop_with_a_held_in_td('F', &td);

	/* USB Transaction Error, then Context State Error; Halted on the failed TD. */
	expect_stop(slot, td, 4, 19, 2);
}

/*
 * A bulk OUT endpoint (DCI 2) of a test device, stopped by Stop Endpoint
 * with a 1 KiB TD queued behind the stop: the state Linux leaves an endpoint
 * in while it cancels a TD. Returns the slot; *td is the TD's address.
 */
static unsigned int stopped_endpoint_with_td(uint64_t *td)
{
	struct xhci_trb ev;
	unsigned int slot;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	slot = bring_up(attach_test('S', 0, 9), 4);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(2u) | trb_slot_bits(slot));	/* Stop Endpoint */
	drv_doorbell(&d, 0, 0);
	cr_assert(drv_wait_event(&d, TRB_EV_CMD_COMPLETION, &ev, 5000));
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 2, 0) & 7, 3, "Stopped");
	*td = drv_ring_push(&d, &d.ep_ring[slot][2], drv_alloc(&d, 1024, 64), 1024,
			    trb_type_bits(TRB_NORMAL) | TRB_IOC);
	return slot;
}

/*
 * A slot doorbell never comes as a bare eventfd signal (a KVM ioeventfd: no
 * value), which could only guess the endpoint: the device refuses one, as
 * its HELLO declared, and a Stopped endpoint waits for the guest's own
 * doorbell (Linux stops one to cancel a TD or to move past it). Likewise a
 * value doorbell for the command ring, whose one eventfd is bare.
 */
Test(xhci_guest, a_bare_slot_doorbell_is_refused_and_the_endpoint_stays_stopped)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	uint64_t td;
	unsigned int slot = stopped_endpoint_with_td(&td);
	struct xhci_trb ev;
	int fd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	m.u.doorbell.index = slot;
	cr_assert_eq(drv_request(&d, &m, fd).status, SVMM_E_INVALID);
	m.u.doorbell.index = 0;
	m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
	cr_assert_eq(drv_request(&d, &m, fd).status, SVMM_E_INVALID);
	close(fd);
	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 500), "a TD ran on a Stopped endpoint");
	cr_assert_eq(out_ctx_dword(slot, 2, 0) & 7, 3, "still Stopped");
	drv_doorbell(&d, slot, 2);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "the guest's own doorbell did not restart it");
	cr_assert_eq(ev.param, td);
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	drv_stop(&d);
}

/*
 * A value doorbell (an ioeventfd that fires only for one value written to
 * one register) is the guest's write itself: it restarts a Stopped endpoint,
 * as the BAR write does, and one for another endpoint leaves this one be.
 */
Test(xhci_guest, value_doorbell_is_the_write_it_matches)
{
	uint64_t one = 1, td;
	unsigned int slot = stopped_endpoint_with_td(&td);
	int other = drv_doorbell_value_eventfd(&d, slot, 3);
	int mine = drv_doorbell_value_eventfd(&d, slot, 2);
	struct xhci_trb ev;

	cr_assert_eq(write(other, &one, sizeof(one)), 8);
	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 500), "endpoint 3's doorbell ran endpoint 2");
	cr_assert_eq(out_ctx_dword(slot, 2, 0) & 7, 3, "still Stopped");
	cr_assert_eq(write(mine, &one, sizeof(one)), 8);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "its value doorbell did not restart it");
	cr_assert_eq(ev.param, td);
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert_eq(out_ctx_dword(slot, 2, 0) & 7, 1, "Running");
	close(other);
	close(mine);
	drv_stop(&d);
}

/* A device keeps DEVPROTO_MAX_VALUE_DOORBELLS of them; one more is refused, one again replaces. */
Test(xhci_guest, value_doorbells_are_bounded)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	int fds[DEVPROTO_MAX_VALUE_DOORBELLS], fd;

	drv_start(&d, test_device_attach);
	for (unsigned int i = 0; i < DEVPROTO_MAX_VALUE_DOORBELLS; i++)
		fds[i] = drv_doorbell_value_eventfd(&d, 1 + i % 8, 1 + i / 8);
	fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	m.u.doorbell.index = 9;
	m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
	m.u.doorbell.value = 1;
	cr_assert_eq(drv_request(&d, &m, fd).status, SVMM_E_INVALID);
	close(fd);
	close(drv_doorbell_value_eventfd(&d, 1, 1));	/* the same pair: replaced */
	for (unsigned int i = 0; i < DEVPROTO_MAX_VALUE_DOORBELLS; i++)
		close(fds[i]);
	drv_alive(&d);
	drv_stop(&d);
}

static bool irq_within(int ms)
{
	struct pollfd p = { .fd = d.irq_fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	cr_assert_eq(read(d.irq_fd, &v, sizeof(v)), 8);
	return true;
}

Test(xhci_guest, msix_route_and_interrupt)
{
	struct devproto_msg m;
	int fd = -1;
	const char *why;
	bool routed = false;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_enable_msix(&d, 1);
	/* The VMM heard of vector 0's route, unmasked. */
	for (int i = 0; i < 16 && devproto_recv(d.ev, &m, &fd, &why) == 1; i++) {
		if (m.type == DEVPROTO_MSIX_ROUTE && m.u.msix.vector == 0 && !m.u.msix.masked &&
		    m.u.msix.address == 0xfee00000u && m.u.msix.data == DRV_MSI_VECTOR) {
			routed = true;
			break;
		}
	}
	cr_assert(routed, "no MSIX_ROUTE for vector 0");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	cr_assert(irq_within(2000), "no MSI-X interrupt");
	cr_assert(drv_read(&d, d.rt + RT_IR0 + IR_IMAN, 4) & 1, "IMAN.IP");
	/* Masked: held in the PBA, delivered on unmask. */
	drv_write(&d, d.rt + RT_IR0 + IR_IMAN, 4, 3);	/* clear IP, keep IE */
	drv_write(&d, 0x400c, 4, 1);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	cr_assert_not(irq_within(50));
	cr_assert_eq(drv_read(&d, 0x5000, 4) & 1, 1, "PBA bit");
	drv_write(&d, 0x400c, 4, 0);
	cr_assert(irq_within(2000), "pending message not sent on unmask");
	drv_stop(&d);
}

Test(xhci_guest, imod_delivers_held_back_interrupt)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_enable_msix(&d, 1);
	drv_write(&d, d.rt + RT_IR0 + IR_IMOD, 4, 0xffff);	/* IMODI max: 16.4 ms */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	cr_assert(irq_within(2000));
	/* Within the interval: held back, then delivered when it ends. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	cr_assert_not(irq_within(1), "moderation ignored");
	cr_assert(irq_within(2000), "held-back interrupt never delivered");
	drv_stop(&d);
}

Test(xhci_guest, detach_and_reattach)
{
	struct devproto_msg m;
	struct devproto_reply r;
	struct xhci_trb ev;
	unsigned int port;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	port = attach_test('H', 0, 1);
	cr_assert(drv_wait_event(&d, TRB_EV_PORT_STATUS, &ev, 2000));
	bring_up(port, 3);
	m = devproto_msg_init(DEVPROTO_USB_DETACH, 0);
	m.u.port.port = port;
	r = drv_request(&d, &m, -1);
	cr_assert_eq(r.status, SVMM_OK);
	cr_assert(drv_wait_event(&d, TRB_EV_PORT_STATUS, &ev, 2000), "no event for the disconnect");
	cr_assert_eq(drv_portsc(&d, port) & 3, 0, "CCS/PED after detach");
	cr_assert(drv_portsc(&d, port) & (1u << 17), "CSC after detach");
	r = drv_request(&d, &m, -1);
	cr_assert_eq(r.status, SVMM_E_NO_SUCH_DEVICE);
	m = devproto_msg_init(DEVPROTO_USB_PORT_INFO, 0);
	m.u.port.port = port;
	cr_assert_eq(drv_request(&d, &m, -1).status, SVMM_E_NO_SUCH_DEVICE);
	attach_test('H', 0, 1);
	drv_stop(&d);
}

Test(xhci_guest, mass_storage_inquiry_over_bot)
{
	int img = memfd_create("disk", MFD_CLOEXEC);
	struct devproto_reply r;
	unsigned int slot;
	uint64_t cbw, data, csw;
	uint8_t *p;
	uint32_t res;

	cr_assert_eq(ftruncate(img, 1 << 20), 0);
	drv_start(&d, NULL);
	drv_init(&d);
	r = drv_attach(&d, img, 0);
	cr_assert_eq(r.status, SVMM_OK, "%s", svmm_status_name(r.status));
	cr_assert_eq(r.port, 9, "mass storage on the first USB 3 port");
	slot = bring_up(r.port, 4);
	data = drv_alloc(&d, 512, 64);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 18, data, 18, NULL), CC_SUCCESS);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, data))[4], 0, "class at interface level");
	cr_assert_eq(drv_control(&d, slot, 0x00, 9, 1, 0, 0, 0, 0, NULL), CC_SUCCESS);
	/* Bulk IN 0x81 is DCI 3, bulk OUT 0x02 DCI 4. */
	cr_assert_eq(drv_configure_bulk(&d, slot, 4, 3, 1024), CC_SUCCESS);
	cbw = drv_alloc(&d, 31, 64);
	p = drv_ptr(&d, cbw);
	memcpy(p, "USBC", 4);
	p[4] = 0x42;			/* tag */
	p[8] = 36;			/* data length */
	p[12] = 0x80;			/* IN */
	p[14] = 6;			/* CDB length */
	p[15] = 0x12;			/* INQUIRY */
	p[19] = 36;
	cr_assert_eq(drv_bulk(&d, slot, 4, cbw, 31, NULL), CC_SUCCESS, "CBW");
	cr_assert_eq(drv_bulk(&d, slot, 3, data, 36, &res), CC_SUCCESS, "INQUIRY data");
	cr_assert_eq(((uint8_t *)drv_ptr(&d, data))[0] & 0x1f, 0, "direct-access device");
	csw = drv_alloc(&d, 13, 64);
	cr_assert_eq(drv_bulk(&d, slot, 3, csw, 13, NULL), CC_SUCCESS, "CSW");
	cr_assert_eq(memcmp(drv_ptr(&d, csw), "USBS", 4), 0);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, csw))[4], 0x42);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, csw))[12], 0, "command passed");
	drv_stop(&d);
}

/* READ(10) of 2 blocks at lba 3: CBW, data as two chained 512-byte TRBs at a and b, CSW. */
static void read_two_trbs(unsigned int slot, uint64_t a, uint64_t b, uint8_t tag)
{
	uint64_t cbw = drv_alloc(&d, 31, 64), csw = drv_alloc(&d, 13, 64);
	uint8_t *p = drv_ptr(&d, cbw);
	struct xhci_trb ev;

	memcpy(p, "USBC", 4);
	p[4] = tag;
	p[9] = 4;			/* 1024 bytes */
	p[12] = 0x80;
	p[14] = 10;
	p[15] = 0x28;			/* READ(10) */
	p[20] = 3;			/* LBA 3 */
	p[23] = 2;			/* 2 blocks */
	cr_assert_eq(drv_bulk(&d, slot, 4, cbw, 31, NULL), CC_SUCCESS, "CBW");
	drv_ring_push(&d, &d.ep_ring[slot][3], a, 512, trb_type_bits(TRB_NORMAL) | TRB_CH);
	drv_ring_push(&d, &d.ep_ring[slot][3], b, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 3);
	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "no data event");
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS, "data cc %u", trb_cc(&ev));
	cr_assert_eq(trb_ev_residual(&ev), 0, "residual");
	cr_assert_eq(drv_bulk(&d, slot, 3, csw, 13, NULL), CC_SUCCESS, "CSW");
	cr_assert_eq(((uint8_t *)drv_ptr(&d, csw))[4], tag);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, csw))[12], 0, "command passed");
}

static void assert_blocks(uint64_t a, uint64_t b)
{
	for (int i = 0; i < 512; i++) {
		cr_assert_eq(((uint8_t *)drv_ptr(&d, a))[i], (uint8_t)(3 * 512 + i) * 7 % 256);
		cr_assert_eq(((uint8_t *)drv_ptr(&d, b))[i], (uint8_t)(4 * 512 + i) * 7 % 256);
	}
}

/*
 * Bulk IN data lands right whether the device writes it in place (the TRBs
 * continue each other) or through a bounce buffer (they do not).
 */
Test(xhci_guest, mass_storage_read_in_place_and_bounced)
{
	int img = memfd_create("disk", MFD_CLOEXEC);
	uint8_t block[1 << 12];
	struct devproto_reply r;
	unsigned int slot;
	uint64_t buf;

	for (unsigned int i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)((uint8_t)i * 7 % 256);
	cr_assert_eq(ftruncate(img, 1 << 20), 0);
	cr_assert_eq(pwrite(img, block, sizeof(block), 0), (ssize_t)sizeof(block));
	drv_start(&d, NULL);
	drv_init(&d);
	r = drv_attach(&d, img, 0);
	cr_assert_eq(r.status, SVMM_OK);
	slot = bring_up(r.port, 4);
	cr_assert_eq(drv_control(&d, slot, 0x00, 9, 1, 0, 0, 0, 0, NULL), CC_SUCCESS);
	cr_assert_eq(drv_configure_bulk(&d, slot, 4, 3, 1024), CC_SUCCESS);
	buf = drv_alloc(&d, 4096, 4096);
	memset(drv_ptr(&d, buf), 0xee, 4096);
	read_two_trbs(slot, buf, buf + 512, 1);
	assert_blocks(buf, buf + 512);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, buf))[1024], 0xee, "written past the TD");
	memset(drv_ptr(&d, buf), 0xee, 4096);
	read_two_trbs(slot, buf + 2048, buf, 2);
	assert_blocks(buf + 2048, buf);
	cr_assert_eq(((uint8_t *)drv_ptr(&d, buf))[512], 0xee, "written between the TRBs");
	drv_stop(&d);
}

/*
 * The VMM posts BAR writes and a doorbell may arrive as an ioeventfd, which
 * overtakes the socket: the controller must still run the writes first. A
 * halted controller ignores doorbells, so if the doorbell ran before the
 * posted USBCMD.RS write behind 200 others (more than the controller serves
 * in one go), the No-Op would never complete.
 */
Test(xhci_guest, posted_writes_run_before_an_eventfd_doorbell)
{
	struct xhci_trb ev;
	uint64_t one = 1, trb;
	int db0;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	db0 = drv_doorbell_eventfd(&d, 0);
	drv_op_write(&d, OP_USBCMD, 0);
	cr_assert(drv_op_read(&d, OP_USBSTS) & 1, "halted");
	trb = drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));	/* No Op Command */
	for (uint32_t i = 0; i < 200; i++)
		drv_write_posted(&d, d.op + OP_DNCTRL, 4, i);	/* DNCTRL: harmless */
	drv_write_posted(&d, 0x40, 4, 1 | 4);			/* RS | INTE */
	cr_assert_eq(write(db0, &one, sizeof(one)), 8);
	cr_assert(drv_wait_event(&d, TRB_EV_CMD_COMPLETION, &ev, 3000), "the doorbell overtook the writes made before it");
	cr_assert_eq(ev.param, trb);
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert_eq(drv_op_read(&d, OP_DNCTRL), 199, "every posted write ran, in order");
	close(db0);
	drv_stop(&d);
}

static uint32_t mirrored(const struct devproto_reg_mirror *m, uint32_t offset)
{
	for (uint32_t i = 0; i < m->count; i++) {
		if (m->regs[i].offset == offset)
			return __atomic_load_n(&m->regs[i].value, __ATOMIC_ACQUIRE);
	}
	cr_assert_fail("register 0x%x is not mirrored", offset);
	return 0;
}

/*
 * The register mirror the VMM answers reads from: it holds USBSTS and each
 * interrupter's IMAN, IMOD and ERDP; it says which request it has caught up
 * with; its values are what a round-trip read returns; and when an MSI-X
 * interrupt arrives it already shows EINT and IP (Linux's handler returns
 * IRQ_NONE without EINT, and the events would wait for the next interrupt).
 */
/*
 * The mirror refreshes only the registers that change, but config space is
 * the guest's to write: after a config write the VMM's next read of it from
 * the mirror must show it (MSI-X enabled here, in the capability's dword).
 */
Test(xhci_guest, register_mirror_follows_config_writes)
{
	const struct devproto_reg_mirror *m;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	m = drv_mirror(&d);
	cr_assert_eq(m->cfg[0x70 / 4] >> 31, 0, "MSI-X off at first");
	drv_enable_msix(&d, 1);
	cr_assert_eq(m->cfg[0x70 / 4], drv_cfg_read(&d, 0x70, 4));
	cr_assert_eq(m->cfg[0x70 / 4] >> 31, 1, "MSI-X enable not in the mirror after the write");
	munmap((void *)m, DEVPROTO_MIRROR_SIZE);
	drv_stop(&d);
}

/*
 * The device skips its idle refresh of the mirror when serving requests was
 * the last thing it did (that refreshed it). A doorbell that comes as an
 * eventfd is not a request: with interrupts off (USBCMD.INTE clear, so no
 * refresh before an interrupt either), the command's completion must still
 * show in the mirror's USBSTS.EINT once the device goes idle.
 */
Test(xhci_guest, register_mirror_follows_a_doorbell_eventfd_without_an_interrupt)
{
	const struct devproto_reg_mirror *m;
	struct xhci_trb ev;
	uint64_t one = 1;
	int db0, tries;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_op_write(&d, OP_USBCMD, 1);			/* RS, not INTE */
	m = drv_mirror(&d);
	db0 = drv_doorbell_eventfd(&d, 0);
	cr_assert_eq(mirrored(m, 0x44) & (1u << 3), 0, "EINT clear at first");
	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));	/* No-Op */
	/* Writes just before: the doorbell's handler may serve them, which refreshes first. */
	for (uint32_t i = 0; i < 64; i++)
		drv_write_posted(&d, d.op + OP_DNCTRL, 4, i);	/* DNCTRL: harmless */
	cr_assert_eq(write(db0, &one, sizeof(one)), 8);
	for (tries = 0; tries < 300 && !drv_take_event(&d, &ev); tries++)
		usleep(10000);
	cr_assert_lt(tries, 300, "the No-Op never completed");
	for (tries = 0; tries < 300 && !(mirrored(m, 0x44) & (1u << 3)); tries++)
		usleep(10000);
	cr_assert(mirrored(m, 0x44) & (1u << 3), "USBSTS.EINT never reached the mirror");
	cr_assert_not(irq_within(0), "an interrupt with USBCMD.INTE clear");
	close(db0);
	munmap((void *)m, DEVPROTO_MIRROR_SIZE);
	drv_stop(&d);
}

/*
 * MFINDEX is mirrored as a counter of time: while the controller runs, the
 * count the VMM computes from the page's base is what a round-trip read
 * answers at that instant; stopped, the page holds the frozen value.
 */
Test(xhci_guest, register_mirror_holds_mfindex_as_a_counter)
{
	const struct devproto_reg_mirror *m;
	const struct devproto_mirror_counter *c;
	uint64_t t0, t1, lo, hi;
	uint32_t v;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_op_write(&d, OP_USBCMD, 1);			/* RS */
	m = drv_mirror(&d);
	c = &m->counter;
	cr_assert_eq(drv_read(&d, d.op + OP_USBSTS, 4) & 1, 0, "HCHalted after RS");
	cr_assert_eq(c->gen % 2, 0);
	cr_assert_eq(c->offset, 0x2000);
	cr_assert_eq(c->period_ns, 125000);
	cr_assert_eq(c->mask, 0x3fff);
	cr_assert_eq(c->running, 1);
	t0 = monotonic_ns();
	v = (uint32_t)drv_read(&d, d.rt + RT_MFINDEX, 4);
	t1 = monotonic_ns();
	lo = (t0 - c->base_ns) / c->period_ns;
	hi = (t1 - c->base_ns) / c->period_ns;
	cr_assert_leq((v - lo) & 0x3fff, hi - lo, "MFINDEX %#x, the page's count %#llx-%#llx", v,
		      (unsigned long long)lo, (unsigned long long)hi);
	drv_op_write(&d, OP_USBCMD, 0);			/* stop */
	v = (uint32_t)drv_read(&d, d.rt + RT_MFINDEX, 4);		/* behind the write */
	cr_assert_eq(c->running, 0);
	cr_assert_eq(c->frozen, v);
	munmap((void *)m, DEVPROTO_MIRROR_SIZE);
	drv_stop(&d);
}

Test(xhci_guest, register_mirror_is_current_when_the_interrupt_arrives)
{
	const struct devproto_reg_mirror *m;
	uint64_t erdp;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_enable_msix(&d, 1);
	m = drv_mirror(&d);
	/* 16 capability, 9 operational, 16 x 4 port, 8 xECP, 4 x 7 interrupter registers. */
	cr_assert_eq(m->count, 16 + 9 + 64 + 8 + 28);
	cr_assert_eq(__atomic_load_n(&m->done_seq, __ATOMIC_ACQUIRE), d.seq);
	for (uint32_t i = 0; i < m->count; i++)
		cr_assert_eq(m->regs[i].value, (uint32_t)drv_read(&d, m->regs[i].offset, 4),
			     "register 0x%x", m->regs[i].offset);
	cr_assert(m->cfg_valid);
	for (uint32_t i = 0; i < DEVPROTO_MIRROR_CFG_DWORDS; i++)
		cr_assert_eq(m->cfg[i], drv_cfg_read(&d, 4 * i, 4), "config dword %u", i);

	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));
	drv_doorbell(&d, 0, 0);
	cr_assert(irq_within(3000), "no interrupt for the No-Op's completion");
	cr_assert(mirrored(m, 0x44) & (1u << 3), "USBSTS.EINT not in the mirror when the interrupt came");
	cr_assert(mirrored(m, d.rt + RT_IR0 + IR_IMAN) & 1, "IMAN.IP not in the mirror when the interrupt came");

	/* The handler's acknowledgements, posted: the mirror follows once they ran. */
	erdp = d.evt + 16;
	drv_write_posted(&d, 0x44, 4, 1u << 3);
	drv_write_posted(&d, d.rt + RT_IR0 + IR_IMAN, 4, 3);
	drv_write_posted(&d, d.rt + RT_IR0 + IR_ERDP_LO, 4, (uint32_t)erdp | 8);
	drv_write_posted(&d, d.rt + RT_IR0 + IR_ERDP_HI, 4, (uint32_t)(erdp >> 32));
	for (int tries = 0; tries < 300 && (int32_t)(__atomic_load_n(&m->done_seq, __ATOMIC_ACQUIRE) - d.seq) < 0;
	     tries++)
		usleep(10000);
	cr_assert_eq(__atomic_load_n(&m->done_seq, __ATOMIC_ACQUIRE), d.seq, "the posted writes never ran");
	cr_assert_eq(mirrored(m, 0x44) & (1u << 3), 0, "EINT cleared");
	cr_assert_eq(mirrored(m, d.rt + RT_IR0 + IR_IMAN) & 1, 0, "IP cleared");
	cr_assert_eq(mirrored(m, d.rt + RT_IR0 + IR_ERDP_LO) & ~0xfu, (uint32_t)erdp);
	cr_assert_eq(mirrored(m, d.rt + RT_IR0 + IR_ERDP_LO) & 8, 0, "EHB cleared");
	munmap((void *)m, DEVPROTO_MIRROR_SIZE);
	drv_stop(&d);
}

/*
 * A device unplugged on the host in use (CI's gadgets: an ACM read in
 * flight): its transfer fails, and the guest's handler is still taking
 * events (EHB set, so no interrupt) when the disconnect's Port Status Change
 * Event lands. Linux reads PORTSC at once (handle_port_status, then
 * xhci_hub_status_data), and with no write outstanding the VMM answers from
 * the mirror (vmm/bar_mirror.c). It must already show the disconnect: a
 * PORTSC without CSC makes Linux stop polling the root hub, and the guest
 * never learns the device left. The device is slow to go (the host releasing
 * a vanished device), which holds the controller after the event.
 */
Test(xhci_guest, port_status_change_event_finds_the_mirror_current)
{
	enum { DCI = 3 };
		const struct devproto_reg_mirror *m;
	struct xhci_trb ev;
	unsigned int port, slot, type;
	uint32_t portsc;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_enable_msix(&d, 1);
	m = drv_mirror(&d);
	port = attach_test('H', 'U', 1);
	slot = bring_up(port, 3);
	cr_assert_eq(drv_configure_bulk(&d, slot, 2, DCI, 512), 1);
	while (drv_take_event(&d, &ev))
		;
	drv_ack_events(&d);
	while (irq_within(0))
		;

	drv_ring_push(&d, &d.ep_ring[slot][DCI], drv_alloc(&d, 512, 64), 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, DCI);
	cr_assert(irq_within(3000), "no interrupt for the failed transfer");
	do {
		for (int waited_us = 0; !drv_take_event(&d, &ev); waited_us += 100) {
			cr_assert_lt(waited_us, 5000000, "no Port Status Change Event for the unplug");
			usleep(100);
		}
		type = trb_type(&ev);
	} while (type != TRB_EV_PORT_STATUS);
	cr_assert_eq(ev.param >> 24, port);
	cr_assert_eq(__atomic_load_n(&m->done_seq, __ATOMIC_ACQUIRE), d.seq,
		     "a write outstanding: the read would not be answered from the mirror");
	portsc = mirrored(m, d.op + OP_PORTSC(port));
	cr_assert_eq(portsc & PORTSC_CCS, 0, "PORTSC %#x from the mirror: CCS still set at the disconnect's event",
		     portsc);
	cr_assert(portsc & PORTSC_CSC, "PORTSC %#x from the mirror: no CSC at the disconnect's event "
		  "(Linux sees no change and stops polling the root hub)", portsc);
	drv_ack_events(&d);
	cr_assert_eq(drv_portsc(&d, port), portsc);
	munmap((void *)m, DEVPROTO_MIRROR_SIZE);
	drv_stop(&d);
}
