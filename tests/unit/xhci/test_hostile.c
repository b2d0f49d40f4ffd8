/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest: every case ends in the completion code the spec gives, or
 * in HCE, never in a crash, hang or abort of the device process. Each test
 * ends with drv_stop(), which asserts the process still answers and exits 0
 * (under ASan/UBSan any memory error would make it exit otherwise).
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

#include "common/monotonic.h"
#include "tests/unit/xhci/test_device.h"
#include "tests/xhci_driver/xhci_driver.h"


static struct drv d;

static unsigned int setup_device(char speed, char mode)
{
	struct devproto_reply r;
	unsigned int slot, cc;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	r = drv_attach(&d, test_device_image(speed, mode), 0);
	cr_assert_eq(r.status, SVMM_OK);
	drv_port_reset(&d, r.port, speed == 'S');
	slot = drv_enable_address(&d, r.port, speed == 'S' ? 4 : 3, false, &cc);
	cr_assert_eq(cc, CC_SUCCESS);
	return slot;
}

static unsigned int wait_transfer_cc(uint64_t *trb)
{
	struct xhci_trb ev;

	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "no transfer event");
	if (trb)
		*trb = ev.param;
	return trb_cc(&ev);
}

static uint32_t ep_state(unsigned int slot, unsigned int dci)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)drv_ptr(&d, d.out_ctx[slot]) + 32 * dci, 4);
	return v & 7;
}

static void assert_hce_then_recover(void)
{
	cr_assert(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, "HCE not set");
	drv_alive(&d);
	drv_init(&d);
	cr_assert_eq(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE, 0, "HCRST did not clear HCE");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
}

Test(xhci_hostile, command_ring_link_loop_cve_2016_8576)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	/* The first command TRB is a Link to itself, cycle bit valid, no toggle. */
	uint64_t at = d.cmd.base + 16ull * d.cmd.idx;
	uint32_t *t = drv_ptr(&d, at);

	memcpy(t, &at, 8);
	t[2] = 0;
	t[3] = trb_type_bits(TRB_LINK) | 1u;
	drv_doorbell(&d, 0, 0);
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, command_ring_endless_noops_without_cycle_toggle)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	/* Four No-Ops and a Link back without TC: valid forever, unless bounded. */
	uint64_t base = d.cmd.base;
	uint32_t *t = drv_ptr(&d, base);

	for (int i = 0; i < 4; i++)
		t[4 * i + 3] = trb_type_bits(TRB_CMD_NOOP) | 1u;
	memcpy(&t[16], &base, 8);
	t[19] = trb_type_bits(TRB_LINK) | 1u;
	drv_doorbell(&d, 0, 0);
	/*
	 * Give the deferred batches time to run into the budget (65536 TRBs),
	 * consuming their completions: a full event ring would hold the ring up
	 * instead. Bounded by time, not rounds: how many TRBs a round sees
	 * depends on how the two processes happen to interleave.
	 */
	int64_t deadline = monotonic_ms() + 60000;

	while (monotonic_ms() < deadline && !(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE)) {
		struct xhci_trb ev;

		while (drv_take_event(&d, &ev))
			;
		drv_ack_events(&d);
	}
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, command_ring_outside_guest_memory)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_op_write(&d, OP_USBCMD, 0);
	drv_write(&d, 0x58, 8, 0xdead00000000ull | 1);
	drv_op_write(&d, OP_USBCMD, 5);
	drv_doorbell(&d, 0, 0);
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, control_td_link_loop_cve_2017_5973)
{
	unsigned int slot = setup_device('H', 0);
	struct drv_ring *r = &d.ep_ring[slot][1];
	uint64_t setup = drv_ring_push(&d, r, 0x0012000001000680ull, 8, trb_type_bits(TRB_SETUP) | TRB_IDT | (TRB_TRT_IN << TRB_TRT_SHIFT));
	uint64_t link = r->base + 16ull * r->idx;
	uint32_t *t = drv_ptr(&d, link);
	uint64_t trb;

	(void)setup;
	/* After the Setup stage: a Link to itself, chained, no toggle. */
	memcpy(t, &link, 8);
	t[3] = trb_type_bits(TRB_LINK) | TRB_CH | (r->cycle ? 1u : 0u);
	drv_doorbell(&d, slot, 1);
	cr_assert_eq(wait_transfer_cc(&trb), CC_TRB_ERROR);
	cr_assert_eq(ep_state(slot, 1), 2, "EP0 Halted");
	drv_stop(&d);
}

