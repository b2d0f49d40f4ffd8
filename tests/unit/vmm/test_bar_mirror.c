/* SPDX-License-Identifier: MIT */
/*
 * The VMM's register mirror reader: it answers only registers the device
 * published, only once the device has run every request sent before the
 * read, and it never trusts the page (count beyond the array is clamped).
 */
#include <criterion/criterion.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/bar_mirror.h"
#include "common/monotonic.h"

static struct bar_mirror mirror;
static struct devproto_reg_mirror *dev;	/* the device's writable view */

static void setup(void)
{
	int fd;

	cr_assert_eq(bar_mirror_create(&mirror, &fd), 0);
	dev = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(dev, MAP_FAILED);
	close(fd);
	dev->regs[0] = (struct devproto_mirror_reg){ 0x44, 0x8 };	/* USBSTS: EINT */
	dev->regs[1] = (struct devproto_mirror_reg){ 0x2038, 0x1230 };	/* ERDP low */
	dev->regs[2] = (struct devproto_mirror_reg){ 0x203c, 0x1 };	/* ERDP high */
	dev->count = 3;
	dev->done_seq = 10;
}

static void teardown(void)
{
	munmap(dev, DEVPROTO_MIRROR_SIZE);
	bar_mirror_destroy(&mirror);
}

TestSuite(bar_mirror, .init = setup, .fini = teardown);

/* The rules an xHCI declares: USBSTS at 0x44, nblocks interrupter sets of 32 bytes from 0x2020. */
static void set_rules(uint32_t nblocks)
{
	struct devproto_desc d = {
		.bar_size = 0x10000, .flags = DEVPROTO_DESC_MIRROR_RULES, .mirror_status = 0x44,
		.mirror_block_base = 0x2020, .mirror_block_stride = 32, .mirror_nblocks = (uint16_t)nblocks,
	};

	cr_assert_eq(devproto_desc_check(&d, NULL), 0);
	bar_mirror_set_rules(&mirror, &d);
}

Test(bar_mirror, answers_published_registers_once_the_device_caught_up)
{
	uint64_t v = 0;

	cr_assert(bar_mirror_read(&mirror, 10, 0x44, 4, &v));
	cr_assert_eq(v, 0x8);
	cr_assert(bar_mirror_read(&mirror, 9, 0x2038, 8, &v));
	cr_assert_eq(v, 0x100001230ull);
	/* A write the device has not run yet (seq 11): the read must go behind it. */
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x44, 4, &v));
	dev->done_seq = 11;
	dev->regs[0].value = 0;
	cr_assert(bar_mirror_read(&mirror, 11, 0x44, 4, &v));
	cr_assert_eq(v, 0);
}

Test(bar_mirror, narrow_reads_take_their_bytes_of_the_dword)
{
	uint64_t v;

	cr_assert(bar_mirror_read(&mirror, 10, 0x2038, 1, &v));
	cr_assert_eq(v, 0x30);
	cr_assert(bar_mirror_read(&mirror, 10, 0x2039, 1, &v));
	cr_assert_eq(v, 0x12);
	cr_assert(bar_mirror_read(&mirror, 10, 0x203a, 2, &v));
	cr_assert_eq(v, 0);
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x2039, 2, &v), "unaligned");
}

Test(bar_mirror, config_space_once_valid_and_caught_up)
{
	uint32_t v;

	dev->cfg[0] = 0x00071234;
	dev->cfg[1] = 0x00100006;
	cr_assert_not(bar_mirror_cfg_read(&mirror, 10, 0, 4, &v), "not valid yet");
	dev->cfg_valid = 1;
	cr_assert(bar_mirror_cfg_read(&mirror, 10, 0, 4, &v));
	cr_assert_eq(v, 0x00071234);
	cr_assert(bar_mirror_cfg_read(&mirror, 10, 2, 2, &v));
	cr_assert_eq(v, 0x0007);
	cr_assert(bar_mirror_cfg_read(&mirror, 10, 4, 1, &v));
	cr_assert_eq(v, 0x06);
	cr_assert_not(bar_mirror_cfg_read(&mirror, 11, 0, 4, &v), "a request the device has not run");
	cr_assert_not(bar_mirror_cfg_read(&mirror, 10, 256, 4, &v), "beyond the mirrored 256 bytes");
	cr_assert_not(bar_mirror_cfg_read(&mirror, 10, 1, 2, &v), "unaligned");
}

