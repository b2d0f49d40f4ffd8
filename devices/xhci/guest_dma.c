/* SPDX-License-Identifier: MIT */
/*
 * The one accessor of guest memory (guest_memory.h). The guest can change
 * its memory at any moment from another vCPU, so callers copy what they read
 * into their own storage before checking it; nothing keeps a pointer into the
 * mapping across a check.
 */
#include "devices/xhci/guest_dma.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void guest_memory_init(struct guest_memory *gm)
{
	memset(gm, 0, sizeof(*gm));
}

static bool overlaps(const struct guest_memory_region *r, uint64_t gpa, uint64_t size)
{
	return gpa < r->gpa + r->size && r->gpa < gpa + size;
}

int guest_memory_add(struct guest_memory *gm, int fd, uint64_t gpa, uint64_t size,
		     uint64_t offset)
{
	void *p;

	if (size == 0 || gpa + size < gpa || offset + size < offset || size > SIZE_MAX)
		return -EINVAL;
	if (gm->n >= DEVPROTO_MAX_MEM_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < gm->n; i++) {
		if (overlaps(&gm->r[i], gpa, size))
			return -EEXIST;
	}
	/* Never PROT_EXEC: nothing the guest writes may become code here. */
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	gm->r[gm->n].gpa = gpa;
	gm->r[gm->n].size = size;
	gm->r[gm->n].host = p;
	gm->n++;
	return 0;
}

void guest_memory_release(struct guest_memory *gm)
{
	for (unsigned int i = 0; i < gm->n; i++)
		munmap(gm->r[i].host, (size_t)gm->r[i].size);
	gm->n = 0;
}

/* The host address of [gpa, gpa + len), or NULL unless it lies inside one region. */
static uint8_t *lookup(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	if (gpa + len < gpa)
		return NULL;
	for (unsigned int i = 0; i < gm->n; i++) {
		const struct guest_memory_region *r = &gm->r[i];

		/* Written so that no sum can wrap: gpa >= r->gpa first. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_memory_valid(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	return lookup(gm, gpa, len) != NULL;
}

int guest_memory_read(const struct guest_memory *gm, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p = lookup(gm, gpa, len);

	if (!p)
		return -EFAULT;
	if (len)
		memcpy(buf, p, len);
	return 0;
}

int guest_memory_write(const struct guest_memory *gm, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p = lookup(gm, gpa, len);

	if (!p)
		return -EFAULT;
	if (len)
		memcpy(p, buf, len);
	return 0;
}

uint8_t *guest_memory_host(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	return len ? lookup(gm, gpa, len) : NULL;
}
