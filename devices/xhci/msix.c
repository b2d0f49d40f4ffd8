/* SPDX-License-Identifier: MIT */
/*
 * The MSI-X table and pending bit array in BAR 0. The VMM turns a vector's
 * address/data into KVM GSI routing, so every change the guest makes to a
 * vector's routing or mask is announced with DEVPROTO_MSIX_ROUTE. A message
 * raised while its vector is masked sets the pending bit and is sent when
 * the vector is unmasked, as the PCI spec asks.
 */
#include <string.h>

#include "devices/xhci/xhci.h"

#define MSIX_ENTRY_SIZE 16u
#define MSIX_VECTOR_MASKED 0x1u

void xhci_msix_reset(struct xhci *x)
{
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++) {
		memset(&x->msix[v], 0, sizeof(x->msix[v]));
		x->msix[v].ctrl = MSIX_VECTOR_MASKED;
	}
	x->msix_pba = 0;
}

bool xhci_msix_vector_masked(const struct xhci *x, unsigned int v)
{
	return !xhci_pci_msix_enabled(x) || xhci_pci_msix_function_masked(x) ||
	       (x->msix[v].ctrl & MSIX_VECTOR_MASKED);
}

/* Sends the message now, or leaves it pending while masked. */
void xhci_msix_send(struct xhci *x, unsigned int v)
{
	if (v >= XHCI_NUM_INTRS)
		return;
	if (xhci_msix_vector_masked(x, v)) {
		x->msix_pba |= 1u << v;
		return;
	}
	x->msix_pba &= ~(1u << v);
	xhci_irq_raise(x, v);
}

/* Unmasking delivers what was held back. */
static void deliver_pending(struct xhci *x)
{
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++) {
		if ((x->msix_pba & (1u << v)) && !xhci_msix_vector_masked(x, v))
			xhci_msix_send(x, v);
	}
}

void xhci_msix_control_changed(struct xhci *x)
{
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++)
		xhci_notify_msix(x, v);
	deliver_pending(x);
	xhci_irq_update_intx(x);
}

uint32_t xhci_msix_read(struct xhci *x, uint32_t offset)
{
	if (offset >= XHCI_MSIX_PBA) {
		offset -= XHCI_MSIX_PBA;
		return offset == 0 ? x->msix_pba : 0;
	}
	offset -= XHCI_MSIX_TABLE;
	if (offset / MSIX_ENTRY_SIZE >= XHCI_NUM_INTRS)
		return 0;
	const struct xhci_msix_entry *e = &x->msix[offset / MSIX_ENTRY_SIZE];

	switch (offset % MSIX_ENTRY_SIZE) {
	case 0: return (uint32_t)e->address;
	case 4: return (uint32_t)(e->address >> 32);
	case 8: return e->data;
	default: return e->ctrl;
	}
}

/* A write of size bytes at offset; a narrow write changes only the bytes it covers. */
void xhci_msix_write(struct xhci *x, uint32_t offset, uint32_t value, uint32_t size)
{
	uint32_t lane_mask = size >= 4 ? 0xffffffffu : ((1u << (8 * size)) - 1) << (8 * (offset & 3));
	struct xhci_msix_entry *e;
	uint32_t old;
	uint32_t v;

	if (size < 4)
		value <<= 8 * (offset & 3);
	offset &= ~3u;
	if (offset < XHCI_MSIX_TABLE || offset >= XHCI_MSIX_PBA)
		return;	/* the PBA is read-only */
	offset -= XHCI_MSIX_TABLE;
	if (offset / MSIX_ENTRY_SIZE >= XHCI_NUM_INTRS)
		return;
	e = &x->msix[offset / MSIX_ENTRY_SIZE];
	old = xhci_msix_read(x, XHCI_MSIX_TABLE + offset);
	v = (old & ~lane_mask) | (value & lane_mask);
	switch (offset % MSIX_ENTRY_SIZE) {
	case 0:
		e->address = (e->address & 0xffffffff00000000ull) | v;
		break;
	case 4:
		e->address = (e->address & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	case 8:
		e->data = v;
		break;
	default:
		e->ctrl = v & MSIX_VECTOR_MASKED;
		break;
	}
	if (v != old) {
		xhci_notify_msix(x, offset / MSIX_ENTRY_SIZE);
		deliver_pending(x);
	}
}
