/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one memfd mapped MAP_SHARED, so the device process can map the
 * very same pages (DEVPROTO_MEM_REGION). Split around the PCI hole below
 * 4 GiB into at most two regions, each one KVM memory slot.
 */
#ifndef SVMM_GUEST_MEMORY_H
#define SVMM_GUEST_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEMORY_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;	/* in the memfd and in host */
};

struct guest_memory {
	int memfd;
	uint8_t *host;		/* the whole memfd, mapped */
	uint64_t size;
	unsigned int nregions;
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
};

/* Splits size bytes of RAM around the PCI hole (no allocation); returns the region count. */
unsigned int guest_memory_layout(uint64_t size, struct guest_region regions[GUEST_MEMORY_MAX_REGIONS]);

/* Creates and maps the memfd; 0 or -errno (logged). */
int guest_memory_create(struct guest_memory *mem, uint64_t size);
/* Registers every region as a KVM memory slot. */
int guest_memory_register(const struct guest_memory *mem, int vm_fd);
void guest_memory_destroy(struct guest_memory *mem);

/* Host pointer for [gpa, gpa + len) if it lies in one region, else NULL. */
void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* RAM below 4 GiB, where the boot code puts everything. */
uint64_t guest_memory_low_end(const struct guest_memory *mem);

/* The host's total memory in MiB (from /proc/meminfo), or 0 if unknown. */
uint64_t guest_memory_host_total_mib(void);

#endif
