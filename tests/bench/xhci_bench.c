/* SPDX-License-Identifier: MIT */
/*
 * The xHCI benchmark, against the real forked device process over the wire
 * protocol (bench_guest.h). It prints figures; it passes or fails nothing
 * but a broken run (a wrong CSW, wrong data, a hang: exit 1).
 *
 *  - memory: peak RSS (VmHWM) of the device process after 10k and 100k
 *    transfers (TDs of 64 KiB BOT READ(10) commands), and whether it grew;
 *  - bulk read: READ(10) of 1 MiB, each data phase as TDs of four 64 KiB
 *    Normal TRBs, several commands in flight, doorbells through the eventfd
 *    (ioeventfd) path, completions through the MSI-X eventfd; against
 *    pread of the same image in 64 KiB pieces, in the same run;
 *  - latency: doorbell-to-event of a No-Op command, rung through the
 *    doorbell eventfd and through a BAR write, median and p99.
 *
 * Usage: xhci-bench [IMAGE_DIR]   (default /dev/shm; never /tmp)
 * Env: SVMM_BENCH_IMAGE_MB (128), SVMM_BENCH_PASSES (8), SVMM_BENCH_LAT_N (10000).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_guest.h"
#include "byteorder.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define TRB_BYTES (64u * KiB)
#define BLOCK 512u
#define MAX_INFLIGHT 4u
#define TRB_NORMAL (1u << 10)
#define TRB_ISP (1u << 2)
#define TRB_CH (1u << 4)
#define TRB_IOC (1u << 5)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : dflt;
}

/* An image whose every block starts with its LBA, so reads can be checked. */
static int make_image(const char *dir, uint64_t size, char *path, size_t path_size)
{
	static uint8_t chunk[MiB];
	int fd;

	snprintf(path, path_size, "%s/svmm-xhci-bench-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		bg_die("image in %s: %s", dir, strerror(errno));
	for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
		for (uint32_t b = 0; b < sizeof(chunk); b += BLOCK) {
			uint64_t lba = (off + b) / BLOCK;

			memset(chunk + b, (int)(lba * 131u), BLOCK);
			memcpy(chunk + b, &lba, sizeof(lba));
		}
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)off) != (ssize_t)sizeof(chunk))
			bg_die("writing the image: %s", strerror(errno));
	}
	return fd;
}

/* A READ(10) command in flight: where its CBW, data and CSW live. */
struct cmd {
	uint64_t cbw, data, csw, csw_trb;
	uint32_t lba, tag;
};

struct reader {
	struct bg *g;
	uint32_t cmd_bytes, td_bytes, image_blocks;
	struct cmd slots[MAX_INFLIGHT];
	unsigned int head, count;	/* FIFO of commands in flight */
	uint32_t next_lba, tag;
	uint64_t tds;			/* transfer events seen */
	uint64_t commands;
};

static void reader_init(struct reader *r, struct bg *g, uint32_t cmd_bytes, uint32_t td_bytes,
			uint64_t image_size)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->cmd_bytes = cmd_bytes;
	r->td_bytes = td_bytes;
	r->image_blocks = (uint32_t)(image_size / BLOCK);
	for (unsigned int i = 0; i < MAX_INFLIGHT; i++) {
		r->slots[i].cbw = bg_alloc(g, 64, 64);
		r->slots[i].csw = bg_alloc(g, 64, 64);
		r->slots[i].data = bg_alloc(g, cmd_bytes, 4096);
	}
}

