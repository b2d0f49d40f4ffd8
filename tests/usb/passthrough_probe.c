/* SPDX-License-Identifier: MIT */
/*
 * Drives the libusb passthrough on a real USB mass-storage device, inside
 * the device process's jail, through usb_device.h as the xHCI controller
 * would: the lab's proof that libusb works behind the seccomp filter.
 *
 *   passthrough-probe [--unplug] [--no-filter] [--chunks=N] [--bench=MIB] NODE VID:PID BACKING-FILE
 *
 * Outside the jail it does what the broker and the VMM do: opens NODE
 * (/dev/bus/usb/BBB/DDD), reads the start of BACKING-FILE (the gadget's
 * disk) to compare with, and makes the libusb context (passthrough_host_init)
 * before the filter. Inside: the constructor, GET_DESCRIPTOR, SET_ADDRESS
 * (swallowed), SET_CONFIGURATION, Bulk-Only INQUIRY, TEST UNIT READY and
 * REQUEST SENSE (the unit attention the reset left), READ(10) of 1, 32 and
 * 512 sectors, the last with its data phase as N (16) transfers in flight
 * at once behind which the CSW's waits, each compared with the file;
 * CLEAR_FEATURE(ENDPOINT_HALT); a NAKed transfer that must not wake the
 * loop, cancelled; an idle loop that must sleep; destroy. With --unplug it
 * then leaves a transfer pending and waits for the host to unplug the
 * device: gone() must be called once, the pending transfer end (NO_DEVICE, or
 * a transaction error if the host controller saw it fail first), and a new
 * transfer end with NO_DEVICE.
 * With --bench it then reads MIB MiB as Linux's usb-storage does, one
 * READ(10) at a time of its max_sectors for the device's speed: 240
 * sectors (120 KiB) below SuperSpeed, 2048 (1 MiB) from it on; and
 * prints the rate: what the host itself delivers through libusb, the limit
 * for a guest reading the same device through svmm.
 * Lines starting "PROBE:" say what happened; the exit status is 0 only if
 * everything did. --no-filter leaves the seccomp filter out of the jail, to
 * tell a filter kill from a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/death_report.h"
#include "devices/event_loop.h"
#include "jail/jail.h"
#include "devices/usb/passthrough.h"
#include "policy/seccomp_policies.h"
#include "devices/usb/usb_device.h"

#define SECTOR 512
#define READ_SECTORS 512			/* 256 KiB */
#define READ_CHUNKS 16				/* data phase as 16 transfers in flight at once */
#define WAIT_MS 10000
#define UNPLUG_WAIT_MS 60000

struct probe {
	int fd;
	unsigned int bus, devnum;
	uint16_t vid, pid;
	bool unplug;
	bool no_filter;
	unsigned int chunks;			/* READ(10) data phase in this many transfers */
	unsigned int bench_mib;			/* --bench: MiB to read for the rate, or 0 */
	uint8_t *expect;			/* the first READ_SECTORS sectors of the backing file */
	struct event_loop *loop;
	struct usb_device *dev;
	int gone_calls;
	uint8_t ep_in, ep_out;
};

struct px {
	struct usb_transfer t;
	int done_calls;
	int order;
};

