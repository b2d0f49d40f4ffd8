/* SPDX-License-Identifier: MIT */
/*
 * The benchmark guest's ring-3 program: finds the xHCI, brings up its
 * mass-storage devices, then times each operation (rdtsc, native in ring 3)
 * and prints one line per operation for the runner (tests/bench/native/run):
 *
 *   BENCH op=NAME mark=M n=N median=CYC min=CYC max=CYC bytes=B
 *
 * cycles per operation (one register access, one No-Op command, one SCSI
 * command or one batch of them on several devices), bytes moved per
 * operation. Each operation is warmed up first
 * (first touches of guest pages cost ~28 us here) and bracketed by writes
 * to port 0x80 (phase_mark), which the runner uses to count exits per
 * operation. Every block read is checked against the image's pattern
 * (block_word); blocks written carry the write seed, checked by the runner
 * in the image afterwards (BENCH written lines). Command line: tsc_khz=
 * (timeouts), quick=1 (the smoke run's few iterations), wseed= (the write
 * pattern's seed), disks= (devices to wait for, 1-4: the operations with
 * four commands in flight need four).
 */
#include <stdbool.h>
#include <stdint.h>

#include "tests/bench/native/bot.h"
#include "tests/bench/native/console.h"
#include "tests/bench/native/pci.h"
#include "tests/bench/native/sys.h"
#include "tests/bench/native/guest_xhci.h"
#include "devices/xhci/xhci_regs.h"

#define MSI_VECTOR	0x40	/* entry.S routes it to isr_msi */
#define READ_SEED	0x5a5au
#define BUF_BASE	0x2000000ull	/* 32 MiB: a data buffer of up to 1 MiB per device */
#define BUF_SIZE	0x100000ull
#define MAX_WRITE_BLOCKS (1u << 20)	/* the written-blocks map: a disk of up to 1 GiB */
#define MAX_SAMPLES	1000u
#define MARK_END	0xffu
#define LAPIC_VERSION	0xfee00030u
#define UNCLAIMED_MMIO	0xe0000000u	/* svmm's BAR 0 is at 0xc0000000, SeaBIOS's BARs near 0xfe000000 */
#define UNTOUCHED_RAM	0x10000000ull	/* 256 MiB: above the buffers, below the 512 MiB both VMMs get */

void bench_main(uint32_t boot_kind, uint32_t cmdline_addr);
void exception_report(uint64_t vector, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t cr2);

static uint64_t samples[MAX_SAMPLES];
static bool quick;
static uint32_t write_seed;
static unsigned int next_mark = 1;

/* The pattern of the image: word i of block lba (image.py writes the same). */
static inline uint64_t block_word(uint32_t lba, uint32_t seed, unsigned int i)
{
	return (uint64_t)lba << 32 | (uint64_t)(seed & 0xffff) << 16 | i;
}

static void fill_blocks(uint64_t *buf, uint32_t lba, uint32_t count, uint32_t seed)
{
	for (uint32_t b = 0; b < count; b++)
		for (unsigned int i = 0; i < BOT_BLOCK / 8; i++)
			buf[b * (BOT_BLOCK / 8) + i] = block_word(lba + b, seed, i);
}

static uint64_t blocks_checked;
/* Which blocks of the write half were written, reported for the runner to check. */
static uint8_t written[MAX_WRITE_BLOCKS / 8];

static void mark_written(uint32_t first, uint32_t count)
{
	for (uint32_t b = first; b < first + count && b < MAX_WRITE_BLOCKS; b++)
		written[b / 8] |= (uint8_t)(1u << (b % 8));
}

static bool was_written(uint32_t b)
{
	return b < MAX_WRITE_BLOCKS && written[b / 8] & 1u << (b % 8);
}

/* "BENCH written lba=L blocks=N", one line per run of written blocks. */
static void report_written(uint32_t half)
{
	for (uint32_t b = 0; b < half && b < MAX_WRITE_BLOCKS;) {
		struct line l = { .len = 0 };
		uint32_t end;

		if (!was_written(b)) {
			b++;
			continue;
		}
		for (end = b; end < half && was_written(end); end++)
			;
		line_str(&l, "BENCH written");
		line_kv(&l, "lba", half + b);
		line_kv(&l, "blocks", end - b);
		line_end(&l);
		b = end;
	}
}

