/* SPDX-License-Identifier: MIT */
/*
 * The xHCI benchmark, against the real forked device process over the wire
 * protocol (the shared test driver, xhci_driver.h). It prints figures; it passes or fails nothing
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"
#include "tests/xhci_driver/xhci_driver.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define TRB_BYTES (64u * KiB)
#define BLOCK 512u
#define MAX_INFLIGHT 4u
#define EVENT_TIMEOUT_MS 5000
#define BULK_IN_DCI 3u
#define BULK_OUT_DCI 4u
#define BULK_RING_TRBS 1024u

/*
 * The doorbells as eventfds, as KVM's ioeventfds signal them and as the VMM
 * registers them (docs/protocol.md): the command ring's bare, slot 1's bulk
 * OUT (DCI 4) and IN (DCI 3) by value.
 */
static int db_fd[3];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "xhci-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

__attribute__((noreturn)) static void driver_failed(const char *msg)
{
	die("%s", msg);
}

/* Doorbell 0: the command ring; 1: slot 1's bulk OUT (the command) then IN. */
static void kick(unsigned int index)
{
	unsigned int first = index == 0 ? 0 : 1, last = index == 0 ? 0 : 2;
	uint64_t one = 1;

	if (index > 1)
		die("doorbell eventfd %u", index);
	for (unsigned int i = first; i <= last; i++) {
		if (write(db_fd[i], &one, sizeof(one)) != sizeof(one))
			die("doorbell eventfd %u", i);
	}
}

/* Waits (irq eventfd) for the next event of any type. */
static void wait_event(struct drv *g, struct xhci_trb *ev)
{
	if (!drv_wait_event(g, 0, ev, EVENT_TIMEOUT_MS))
		die("no event within %d ms", EVENT_TIMEOUT_MS);
}

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
		die("image in %s: %s", dir, strerror(errno));
	for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
		for (uint32_t b = 0; b < sizeof(chunk); b += BLOCK) {
			uint64_t lba = (off + b) / BLOCK;

			memset(chunk + b, (int)(lba * 131u), BLOCK);
			memcpy(chunk + b, &lba, sizeof(lba));
		}
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)off) != (ssize_t)sizeof(chunk))
			die("writing the image: %s", strerror(errno));
	}
	return fd;
}

/* A READ(10) command in flight: where its CBW, data and CSW live. */
struct cmd {
	uint64_t cbw, data, csw, csw_trb;
	uint32_t lba, tag;
};

struct reader {
	struct drv *g;
	uint32_t cmd_bytes, td_bytes, image_blocks;
	struct cmd slots[MAX_INFLIGHT];
	unsigned int head, count;	/* FIFO of commands in flight */
	uint32_t next_lba, tag;
	uint64_t tds;			/* transfer events seen */
	uint64_t commands;
};

static void reader_init(struct reader *r, struct drv *g, uint32_t cmd_bytes, uint32_t td_bytes,
			uint64_t image_size)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->cmd_bytes = cmd_bytes;
	r->td_bytes = td_bytes;
	r->image_blocks = (uint32_t)(image_size / BLOCK);
	for (unsigned int i = 0; i < MAX_INFLIGHT; i++) {
		r->slots[i].cbw = drv_alloc(g, 64, 64);
		r->slots[i].csw = drv_alloc(g, 64, 64);
		r->slots[i].data = drv_alloc(g, cmd_bytes, 4096);
	}
}