Test(xhci_hostile, transfer_ring_outside_guest_memory)
{
	unsigned int slot = setup_device('H', 0);
	uint64_t trb;

	/* Stop EP0, point its ring far outside RAM, ring it. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(1u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(drv_command(&d, 0x7fff00000000ull | 1, 0, trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(1u) | trb_slot_bits(slot), NULL),
		     CC_SUCCESS);
	drv_doorbell(&d, slot, 1);
	cr_assert_eq(wait_transfer_cc(&trb), CC_TRB_ERROR);
	cr_assert_eq(trb, 0x7fff00000000ull);
	drv_stop(&d);
}

Test(xhci_hostile, trb_length_beyond_guest_memory)
{
	unsigned int slot = setup_device('S', 0);
	uint64_t end = DRV_RAM_GPA + DRV_RAM_SIZE;

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	/* 0x1ffff bytes starting 16 bytes before the end of RAM. */
	drv_ring_push(&d, &d.ep_ring[slot][3], end - 16, 0x1ffff, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 3);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	cr_assert_eq(ep_state(slot, 3), 2, "Halted");
	/* A buffer pointer whose end wraps around 2^64. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | trb_ep_id_bits(2u) | trb_slot_bits(slot), NULL), CC_CONTEXT_STATE_ERROR);
	drv_ring_push(&d, &d.ep_ring[slot][2], 0xfffffffffffffff0ull, 0x100, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 2);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	drv_stop(&d);
}

Test(xhci_hostile, immediate_data_longer_than_8_bytes)
{
	unsigned int slot = setup_device('S', 0);

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	drv_ring_push(&d, &d.ep_ring[slot][2], 0x4141414141414141ull, 64, trb_type_bits(TRB_NORMAL) | TRB_IOC | TRB_IDT);
	drv_doorbell(&d, slot, 2);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	drv_stop(&d);
}

Test(xhci_hostile, slot_and_endpoint_ids_out_of_range)
{
	unsigned int slot = setup_device('H', 0);

	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(200u), NULL), CC_TRB_ERROR);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(0u), NULL), CC_TRB_ERROR);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(65u), NULL), CC_TRB_ERROR);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(7u), NULL), CC_SLOT_NOT_ENABLED);
	cr_assert_eq(drv_command(&d, drv_alloc(&d, 1056, 64), 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | trb_slot_bits(255u), NULL), CC_TRB_ERROR);
	/* Endpoint ID 0 and endpoints that are not enabled. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | trb_ep_id_bits(0u) | trb_slot_bits(slot), NULL), CC_TRB_ERROR);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(31u) | trb_slot_bits(slot), NULL), CC_CONTEXT_STATE_ERROR);
	cr_assert_eq(drv_command(&d, 0x1000, 0, trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(9u) | trb_slot_bits(slot), NULL), CC_CONTEXT_STATE_ERROR);
	/* Doorbells beyond MaxSlots, and targets beyond 31. */
	drv_doorbell(&d, 200, 1);
	drv_doorbell(&d, slot, 0xff);
	drv_doorbell(&d, 0, 5);
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS, "still working");
	drv_stop(&d);
}

/* A second slot addressed to a port that already has one is refused; the first keeps working. */
Test(xhci_hostile, two_slots_on_one_port)
{
	unsigned int slot = setup_device('H', 0), other, cc;
	uint64_t buf = drv_alloc(&d, 18, 64);

	other = drv_enable_address(&d, 1, 3, false, &cc);
	cr_assert_neq(other, slot);
	cr_assert_eq(cc, CC_TRB_ERROR, "second slot on port 1: cc %u", cc);
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x100, 0, 18, buf, 18, NULL), CC_SUCCESS);
	/* Once the first slot is gone the port is free again. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_DISABLE_SLOT) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	drv_enable_address(&d, 1, 3, false, &cc);
	cr_assert_eq(cc, CC_SUCCESS);
	drv_stop(&d);
}

Test(xhci_hostile, erst_size_zero)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_op_write(&d, OP_USBCMD, 0);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTSZ, 4, 0);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTBA_LO, 8, d.erst);
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, erst_size_huge_and_bad_segments)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTSZ, 4, 0xffff);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTBA_LO, 8, d.erst);
	assert_hce_then_recover();
	/* A segment of size 0, and one outside guest memory. */
	uint32_t *e = drv_ptr(&d, d.erst);

	e[2] = 0;
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTSZ, 4, 1);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTBA_LO, 8, d.erst);
	cr_assert(drv_op_read(&d, OP_USBSTS) & USBSTS_HCE);
	drv_init(&d);
	e = drv_ptr(&d, d.erst);
	e[0] = 0;
	e[1] = 0x7000;
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTSZ, 4, 1);
	drv_write(&d, d.rt + RT_IR0 + IR_ERSTBA_LO, 8, d.erst);
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, erdp_outside_the_event_ring)
{
	drv_start(&d, test_device_attach);
	drv_init(&d);
	drv_write(&d, d.rt + RT_IR0 + IR_ERDP_LO, 8, 0x10);
	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));
	drv_doorbell(&d, 0, 0);
	assert_hce_then_recover();
	drv_stop(&d);
}