static void check_blocks(const uint64_t *buf, uint32_t lba, uint32_t count)
{
	for (uint32_t b = 0; b < count; b++) {
		for (unsigned int i = 0; i < BOT_BLOCK / 8; i++)
			if (buf[b * (BOT_BLOCK / 8) + i] != block_word(lba + b, READ_SEED, i))
				fail("block read back wrong, lba", lba + b);
		blocks_checked++;
	}
}

static void sort(uint64_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		uint64_t x = v[i];
		unsigned int j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static void report(const char *op, unsigned int mark, unsigned int n, uint64_t bytes)
{
	struct line l = { .len = 0 };

	sort(samples, n);
	line_str(&l, "BENCH op=");
	line_str(&l, op);
	line_kv(&l, "mark", mark);
	line_kv(&l, "n", n);
	line_kv(&l, "median", samples[n / 2]);
	line_kv(&l, "min", samples[0]);
	line_kv(&l, "max", samples[n - 1]);
	line_kv(&l, "bytes", bytes);
	line_end(&l);
}

static unsigned int iterations(unsigned int full)
{
	unsigned int n = quick ? (full / 10 ? full / 10 : 1) : full;

	return n > MAX_SAMPLES ? MAX_SAMPLES : n;
}

/* n timed 32-bit reads of one MMIO address. */
static void bench_read(const char *name, volatile void *reg)
{
	unsigned int n = iterations(1000), mark = next_mark++;

	for (int i = 0; i < 10; i++)
		mmio_read32(reg);
	phase_mark((uint8_t)mark);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t = rdtsc();

		mmio_read32(reg);
		samples[i] = rdtsc() - t;
	}
	phase_mark(MARK_END);
	report(name, mark, n, 0);
}

/* The first read of each of n guest pages nothing touched before: the host maps them then. */
static void bench_first_touch(void)
{
	unsigned int n = iterations(1000), mark = next_mark++;

	phase_mark((uint8_t)mark);
	for (unsigned int i = 0; i < n; i++) {
		volatile uint8_t *page = (volatile uint8_t *)(uintptr_t)(UNTOUCHED_RAM + (uint64_t)i * 4096);
		uint64_t t = rdtsc();

		(void)*page;
		samples[i] = rdtsc() - t;
	}
	phase_mark(MARK_END);
	report("first-touch", mark, n, 0);
}

static void bench_dnctrl(struct xhci *x)
{
	unsigned int n = iterations(1000), mark = next_mark++;
	volatile uint8_t *reg = x->op + OP_DNCTRL;

	for (int i = 0; i < 10; i++)
		mmio_write32(reg, 0);
	phase_mark((uint8_t)mark);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t = rdtsc();

		mmio_write32(reg, (uint32_t)i & 0xffff);
		samples[i] = rdtsc() - t;
	}
	phase_mark(MARK_END);
	mmio_write32(reg, 0);
	report("dnctrl-write", mark, n, 0);
}

/* Doorbell to Command Completion Event of a No-Op command; the ERDP write follows, untimed. */
static void bench_noop(struct xhci *x, bool msix)
{
	unsigned int n = iterations(300), mark = next_mark++;

	xhci_set_msix(x, msix);
	for (unsigned int i = 0; i < n + 10; i++) {
		uint64_t at, t;
		struct xhci_trb ev;

		if (i == 10)
			phase_mark((uint8_t)mark);
		at = xhci_ring_put(&x->cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));
		t = rdtsc();
		xhci_ring_doorbell(x, 0, 0);
		ev = xhci_next_event(x);
		if (i >= 10)
			samples[i - 10] = rdtsc() - t;
		xhci_ack_events(x);
		if (trb_type(&ev) != TRB_EV_CMD_COMPLETION || ev.param != at || trb_cc(&ev) != CC_SUCCESS)
			fail("No-Op: unexpected event, control", ev.control);
	}
	phase_mark(MARK_END);
	xhci_set_msix(x, false);
	report(msix ? "noop-msix" : "noop-polled", mark, n, 0);
}

struct io_op {
	const char *name;
	bool write, msix;
	uint32_t blocks;		/* per command */
	unsigned int inflight;		/* commands at once, one per device */
	unsigned int iterations;	/* batches timed (a tenth with quick=1) */
};

