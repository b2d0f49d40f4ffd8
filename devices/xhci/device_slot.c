/* SPDX-License-Identifier: MIT */
/*
 * Device slots: which are enabled, their state, the root port they sit on,
 * the slot context the controller keeps and the copy it writes to the
 * guest's output Device Context.
 */
#include <errno.h>

#include "devices/xhci/xhci.h"

#define CTX_SIZE 32u

struct xhci_slot *xhci_slot_get(struct xhci *x, unsigned int id)
{
	if (id == 0 || id > XHCI_MAX_SLOTS)
		return NULL;
	return &x->slots[id];
}

static void slot_clear(struct xhci *x, struct xhci_slot *s)
{
	for (unsigned int d = 1; d < XHCI_NUM_EPS; d++)
		xhci_ep_disable(&s->ep[d]);
	s->state = SLOT_DISABLED_ENABLED;
	s->port = 0;
	s->out_ctx = 0;
	for (unsigned int i = 0; i < XHCI_CTX_DWORDS; i++)
		s->ctx[i] = 0;
	(void)x;
}

/* Enables the lowest free slot allowed by CONFIG.MaxSlotsEn; its ID or -ENOSPC. */
int xhci_slot_enable(struct xhci *x)
{
	unsigned int max = x->config & 0xff;

	if (max > XHCI_MAX_SLOTS)
		max = XHCI_MAX_SLOTS;
	for (unsigned int id = 1; id <= max; id++) {
		struct xhci_slot *s = &x->slots[id];

		if (s->enabled)
			continue;
		slot_clear(x, s);
		s->enabled = true;
		return (int)id;
	}
	return -ENOSPC;
}

void xhci_slot_disable(struct xhci *x, struct xhci_slot *s)
{
	slot_clear(x, s);
	s->enabled = false;
}

void xhci_slot_reset_all(struct xhci *x)
{
	for (unsigned int id = 1; id <= XHCI_MAX_SLOTS; id++) {
		if (x->slots[id].enabled)
			xhci_slot_disable(x, &x->slots[id]);
	}
}

struct usb_device *xhci_slot_device(struct xhci *x, const struct xhci_slot *s)
{
	struct xhci_port *p = xhci_port_get(x, s->port);

	return p ? p->dev : NULL;
}

/* Writes the slot context (dci 0) or an endpoint context to the output context. */
int xhci_slot_write_out(struct xhci *x, struct xhci_slot *s, unsigned int dci)
{
	const uint32_t *ctx = dci == 0 ? s->ctx : s->ep[dci].ctx;

	if (!s->out_ctx || dci >= XHCI_NUM_EPS)
		return 0;
	return guest_memory_write(&x->mem, s->out_ctx + CTX_SIZE * dci, ctx,
				  sizeof(uint32_t) * XHCI_CTX_DWORDS);
}

/* The device on port left: whatever its slots had in flight is abandoned. */
void xhci_slot_port_gone(struct xhci *x, unsigned int port)
{
	for (unsigned int id = 1; id <= XHCI_MAX_SLOTS; id++) {
		struct xhci_slot *s = &x->slots[id];

		if (!s->enabled || s->port != port)
			continue;
		for (unsigned int d = 1; d < XHCI_NUM_EPS; d++)
			xhci_ep_orphan_all(&s->ep[d]);
	}
}

/* Event rings have room again: every running endpoint fetches what waited. */
void xhci_slot_resume_fetch(struct xhci *x)
{
	for (unsigned int id = 1; id <= XHCI_MAX_SLOTS; id++) {
		struct xhci_slot *s = &x->slots[id];

		if (!s->enabled)
			continue;
		for (unsigned int d = 1; d < XHCI_NUM_EPS; d++)
			xhci_ep_resume_fetch(&s->ep[d]);
	}
}

/* Configured while any endpoint beyond the default one is enabled. */
void xhci_slot_update_configured(struct xhci_slot *s)
{
	bool any = false;

	for (unsigned int d = 2; d < XHCI_NUM_EPS; d++)
		any |= s->ep[d].state != EP_DISABLED;
	s->state = any ? SLOT_CONFIGURED : SLOT_ADDRESSED;
	s->ctx[3] = (s->ctx[3] & 0x07ffffffu) | ((uint32_t)s->state << 27);
}
