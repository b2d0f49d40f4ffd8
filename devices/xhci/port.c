/* SPDX-License-Identifier: MIT */
/*
 * Root hub ports: PORTSC and its state machine, PORTPMSC/PORTLI/PORTHLPMC
 * storage, connect/disconnect at any time, USB 2 reset and USB 3 warm/hot
 * reset, link state writes, the write-1-to-clear change bits and the Port
 * Status Change Events they raise.
 *
 * Ports are always powered (HCCPARAMS1.PPC is 0). A USB 2 port with a device
 * sits in Polling until the guest resets it; a USB 3 port trains to U0 and
 * is enabled on connect, as real SuperSpeed links do. Resets complete at
 * once: the guest polls PORTSC.PR/PRC and accepts that.
 */
#include <errno.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

struct xhci_port *xhci_port_get(struct xhci *x, unsigned int port)
{
	if (port == 0 || port > XHCI_NUM_PORTS)
		return NULL;
	return &x->ports[port - 1];
}

static void set_pls(struct xhci_port *p, enum xhci_pls pls)
{
	p->portsc = (p->portsc & ~PORTSC_PLS) | ((uint32_t)pls << PORTSC_PLS_SHIFT);
}

static enum xhci_pls get_pls(const struct xhci_port *p)
{
	return (p->portsc & PORTSC_PLS) >> PORTSC_PLS_SHIFT;
}

static void post_psc(struct xhci *x, struct xhci_port *p)
{
	struct xhci_trb ev = {
		.param = (uint64_t)p->num << 24,
		.status = (uint32_t)CC_SUCCESS << 24,
		.control = trb_type_bits(TRB_EV_PORT_STATUS),
	};

	log_debug("xhci: port %u: Port Status Change Event, PORTSC %#x", p->num, p->portsc);
	/*
	 * A handler already running (EHB set: no interrupt, so no refresh
	 * before it) reads PORTSC as soon as it finds the event: the mirror
	 * shows the change first (xHCI 1.2, 4.19.2; reg_mirror.c).
	 */
	xhci_mirror_publish(x);
	xhci_event(x, 0, &ev, true);
}

/* Sets change bits; a change bit going from 0 to 1 raises a Port Status Change Event. */
static void port_change(struct xhci *x, struct xhci_port *p, uint32_t bits)
{
	uint32_t fresh = bits & ~p->portsc & PORTSC_CHANGE;

	p->portsc |= bits;
	if (!fresh)
		return;
	x->usbsts |= USBSTS_PCD;
	post_psc(x, p);
}

/* The state of a port after power-on, HCRST or a connect/disconnect. */
static void port_present(struct xhci *x, struct xhci_port *p)
{
	uint32_t keep = p->portsc & (PORTSC_CHANGE | PORTSC_WAKE | PORTSC_PIC);

	p->portsc = PORTSC_PP | keep;
	if (!p->dev) {
		set_pls(p, PLS_RXDETECT);
		return;
	}
	p->portsc |= PORTSC_CCS | ((uint32_t)p->dev->speed << PORTSC_SPEED_SHIFT);
	if (p->usb3) {
		p->portsc |= PORTSC_PED;
		set_pls(p, PLS_U0);
	} else {
		set_pls(p, PLS_POLLING);
	}
	(void)x;
}

void xhci_port_init(struct xhci *x)
{
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		x->ports[i].num = i + 1;
		x->ports[i].usb3 = i + 1 >= XHCI_USB3_FIRST_PORT;
		x->ports[i].dev = NULL;
		x->ports[i].portsc = 0;
	}
}

void xhci_port_reset_all(struct xhci *x)
{
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		struct xhci_port *p = &x->ports[i];

		p->portsc = 0;
		p->pmsc = p->li = p->hlpmc = 0;
		port_present(x, p);
		/* The guest learns about devices already present from CSC after a reset. */
		if (p->dev)
			p->portsc |= PORTSC_CSC;
	}
}

/* RS went 0 -> 1: ports with pending changes report them now. */
void xhci_port_notify_running(struct xhci *x)
{
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		if (x->ports[i].portsc & PORTSC_CHANGE) {
			x->usbsts |= USBSTS_PCD;
			post_psc(x, &x->ports[i]);
		}
	}
}

static bool speed_fits(const struct xhci_port *p, enum devproto_usb_speed s)
{
	if (p->usb3)
		return s == DEVPROTO_SPEED_SUPER || s == DEVPROTO_SPEED_SUPER_PLUS;
	return s == DEVPROTO_SPEED_FULL || s == DEVPROTO_SPEED_LOW || s == DEVPROTO_SPEED_HIGH;
}