static const struct io_op io_ops[] = {
	{ "read512-polled", false, false, 1, 1, 300 },
	{ "read512-msix", false, true, 1, 1, 300 },
	{ "read64k-polled", false, false, 128, 1, 100 },
	{ "read64k-msix", false, true, 128, 1, 100 },
	{ "read1m-polled", false, false, 2048, 1, 20 },
	{ "read1m-msix", false, true, 2048, 1, 20 },
	{ "write512-polled", true, false, 1, 1, 300 },
	{ "write512-msix", true, true, 1, 1, 300 },
	{ "write64k-polled", true, false, 128, 1, 100 },
	{ "write64k-msix", true, true, 128, 1, 100 },
	{ "write1m-polled", true, false, 2048, 1, 20 },
	{ "write1m-msix", true, true, 2048, 1, 20 },
	{ "read512x4-polled", false, false, 1, 4, 100 },
	{ "read512x4-msix", false, true, 1, 4, 100 },
	{ "read64kx4-polled", false, false, 128, 4, 40 },
	{ "read64kx4-msix", false, true, 128, 4, 40 },
	{ "read1mx4-polled", false, false, 2048, 4, 10 },
	{ "read1mx4-msix", false, true, 2048, 4, 10 },
	{ "write512x4-polled", true, false, 1, 4, 100 },
	{ "write512x4-msix", true, true, 1, 4, 100 },
	{ "write64kx4-polled", true, false, 128, 4, 40 },
	{ "write64kx4-msix", true, true, 128, 4, 40 },
	{ "write1mx4-polled", true, false, 2048, 4, 10 },
	{ "write1mx4-msix", true, true, 2048, 4, 10 },
};

/* Waits until every started command of bots[0..k) has its CSW. */
static void complete_all(struct xhci *x, struct bot *bots, unsigned int k)
{
	unsigned int pending = k;

	for (unsigned int n = 0; pending && n < 64 * k; n++) {
		struct xhci_trb ev = xhci_next_event(x);
		unsigned int d;

		if (trb_type(&ev) != TRB_EV_TRANSFER)
			continue;
		for (d = 0; d < k && bots[d].dev.slot != trb_slot(&ev); d++)
			;
		if (d == k)
			fail("a transfer event of an idle slot", trb_slot(&ev));
		if (bot_event(&bots[d], &ev)) {
			if (bots[d].status)
				fail("READ/WRITE(10) failed, CSW status", bots[d].status);
			pending--;
		}
	}
	if (pending)
		fail("commands still in flight after many events", pending);
}

/*
 * Batches of `inflight` READ(10) or WRITE(10) commands of `blocks` each, one
 * per device, all started at once; timed from the first CBW's doorbell to
 * the last CSW's event. Device d works in its own slice of a half of the
 * image (reads: the first half, writes: the second).
 */
static void bench_io(struct xhci *x, struct bot *bots, const struct io_op *op)
{
	unsigned int n = iterations(op->iterations), mark = next_mark++, k = op->inflight;
	uint32_t half = bots[0].blocks / 2, slice = half / k, base = op->write ? half : 0;
	uint32_t lba = 0;

	if (slice < op->blocks)
		fail("image too small for commands of blocks", op->blocks);
	xhci_set_msix(x, op->msix);
	for (unsigned int i = 0; i < n + 2; i++) {
		uint64_t t;

		if (lba + op->blocks > slice)
			lba = 0;
		for (unsigned int d = 0; op->write && d < k; d++)
			fill_blocks((uint64_t *)(uintptr_t)(BUF_BASE + d * BUF_SIZE), base + d * slice + lba,
				    op->blocks, write_seed);
		if (i == 2)
			phase_mark((uint8_t)mark);
		t = rdtsc();
		for (unsigned int d = 0; d < k; d++)
			bot_start_rw(&bots[d], op->write, base + d * slice + lba, op->blocks,
				     (void *)(uintptr_t)(BUF_BASE + d * BUF_SIZE));
		complete_all(x, bots, k);
		if (i >= 2)
			samples[i - 2] = rdtsc() - t;
		for (unsigned int d = 0; d < k; d++) {
			if (op->write)
				mark_written(d * slice + lba, op->blocks);
			else
				check_blocks((uint64_t *)(uintptr_t)(BUF_BASE + d * BUF_SIZE), d * slice + lba,
					     op->blocks);
		}
		lba += op->blocks;
	}
	phase_mark(MARK_END);
	xhci_set_msix(x, false);
	report(op->name, mark, n, (uint64_t)k * op->blocks * BOT_BLOCK);
}

