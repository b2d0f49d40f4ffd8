/* SPDX-License-Identifier: MIT */
/*
 * Bringing a device up and moving data, on memory from the driver's
 * allocator: port reset, Enable Slot, Address Device, Configure Endpoint,
 * control and bulk transfers (xhci_driver.h).
 */
#include "tests/xhci_driver/xhci_driver.h"

#include <string.h>
#include <unistd.h>

#define PORT_RESET_POLLS 100	/* of 1 ms */

uint64_t drv_alloc(struct drv *d, uint64_t size, uint64_t align)
{
	uint64_t a = (d->next_alloc + align - 1) & ~(align - 1);

	if (a + size > DRV_RAM_GPA + d->ram_size)
		drv_fail(d, "test RAM exhausted");
	d->next_alloc = a + size;
	memset(drv_ptr(d, a), 0, size);
	return a;
}

void drv_ring_init(struct drv *d, struct drv_ring *r, unsigned int size)
{
	drv_ring_place(d, r, drv_alloc(d, 16ull * size, 64), size);
}

uint64_t drv_ring_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		       uint32_t control)
{
	return drv_push(d, r, param, status, control, false);
}

void drv_init_rings(struct drv *d, unsigned int cmd_trbs, unsigned int evt_trbs)
{
	struct drv_layout l = {
		.slots = DRV_SLOTS,
		.dcbaa = drv_alloc(d, 8 * (DRV_SLOTS + 1), 64),
		.cmd_ring = drv_alloc(d, 16ull * cmd_trbs, 64),
		.cmd_trbs = cmd_trbs,
		.erst = drv_alloc(d, sizeof(struct xhci_erst_entry), 64),
		.evt_ring = drv_alloc(d, 16ull * evt_trbs, 64),
		.evt_trbs = evt_trbs,
		.imod = 0,	/* no moderation */
	};
	const char *why = drv_init_layout(d, &l);

	if (why)
		drv_fail(d, "init: %s", why);
}

void drv_init(struct drv *d)
{
	uint32_t max_slots = HCSPARAMS1_MAX_SLOTS((uint32_t)drv_read(d, CAP_HCSPARAMS1, 4));

	if (max_slots != DRV_SLOTS)
		drv_fail(d, "MaxSlots %u", max_slots);
	drv_init_rings(d, 64, 64);
}

void drv_set_event_ring(struct drv *d, unsigned int size)
{
	uint32_t usbcmd = drv_op_read(d, OP_USBCMD);

	/* The ring changes while the controller is halted, as at init. */
	drv_op_write(d, OP_USBCMD, usbcmd & ~USBCMD_RS);
	drv_place_event_ring(d, drv_alloc(d, 16ull * size, 64), size);
	drv_op_write(d, OP_USBCMD, usbcmd);
}

void drv_port_reset(struct drv *d, unsigned int port, bool warm)
{
	uint32_t sc = drv_portsc(d, port);
	int tries;

	if (!(sc & PORTSC_CCS))
		drv_fail(d, "no device on port %u", port);
	drv_port_reset_start(d, port, warm);
	for (tries = 0; tries < PORT_RESET_POLLS && !(drv_portsc(d, port) & PORTSC_PRC); tries++)
		usleep(1000);
	sc = drv_portsc(d, port);
	if (!(sc & PORTSC_PRC))
		drv_fail(d, "PRC never set");
	if (!(sc & PORTSC_PED))
		drv_fail(d, "port not enabled after reset");
	if (sc & PORTSC_PR)
		drv_fail(d, "PR still set");
	if (sc & PORTSC_PLS)
		drv_fail(d, "link not in U0");
	/* Clear the change bits (W1C), as the hub driver does. */
	drv_portsc_write(d, port, PORTSC_PP | (sc & PORTSC_CHANGE));
	if (drv_portsc(d, port) & PORTSC_CHANGE)
		drv_fail(d, "change bits not cleared");
}