/* Puts dev on port (0: the first free one of its speed); returns the port or -errno. */
int xhci_port_connect(struct xhci *x, struct usb_device *dev, unsigned int port)
{
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		struct xhci_port *p = &x->ports[i];

		if ((port && p->num != port) || p->dev || !speed_fits(p, dev->speed))
			continue;
		p->dev = dev;
		port_present(x, p);
		port_change(x, p, PORTSC_CSC);
		return (int)p->num;
	}
	return -EBUSY;
}

/* Takes the device off the port (the caller destroys it); -ENODEV if none. */
int xhci_port_disconnect(struct xhci *x, unsigned int port)
{
	struct xhci_port *p = xhci_port_get(x, port);
	bool was_enabled;

	if (!p || !p->dev)
		return -ENODEV;
	xhci_slot_port_gone(x, port);
	was_enabled = p->portsc & PORTSC_PED;
	p->dev = NULL;
	port_present(x, p);
	port_change(x, p, PORTSC_CSC | (was_enabled && !p->usb3 ? PORTSC_PEC : 0));
	return 0;
}

static void port_reset(struct xhci *x, struct xhci_port *p, bool warm)
{
	uint32_t change = PORTSC_PRC | (warm ? PORTSC_WRC : 0);

	if (!p->dev) {
		/* Nothing to reset: the reset ends at once, the port stays disabled. */
		port_change(x, p, change);
		return;
	}
	if (p->dev->ops->reset && p->dev->ops->reset(p->dev) < 0)
		log_warn("xhci: port %u: device reset failed", p->num);
	p->portsc &= ~(PORTSC_PR | PORTSC_WPR);
	p->portsc |= PORTSC_PED;
	set_pls(p, PLS_U0);
	port_change(x, p, change);
}

static void write_link_state(struct xhci *x, struct xhci_port *p, enum xhci_pls pls)
{
	enum xhci_pls old = get_pls(p);

	if (!(p->portsc & PORTSC_PED))
		return;
	switch (pls) {
	case PLS_U0:
		if (old != PLS_U0) {
			set_pls(p, PLS_U0);
			/* Leaving U3 (resume) completes with a link state change. */
			if (old == PLS_U3 || old == PLS_RESUME)
				port_change(x, p, PORTSC_PLC);
		}
		break;
	case PLS_U2:
	case PLS_U3:
		set_pls(p, pls);
		break;
	case PLS_RESUME:
		if (!p->usb3 && old == PLS_U3)
			set_pls(p, PLS_RESUME);
		break;
	default:
		/* Other states are not the guest's to request. */
		break;
	}
}

static void write_portsc(struct xhci *x, struct xhci_port *p, uint32_t v)
{
	/* Change bits are write-1-to-clear. */
	p->portsc &= ~(v & PORTSC_CHANGE);
	p->portsc = (p->portsc & ~(PORTSC_WAKE | PORTSC_PIC)) | (v & (PORTSC_WAKE | PORTSC_PIC));
	/* PED: writing 1 disables the port; writing 0 does nothing. */
	if ((v & PORTSC_PED) && (p->portsc & PORTSC_PED)) {
		p->portsc &= ~PORTSC_PED;
		if (!p->usb3)
			set_pls(p, PLS_DISABLED);
	}
	if (v & PORTSC_LWS)
		write_link_state(x, p, (v & PORTSC_PLS) >> PORTSC_PLS_SHIFT);
	if ((v & PORTSC_WPR) && p->usb3)
		port_reset(x, p, true);
	else if (v & PORTSC_PR)
		port_reset(x, p, false);
}

uint32_t xhci_port_read(struct xhci *x, unsigned int index, uint32_t reg)
{
	struct xhci_port *p;

	if (index >= XHCI_NUM_PORTS)
		return 0;
	p = &x->ports[index];
	switch (reg) {
	case 0: return p->portsc;
	case PORT_PMSC: return p->pmsc;
	case PORT_LI: return p->li;
	default: return p->hlpmc;
	}
}

void xhci_port_write(struct xhci *x, unsigned int index, uint32_t reg, uint32_t value)
{
	struct xhci_port *p;

	if (index >= XHCI_NUM_PORTS)
		return;
	p = &x->ports[index];
	switch (reg) {
	case 0:
		write_portsc(x, p, value);
		break;
	case PORT_PMSC:
		p->pmsc = value;
		break;
	case PORT_LI:
		break;		/* read-only link error count */
	default:
		p->hlpmc = value;
		break;
	}
}
