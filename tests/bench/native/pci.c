/* SPDX-License-Identifier: MIT */
#include "tests/bench/native/pci.h"
#include "tests/bench/native/sys.h"

#define PCI_COMMAND		0x04
#define PCI_CLASS		0x08
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34
#define PCI_CMD_MEMORY		0x2u
#define PCI_CMD_MASTER		0x4u
#define PCI_STATUS_CAPS		(0x10u << 16)
#define PCI_CAP_MSIX		0x11
#define MSIX_ENABLE		(1u << 31)	/* message control bit 15, in the capability's first dword */
#define MSIX_FUNCTION_MASK	(1u << 30)
#define MSI_ADDRESS		0xfee00000u	/* physical destination APIC ID 0 */

static uint32_t cfg_read(uint32_t bdf, uint8_t reg)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfcu));
	return inl(0xcfc);
}

static void cfg_write(uint32_t bdf, uint8_t reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfcu));
	outl(0xcfc, v);
}

static uint8_t find_msix(uint32_t bdf)
{
	uint8_t cap;

	if (!(cfg_read(bdf, PCI_COMMAND) & PCI_STATUS_CAPS))
		return 0;
	cap = (uint8_t)cfg_read(bdf, PCI_CAP_PTR) & 0xfc;
	for (int n = 0; cap && n < 48; n++) {
		uint32_t head = cfg_read(bdf, cap);

		if ((head & 0xff) == PCI_CAP_MSIX)
			return cap;
		cap = (uint8_t)(head >> 8) & 0xfc;
	}
	return 0;
}

int pci_find_xhci(struct pci_xhci *out)
{
	for (uint32_t dev = 0; dev < 32; dev++) {
		uint32_t bdf = dev << 3, lo, hi;

		if ((cfg_read(bdf, 0) & 0xffff) == 0xffff)
			continue;
		if (cfg_read(bdf, PCI_CLASS) >> 8 != 0x0c0330)
			continue;
		lo = cfg_read(bdf, PCI_BAR0);
		hi = (lo & 0x6) == 0x4 ? cfg_read(bdf, PCI_BAR0 + 4) : 0;
		out->bdf = bdf;
		out->bar0 = (uint64_t)hi << 32 | (lo & ~0xfu);
		out->msix_cap = find_msix(bdf);
		cfg_write(bdf, PCI_COMMAND, (cfg_read(bdf, PCI_COMMAND) & 0xffff) | PCI_CMD_MEMORY | PCI_CMD_MASTER);
		return 0;
	}
	return -1;
}

int pci_enable_msix(const struct pci_xhci *x, uint8_t vector)
{
	uint32_t table, head;
	volatile uint32_t *entry;

	if (!x->msix_cap)
		return -1;
	table = cfg_read(x->bdf, x->msix_cap + 4);
	if (table & 7)
		return -1;	/* only a table in BAR 0 */
	entry = (volatile uint32_t *)(uintptr_t)(x->bar0 + (table & ~7u));
	entry[0] = MSI_ADDRESS;
	entry[1] = 0;
	entry[2] = vector;	/* fixed delivery, edge */
	entry[3] = 0;		/* unmasked */
	head = cfg_read(x->bdf, x->msix_cap);
	cfg_write(x->bdf, x->msix_cap, (head | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
	return 0;
}
