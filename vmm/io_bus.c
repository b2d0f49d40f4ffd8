/* SPDX-License-Identifier: MIT */
#include "vmm/io_bus.h"

#include <errno.h>

void io_bus_init(struct io_bus *bus)
{
	pthread_rwlock_init(&bus->lock, NULL);
	bus->n = 0;
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t size, io_handler_fn fn, void *opaque)
{
	int r = 0;

	if (size == 0 || base + size < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned int i = 0; i < bus->n; i++) {
		const struct io_range *o = &bus->ranges[i];

		if (base < o->base + o->size && o->base < base + size) {
			r = -EBUSY;
			goto out;
		}
	}
	if (bus->n == IO_BUS_MAX_RANGES) {
		r = -ENOSPC;
		goto out;
	}
	bus->ranges[bus->n++] = (struct io_range){ base, size, fn, opaque };
out:
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

void io_bus_remove(struct io_bus *bus, uint64_t base, void *opaque)
{
	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned int i = 0; i < bus->n; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			bus->ranges[i] = bus->ranges[--bus->n];
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct io_range r = { 0 };
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	for (unsigned int i = 0; i < bus->n; i++) {
		if (addr >= bus->ranges[i].base && addr - bus->ranges[i].base < bus->ranges[i].size) {
			r = bus->ranges[i];
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	/* Outside the lock: a handler may move ranges of this bus (io_bus.h, "Locks"). */
	if (found)
		r.fn(r.opaque, addr - r.base, data, len, is_write);
	return found;
}