/* Queues one READ(10) (CBW on bulk OUT, data TDs and CSW on bulk IN); no doorbell. */
static void issue(struct reader *r)
{
	struct bg *g = r->g;
	struct cmd *c = &r->slots[(r->head + r->count) % MAX_INFLIGHT];
	uint8_t *cbw = bg_ptr(g, c->cbw);
	uint32_t blocks = r->cmd_bytes / BLOCK;

	if (r->next_lba + blocks > r->image_blocks)
		r->next_lba = 0;
	c->lba = r->next_lba;
	c->tag = ++r->tag;
	r->next_lba += blocks;
	memset(cbw, 0, 31);
	put_le32(cbw, 0x43425355);
	put_le32(cbw + 4, c->tag);
	put_le32(cbw + 8, r->cmd_bytes);
	cbw[12] = 0x80;
	cbw[14] = 10;
	cbw[15] = 0x28;
	put_be32(cbw + 17, c->lba);
	put_be16(cbw + 22, (uint16_t)blocks);
	bg_push(g, &g->bulk_out, c->cbw, 31, TRB_NORMAL | TRB_IOC);
	for (uint32_t off = 0; off < r->cmd_bytes; off += TRB_BYTES) {
		bool td_end = (off + TRB_BYTES) % r->td_bytes == 0 || off + TRB_BYTES >= r->cmd_bytes;

		bg_push(g, &g->bulk_in, c->data + off, TRB_BYTES,
			TRB_NORMAL | TRB_ISP | (td_end ? TRB_IOC : TRB_CH));
	}
	c->csw_trb = bg_push(g, &g->bulk_in, c->csw, 13, TRB_NORMAL | TRB_IOC);
	r->count++;
}

static void check_done(struct reader *r, const struct cmd *c)
{
	const uint8_t *csw = bg_ptr(r->g, c->csw);
	const uint8_t *data = bg_ptr(r->g, c->data);
	uint64_t lba;

	if (get_le32(csw) != 0x53425355 || get_le32(csw + 4) != c->tag || csw[12] != 0 ||
	    get_le32(csw + 8) != 0)
		bg_die("READ(10) at %u: bad CSW (status %u residue %u)", c->lba, csw[12],
		       get_le32(csw + 8));
	memcpy(&lba, data + r->cmd_bytes - BLOCK, sizeof(lba));
	if (lba != c->lba + r->cmd_bytes / BLOCK - 1)
		bg_die("READ(10) at %u: wrong data", c->lba);
}

/* Runs commands until `commands` more have completed, MAX_INFLIGHT at a time. */
static void run_reads(struct reader *r, uint64_t commands)
{
	uint64_t issued = 0, done = 0;
	struct bg_event ev;

	while (done < commands) {
		bool kicked = false;

		while (r->count < MAX_INFLIGHT && issued < commands) {
			issue(r);
			issued++;
			kicked = true;
		}
		if (kicked)
			bg_kick(r->g, 1);
		bg_wait_event(r->g, &ev, 5000);
		if (((ev.control >> 10) & 0x3f) != 32)
			continue;
		r->tds++;
		if (ev.status >> 24 != 1)
			bg_die("transfer event cc %u", ev.status >> 24);
		if (r->count && ev.param == r->slots[r->head].csw_trb) {
			check_done(r, &r->slots[r->head]);
			r->head = (r->head + 1) % MAX_INFLIGHT;
			r->count--;
			done++;
			r->commands++;
		}
	}
}

static long status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		bg_die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

