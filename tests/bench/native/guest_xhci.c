/* SPDX-License-Identifier: MIT */
#include "tests/bench/native/guest_xhci.h"

#include "tests/bench/native/console.h"
#include "tests/bench/native/sys.h"
#include "devices/xhci/xhci_regs.h"

#define DMA_BASE	0x1000000ull	/* 16 MiB */
#define DMA_END		0x2000000ull	/* 32 MiB: the data buffers follow (bench_main.c) */

static uint64_t dma_next = DMA_BASE;

void *dma_alloc(uint64_t size, uint64_t align)
{
	uint64_t at = (dma_next + align - 1) & ~(align - 1);

	if (at + size > DMA_END)
		fail("out of DMA memory, asked", size);
	dma_next = at + size;
	memset((void *)(uintptr_t)at, 0, size);
	return (void *)(uintptr_t)at;
}

static uint32_t rd(volatile uint8_t *base, unsigned int off)
{
	return mmio_read32(base + off);
}

static void wr(volatile uint8_t *base, unsigned int off, uint32_t v)
{
	mmio_write32(base + off, v);
}

static void wait_bits(struct xhci *x, volatile uint8_t *base, unsigned int off, uint32_t mask,
		      uint32_t want, const char *what)
{
	uint64_t start = rdtsc();

	while ((rd(base, off) & mask) != want)
		if (rdtsc() - start > x->timeout_cycles)
			fail(what, rd(base, off));
}

void xhci_ring_init(struct xhci_ring *r)
{
	r->trb = dma_alloc(XHCI_RING_TRBS * sizeof(struct xhci_trb), 4096);
	r->idx = 0;
	r->cycle = 1;
}

uint64_t xhci_ring_put(struct xhci_ring *r, uint64_t param, uint32_t status, uint32_t control)
{
	struct xhci_trb *t = &r->trb[r->idx];

	t->param = param;
	t->status = status;
	__asm__ volatile("" ::: "memory");	/* the cycle bit hands the TRB over: last */
	t->control = (control & ~TRB_C) | r->cycle;
	if (++r->idx == XHCI_RING_TRBS - 1) {
		struct xhci_trb *link = &r->trb[r->idx];

		link->param = (uintptr_t)r->trb;
		link->status = 0;
		__asm__ volatile("" ::: "memory");
		/* A TD that goes on past the link keeps its chain through it (xHCI 4.11.5.1). */
		link->control = trb_type_bits(TRB_LINK) | TRB_LINK_TC | (control & TRB_CH) | r->cycle;
		r->idx = 0;
		r->cycle ^= 1;
	}
	return (uintptr_t)t;
}

