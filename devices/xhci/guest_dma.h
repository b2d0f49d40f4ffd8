/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM as the device process sees it: the VMM's memfds, mapped shared,
 * readable and writable, never executable. Every guest address the xHCI code
 * touches goes through these calls, which accept an access only when all of
 * [gpa, gpa + len) lies inside one region; anything else is -EFAULT.
 */
#ifndef SVMM_XHCI_GUEST_MEMORY_H
#define SVMM_XHCI_GUEST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device_protocol.h"

struct guest_memory_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_memory {
	unsigned int n;
	struct guest_memory_region r[DEVPROTO_MAX_MEM_REGIONS];
};

void guest_memory_init(struct guest_memory *gm);
/* Maps size bytes of fd at offset as [gpa, gpa + size); 0 or -errno. fd is not kept. */
int guest_memory_add(struct guest_memory *gm, int fd, uint64_t gpa, uint64_t size,
		     uint64_t offset);
void guest_memory_release(struct guest_memory *gm);

/* True when [gpa, gpa + len) is inside one region (len 0 is checked as 1 byte). */
bool guest_memory_valid(const struct guest_memory *gm, uint64_t gpa, uint64_t len);
int guest_memory_read(const struct guest_memory *gm, uint64_t gpa, void *buf, size_t len);
int guest_memory_write(const struct guest_memory *gm, uint64_t gpa, const void *buf, size_t len);
/*
 * The host address of [gpa, gpa + len) when it lies inside one region, else
 * NULL. Only for handing a device an IN buffer it writes (transfer_ring.c):
 * nothing may read guest data through it, since the guest can change it at
 * any moment.
 */
uint8_t *guest_memory_host(const struct guest_memory *gm, uint64_t gpa, uint64_t len);

#endif