static void bench_memory(struct bg *g, uint64_t image_size)
{
	struct reader r;
	long hwm10, hwm100;

	/* 64 KiB READ(10)s: CBW, one data TD, CSW = three transfers each. */
	reader_init(&r, g, TRB_BYTES, TRB_BYTES, image_size);
	while (r.tds < 10000)
		run_reads(&r, 100);
	hwm10 = status_kb(g->pid, "VmHWM");
	while (r.tds < 100000)
		run_reads(&r, 100);
	hwm100 = status_kb(g->pid, "VmHWM");
	printf("BENCH xhci device_rss_kB hwm_10k=%ld hwm_100k=%ld grew_kB=%ld grew=%s transfers=%llu\n",
	       hwm10, hwm100, hwm100 - hwm10, hwm100 > hwm10 ? "yes" : "no",
	       (unsigned long long)r.tds);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pread_mibps(int fd, uint64_t image_size)
{
	static uint8_t buf[TRB_BYTES] __attribute__((aligned(4096)));
	double t0 = now();

	for (uint64_t off = 0; off < image_size; off += sizeof(buf)) {
		if (pread(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			bg_die("pread: %s", strerror(errno));
	}
	return (double)image_size / MiB / (now() - t0);
}

/* CPU seconds the process has run, from the scheduler's nanosecond clock. */
static double cpu_seconds(pid_t pid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu", &ns) != 1)
		bg_die("%s unreadable", path);
	fclose(f);
	return (double)ns / 1e9;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Passes alternate between the controller and raw pread, and the medians
 * are compared: the machine may be shared, and a burst of someone else's
 * work then hits both sides alike.
 */
static void bench_bulk(struct bg *g, int fd, uint64_t image_size, unsigned int passes)
{
	double xhci[passes], raw[passes], ratio[passes];
	uint64_t per_pass = image_size / MiB;
	double t0, cpu0, busy = 0, wall = 0;
	struct reader r;

	reader_init(&r, g, MiB, 4 * TRB_BYTES, image_size);
	run_reads(&r, per_pass);	/* warm-up */
	pread_mibps(fd, image_size);
	for (unsigned int p = 0; p < passes; p++) {
		cpu0 = cpu_seconds(g->pid);
		t0 = now();
		run_reads(&r, per_pass);
		wall += now() - t0;
		busy += cpu_seconds(g->pid) - cpu0;
		xhci[p] = (double)per_pass / (now() - t0);
		raw[p] = pread_mibps(fd, image_size);
		ratio[p] = xhci[p] / raw[p];
	}
	printf("BENCH xhci bulk_read_MiBps=%.0f pread_MiBps=%.0f ratio=%.2f device_cpu_pct=%.0f "
	       "(medians of %u passes over %llu MiB; READ(10) 1 MiB, TD 256 KiB, TRB 64 KiB, "
	       "%u commands in flight; pread 64 KiB)\n",
	       median(xhci, passes), median(raw, passes), median(ratio, passes), 100 * busy / wall,
	       passes, (unsigned long long)per_pass, MAX_INFLIGHT);
}

/* Spins on the event ring: the figure is the controller's, not the guest's sleep. */
static void spin_event(struct bg *g, struct bg_event *ev)
{
	double deadline = now() + 5;

	for (unsigned long n = 0; !bg_next_event(g, ev); n++) {
		__builtin_ia32_pause();
		if ((n & 0xffff) == 0 && now() > deadline)
			bg_die("No-Op: no completion within 5 s");
	}
}

static void bench_latency(struct bg *g, bool eventfd, unsigned int n)
{
	double *us = calloc(n, sizeof(*us));
	struct bg_event ev;

	if (!us)
		bg_die("out of memory");
	for (unsigned int i = 0; i < n; i++) {
		uint64_t at = bg_push(g, &g->cmd, 0, 0, 23u << 10);
		double t0 = now();

		if (eventfd)
			bg_kick(g, 0);
		else
			bg_write_async(g, 0x3000, 4, 0);
		spin_event(g, &ev);
		us[i] = (now() - t0) * 1e6;
		if (!eventfd)
			bg_reply(g);
		if (ev.param != at || ev.status >> 24 != 1)
			bg_die("No-Op: unexpected event (cc %u)", ev.status >> 24);
		/* Each No-Op then raises a real interrupt, as with a guest that acks every one. */
		bg_ack(g);
	}
	qsort(us, n, sizeof(*us), cmp_double);
	printf("BENCH xhci noop_latency_us path=%s median=%.1f p99=%.1f n=%u\n",
	       eventfd ? "eventfd" : "bar_write", us[n / 2], us[(size_t)n * 99 / 100], n);
	free(us);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/dev/shm";
	uint64_t image_size = (uint64_t)env_ul("SVMM_BENCH_IMAGE_MB", 128) * MiB;
	unsigned int passes = (unsigned int)env_ul("SVMM_BENCH_PASSES", 8);
	unsigned int lat_n = (unsigned int)env_ul("SVMM_BENCH_LAT_N", 10000);
	char path[4096];
	struct bg g;
	int fd;

	if (image_size < 4 * MiB || !passes || lat_n < 100)
		bg_die("image >= 4 MiB, passes >= 1, latency samples >= 100");
	if (!strncmp(dir, "/tmp", 4))
		bg_die("not /tmp: use /dev/shm or /var/tmp");
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = make_image(dir, image_size, path, sizeof(path));
	bg_start(&g, 64ull * MiB);
	bg_init(&g);
	bg_enumerate_storage(&g, bg_attach(&g, fd));
	bench_memory(&g, image_size);
	bench_bulk(&g, fd, image_size, passes);
	bench_latency(&g, true, lat_n);
	bench_latency(&g, false, lat_n);
	printf("BENCH xhci device_peak_rss_kB=%ld\n", status_kb(g.pid, "VmHWM"));
	bg_stop(&g);
	close(fd);
	unlink(path);
	return 0;
}