unsigned int drv_enable_address(struct drv *d, unsigned int port, unsigned int speed, bool bsr,
				unsigned int *cc)
{
	unsigned int slot = 0, got;
	struct drv_ring *ep0;
	uint64_t in, out;

	if ((got = drv_command(d, 0, 0, trb_type_bits(TRB_CMD_ENABLE_SLOT), &slot)) != CC_SUCCESS)
		drv_fail(d, "Enable Slot: cc %u", got);
	if (slot < 1 || slot > DRV_SLOTS)
		drv_fail(d, "Enable Slot gave slot %u", slot);
	out = drv_alloc(d, 1024, 64);
	memcpy((uint8_t *)drv_ptr(d, d->dcbaa) + 8 * slot, &out, 8);
	d->out_ctx[slot] = out;
	ep0 = &d->ep_ring[slot][1];
	drv_ring_init(d, ep0, 32);
	in = drv_alloc(d, INPUT_CTX_ENTRIES * 32, 64);
	((uint32_t *)drv_ptr(d, in))[INPUT_CTX_ADD] = 1;	/* the slot context */
	drv_input_slot(drv_ptr(d, in), 1, speed, port);
	drv_input_ep(drv_ptr(d, in), 1, EP_TYPE_CONTROL, drv_ep0_max_packet(speed),
		     ep0->base | EP_CTX_DCS, 8);
	*cc = drv_command(d, in, 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | (bsr ? TRB_BSR : 0) |
			  trb_slot_bits(slot), NULL);
	return slot;
}

unsigned int drv_configure_bulk_rings(struct drv *d, unsigned int slot, unsigned int dci_out,
				      unsigned int dci_in, unsigned int mps, unsigned int trbs)
{
	uint64_t in = drv_alloc(d, INPUT_CTX_ENTRIES * 32, 64);
	uint32_t *ctx = drv_ptr(d, in);
	unsigned int dcis[2] = { dci_out, dci_in };
	unsigned int max = dci_out > dci_in ? dci_out : dci_in;

	ctx[INPUT_CTX_ADD] = 1;		/* the slot context */
	drv_input_slot(ctx, max, 0, 0);
	for (int i = 0; i < 2; i++) {
		struct drv_ring *r = &d->ep_ring[slot][dcis[i]];

		drv_ring_init(d, r, trbs);
		drv_input_ep(ctx, dcis[i], dcis[i] & 1 ? EP_TYPE_BULK_IN : EP_TYPE_BULK_OUT, mps,
			     r->base | EP_CTX_DCS, mps);
	}
	return drv_command(d, in, 0, trb_type_bits(TRB_CMD_CONFIGURE_EP) | trb_slot_bits(slot), NULL);
}

unsigned int drv_configure_bulk(struct drv *d, unsigned int slot, unsigned int dci_out,
				unsigned int dci_in, unsigned int mps)
{
	return drv_configure_bulk_rings(d, slot, dci_out, dci_in, mps, 64);
}

unsigned int drv_control(struct drv *d, unsigned int slot, uint8_t type, uint8_t req,
			 uint16_t value, uint16_t index, uint16_t length, uint64_t buf,
			 uint32_t buf_len, uint32_t *residual)
{
	uint64_t setup = drv_setup_packet(type, req, value, index, length);
	uint64_t status_trb = drv_queue_control(d, &d->ep_ring[slot][1], setup, buf, buf_len);
	bool short_seen = false;
	struct xhci_trb ev;
	unsigned int cc;

	drv_doorbell(d, slot, 1);
	if (residual)
		*residual = 0;
	for (;;) {
		if (!drv_wait_event(d, TRB_EV_TRANSFER, &ev, DRV_EVENT_TIMEOUT))
			drv_fail(d, "no transfer event");
		cc = trb_cc(&ev);
		/* A short Data stage reports (ISP), then the Status stage reports too. */
		if (cc == CC_SHORT_PACKET && ev.param != status_trb) {
			if (residual)
				*residual = trb_ev_residual(&ev);
			short_seen = true;
			continue;
		}
		break;
	}
	return short_seen && cc == CC_SUCCESS ? CC_SHORT_PACKET : cc;
}

unsigned int drv_bulk(struct drv *d, unsigned int slot, unsigned int dci, uint64_t buf,
		      uint32_t len, uint32_t *residual)
{
	struct xhci_trb ev;

	drv_ring_push(d, &d->ep_ring[slot][dci], buf, len,
		      trb_type_bits(TRB_NORMAL) | TRB_IOC | TRB_ISP);
	drv_doorbell(d, slot, dci);
	if (!drv_wait_event(d, TRB_EV_TRANSFER, &ev, DRV_EVENT_TIMEOUT))
		drv_fail(d, "no transfer event");
	if (trb_ep_id(&ev) != dci)
		drv_fail(d, "transfer event of endpoint %u, not %u", trb_ep_id(&ev), dci);
	if (residual)
		*residual = trb_ev_residual(&ev);
	return trb_cc(&ev);
}