Test(bar_mirror, sequence_numbers_wrap)
{
	uint64_t v;

	dev->done_seq = 2;
	cr_assert(bar_mirror_read(&mirror, 0xfffffffeu, 0x44, 4, &v), "2 comes after 2^32-2");
	dev->done_seq = 0xfffffffeu;
	cr_assert_not(bar_mirror_read(&mirror, 2, 0x44, 4, &v));
}

Test(bar_mirror, other_registers_and_sizes_go_to_the_device)
{
	uint64_t v;

	cr_assert_not(bar_mirror_read(&mirror, 10, 0x40, 4, &v), "USBCMD is not mirrored here");
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x44, 8, &v), "the high dword is not mirrored");
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x203a, 4, &v), "unaligned");
	dev->count = 0;
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x44, 4, &v), "nothing published yet");
}

Test(bar_mirror, a_lying_count_is_clamped)
{
	uint64_t v;

	dev->count = 0xffffffffu;
	dev->regs[DEVPROTO_MIRROR_MAX_REGS - 1] = (struct devproto_mirror_reg){ 0x500, 7 };
	cr_assert(bar_mirror_read(&mirror, 10, 0x500, 4, &v));
	cr_assert_eq(v, 7);
	/* An entry just past the array, still in the page: never looked at. */
	struct devproto_mirror_reg *past = (struct devproto_mirror_reg *)(dev + 1);

	*past = (struct devproto_mirror_reg){ 0x600, 9 };
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x600, 4, &v));
}

Test(bar_mirror, no_page_no_answers)
{
	struct bar_mirror none = { 0 };
	uint64_t v;

	cr_assert_not(bar_mirror_read(&none, 0, 0x44, 4, &v));
}

/*
 * What Linux's interrupt handler does: read USBSTS, clear EINT, read ERDP. The
 * ERDP read must not wait for the USBSTS write to run in the device (a round
 * trip of milliseconds in the lab), but a USBSTS read must.
 */
Test(bar_mirror, interrupter_reads_do_not_wait_for_a_usbsts_write)
{
	uint64_t v = 0;

	set_rules(4);
	bar_mirror_posted(&mirror, 11, 0x44, 4);	/* not run yet: done_seq is 10 */
	cr_assert(bar_mirror_read(&mirror, 11, 0x2038, 8, &v));
	cr_assert_eq(v, 0x100001230ull);
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x44, 4, &v), "USBSTS behind its own write");
	dev->done_seq = 11;
	cr_assert(bar_mirror_read(&mirror, 11, 0x44, 4, &v));
}

/* An interrupter write can let an interrupt through: it changes USBSTS (EINT) and its own set. */
Test(bar_mirror, an_interrupter_write_holds_its_set_and_usbsts_back)
{
	uint64_t v = 0;

	dev->regs[3] = (struct devproto_mirror_reg){ 0x2058, 0x4440 };	/* interrupter 1's ERDP low */
	dev->count = 4;
	set_rules(4);
	bar_mirror_posted(&mirror, 11, 0x2038, 4);
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x2038, 4, &v), "its own set");
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x203c, 4, &v), "its own set, high dword");
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x44, 4, &v), "USBSTS");
	cr_assert(bar_mirror_read(&mirror, 11, 0x2058, 4, &v), "another interrupter's set");
	cr_assert_eq(v, 0x4440);
}

/* Any other write (USBCMD, a port, CRCR...) may change anything: every read waits for it. */
Test(bar_mirror, any_other_write_holds_every_read_back)
{
	uint64_t v = 0;

	set_rules(4);
	bar_mirror_posted(&mirror, 11, 0x40, 4);	/* USBCMD */
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x44, 4, &v));
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x2038, 4, &v));
	/* A later USBSTS write does not let the interrupter read past the USBCMD write. */
	bar_mirror_posted(&mirror, 12, 0x44, 4);
	dev->done_seq = 11;
	cr_assert(bar_mirror_read(&mirror, 12, 0x2038, 4, &v));
	cr_assert_not(bar_mirror_read(&mirror, 12, 0x44, 4, &v));
}

/* Before the rules are known, or outside the blocks the device declared, every read waits. */
Test(bar_mirror, without_rules_every_read_waits_for_every_write)
{
	uint64_t v = 0;

	bar_mirror_posted(&mirror, 11, 0x44, 4);
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x2038, 4, &v));
	set_rules(1);
	bar_mirror_posted(&mirror, 12, 0x2058, 4);	/* beyond interrupter 0: "any" */
	cr_assert_not(bar_mirror_read(&mirror, 12, 0x2038, 4, &v));
}

