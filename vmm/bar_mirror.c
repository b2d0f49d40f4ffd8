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
 * done_seq has reached the last request that could have changed what it
 * reads, else it goes to the device behind those writes. An interrupt is
 * raised only after the device refreshed the page, so the handler sees why
 * it came.
 *
 * Which requests could have changed a register: any write, except two kinds
 * Linux makes on every interrupt, whose effects are narrow (xHCI 1.2, 5.4.2
 * and 5.5.2). A USBSTS write (clearing EINT) changes USBSTS alone; a write to
 * interrupter i's registers (IMAN, IMOD, ERST*, ERDP) changes those and
 * USBSTS (the interrupt it lets through sets EINT). So the handler's ERDP
 * read right after its USBSTS write needs no round trip: in the nested lab
 * that wait cost 1-4 ms per interrupt. Every other read waits for every
 * write, as before.
 *
 * The page is written by the device process, which the VMM does not trust:
 * count is clamped and values are only handed back to the guest.
 */
#include "bar_mirror.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "monotonic.h"

int bar_mirror_create(struct bar_mirror *m, int *fd)
{
	void *page;
	int memfd;

	memset(m, 0, sizeof(*m));
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

/* Serial-number arithmetic: seq wraps after 2^32 requests. */
static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static uint32_t seq_later(uint32_t a, uint32_t b)
{
	return seq_after(a, b) ? a : b;
}

/* *slot = max(*slot, seq): vCPUs post concurrently, and a slot never moves back. */
static void seq_raise(uint32_t *slot, uint32_t seq)
{
	uint32_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

	while (seq_after(seq, cur) &&
	       !__atomic_compare_exchange_n(slot, &cur, seq, false, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
}

void bar_mirror_set_layout(struct bar_mirror *m, uint64_t usbsts, uint64_t intr_base,
			   uint32_t nintr)
{
	m->usbsts = usbsts;
	m->intr_base = intr_base;
	m->nintr = nintr < BAR_MIRROR_MAX_INTRS ? nintr : BAR_MIRROR_MAX_INTRS;
}

static bool within(uint64_t offset, uint32_t size, uint64_t base, uint64_t len)
{
	return offset >= base && offset - base < len && size <= len - (offset - base);
}

/* The interrupter whose register set holds the access, or -1. */
static int interrupter_of(const struct bar_mirror *m, uint64_t offset, uint32_t size)
{
	uint64_t i;

	if (m->nintr == 0 || !within(offset, size, m->intr_base, 32ull * m->nintr))
		return -1;
	i = (offset - m->intr_base) / 32;
	return within(offset, size, m->intr_base + 32 * i, 32) ? (int)i : -1;
}

static bool is_usbsts(const struct bar_mirror *m, uint64_t offset, uint32_t size)
{
	return m->nintr != 0 && within(offset, size, m->usbsts, 4);
}

void bar_mirror_posted(struct bar_mirror *m, uint32_t seq, uint64_t offset, uint32_t size)
{
	int intr = interrupter_of(m, offset, size);

	if (is_usbsts(m, offset, size)) {
		seq_raise(&m->last_usbsts, seq);
	} else if (intr >= 0) {
		seq_raise(&m->last_intr[intr], seq);
		seq_raise(&m->last_usbsts, seq);
	} else {
		seq_raise(&m->last_any, seq);
	}
}

/* The last request a read of offset must see the effects of. */
static uint32_t read_needs(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset,
			   uint32_t size)
{
	uint32_t any = __atomic_load_n(&m->last_any, __ATOMIC_ACQUIRE);
	int intr = interrupter_of(m, offset, size);
	uint32_t needs;

	if (is_usbsts(m, offset, size))
		needs = seq_later(any, __atomic_load_n(&m->last_usbsts, __ATOMIC_ACQUIRE));
	else if (intr >= 0)
		needs = seq_later(any, __atomic_load_n(&m->last_intr[intr], __ATOMIC_ACQUIRE));
	else
		return sent_seq;
	/*
	 * Every write went out by sent_seq, so a slot not at or before it is
	 * stale: 2^31 requests without a write of its kind put it ahead in
	 * serial arithmetic (or exactly opposite), and seq_raise could not move
	 * it for the write since.
	 */
	return (int32_t)(sent_seq - needs) < 0 ? sent_seq : needs;
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

/* The device has run request seq and those before it. */
static bool caught_up(const struct devproto_reg_mirror *page, uint32_t seq)
{
	return !seq_after(seq, __atomic_load_n(&page->done_seq, __ATOMIC_ACQUIRE));
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

/*
 * The time counter's dword at offset, computed from the clock as the device
 * would (devproto_mirror_counter). A sequence lock: a read that overlaps the
 * device's rewrite tries again, a few times, then goes to the device.
 */
static bool counter_read(const struct devproto_reg_mirror *page, uint64_t offset, uint32_t *value)
{
	const struct devproto_mirror_counter *c = &page->counter;

	/* Most reads are of other registers: settle that before the sequence lock. */
	if (__atomic_load_n(&c->offset, __ATOMIC_RELAXED) != offset)
		return false;
	for (int tries = 0; tries < 4; tries++) {
		uint32_t gen = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
		uint32_t off = __atomic_load_n(&c->offset, __ATOMIC_RELAXED);
		uint32_t period = __atomic_load_n(&c->period_ns, __ATOMIC_RELAXED);
		uint32_t mask = __atomic_load_n(&c->mask, __ATOMIC_RELAXED);
		uint32_t running = __atomic_load_n(&c->running, __ATOMIC_RELAXED);
		uint32_t frozen = __atomic_load_n(&c->frozen, __ATOMIC_RELAXED);
		uint64_t base = __atomic_load_n(&c->base_ns, __ATOMIC_RELAXED);

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (gen & 1u || __atomic_load_n(&c->gen, __ATOMIC_RELAXED) != gen)
			continue;
		if (period == 0 || off != offset)
			return false;
		*value = running ? (uint32_t)((monotonic_ns() - base) / period) & mask : frozen & mask;
		return true;
	}
	return false;
}

bool bar_mirror_read(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset, uint32_t size,
		     uint64_t *value)
{
	const struct devproto_reg_mirror *page = m->page;
	uint32_t count, lo, hi;

	if (!page || !valid_access(offset, size) ||
	    !caught_up(page, read_needs(m, sent_seq, offset, size)))
		return false;
	if (size <= 4 && counter_read(page, offset & ~3ull, &lo)) {
		*value = bytes_of(lo, offset, size);
		return true;
	}
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
