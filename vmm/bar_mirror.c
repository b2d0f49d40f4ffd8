/* SPDX-License-Identifier: MIT */
/*
 * Why: Linux's xHCI interrupt handler reads USBSTS, IMAN and ERDP on every
 * interrupt. Answered by the device process, each read is a round trip
 * between two processes while the vCPU waits; in the nested lab that costs
 * milliseconds, several times per USB transfer. The device keeps those
 * registers current in a shared page (devices/xhci/reg_mirror.c) and the
 * VMM answers from it.
 *
 * Ordering: a read must see the effect of every BAR write the guest made
 * before it (writes are posted: the VMM does not wait for them). The device
 * stores done_seq after running a request; a read is answered here only if
 * done_seq has reached the last request the VMM sent, else it goes to the
 * device behind those writes. An interrupt is raised only after the device
 * refreshed the page, so the handler sees why it came.
 *
 * The page is written by the device process, which the VMM does not trust:
 * count is clamped and values are only handed back to the guest.
 */
#include "bar_mirror.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int bar_mirror_create(struct bar_mirror *m, int *fd)
{
	void *page;
	int memfd;

	m->page = NULL;
	*fd = -1;
	memfd = memfd_create("svmm-bar-mirror", MFD_CLOEXEC);
	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, DEVPROTO_MIRROR_SIZE) < 0) {
		int err = -errno;

		close(memfd);
		return err;
	}
	page = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ, MAP_SHARED, memfd, 0);
	if (page == MAP_FAILED) {
		int err = -errno;

		close(memfd);
		return err;
	}
	m->page = page;
	*fd = memfd;
	return 0;
}

void bar_mirror_destroy(struct bar_mirror *m)
{
	if (m->page)
		munmap((void *)m->page, DEVPROTO_MIRROR_SIZE);
	m->page = NULL;
}

static bool lookup(const struct devproto_reg_mirror *page, uint32_t count, uint64_t offset,
		   uint32_t *value)
{
	for (uint32_t i = 0; i < count; i++) {
		if (__atomic_load_n(&page->regs[i].offset, __ATOMIC_RELAXED) == offset) {
			*value = __atomic_load_n(&page->regs[i].value, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

/* The page is current for a read made after request sent_seq. */
static bool caught_up(const struct devproto_reg_mirror *page, uint32_t sent_seq)
{
	uint32_t done = __atomic_load_n(&page->done_seq, __ATOMIC_ACQUIRE);

	/* Serial-number arithmetic: seq wraps after 2^32 requests. */
	return (int32_t)(done - sent_seq) >= 0;
}

/* The size bytes at byte (offset % 4) of a dword; size 1, 2 or 4 and no straddling. */
static uint64_t bytes_of(uint32_t dword, uint64_t offset, uint32_t size)
{
	uint32_t v = dword >> (8 * (offset % 4));

	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static bool valid_access(uint64_t offset, uint32_t size)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) && offset % size == 0;
}

bool bar_mirror_read(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset, uint32_t size,
		     uint64_t *value)
{
	const struct devproto_reg_mirror *page = m->page;
	uint32_t count, lo, hi;

	if (!page || !valid_access(offset, size) || !caught_up(page, sent_seq))
		return false;
	count = __atomic_load_n(&page->count, __ATOMIC_ACQUIRE);
	if (count > DEVPROTO_MIRROR_MAX_REGS)
		count = DEVPROTO_MIRROR_MAX_REGS;
	if (!lookup(page, count, offset & ~3ull, &lo))
		return false;
	if (size < 8) {
		*value = bytes_of(lo, offset, size);
		return true;
	}
	if (!lookup(page, count, offset + 4, &hi))
		return false;
	*value = (uint64_t)hi << 32 | lo;
	return true;
}

bool bar_mirror_cfg_read(const struct bar_mirror *m, uint32_t sent_seq, uint32_t offset,
			 uint32_t size, uint32_t *value)
{
	const struct devproto_reg_mirror *page = m->page;

	if (!page || size > 4 || !valid_access(offset, size) ||
	    offset >= 4 * DEVPROTO_MIRROR_CFG_DWORDS || !caught_up(page, sent_seq) ||
	    !__atomic_load_n(&page->cfg_valid, __ATOMIC_ACQUIRE))
		return false;
	*value = (uint32_t)bytes_of(__atomic_load_n(&page->cfg[offset / 4], __ATOMIC_RELAXED), offset,
				    size);
	return true;
}
