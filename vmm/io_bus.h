/* SPDX-License-Identifier: MIT */
/*
 * Dispatch of the guest's port I/O and MMIO exits to the device that owns
 * the address. One bus per address space; ranges may be added, moved (a
 * BAR reprogrammed by the guest) or removed while vCPUs run.
 *
 * Locks: the bus lock guards the range table and nothing else. It is the
 * innermost lock of the VMM: held by no caller while it waits for another
 * lock, and never held while a handler runs, so a handler may take its
 * device's locks and move ranges (the PCI proxy follows BAR writes that
 * way) without a cycle. The price: a range removed while a vCPU is inside
 * its handler still gets that one call, as if it came just before the
 * removal; so an opaque must stay valid until the vCPU threads have ended
 * (every device of the VMM lives as long as the VM). The whole order is in
 * docs/architecture.md, "Locks".
 */
#ifndef SVMM_IO_BUS_H
#define SVMM_IO_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IO_BUS_MAX_RANGES 16

/* offset is relative to the range's base; data holds len bytes, little endian. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct io_range {
	uint64_t base;
	uint64_t size;
	io_handler_fn fn;
	void *opaque;
};

struct io_bus {
	pthread_rwlock_t lock;
	unsigned int n;
	struct io_range ranges[IO_BUS_MAX_RANGES];
};

void io_bus_init(struct io_bus *bus);
/* Adds a range; -EBUSY if it overlaps another, -ENOSPC if the bus is full. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t size, io_handler_fn fn, void *opaque);
/* Removes the range of opaque that starts at base. */
void io_bus_remove(struct io_bus *bus, uint64_t base, void *opaque);
/* Calls the owner of addr, without the bus lock; false if nobody claims it. */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
