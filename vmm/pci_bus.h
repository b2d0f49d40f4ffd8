/* SPDX-License-Identifier: MIT */
/*
 * PCI bus 0: configuration mechanism #1 (address at 0xcf8, data at
 * 0xcfc-0xcff), the host bridge at 00:00.0 that Linux's probe looks for,
 * and one slot per device function registered.
 */
#ifndef SVMM_PCI_BUS_H
#define SVMM_PCI_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_CONFIG_ADDRESS 0xcf8u
#define PCI_CONFIG_DATA 0xcfcu
#define PCI_SLOTS 32u
#define PCI_CFG_SIZE 256u

#define PCI_HOST_BRIDGE_VENDOR 0x1b36u	/* Red Hat, Inc. (QEMU's IDs: no Linux quirks) */
#define PCI_HOST_BRIDGE_DEVICE 0x0008u

struct pci_function_ops {
	/* offset aligned to size (1, 2 or 4); return the value, all-ones if absent. */
	uint32_t (*cfg_read)(void *opaque, unsigned int offset, unsigned int size);
	void (*cfg_write)(void *opaque, unsigned int offset, unsigned int size, uint32_t value);
};

struct pci_slot {
	const struct pci_function_ops *ops;
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t address;		/* the last value written to 0xcf8 */
	struct pci_slot slots[PCI_SLOTS];
	uint8_t bridge_cfg[PCI_CFG_SIZE];
};

void pci_bus_init(struct pci_bus *bus);
int pci_bus_register(struct pci_bus *bus, unsigned int slot, const struct pci_function_ops *ops,
		     void *opaque);

/* Handler for ports 0xcf8-0xcff (io_handler_fn; offset from 0xcf8). */
void pci_bus_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Config access by bus/device/function, as the data port does it (exposed for tests). */
uint32_t pci_bus_cfg_read(struct pci_bus *bus, uint32_t address, unsigned int offset,
			  unsigned int size);
void pci_bus_cfg_write(struct pci_bus *bus, uint32_t address, unsigned int offset,
		       unsigned int size, uint32_t value);

#endif
