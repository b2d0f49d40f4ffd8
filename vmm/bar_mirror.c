/* SPDX-License-Identifier: MIT */
/*
 * A read is answered from the page only once done_seq has reached the last
 * posted write that could have changed it: any write, except the two kinds
 * the device's rules make narrow (a write to the status register changes
 * only it; a write to block i changes only block i and the status
 * register). docs/protocol.md, "Register mirror", is the contract.
 *
 * The page is written by the device process, which the VMM does not trust:
 * count is clamped and values are only handed back to the guest.
 */
#include "vmm/bar_mirror.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/monotonic.h"

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

void bar_mirror_set_rules(struct bar_mirror *m, const struct devproto_desc *d)
{
	m->has_rules = d->flags & DEVPROTO_DESC_MIRROR_RULES;
	m->status = d->mirror_status;
	m->block_base = d->mirror_block_base;
	m->block_shift = d->mirror_nblocks ? (uint32_t)__builtin_ctz(d->mirror_block_stride) : 0;
	m->nblocks = d->mirror_nblocks < DEVPROTO_MAX_MIRROR_BLOCKS ? d->mirror_nblocks :
									 DEVPROTO_MAX_MIRROR_BLOCKS;
}

static bool within(uint64_t offset, uint32_t size, uint64_t base, uint64_t len)
{
	return offset >= base && offset - base < len && size <= len - (offset - base);
}

/* The register block that holds the whole access, or -1. */
static int block_of(const struct bar_mirror *m, uint64_t offset, uint32_t size)
{
	uint64_t i, block = 1ull << m->block_shift;

	if (m->nblocks == 0 || !within(offset, size, m->block_base, (uint64_t)m->nblocks << m->block_shift))
		return -1;
	i = (offset - m->block_base) >> m->block_shift;
	return within(offset, size, m->block_base + (i << m->block_shift), block) ? (int)i : -1;
}

static bool is_status(const struct bar_mirror *m, uint64_t offset, uint32_t size)
{
	return m->has_rules && within(offset, size, m->status, 4);
}

void bar_mirror_posted(struct bar_mirror *m, uint32_t seq, uint64_t offset, uint32_t size)
{
	int block = block_of(m, offset, size);

	if (is_status(m, offset, size)) {
		seq_raise(&m->last_status, seq);
	} else if (block >= 0) {
		seq_raise(&m->last_block[block], seq);
		seq_raise(&m->last_status, seq);
	} else {
		seq_raise(&m->last_any, seq);
	}
}

/* The last request a read of offset must see the effects of. */
static uint32_t read_needs(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset,
			   uint32_t size)
{
	uint32_t any = __atomic_load_n(&m->last_any, __ATOMIC_ACQUIRE);
	int block = block_of(m, offset, size);
	uint32_t needs;

	if (is_status(m, offset, size))
		needs = seq_later(any, __atomic_load_n(&m->last_status, __ATOMIC_ACQUIRE));
	else if (block >= 0)
		needs = seq_later(any, __atomic_load_n(&m->last_block[block], __ATOMIC_ACQUIRE));
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