/* Queues one READ(10) (CBW on bulk OUT, data TDs and CSW on bulk IN); no doorbell. */
static void issue(struct reader *r)
{
	struct drv *g = r->g;
	struct cmd *c = &r->slots[(r->head + r->count) % MAX_INFLIGHT];
	uint8_t *cbw = drv_ptr(g, c->cbw);
	uint32_t blocks = r->cmd_bytes / BLOCK;
	struct drv_ring *out = &g->ep_ring[1][BULK_OUT_DCI], *in = &g->ep_ring[1][BULK_IN_DCI];
	uint8_t cdb[10] = { 0 };

	if (r->next_lba + blocks > r->image_blocks)
		r->next_lba = 0;
	c->lba = r->next_lba;
	c->tag = ++r->tag;
	r->next_lba += blocks;
	memset(cbw, 0, 31);
	cdb[0] = 0x28;	/* READ(10) */
	put_be32(cdb + 2, c->lba);
	put_be16(cdb + 7, (uint16_t)blocks);
	drv_bot_cbw(cbw, c->tag, r->cmd_bytes, true, cdb, sizeof(cdb));
	drv_ring_push(g, out, c->cbw, BOT_CBW_LEN, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	for (uint32_t off = 0; off < r->cmd_bytes; off += TRB_BYTES) {
		bool td_end = (off + TRB_BYTES) % r->td_bytes == 0 || off + TRB_BYTES >= r->cmd_bytes;

		drv_ring_push(g, in, c->data + off, TRB_BYTES,
			      trb_type_bits(TRB_NORMAL) | TRB_ISP | (td_end ? TRB_IOC : TRB_CH));
	}
	c->csw_trb = drv_ring_push(g, in, c->csw, BOT_CSW_LEN, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	r->count++;
}

static void check_done(struct reader *r, const struct cmd *c)
{
	const uint8_t *csw = drv_ptr(r->g, c->csw);
	const uint8_t *data = drv_ptr(r->g, c->data);
	uint64_t lba;

	if (get_le32(csw) != BOT_CSW_SIGNATURE || get_le32(csw + 4) != c->tag || csw[12] != 0 ||
	    get_le32(csw + 8) != 0)
		die("READ(10) at %u: bad CSW (status %u residue %u)", c->lba, csw[12],
		       get_le32(csw + 8));
	memcpy(&lba, data + r->cmd_bytes - BLOCK, sizeof(lba));
	if (lba != c->lba + r->cmd_bytes / BLOCK - 1)
		die("READ(10) at %u: wrong data", c->lba);
}

/* Runs commands until `commands` more have completed, MAX_INFLIGHT at a time. */
static void run_reads(struct reader *r, uint64_t commands)
{
	uint64_t issued = 0, done = 0;
	struct xhci_trb ev;

	while (done < commands) {
		bool kicked = false;

		while (r->count < MAX_INFLIGHT && issued < commands) {
			issue(r);
			issued++;
			kicked = true;
		}
		if (kicked)
			kick(1);
		wait_event(r->g, &ev);
		if (trb_type(&ev) != TRB_EV_TRANSFER)
			continue;
		r->tds++;
		if (trb_cc(&ev) != CC_SUCCESS)
			die("transfer event cc %u", trb_cc(&ev));
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
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

static void bench_memory(struct drv *g, uint64_t image_size)
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
			die("pread: %s", strerror(errno));
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
		die("%s unreadable", path);
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
static void bench_bulk(struct drv *g, int fd, uint64_t image_size, unsigned int passes)
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
static void spin_event(struct drv *g, struct xhci_trb *ev)
{
	double deadline = now() + 5;

	for (unsigned long n = 0; !drv_take_event(g, ev); n++) {
		__builtin_ia32_pause();
		if ((n & 0xffff) == 0 && now() > deadline)
			die("No-Op: no completion within 5 s");
	}
}

static void bench_latency(struct drv *g, bool eventfd, unsigned int n)
{
	double *us = calloc(n, sizeof(*us));
	struct xhci_trb ev;

	if (!us)
		die("out of memory");
	for (unsigned int i = 0; i < n; i++) {
		uint64_t at = drv_ring_push(g, &g->cmd, 0, 0, trb_type_bits(TRB_CMD_NOOP));
		double t0 = now();

		if (eventfd)
			kick(0);
		else
			drv_write_async(g, g->db, 4, 0);
		spin_event(g, &ev);
		us[i] = (now() - t0) * 1e6;
		if (!eventfd && drv_reply(g).status != SVMM_OK)
			die("doorbell BAR write refused");
		if (ev.param != at || trb_cc(&ev) != CC_SUCCESS)
			die("No-Op: unexpected event (cc %u)", trb_cc(&ev));
		/* Each No-Op then raises a real interrupt, as with a guest that acks every one. */
		drv_ack_events(g);
	}
	qsort(us, n, sizeof(*us), cmp_double);
	printf("BENCH xhci noop_latency_us path=%s median=%.1f p99=%.1f n=%u\n",
	       eventfd ? "eventfd" : "bar_write", us[n / 2], us[(size_t)n * 99 / 100], n);
	free(us);
}

/*
 * The Linux init sequence with a large event ring, MSI-X vector 0, no
 * moderation (latency is the point), and waits on the MSI-X eventfd that
 * acknowledge events only when the ring is empty (the figures are the
 * controller's, not the guest's).
 */
static void setup(struct drv *g)
{
	db_fd[0] = drv_doorbell_eventfd(g, 0);
	db_fd[1] = drv_doorbell_value_eventfd(g, 1, BULK_OUT_DCI);
	db_fd[2] = drv_doorbell_value_eventfd(g, 1, BULK_OUT_DCI - 1);
	drv_init_rings(g, 256, 1024);
	drv_enable_msix(g, 1);
	g->irq_wait = true;
	g->lazy_ack = true;
}

static unsigned int attach(struct drv *g, int fd)
{
	struct devproto_reply r = drv_attach(g, fd, 0);

	if (r.status != SVMM_OK)
		die("attach: %s", svmm_status_name(r.status));
	return r.port;
}

/* Port reset, Enable Slot, Address Device, SET_CONFIGURATION, bulk IN (DCI 3) and OUT (DCI 4). */
static void enumerate_storage(struct drv *g, unsigned int port)
{
	unsigned int speed = (drv_portsc(g, port) & PORTSC_SPEED) >> PORTSC_SPEED_SHIFT;
	bool usb3 = speed >= SPEED_SUPER;
	unsigned int slot, cc;

	drv_port_reset(g, port, usb3);
	slot = drv_enable_address(g, port, speed, false, &cc);
	if (cc != CC_SUCCESS || slot != 1)
		die("Address Device: cc %u slot %u", cc, slot);
	cc = drv_control(g, slot, 0x00, 9, 1, 0, 0, 0, 0, NULL);	/* SET_CONFIGURATION 1 */
	if (cc != CC_SUCCESS)
		die("SET_CONFIGURATION: cc %u", cc);
	cc = drv_configure_bulk_rings(g, slot, BULK_OUT_DCI, BULK_IN_DCI, usb3 ? 1024 : 512,
				      BULK_RING_TRBS);
	if (cc != CC_SUCCESS)
		die("Configure Endpoint: cc %u", cc);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/dev/shm";
	uint64_t image_size = (uint64_t)env_ul("SVMM_BENCH_IMAGE_MB", 128) * MiB;
	unsigned int passes = (unsigned int)env_ul("SVMM_BENCH_PASSES", 8);
	unsigned int lat_n = (unsigned int)env_ul("SVMM_BENCH_LAT_N", 10000);
	char path[4096];
	struct drv g;
	int fd;

	if (image_size < 4 * MiB || !passes || lat_n < 100)
		die("image >= 4 MiB, passes >= 1, latency samples >= 100");
	if (!strncmp(dir, "/tmp", 4))
		die("not /tmp: use /dev/shm or /var/tmp");
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = make_image(dir, image_size, path, sizeof(path));
	drv_spawn(&g, 64ull * MiB, NULL, driver_failed);
	setup(&g);
	enumerate_storage(&g, attach(&g, fd));
	bench_memory(&g, image_size);
	bench_bulk(&g, fd, image_size, passes);
	bench_latency(&g, true, lat_n);
	bench_latency(&g, false, lat_n);
	printf("BENCH xhci device_peak_rss_kB=%ld\n", status_kb(g.pid, "VmHWM"));
	for (unsigned int i = 0; i < 3; i++)
		close(db_fd[i]);
	drv_stop(&g);
	close(fd);
	unlink(path);
	return 0;
}
