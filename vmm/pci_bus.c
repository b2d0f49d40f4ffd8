/* SPDX-License-Identifier: MIT */
#include "vmm/pci_bus.h"

#include <errno.h>
#include <string.h>

#define CFG_ENABLE 0x80000000u

static void put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	memcpy(cfg + off, &v, sizeof(v));
}

void pci_bus_init(struct pci_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	put16(bus->bridge_cfg, 0x00, PCI_HOST_BRIDGE_VENDOR);
	put16(bus->bridge_cfg, 0x02, PCI_HOST_BRIDGE_DEVICE);
	put16(bus->bridge_cfg, 0x04, 0x0006);	/* memory and bus master: it forwards both */
	bus->bridge_cfg[0x0b] = 0x06;		/* class: bridge */
	bus->bridge_cfg[0x0a] = 0x00;		/* subclass: host bridge */
	bus->bridge_cfg[0x0e] = 0x00;		/* header type 0, single function */
}

int pci_bus_register(struct pci_bus *bus, unsigned int slot, const struct pci_function_ops *ops,
		     void *opaque)
{
	if (slot == 0 || slot >= PCI_SLOTS || bus->slots[slot].ops)
		return -EINVAL;
	bus->slots[slot] = (struct pci_slot){ ops, opaque };
	return 0;
}

static const struct pci_slot *pci_bus_lookup(struct pci_bus *bus, uint32_t address)
{
	unsigned int busnr = (address >> 16) & 0xff, dev = (address >> 11) & 0x1f;
	unsigned int fn = (address >> 8) & 0x7;

	if (busnr != 0 || fn != 0 || dev == 0)
		return NULL;
	return bus->slots[dev].ops ? &bus->slots[dev] : NULL;
}

static bool pci_is_bridge(uint32_t address)
{
	return (address & 0x00ffff00u) == 0;	/* 00:00.0 */
}

uint32_t pci_bus_cfg_read(struct pci_bus *bus, uint32_t address, unsigned int offset,
			  unsigned int size)
{
	const struct pci_slot *s;
	uint32_t v = 0;

	if (pci_is_bridge(address)) {
		memcpy(&v, bus->bridge_cfg + offset, size);
		return v;
	}
	s = pci_bus_lookup(bus, address);
	if (!s)
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	return s->ops->cfg_read(s->opaque, offset, size);
}

void pci_bus_cfg_write(struct pci_bus *bus, uint32_t address, unsigned int offset,
		       unsigned int size, uint32_t value)
{
	const struct pci_slot *s;

	if (pci_is_bridge(address))
		return;	/* nothing in the host bridge is writable */
	s = pci_bus_lookup(bus, address);
	if (s)
		s->ops->cfg_write(s->opaque, offset, size, value);
}

void pci_bus_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *bus = opaque;
	unsigned int reg;
	uint32_t address, v = 0;

	if (offset < 4) {
		/* Only dword accesses reach the address register; others are not config cycles. */
		if (offset != 0 || len != 4) {
			if (!is_write)
				memset(data, 0xff, len);
			return;
		}
		pthread_mutex_lock(&bus->lock);
		if (is_write)
			memcpy(&bus->address, data, 4);
		else
			memcpy(data, &bus->address, 4);
		pthread_mutex_unlock(&bus->lock);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	address = bus->address;
	pthread_mutex_unlock(&bus->lock);
	reg = (address & 0xfc) + (unsigned int)(offset - 4);
	if (!(address & CFG_ENABLE) || (len != 1 && len != 2 && len != 4) || reg % len ||
	    reg + len > PCI_CFG_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, len);
		pci_bus_cfg_write(bus, address, reg, len, v);
	} else {
		v = pci_bus_cfg_read(bus, address, reg, len);
		memcpy(data, &v, len);
	}
}
