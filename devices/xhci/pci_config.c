/* SPDX-License-Identifier: MIT */
/*
 * The controller's PCI configuration space: a type 0 header for a USB xHCI
 * function (class 0x0c0330), a 64-bit memory BAR 0, the xHCI SBRN/FLADJ
 * registers at 0x60 that Linux reads, and one MSI-X capability.
 *
 * IDs: 0x1b36:0x000d is the "QEMU xHCI Host Controller" ID. Guests have
 * driven it for a decade as a plain spec-following xHCI with no vendor quirk
 * attached in Linux or Windows, which is exactly what this controller is;
 * a made-up ID would get no better treatment and a real vendor's ID would
 * invite quirks written for that vendor's silicon.
 *
 * Writes go through a per-byte writable mask, so the guest can only change
 * what a real function lets it change.
 */
#include <string.h>

#include "devices/xhci/xhci.h"

#define PCI_VENDOR_ID		0x1b36
#define PCI_DEVICE_ID		0x000d
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		0x06
#define PCI_STATUS_INTERRUPT	0x0008
#define PCI_STATUS_CAP_LIST	0x0010
#define PCI_BAR0		0x10
#define PCI_BAR1		0x14
#define PCI_CAP_PTR		0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d
#define XHCI_SBRN		0x60	/* Serial Bus Release Number: 0x30 = USB 3.0 */
#define XHCI_FLADJ		0x61
#define MSIX_CAP		0x70
#define MSIX_CTRL		(MSIX_CAP + 2)
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_CTRL_MASKALL	0x4000

static uint8_t wmask[DEVPROTO_CFG_SPACE_SIZE];

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void xhci_pci_init(struct xhci *x)
{
	uint8_t *c = x->cfg;

	memset(c, 0, sizeof(x->cfg));
	memset(wmask, 0, sizeof(wmask));
	put16(c + 0x00, PCI_VENDOR_ID);
	put16(c + 0x02, PCI_DEVICE_ID);
	put16(c + PCI_STATUS, PCI_STATUS_CAP_LIST);
	c[0x08] = 0x01;			/* revision */
	c[0x09] = 0x30;			/* prog-if: xHCI */
	c[0x0a] = 0x03;			/* subclass: USB */
	c[0x0b] = 0x0c;			/* class: serial bus */
	c[0x0e] = 0x00;			/* header type 0, single function */
	/* BAR 0: memory, 64-bit (type 2), not prefetchable. */
	put32(c + PCI_BAR0, 0x4);
	put16(c + 0x2c, PCI_VENDOR_ID);	/* subsystem */
	put16(c + 0x2e, 0x1100);
	c[PCI_CAP_PTR] = MSIX_CAP;
	c[PCI_INTERRUPT_PIN] = 1;	/* INTA# */
	c[XHCI_SBRN] = 0x30;
	c[XHCI_FLADJ] = 0x20;
	/* MSI-X: one vector per interrupter, table and PBA in BAR 0. */
	c[MSIX_CAP] = 0x11;
	c[MSIX_CAP + 1] = 0;
	put16(c + MSIX_CTRL, XHCI_NUM_INTRS - 1);
	put32(c + MSIX_CAP + 4, XHCI_MSIX_TABLE | 0);
	put32(c + MSIX_CAP + 8, XHCI_MSIX_PBA | 0);

	put16(wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	      PCI_COMMAND_INTX_DISABLE);
	/* BAR 0 low: address bits 31:16 (the BAR is 64 KiB); BAR 1: the high half. */
	put32(wmask + PCI_BAR0, ~(XHCI_BAR_SIZE - 1));
	put32(wmask + PCI_BAR1, 0xffffffffu);
	wmask[PCI_INTERRUPT_LINE] = 0xff;
	wmask[XHCI_FLADJ] = 0x3f;
	put16(wmask + MSIX_CTRL, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	x->cfg_written = true;
}

uint32_t xhci_pci_read(struct xhci *x, uint32_t offset, uint32_t size)
{
	uint32_t v = 0;

	if (offset >= DEVPROTO_CFG_SPACE_SIZE || size > 4 || offset + size > DEVPROTO_CFG_SPACE_SIZE)
		return 0xffffffffu;
	/* The interrupt status bit mirrors the INTx line. */
	if (x->intx_level)
		x->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		x->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	memcpy(&v, x->cfg + offset, size);
	return v;
}

void xhci_pci_write(struct xhci *x, uint32_t offset, uint32_t size, uint32_t value)
{
	uint16_t old_msix = get16(x->cfg + MSIX_CTRL);
	uint16_t old_cmd = get16(x->cfg + PCI_COMMAND);

	if (offset >= DEVPROTO_CFG_SPACE_SIZE || size > 4 || offset + size > DEVPROTO_CFG_SPACE_SIZE)
		return;
	for (uint32_t i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		uint8_t m = wmask[offset + i];

		x->cfg[offset + i] = (uint8_t)((x->cfg[offset + i] & ~m) | (b & m));
	}
	x->cfg_written = true;
	if (get16(x->cfg + MSIX_CTRL) != old_msix)
		xhci_msix_control_changed(x);
	if ((get16(x->cfg + PCI_COMMAND) ^ old_cmd) & PCI_COMMAND_INTX_DISABLE)
		xhci_irq_update_intx(x);
}

bool xhci_pci_msix_enabled(const struct xhci *x)
{
	return get16(x->cfg + MSIX_CTRL) & MSIX_CTRL_ENABLE;
}

bool xhci_pci_msix_function_masked(const struct xhci *x)
{
	return get16(x->cfg + MSIX_CTRL) & MSIX_CTRL_MASKALL;
}

bool xhci_pci_intx_disabled(const struct xhci *x)
{
	return get16(x->cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
}