Test(xhci_hostile, dcbaa_entries_pointing_anywhere)
{
	struct devproto_reply r;
	unsigned int slot = 0, cc;
	uint64_t bad[] = { 0, 0x40, 0xfffffffffffff000ull, DRV_RAM_GPA + DRV_RAM_SIZE - 512 };

	drv_start(&d, test_device_attach);
	drv_init(&d);
	r = drv_attach(&d, test_device_image('H', 0), 0);
	drv_port_reset(&d, r.port, false);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Enable/Address overwrites the entry; hand-build it instead. */
		cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_ENABLE_SLOT), &slot), CC_SUCCESS);
		memcpy((uint8_t *)drv_ptr(&d, d.dcbaa) + 8 * slot, &bad[i], 8);
		uint64_t in = drv_alloc(&d, 33 * 32, 64);
		uint32_t *ctx = drv_ptr(&d, in);

		drv_ring_init(&d, &d.ep_ring[slot][1], 16);
		ctx[INPUT_CTX_ADD] = 1;
		drv_input_slot(ctx, 1, SPEED_HIGH, r.port);
		drv_input_ep(ctx, 1, EP_TYPE_CONTROL, 64, d.ep_ring[slot][1].base | EP_CTX_DCS, 0);
		cc = drv_command(&d, in, 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | trb_slot_bits(slot), NULL);
		cr_assert_eq(cc, CC_PARAMETER_ERROR, "DCBAA entry %#llx: cc %u", (unsigned long long)bad[i], cc);
	}
	/* DCBAAP itself outside guest memory. */
	drv_op_write(&d, OP_USBCMD, 0);
	drv_write(&d, 0x70, 8, 0xfff00000000ull);
	drv_op_write(&d, OP_USBCMD, 5);
	(void)drv_enable_address(&d, r.port, 3, false, &cc);
	cr_assert_eq(cc, CC_PARAMETER_ERROR);
	drv_stop(&d);
}

Test(xhci_hostile, doorbells_for_unconfigured_endpoints)
{
	unsigned int slot = setup_device('H', 0);
	struct xhci_trb ev;

	for (unsigned int t = 2; t < 32; t++)
		drv_doorbell(&d, slot, t);
	/* Slots that are not enabled. */
	for (unsigned int s = 1; s <= 64; s++) {
		if (s != slot)
			drv_doorbell(&d, s, 1);
	}
	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 20), "a transfer event from nowhere");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_NOOP), NULL), CC_SUCCESS);
	drv_stop(&d);
}

Test(xhci_hostile, unbounded_chain_cve_2020_14394)
{
	unsigned int slot = setup_device('S', 0);
	struct drv_ring *r;
	uint64_t buf;

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	/* Replace the OUT ring by one of 4096 TRBs, all chained. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(2u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	r = &d.ep_ring[slot][2];
	drv_ring_init(&d, r, 4096);
	cr_assert_eq(drv_command(&d, r->base | 1, 0, trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(2u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	buf = drv_alloc(&d, 64, 64);
	for (int i = 0; i < 4000; i++)
		drv_ring_push(&d, r, buf, 8, trb_type_bits(TRB_NORMAL) | TRB_CH);
	drv_doorbell(&d, slot, 2);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	cr_assert_eq(ep_state(slot, 2), 2);
	drv_stop(&d);
}

Test(xhci_hostile, setup_length_beyond_buffer_cve_2020_14364)
{
	unsigned int slot = setup_device('H', 0);
	uint64_t buf = drv_alloc(&d, 128, 64);
	uint8_t *p = drv_ptr(&d, buf);
	uint32_t res = 0;

	memset(p + 64, 0x5a, 64);
	/* GET_DESCRIPTOR(CONFIGURATION) with wLength 0xffff and a 64-byte data stage. */
	cr_assert_eq(drv_control(&d, slot, 0x80, 6, 0x200, 0, 0xffff, buf, 64, &res), CC_SUCCESS);
	cr_assert_eq(res, 0);
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(p[i], 0xab);
		cr_assert_eq(p[64 + i], 0x5a, "controller wrote past the data stage");
	}
	drv_stop(&d);
}