void xhci_init(struct xhci *x, uint64_t bar0, uint64_t timeout_cycles)
{
	uint32_t hcs2, scratch;
	struct xhci_erst_entry *erst;

	x->timeout_cycles = timeout_cycles;
	x->cap = (volatile uint8_t *)(uintptr_t)bar0;
	x->op = x->cap + (rd(x->cap, CAP_CAPLENGTH) & CAPLENGTH_MASK);
	x->rt = x->cap + (rd(x->cap, CAP_RTSOFF) & RTSOFF_MASK);
	x->db = x->cap + (rd(x->cap, CAP_DBOFF) & DBOFF_MASK);
	x->ir0 = x->rt + RT_IR0;
	x->max_ports = HCSPARAMS1_MAX_PORTS(rd(x->cap, CAP_HCSPARAMS1));
	x->ctx_size = rd(x->cap, CAP_HCCPARAMS1) & HCCPARAMS1_CSZ ? 64 : 32;

	wr(x->op, OP_USBCMD, rd(x->op, OP_USBCMD) & ~USBCMD_RS);
	wait_bits(x, x->op, OP_USBSTS, USBSTS_HCH, USBSTS_HCH, "controller did not halt, USBSTS");
	wr(x->op, OP_USBCMD, USBCMD_HCRST);
	wait_bits(x, x->op, OP_USBCMD, USBCMD_HCRST, 0, "reset did not end, USBCMD");
	wait_bits(x, x->op, OP_USBSTS, USBSTS_CNR, 0, "controller not ready, USBSTS");

	wr(x->op, OP_CONFIG, XHCI_MAX_DEVICES);	/* device slots enabled */
	x->dcbaa = dma_alloc(256 * 8, 64);
	hcs2 = rd(x->cap, CAP_HCSPARAMS2);
	scratch = HCSPARAMS2_MAX_SCRATCHPAD(hcs2);
	if (scratch) {
		uint64_t *array = dma_alloc(scratch * 8, 64);

		for (uint32_t i = 0; i < scratch; i++)
			array[i] = (uintptr_t)dma_alloc(4096, 4096);
		x->dcbaa[0] = (uintptr_t)array;
	}
	wr(x->op, OP_DCBAAP_LO, (uint32_t)(uintptr_t)x->dcbaa);
	wr(x->op, OP_DCBAAP_HI, 0);

	xhci_ring_init(&x->cmd);
	wr(x->op, OP_CRCR_LO, (uint32_t)(uintptr_t)x->cmd.trb | CRCR_RCS);
	wr(x->op, OP_CRCR_HI, 0);

	x->evt = dma_alloc(XHCI_RING_TRBS * sizeof(struct xhci_trb), 4096);
	x->evt_idx = 0;
	x->evt_cycle = 1;
	erst = dma_alloc(sizeof(*erst), 64);
	erst->base = (uintptr_t)x->evt;
	erst->size = XHCI_RING_TRBS;
	wr(x->ir0, IR_IMOD, 0);		/* no moderation: one interrupt per event */
	wr(x->ir0, IR_ERSTSZ, 1);
	wr(x->ir0, IR_ERDP_LO, (uint32_t)(uintptr_t)x->evt);
	wr(x->ir0, IR_ERDP_HI, 0);
	wr(x->ir0, IR_ERSTBA_LO, (uint32_t)(uintptr_t)erst);
	wr(x->ir0, IR_ERSTBA_HI, 0);
	wr(x->ir0, IR_IMAN, IMAN_IP);

	wr(x->op, OP_USBCMD, USBCMD_RS | USBCMD_INTE);
	wait_bits(x, x->op, OP_USBSTS, USBSTS_HCH, 0, "controller did not start, USBSTS");
}

void xhci_set_msix(struct xhci *x, bool on)
{
	x->msix = on;
	x->msi_seen = msi_count;
	wr(x->ir0, IR_IMAN, IMAN_IP | (on ? IMAN_IE : 0));
}

struct xhci_trb xhci_next_event(struct xhci *x)
{
	uint64_t start = rdtsc();

	for (;;) {
		volatile struct xhci_trb *e = &x->evt[x->evt_idx];
		struct xhci_trb ev;

		if ((e->control & TRB_C) != x->evt_cycle) {
			if (rdtsc() - start > x->timeout_cycles)
				fail("no event within the timeout; MSI-X interrupts seen", msi_count);
			if (x->msix && x->unacked) {
				/* With EHB set the controller holds back the next interrupt. */
				xhci_ack_events(x);
				continue;
			}
			if (x->msix) {
				/* Sleep-free wait: the event is looked at once the MSI-X vector fired. */
				while (msi_count == x->msi_seen)
					if (rdtsc() - start > x->timeout_cycles)
						fail("no MSI-X interrupt within the timeout; events pending",
						     (e->control & TRB_C) == x->evt_cycle);
				x->msi_seen = msi_count;
			}
			continue;
		}
		ev.param = e->param;
		ev.status = e->status;
		ev.control = e->control;
		if (++x->evt_idx == XHCI_RING_TRBS) {
			x->evt_idx = 0;
			x->evt_cycle ^= 1;
		}
		x->unacked = true;
		if (trb_type(&ev) == TRB_EV_PORT_STATUS)
			continue;
		return ev;
	}
}

void xhci_ack_events(struct xhci *x)
{
	wr(x->ir0, IR_ERDP_LO, (uint32_t)(uintptr_t)&x->evt[x->evt_idx] | ERDP_EHB);
	x->unacked = false;
}

struct xhci_trb xhci_command(struct xhci *x, uint64_t param, uint32_t status, uint32_t control)
{
	uint64_t at = xhci_ring_put(&x->cmd, param, status, control);
	struct xhci_trb ev;