/* The device's counter at 0x2000 (MFINDEX): 125 us a count, 14 bits. */
static void set_counter(uint32_t gen, uint32_t running, uint32_t frozen, uint64_t base_ns)
{
	dev->counter = (struct devproto_mirror_counter){
		.gen = gen, .offset = 0x2000, .period_ns = 125000, .mask = 0x3fff,
		.running = running, .frozen = frozen, .base_ns = base_ns,
	};
}

/*
 * A running counter is answered from the clock, as the device would answer
 * it: between the counts at the instants before and after the read.
 */
Test(bar_mirror, a_running_counter_is_read_from_the_clock)
{
	uint64_t base = monotonic_ns() - 5000ull * 125000, t0, t1, v = 0;
	uint64_t lo, hi;

	set_counter(2, 1, 0, base);
	t0 = monotonic_ns();
	cr_assert(bar_mirror_read(&mirror, 10, 0x2000, 4, &v));
	t1 = monotonic_ns();
	lo = (t0 - base) / 125000;
	hi = (t1 - base) / 125000;
	cr_assert_geq(lo, 5000);
	cr_assert_leq((v - lo) & 0x3fff, hi - lo, "count %#llx outside [%#llx, %#llx]",
		      (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
	cr_assert_leq(v, 0x3fff);
	cr_assert(bar_mirror_read(&mirror, 10, 0x2001, 1, &v), "a narrow read takes its byte");
	cr_assert_leq(v, 0x3f);
}

Test(bar_mirror, a_stopped_counter_reads_its_frozen_value)
{
	uint64_t v = 0;

	set_counter(4, 0, 0x1234, 0);
	cr_assert(bar_mirror_read(&mirror, 10, 0x2000, 4, &v));
	cr_assert_eq(v, 0x1234);
	/* Behind a write the device has not run (it may start or stop the counter). */
	cr_assert_not(bar_mirror_read(&mirror, 11, 0x2000, 4, &v));
}

/* A counter the device is rewriting (gen odd), or none (period 0), sends the read to the device. */
Test(bar_mirror, a_counter_being_rewritten_or_absent_goes_to_the_device)
{
	uint64_t v;

	set_counter(3, 0, 0x1234, 0);
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x2000, 4, &v));
	set_counter(4, 0, 0x1234, 0);
	dev->counter.period_ns = 0;
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x2000, 4, &v));
	set_counter(4, 0, 0x1234, 0);
	cr_assert_not(bar_mirror_read(&mirror, 10, 0x2000, 8, &v), "a qword read covers more than the counter");
	cr_assert(bar_mirror_read(&mirror, 10, 0x44, 4, &v), "other registers still come from the page");
	cr_assert_eq(v, 0x8);
}
/*
 * 2^31 requests without a write outside USBSTS and the interrupters leave
 * the "any write" slot so far behind that, in serial arithmetic, the next
 * such write looks older than it: the slot cannot move. A USBSTS read must
 * still wait for that write (fuzz-device found it: corpus/device/bug-mirror-stale-slot).
 */
Test(bar_mirror, a_write_after_2_to_the_31_requests_without_one_holds_reads_back)
{
	uint64_t v = 0;

	set_rules(4);
	dev->done_seq = 0x7ffffff0;
	bar_mirror_posted(&mirror, 0x80000005, 0x40, 4);	/* USBCMD, not run yet */
	cr_assert_not(bar_mirror_read(&mirror, 0x80000005, 0x44, 4, &v), "USBSTS before the USBCMD write ran");
	cr_assert_not(bar_mirror_read(&mirror, 0x80000005, 0x2038, 4, &v), "ERDP before the USBCMD write ran");
	dev->done_seq = 0x80000005;
	cr_assert(bar_mirror_read(&mirror, 0x80000005, 0x44, 4, &v));
	cr_assert_eq(v, 0x8);
}

/* Exactly 2^31 apart, neither seq is after the other: the write still holds the read back. */
Test(bar_mirror, a_write_exactly_2_to_the_31_after_the_last_holds_reads_back)
{
	uint64_t v = 0;

	set_rules(4);
	bar_mirror_posted(&mirror, 0x80000000, 0x40, 4);	/* done_seq is 10: not run */
	cr_assert_not(bar_mirror_read(&mirror, 0x80000000, 0x2038, 8, &v));
	cr_assert_not(bar_mirror_read(&mirror, 0x80000000, 0x44, 4, &v));
}