static int done_order;

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("PROBE: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * A failed check ends the jailed process at once: the transfers it still has
 * in flight point into the stack frames it would otherwise return from.
 */
#define CHECK(cond, ...)                          \
	do {                                      \
		if (!(cond)) {                    \
			say("FAIL " __VA_ARGS__); \
			_exit(1);                 \
		}                                 \
	} while (0)

static void px_done(struct usb_transfer *t)
{
	struct px *x = t->opaque;

	x->done_calls++;
	x->order = ++done_order;
}

static void px_init(struct px *x, enum usb_transfer_type type, uint8_t ep, void *buf, size_t len)
{
	memset(x, 0, sizeof(*x));
	x->t.type = type;
	x->t.endpoint = ep;
	x->t.buffer = buf;
	x->t.length = len;
	x->t.done = px_done;
	x->t.opaque = x;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs the loop until every x[i] is done, for at most ms; false on a
 * timeout, with what was done and how often the loop woke (a loop that
 * spins on a descriptor nobody drains wakes without end).
 */
static bool wait_all(struct probe *p, struct px *const *x, size_t n, int ms)
{
	long long end = now_ms() + ms;
	unsigned long wakeups = 0;
	size_t done = 0;

	while (now_ms() < end) {
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += x[i]->done_calls > 0;
		if (done == n)
			return true;
		event_loop_run_once(p->loop, 20);
		wakeups++;
	}
	say("timeout: %zu of %zu transfers done after %d ms, %lu loop wakeups", done, n, ms, wakeups);
	return false;
}

static int submit(struct probe *p, struct px *x)
{
	int err = p->dev->ops->submit(p->dev, &x->t);

	CHECK(err == 0, "submit on endpoint %#x: %d", x->t.endpoint, err);
	CHECK(x->done_calls == 0, "done() inside submit()");
	return 0;
}

static int control(struct probe *p, uint8_t type, uint8_t request, uint16_t value, uint16_t index,
		   void *buf, uint16_t len, struct px *x)
{
	struct px *one[] = { x };

	px_init(x, USB_TRANSFER_CONTROL, 0, buf, len);
	x->t.setup = (struct usb_setup){ type, request, value, index, len };
	if (submit(p, x) < 0)
		return -1;
	CHECK(wait_all(p, one, 1, WAIT_MS), "control %#x/%#x never completed", type, request);
	CHECK(x->done_calls == 1, "control %#x/%#x: %d done() calls", type, request, x->done_calls);
	return 0;
}

static uint16_t le16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t le32(const uint8_t *b)
{
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Finds the Bulk-Only interface's endpoints; returns the configuration value. */
static int parse_config(struct probe *p, const uint8_t *d, size_t len)
{
	bool in_bot = false;

	for (size_t off = 0; off + 2 <= len && d[off] >= 2; off += d[off]) {
		const uint8_t *x = d + off;

		if (off + x[0] > len)
			break;
		if (x[1] == 4 && x[0] >= 9)
			in_bot = x[5] == 0x08 && x[6] == 0x06 && x[7] == 0x50;
		if (x[1] == 5 && x[0] >= 7 && in_bot && (x[3] & 3) == 2) {
			if (x[2] & USB_DIR_IN)
				p->ep_in = x[2];
			else
				p->ep_out = x[2];
		}
	}
	CHECK(p->ep_in && p->ep_out, "no Bulk-Only interface with two bulk endpoints");
	return d[5];
}

static int enumerate(struct probe *p)
{
	uint8_t dd[18], cfg[512];
	struct px x;
	int value;

	if (control(p, 0x80, 6, 0x0100, 0, dd, sizeof(dd), &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK && x.t.actual == 18, "GET_DESCRIPTOR(device): status %d actual %zu",
	      x.t.status, x.t.actual);
	CHECK(dd[1] == 1 && le16(dd + 8) == p->vid && le16(dd + 10) == p->pid,
	      "device descriptor says %04x:%04x", le16(dd + 8), le16(dd + 10));
	say("GET_DESCRIPTOR device: %04x:%04x bcdUSB %04x bMaxPacketSize0 %u", le16(dd + 8),
	    le16(dd + 10), le16(dd + 2), dd[7]);

	if (control(p, 0x00, 5, 3, 0, NULL, 0, &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK, "SET_ADDRESS: status %d", x.t.status);
	say("SET_ADDRESS 3: swallowed, status ok");

	if (control(p, 0x80, 6, 0x0200, 0, cfg, 9, &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK && x.t.actual == 9, "GET_DESCRIPTOR(config, 9)");
	CHECK(le16(cfg + 2) <= sizeof(cfg), "configuration of %u bytes", le16(cfg + 2));
	if (control(p, 0x80, 6, 0x0200, 0, cfg, le16(cfg + 2), &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK && x.t.actual == le16(cfg + 2), "GET_DESCRIPTOR(config)");
	value = parse_config(p, cfg, x.t.actual);
	if (value < 0)
		return -1;
	say("GET_DESCRIPTOR configuration %d: %zu bytes, bulk IN %#x OUT %#x", value, x.t.actual,
	    p->ep_in, p->ep_out);

	if (control(p, 0x00, 9, (uint16_t)value, 0, NULL, 0, &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK, "SET_CONFIGURATION %d: status %d", value, x.t.status);
	say("SET_CONFIGURATION %d: ok", value);
	return 0;
}

static void cbw(uint8_t *b, uint32_t tag, uint32_t len, bool in, const uint8_t *cdb, uint8_t cdb_len)
{
	memset(b, 0, 31);
	memcpy(b, "USBC", 4);
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(tag >> (8 * i));
		b[8 + i] = (uint8_t)(len >> (8 * i));
	}
	b[12] = in ? 0x80 : 0;
	b[14] = cdb_len;
	memcpy(b + 15, cdb, cdb_len);
}

/*
 * One Bulk-Only command with an IN data phase: the CBW, then the data phase
 * as nchunks transfers and the CSW's, all on the IN endpoint at once.
 */
static int bot_in(struct probe *p, uint32_t tag, const uint8_t *cdb, uint8_t cdb_len, uint8_t *data,
		  size_t len, unsigned int nchunks)
{
	struct px out, in[READ_CHUNKS], status, *all[READ_CHUNKS + 1];
	uint8_t cmd[31], csw[13];
	size_t chunk = len / nchunks;

	cbw(cmd, tag, (uint32_t)len, true, cdb, cdb_len);
	px_init(&out, USB_TRANSFER_BULK, p->ep_out, cmd, sizeof(cmd));
	if (submit(p, &out) < 0)
		return -1;
	for (unsigned int i = 0; i < nchunks; i++) {
		px_init(&in[i], USB_TRANSFER_BULK, p->ep_in, data + i * chunk, chunk);
		if (submit(p, &in[i]) < 0)
			return -1;
		all[i] = &in[i];
	}
	px_init(&status, USB_TRANSFER_BULK, p->ep_in, csw, sizeof(csw));
	if (submit(p, &status) < 0)
		return -1;
	all[nchunks] = &status;
	CHECK(wait_all(p, (struct px *[]){ &out }, 1, WAIT_MS) && out.t.status == USB_TRANSFER_OK,
	      "CBW %u: status %d", tag, out.t.status);
	if (!wait_all(p, all, nchunks + 1, WAIT_MS) || in[0].t.actual != chunk) {
		for (unsigned int i = 0; i <= nchunks; i++)
			say("  transfer %u: %d calls, status %d, %zu of %zu bytes%s", i, all[i]->done_calls,
			    all[i]->t.status, all[i]->t.actual, all[i]->t.length,
			    all[i]->t.actual == 13 && !memcmp(all[i]->t.buffer, "USBS", 4) ? " (a CSW)" : "");
		say("  CSW bytes: status %u residue %u", csw[12], le32(csw + 8));
		if (csw[12] == 1 && tag != 99) {
			static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
			uint8_t sense[18];

			bot_in(p, 99, rs, sizeof(rs), sense, sizeof(sense), 1);
			say("  sense: key %#x asc %#x ascq %#x", sense[2] & 0xf, sense[12], sense[13]);
		}
		CHECK(false, "command %u never completed", tag);
	}
	for (unsigned int i = 0; i < nchunks; i++) {
		CHECK(in[i].done_calls == 1 && in[i].t.status == USB_TRANSFER_OK && in[i].t.actual == chunk,
		      "data %u of command %u: %d calls, status %d, %zu bytes", i, tag, in[i].done_calls,
		      in[i].t.status, in[i].t.actual);
		CHECK(i == 0 || in[i].order > in[i - 1].order, "data %u completed before data %u", i, i - 1);
	}
	CHECK(status.order > in[nchunks - 1].order, "the CSW completed before the data");
	CHECK(status.t.status == USB_TRANSFER_OK && status.t.actual == 13, "CSW: status %d, %zu bytes",
	      status.t.status, status.t.actual);
	CHECK(!memcmp(csw, "USBS", 4) && le32(csw + 4) == tag && le32(csw + 8) == 0 && csw[12] == 0,
	      "CSW of command %u: tag %u residue %u status %u", tag, le32(csw + 4), le32(csw + 8), csw[12]);
	return 0;
}

/* TEST UNIT READY (no data phase); returns the CSW status. */
static int test_unit_ready(struct probe *p, uint32_t tag)
{
	static const uint8_t tur[6] = { 0 };
	uint8_t cmd[31], csw[13];
	struct px out, status;

	cbw(cmd, tag, 0, false, tur, sizeof(tur));
	px_init(&out, USB_TRANSFER_BULK, p->ep_out, cmd, sizeof(cmd));
	px_init(&status, USB_TRANSFER_BULK, p->ep_in, csw, sizeof(csw));
	if (submit(p, &out) < 0 || submit(p, &status) < 0)
		return -1;
	CHECK(wait_all(p, (struct px *[]){ &out, &status }, 2, WAIT_MS), "TEST UNIT READY never completed");
	CHECK(out.t.status == USB_TRANSFER_OK && status.t.status == USB_TRANSFER_OK &&
	      status.t.actual == 13 && !memcmp(csw, "USBS", 4) && le32(csw + 4) == tag,
	      "TEST UNIT READY: CBW status %d, CSW status %d", out.t.status, status.t.status);
	return csw[12];
}

static int storage(struct probe *p)
{
	static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
	uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 0, 0, READ_SECTORS >> 8, READ_SECTORS & 0xff, 0 };
	static const uint8_t request_sense[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t id[36], sense[18];
	uint8_t *data = malloc(READ_SECTORS * SECTOR);

	CHECK(data, "no memory");
	if (bot_in(p, 1, inquiry, sizeof(inquiry), id, sizeof(id), 1) < 0) {
		free(data);
		return -1;
	}
	say("INQUIRY: type %u, '%.8s' '%.16s' '%.4s'", id[0] & 0x1f, (char *)id + 8, (char *)id + 16,
	    (char *)id + 32);
	/*
	 * SET_CONFIGURATION reset the gadget: its first command other than
	 * INQUIRY fails with UNIT ATTENTION, which REQUEST SENSE then reports.
	 */
	say("TEST UNIT READY: CSW status %d", test_unit_ready(p, 10));
	if (bot_in(p, 2, request_sense, sizeof(request_sense), sense, sizeof(sense), 1) < 0) {
		free(data);
		return -1;
	}
	say("REQUEST SENSE: key %#x asc %#x ascq %#x", sense[2] & 0xf, sense[12], sense[13]);
	memset(data, 0xa5, READ_SECTORS * SECTOR);
	read10[7] = 0;
	read10[8] = 1;
	if (bot_in(p, 3, read10, sizeof(read10), data, SECTOR, 1) < 0)
		return -1;
	say("READ(10) of 1 sector: %s", memcmp(data, p->expect, SECTOR) ? "DIFFERS" : "equal");
	read10[8] = 32;
	if (bot_in(p, 4, read10, sizeof(read10), data, 32 * SECTOR, 1) < 0)
		return -1;
	say("READ(10) of 32 sectors: %s", memcmp(data, p->expect, 32 * SECTOR) ? "DIFFERS" : "equal");
	read10[7] = READ_SECTORS >> 8;
	read10[8] = READ_SECTORS & 0xff;
	CHECK(p->chunks >= 1 && p->chunks <= READ_CHUNKS && (READ_SECTORS * SECTOR) % p->chunks == 0,
	      "--chunks=%u", p->chunks);
	if (bot_in(p, 5, read10, sizeof(read10), data, READ_SECTORS * SECTOR, p->chunks) < 0) {
		free(data);
		return -1;
	}
	if (memcmp(data, p->expect, READ_SECTORS * SECTOR)) {
		free(data);
		say("FAIL READ(10): the data differs from the backing file");
		return -1;
	}
	free(data);
	say("READ(10) of %d sectors in %u transfers in flight: in order, equal to the backing file",
	    READ_SECTORS, p->chunks);
	return 0;
}

/*
 * Linux's usb-storage reads one command at a time, each of at most its
 * max_sectors: 240 (its host template), or 2048 for a SuperSpeed device
 * (scsiglue.c).
 */
static uint32_t bench_sectors(const struct probe *p)
{
	return p->dev->speed >= DEVPROTO_SPEED_SUPER ? 2048 : 240;
}

static int bench_read(struct probe *p)
{
	const uint32_t sectors = bench_sectors(p);
	uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint64_t total = (uint64_t)p->bench_mib << 20, done = 0;
	uint8_t *data = malloc((size_t)sectors * SECTOR);
	uint32_t tag = 1000, lba = 0;
	long long t0, ms;

	CHECK(data, "no memory");
	t0 = now_ms();
	while (done < total) {
		uint32_t n = total - done < (uint64_t)sectors * SECTOR ? (uint32_t)((total - done) / SECTOR) :
									 sectors;

		read10[2] = (uint8_t)(lba >> 24);
		read10[3] = (uint8_t)(lba >> 16);
		read10[4] = (uint8_t)(lba >> 8);
		read10[5] = (uint8_t)lba;
		read10[7] = (uint8_t)(n >> 8);
		read10[8] = (uint8_t)n;
		if (n == 0 || bot_in(p, tag++, read10, sizeof(read10), data, (size_t)n * SECTOR, 1) < 0) {
			free(data);
			return -1;
		}
		/* expect holds the first READ_SECTORS sectors. */
		if (lba == 0 && memcmp(data, p->expect, (size_t)(n < READ_SECTORS ? n : READ_SECTORS) * SECTOR)) {
			free(data);
			say("FAIL bench: the first sectors differ from the backing file");
			return -1;
		}
		lba += n;
		done += (uint64_t)n * SECTOR;
	}
	ms = now_ms() - t0;
	free(data);
	say("bench: read %u MiB in %lld ms, %.1f MiB/s (READ(10) of %u sectors, one at a time)",
	    p->bench_mib, ms, ms > 0 ? p->bench_mib * 1000.0 / (double)ms : 0.0, sectors);
	return 0;
}

/* fd events the loop handles in ms without anything to do. */
static int idle_events(struct probe *p, int ms)
{
	long long end = now_ms() + ms;
	int events = 0;

	while (now_ms() < end) {
		int n = event_loop_run_once(p->loop, (int)(end - now_ms()));

		if (n > 0)
			events += n;
	}
	return events;
}

static int clear_halt_and_cancel(struct probe *p)
{
	uint8_t buf[512];
	struct px x, pending;

	if (control(p, 0x02, 1, 0, p->ep_in, NULL, 0, &x) < 0)
		return -1;
	CHECK(x.t.status == USB_TRANSFER_OK, "CLEAR_FEATURE(ENDPOINT_HALT): status %d", x.t.status);
	say("CLEAR_FEATURE(ENDPOINT_HALT) %#x: ok", p->ep_in);

	/* No command: the device NAKs this until it is cancelled. */
	px_init(&pending, USB_TRANSFER_BULK, p->ep_in, buf, sizeof(buf));
	if (submit(p, &pending) < 0)
		return -1;
	/* A transfer the device NAKs: the process must sleep, not spin on libusb's fds. */
	CHECK(idle_events(p, 1000) == 0, "the loop kept waking while a transfer was pending");
	CHECK(pending.done_calls == 0, "an IN transfer without a command completed (status %d)",
	      pending.t.status);
	p->dev->ops->cancel(p->dev, &pending.t);
	CHECK(pending.done_calls == 0, "done() inside cancel()");
	CHECK(wait_all(p, (struct px *[]){ &pending }, 1, WAIT_MS), "the cancelled transfer never came back");
	CHECK(pending.done_calls == 1 && pending.t.status == USB_TRANSFER_CANCELLED,
	      "cancelled transfer: %d calls, status %d", pending.done_calls, pending.t.status);
	say("cancel: the pending transfer came back CANCELLED");
	CHECK(idle_events(p, 1000) == 0, "the loop kept waking with nothing in flight");
	say("idle: no wakeups in 1 s with a transfer pending, none with nothing in flight");
	return 0;
}

static void on_gone(struct usb_device *dev, void *opaque)
{
	struct probe *p = opaque;

	(void)dev;
	p->gone_calls++;
}

static int wait_unplug(struct probe *p)
{
	uint8_t buf[512];
	struct px pending, after;

	px_init(&pending, USB_TRANSFER_BULK, p->ep_in, buf, sizeof(buf));
	if (submit(p, &pending) < 0)
		return -1;
	say("waiting for unplug");
	for (long long end = now_ms() + UNPLUG_WAIT_MS;
	     now_ms() < end && (!p->gone_calls || !pending.done_calls);)
		event_loop_run_once(p->loop, 100);
	CHECK(p->gone_calls, "gone() never called after the unplug");
	/*
	 * The transfer in flight may fail as a transaction error before the
	 * hub reports the disconnect (dummy_hcd gives it back with -EPROTO).
	 */
	CHECK(pending.done_calls == 1 && (pending.t.status == USB_TRANSFER_NO_DEVICE ||
					  pending.t.status == USB_TRANSFER_ERROR),
	      "pending transfer: %d calls, status %d", pending.done_calls, pending.t.status);
	/* Once gone, every transfer ends NO_DEVICE. */
	px_init(&after, USB_TRANSFER_BULK, p->ep_in, buf, sizeof(buf));
	if (submit(p, &after) < 0)
		return -1;
	CHECK(wait_all(p, (struct px *[]){ &after }, 1, WAIT_MS) && after.t.status == USB_TRANSFER_NO_DEVICE,
	      "a transfer after the unplug: status %d", after.t.status);
	/* Give a second gone() the chance to show. */
	for (int i = 0; i < 10; i++)
		event_loop_run_once(p->loop, 50);
	CHECK(p->gone_calls == 1, "gone() called %d times", p->gone_calls);
	say("unplug: gone() called once, the pending transfer ended with status %d, a new one NO_DEVICE",
	    pending.t.status);
	return 0;
}

static int jailed_main(void *arg)
{
	struct probe *p = arg;
	struct devproto_attach a = {
		.kind = DEVPROTO_ATTACH_USBFS, .busnum = p->bus, .devnum = p->devnum,
	};
	int r = -1;

	p->loop = event_loop_new();
	if (!p->loop)
		return 1;
	p->dev = passthrough_new(p->loop, p->fd, &a, DEVPROTO_SPEED_SUPER);
	if (!p->dev) {
		say("FAIL passthrough_new: %s", strerror(errno));
		return 1;
	}
	p->dev->gone = on_gone;
	p->dev->gone_opaque = p;
	say("attached in the jail: %04x:%04x speed %d bus %u dev %u", p->dev->vendor, p->dev->product,
	    p->dev->speed, p->dev->busnum, p->dev->devnum);
	if (p->dev->vendor == p->vid && p->dev->product == p->pid && enumerate(p) == 0 &&
	    storage(p) == 0 && (p->bench_mib == 0 || bench_read(p) == 0) &&
	    clear_halt_and_cancel(p) == 0 && (!p->unplug || wait_unplug(p) == 0))
		r = 0;
	else if (p->dev->vendor != p->vid || p->dev->product != p->pid)
		say("FAIL the constructor read %04x:%04x", p->dev->vendor, p->dev->product);
	p->dev->ops->destroy(p->dev);
	/* The fd went with the device. */
	if (fcntl(p->fd, F_GETFD) >= 0) {
		say("FAIL destroy left the usbfs fd open");
		r = -1;
	}
	event_loop_free(p->loop);
	say(r == 0 ? "ok" : "failed");
	return r == 0 ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: passthrough-probe [--unplug] [--no-filter] [--chunks=N] [--bench=MIB] "
		"/dev/bus/usb/BBB/DDD VID:PID BACKING-FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct probe p = { .fd = -1, .chunks = READ_CHUNKS };
	struct seccomp_policy policy;
	int keep[3 + PASSTHROUGH_HOST_MAX_FDS] = { STDOUT_FILENO, STDERR_FILENO };
	char err[256], why[256];
	unsigned int vid, pid;
	int argi = 1, file, status, kmsg;
	size_t nfds;
	void *filter;
	pid_t child;

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--unplug"))
			p.unplug = true;
		else if (!strcmp(argv[argi], "--no-filter"))
			p.no_filter = true;
		else if (!strncmp(argv[argi], "--chunks=", 9))
			p.chunks = (unsigned int)atoi(argv[argi] + 9);
		else if (!strncmp(argv[argi], "--bench=", 8)) {
			if (sscanf(argv[argi] + 8, "%u", &p.bench_mib) != 1 || p.bench_mib > 4096)
				return usage();
		} else {
			return usage();
		}
	}
	if (argc - argi != 3 || sscanf(argv[argi], "/dev/bus/usb/%u/%u", &p.bus, &p.devnum) != 2 ||
	    sscanf(argv[argi + 1], "%x:%x", &vid, &pid) != 2)
		return usage();
	p.vid = (uint16_t)vid;
	p.pid = (uint16_t)pid;

	/* What the broker and the VMM do for the device process. */
	p.fd = open(argv[argi], O_RDWR | O_CLOEXEC);
	if (p.fd < 0) {
		fprintf(stderr, "passthrough-probe: %s: %s\n", argv[argi], strerror(errno));
		return 1;
	}
	p.expect = malloc(READ_SECTORS * SECTOR);
	file = open(argv[argi + 2], O_RDONLY | O_CLOEXEC);
	if (!p.expect || file < 0 || pread(file, p.expect, READ_SECTORS * SECTOR, 0) != READ_SECTORS * SECTOR) {
		fprintf(stderr, "passthrough-probe: cannot read %s\n", argv[argi + 2]);
		return 1;
	}
	close(file);
	if (passthrough_host_init() < 0)
		return 1;
	nfds = passthrough_host_fds(keep + 3, PASSTHROUGH_HOST_MAX_FDS);
	keep[2] = p.fd;
	if (seccomp_policies_xhci_device(&policy, err, sizeof(err)) < 0 ||
	    !(filter = seccomp_policy_compile(&policy, err, sizeof(err)))) {
		fprintf(stderr, "passthrough-probe: %s\n", err);
		return 1;
	}
	struct jail_config cfg = {
		.hostname = "svmm-xhci",
		.keep_fds = keep,
		.n_keep_fds = 3 + nfds,
		.seccomp = p.no_filter ? NULL : filter,
		.max_file_bytes = 0,
		.max_fds = 64,
	};
	say("policy: %u syscalls; libusb context made before the filter, %zu fds kept",
	    seccomp_policy_count_syscalls(&policy), nfds);
	kmsg = jail_kmsg_open();
	child = jail_spawn(&cfg, jailed_main, &p);
	seccomp_policy_release(filter);
	if (child < 0) {
		fprintf(stderr, "passthrough-probe: jail_spawn: %s\n", strerror((int)-child));
		return 1;
	}
	close(p.fd);
	if (waitpid(child, &status, 0) != child)
		return 1;
	jail_describe_exit(child, status, kmsg, why, sizeof(why));
	say("jailed device process %s", why);
	free(p.expect);
	passthrough_host_exit();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