/* entry.S sends ring 0's exceptions here (the words: error code if any, rip, cs, ...). */
void exception_report(uint64_t vector, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t cr2)
{
	struct line l = { .len = 0 };

	line_str(&l, "bench-guest: exception");
	line_kv(&l, "vector", vector);
	line_str(&l, " stack ");
	line_hex(&l, w0);
	line_str(&l, " ");
	line_hex(&l, w1);
	line_str(&l, " ");
	line_hex(&l, w2);
	line_str(&l, " cr2 ");
	line_hex(&l, cr2);
	line_end(&l);
	sys_reset();
}

void bench_main(uint32_t boot_kind, uint32_t cmdline_addr)
{
	const char *cmdline = (const char *)(uintptr_t)cmdline_addr;
	uint64_t tsc_khz = cmdline_u64(cmdline, "tsc_khz", 3000000);
	static struct xhci x;
	static struct bot bots[XHCI_MAX_DEVICES];
	unsigned int ndev = (unsigned int)cmdline_u64(cmdline, "disks", 1);
	struct pci_xhci pci;

	quick = cmdline_u64(cmdline, "quick", 0) != 0;
	write_seed = (uint32_t)cmdline_u64(cmdline, "wseed", 0x1234);
	say(boot_kind ? "booted by multiboot (QEMU -kernel), in ring 3" : "booted as a bzImage (svmm), in ring 3");
	if (pci_find_xhci(&pci))
		fail("no xHCI on PCI bus 0", 0);
	say_hex("xhci at bdf", pci.bdf);
	say_hex("xhci bar0", pci.bar0);
	if (pci.bar0 >= 0x100000000ull)
		fail("BAR 0 above the 4 GiB identity map", pci.bar0);
	if (pci_enable_msix(&pci, MSI_VECTOR))
		fail("no MSI-X table in BAR 0, capability", pci.msix_cap);
	xhci_init(&x, pci.bar0, tsc_khz * 1000 * 5);
	if (ndev < 1 || ndev > XHCI_MAX_DEVICES)
		fail("disks= must be 1 to 4, not", ndev);
	say("controller running, waiting for a device");
	for (unsigned int d = 0; d < ndev; d++) {
		xhci_wait_port(&x, &bots[d].dev);
		say_hex("device on port", bots[d].dev.port);
		say_hex("speed", bots[d].dev.speed);
		xhci_address_device(&x, &bots[d].dev);
		bot_init(&bots[d], &x);
		say_hex("disk blocks", bots[d].blocks);
		if (bots[d].blocks != bots[0].blocks)
			fail("the disks differ in size, blocks", bots[d].blocks);
	}

	/* An empty phase: what the two marks cost, for the runner to subtract. */
	phase_mark((uint8_t)next_mark);
	phase_mark(MARK_END);
	samples[0] = 0;
	report("marks", next_mark++, 1, 0);
	/* The host's costs, under each VMM: the LAPIC is in KVM, nothing answers in the PCI hole's top. */
	bench_read("exit-kernel", (volatile void *)(uintptr_t)LAPIC_VERSION);
	bench_read("exit-user", (volatile void *)(uintptr_t)UNCLAIMED_MMIO);
	bench_first_touch();
	bench_read("mfindex-read", x.rt + RT_MFINDEX);
	bench_dnctrl(&x);
	bench_noop(&x, false);
	bench_noop(&x, true);
	for (unsigned int i = 0; i < sizeof(io_ops) / sizeof(io_ops[0]); i++)
		if (io_ops[i].inflight <= ndev)
			bench_io(&x, bots, &io_ops[i]);
	report_written(bots[0].blocks / 2);

	{
		struct line l = { .len = 0 };

		line_str(&l, "BENCH done");
		line_kv(&l, "blocks_checked", blocks_checked);
		line_kv(&l, "msi", msi_count);
		line_kv(&l, "stray", stray_count);
		line_end(&l);
	}
	sys_reset();
}
