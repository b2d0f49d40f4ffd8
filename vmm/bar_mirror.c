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

bool bar_mirror_read(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset, uint32_t size,
		     uint64_t *value)
{
	const struct devproto_reg_mirror *page = m->page;
	uint32_t done, count, lo, hi;

	if (!page || (size != 4 && size != 8) || offset % size)
		return false;
	done = __atomic_load_n(&page->done_seq, __ATOMIC_ACQUIRE);
	/* Serial-number arithmetic: seq wraps after 2^32 requests. */
	if ((int32_t)(done - sent_seq) < 0)
		return false;
	count = __atomic_load_n(&page->count, __ATOMIC_ACQUIRE);
	if (count > DEVPROTO_MIRROR_MAX_REGS)
		count = DEVPROTO_MIRROR_MAX_REGS;
	if (!lookup(page, count, offset, &lo))
		return false;
	if (size == 4) {
		*value = lo;
		return true;
	}
	if (!lookup(page, count, offset + 4, &hi))
		return false;
	*value = (uint64_t)hi << 32 | lo;
	return true;
}