	xhci_ring_doorbell(x, 0, 0);
	do
		ev = xhci_next_event(x);
	while (trb_type(&ev) != TRB_EV_CMD_COMPLETION);
	xhci_ack_events(x);
	if (ev.param != at)
		fail("completion for another command at", ev.param);
	return ev;
}

void xhci_wait_port(struct xhci *x, struct usb_dev *dev)
{
	uint64_t start = rdtsc();
	uint32_t sc;

	for (;;) {
		for (unsigned int p = 1; p <= x->max_ports && p < 32; p++) {
			if (x->ports_taken & 1u << p)
				continue;
			sc = rd(x->op, OP_PORTSC(p));
			if (sc & PORTSC_CCS) {
				dev->port = p;
				goto connected;
			}
		}
		/* A device is attached after boot (svmm usb attach, QEMU device_add): give it time. */
		if (rdtsc() - start > 20 * x->timeout_cycles)
			fail("no device connected to a free root port; ports taken", x->ports_taken);
	}
connected:
	x->ports_taken |= 1u << dev->port;
	wr(x->op, OP_PORTSC(dev->port), (sc & PORTSC_PP) | (sc & PORTSC_CHANGE));
	if (!(rd(x->op, OP_PORTSC(dev->port)) & PORTSC_PED)) {
		/* USB 2 ports are enabled by a port reset; USB 3 ones by link training. */
		wr(x->op, OP_PORTSC(dev->port), PORTSC_PP | PORTSC_PR);
		wait_bits(x, x->op, OP_PORTSC(dev->port), PORTSC_PRC, PORTSC_PRC, "port reset did not end, PORTSC");
		sc = rd(x->op, OP_PORTSC(dev->port));
		wr(x->op, OP_PORTSC(dev->port), (sc & PORTSC_PP) | (sc & PORTSC_CHANGE));
	}
	wait_bits(x, x->op, OP_PORTSC(dev->port), PORTSC_PED, PORTSC_PED, "port not enabled, PORTSC");
	dev->speed = (rd(x->op, OP_PORTSC(dev->port)) & PORTSC_SPEED) >> PORTSC_SPEED_SHIFT;
}

static uint32_t *ctx(struct xhci *x, void *base, unsigned int i)
{
	return (uint32_t *)((uint8_t *)base + i * x->ctx_size);
}

static unsigned int ep0_max_packet(unsigned int speed)
{
	if (speed >= SPEED_SUPER)
		return 512;
	return speed == SPEED_LOW ? 8 : 64;
}

void xhci_address_device(struct xhci *x, struct usb_dev *dev)
{
	struct xhci_trb ev;
	void *in, *out;
	uint32_t *slot, *ep0;

	ev = xhci_command(x, 0, 0, trb_type_bits(TRB_CMD_ENABLE_SLOT));
	if (trb_cc(&ev) != CC_SUCCESS)
		fail("Enable Slot failed, completion code", trb_cc(&ev));
	dev->slot = trb_slot(&ev);
	if (dev->slot < 1 || dev->slot > XHCI_MAX_DEVICES)
		fail("Enable Slot gave slot", dev->slot);

	out = dma_alloc(32 * x->ctx_size, 64);
	x->dcbaa[dev->slot] = (uintptr_t)out;
	in = dma_alloc(33 * x->ctx_size, 64);
	ctx(x, in, 0)[INPUT_CTX_ADD] = 0x3;	/* slot, EP0 */
	slot = ctx(x, in, 1);
	slot[0] = SLOT_CTX_ENTRIES(1) | SLOT_CTX_SPEED(dev->speed);
	slot[1] = SLOT_CTX_ROOT_PORT(dev->port);
	xhci_ring_init(&dev->ep0.ring);
	dev->ep0.dci = 1;
	dev->ep0.max_packet = ep0_max_packet(dev->speed);
	ep0 = ctx(x, in, 2);
	ep0[1] = EP_CTX_CERR(3) | EP_CTX_TYPE(EP_TYPE_CONTROL) | EP_CTX_MAX_PACKET(dev->ep0.max_packet);
	ep0[2] = (uint32_t)(uintptr_t)dev->ep0.ring.trb | EP_CTX_DCS;
	ep0[4] = 8;
	ev = xhci_command(x, (uintptr_t)in, 0, trb_type_bits(TRB_CMD_ADDRESS_DEVICE) | trb_slot_bits(dev->slot));
	if (trb_cc(&ev) != CC_SUCCESS)
		fail("Address Device failed, completion code", trb_cc(&ev));
}