Test(xhci_hostile, stream_id_out_of_range)
{
	unsigned int slot = setup_device('S', 0);
	struct xhci_trb ev;
	uint64_t in = drv_alloc(&d, 33 * 32, 64);
	uint32_t *ctx = drv_ptr(&d, in);

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	/* A doorbell naming stream 5 on a stream-less endpoint names nothing. */
	drv_ring_push(&d, &d.ep_ring[slot][3], drv_alloc(&d, 64, 64), 64, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 3 | (5u << 16));
	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 20));
	/* Set TR Dequeue with a stream ID. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(2u) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	cr_assert_eq(drv_command(&d, d.ep_ring[slot][2].base | 1, 3u << 16,
				 trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(2u) | trb_slot_bits(slot), NULL), CC_INVALID_STREAM_ID);
	/* An endpoint context asking for streams (MaxPStreams) is refused. */
	ctx[INPUT_CTX_ADD] = 1u << 5;
	ctx[8] = SLOT_CTX_ENTRIES(5);
	ctx[8 * 6 + 0] = 4u << EP_CTX_MAX_PSTREAMS_SHIFT;
	ctx[8 * 6 + 1] = EP_CTX_TYPE(EP_TYPE_BULK_IN) | EP_CTX_MAX_PACKET(1024);
	ctx[8 * 6 + 2] = (uint32_t)drv_alloc(&d, 256, 64) | EP_CTX_DCS;
	cr_assert_eq(drv_command(&d, in, 0, trb_type_bits(TRB_CMD_CONFIGURE_EP) | trb_slot_bits(slot), NULL), CC_PARAMETER_ERROR);
	drv_stop(&d);
}

Test(xhci_hostile, setup_trb_on_non_control_endpoint)
{
	unsigned int slot = setup_device('S', 0);

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	drv_ring_push(&d, &d.ep_ring[slot][2], 0x0012000001000680ull, 8, trb_type_bits(TRB_SETUP) | TRB_IDT | TRB_IOC);
	drv_doorbell(&d, slot, 2);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	/* And a Normal TRB where EP0 expects a Setup stage. */
	drv_ring_push(&d, &d.ep_ring[slot][1], drv_alloc(&d, 8, 64), 8, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	drv_doorbell(&d, slot, 1);
	cr_assert_eq(wait_transfer_cc(NULL), CC_TRB_ERROR);
	drv_stop(&d);
}

Test(xhci_hostile, reentrant_kick_cve_2017_9375)
{
	unsigned int slot = setup_device('S', 0);
	uint64_t tds[32];
	struct xhci_trb ev;
	uint64_t buf = drv_alloc(&d, 512, 64);

	cr_assert_eq(drv_configure_bulk(&d, slot, 2, 3, 1024), CC_SUCCESS);
	/* A doorbell after every TD while earlier ones are in flight and completing. */
	for (int i = 0; i < 32; i++) {
		tds[i] = drv_ring_push(&d, &d.ep_ring[slot][2], buf, 512, trb_type_bits(TRB_NORMAL) | TRB_IOC);
		drv_doorbell(&d, slot, 2);
		drv_doorbell(&d, slot, 2);
	}
	for (int i = 0; i < 32; i++) {
		cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "TD %d lost", i);
		cr_assert_eq(ev.param, tds[i], "TD %d reported out of order or twice", i);
		cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	}
	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 20), "a TD completed twice");
	drv_stop(&d);
}

Test(xhci_hostile, malformed_wire_messages_are_dropped)
{
	char junk[64];

	drv_start(&d, test_device_attach);
	memset(junk, 0xff, sizeof(junk));
	cr_assert_eq(send(d.req, junk, sizeof(junk), 0), 64);
	cr_assert_eq(send(d.req, junk, 7, 0), 7);
	drv_alive(&d);
	drv_stop(&d);
}
