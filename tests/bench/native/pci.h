/* SPDX-License-Identifier: MIT */
/* PCI configuration mechanism #1 (ports 0xcf8/0xcfc), enough to find and enable the xHCI. */
#ifndef BENCH_PCI_H
#define BENCH_PCI_H

#include <stdint.h>

struct pci_xhci {
	uint32_t bdf;		/* bus << 8 | device << 3 | function */
	uint64_t bar0;
	uint8_t msix_cap;	/* config offset of the MSI-X capability, 0 if none */
};

/* Scans bus 0 for an xHCI (class 0c0330), enables memory and bus mastering. */
int pci_find_xhci(struct pci_xhci *out);
/* Points MSI-X vector 0 at the boot CPU's vector `vector` and enables MSI-X; the table is in BAR 0. */
int pci_enable_msix(const struct pci_xhci *x, uint8_t vector);

#endif