unsigned int xhci_control(struct xhci *x, struct usb_dev *dev, uint8_t type, uint8_t req,
			  uint16_t value, uint16_t index, void *buf, uint16_t len)
{
	uint64_t setup = (uint64_t)type | (uint64_t)req << 8 | (uint64_t)value << 16 |
			 (uint64_t)index << 32 | (uint64_t)len << 48;
	bool in = type & 0x80;
	uint32_t trt = len ? (in ? TRB_TRT_IN : TRB_TRT_OUT) : TRB_TRT_NO_DATA;
	struct xhci_trb ev;
	uint64_t status_at;

	xhci_ring_put(&dev->ep0.ring, setup, 8, trb_type_bits(TRB_SETUP) | TRB_IDT | trt << TRB_TRT_SHIFT);
	if (len)
		xhci_ring_put(&dev->ep0.ring, (uintptr_t)buf, len,
			      trb_type_bits(TRB_DATA) | (in ? TRB_DATA_DIR_IN : 0));
	/* The status stage goes the other way from the data (IN when there is none). */
	status_at = xhci_ring_put(&dev->ep0.ring, 0, 0,
				  trb_type_bits(TRB_STATUS) | TRB_IOC | (in && len ? 0 : TRB_DATA_DIR_IN));
	xhci_ring_doorbell(x, dev->slot, 1);
	do {
		ev = xhci_next_event(x);
		if (trb_type(&ev) == TRB_EV_TRANSFER && trb_cc(&ev) != CC_SUCCESS &&
		    trb_cc(&ev) != CC_SHORT_PACKET)
			break;
	} while (trb_type(&ev) != TRB_EV_TRANSFER || ev.param != status_at);
	xhci_ack_events(x);
	return trb_cc(&ev);
}

static void bulk_context(struct xhci *x, void *in, struct xhci_endpoint *ep)
{
	uint32_t *c;

	ep->dci = (ep->addr & 0xf) * 2 + (ep->addr & 0x80 ? 1 : 0);
	xhci_ring_init(&ep->ring);
	ctx(x, in, 0)[INPUT_CTX_ADD] |= 1u << ep->dci;
	c = ctx(x, in, ep->dci + 1);
	c[1] = EP_CTX_CERR(3) | EP_CTX_TYPE(ep->addr & 0x80 ? EP_TYPE_BULK_IN : EP_TYPE_BULK_OUT) |
	       EP_CTX_MAX_BURST(ep->max_burst) | EP_CTX_MAX_PACKET(ep->max_packet);
	c[2] = (uint32_t)(uintptr_t)ep->ring.trb | EP_CTX_DCS;
	c[4] = 3072;
}

void xhci_configure_bulk(struct xhci *x, struct usb_dev *dev, struct xhci_endpoint *in_ep,
			 struct xhci_endpoint *out_ep)
{
	void *in = dma_alloc(33 * x->ctx_size, 64);
	struct xhci_trb ev;
	unsigned int entries;

	ctx(x, in, 0)[INPUT_CTX_ADD] = 1;	/* slot */
	bulk_context(x, in, in_ep);
	bulk_context(x, in, out_ep);
	entries = in_ep->dci > out_ep->dci ? in_ep->dci : out_ep->dci;
	ctx(x, in, 1)[0] = SLOT_CTX_ENTRIES(entries) | SLOT_CTX_SPEED(dev->speed);
	ctx(x, in, 1)[1] = SLOT_CTX_ROOT_PORT(dev->port);
	ev = xhci_command(x, (uintptr_t)in, 0, trb_type_bits(TRB_CMD_CONFIGURE_EP) | trb_slot_bits(dev->slot));
	if (trb_cc(&ev) != CC_SUCCESS)
		fail("Configure Endpoint failed, completion code", trb_cc(&ev));
}
