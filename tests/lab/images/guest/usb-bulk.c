/* SPDX-License-Identifier: MIT */
/*
 * usb-bulk: the lab guest's sustained bulk transfer against gadget zero's
 * source/sink function, through usbfs alone (the guest image has no libusb).
 * tests/lab/host/images.sh builds it static into the guest image as
 * /lab/usb-bulk; the init's "bulk" action runs it.
 *
 *   usb-bulk NODE MIB [URBS [URB_KIB]]
 *
 * NODE is the device's usbfs node (/dev/bus/usb/BBB/DDD). From the
 * descriptors read() returns there it takes interface 0, alternate setting
 * 0, and its bulk IN and bulk OUT endpoints. It detaches whatever kernel
 * driver holds the interface (usbtest, if a guest image ever loads it),
 * claims it, selects alternate setting 0 (which makes the gadget restart
 * both streams), then reads MIB MiB from the IN endpoint and writes MIB MiB
 * to the OUT one, each with URBS asynchronous URBs of URB_KIB KiB in flight
 * (default 8 of 64 KiB).
 *
 * The data is gadget zero's pattern 1, "mod63": byte i of every packet is
 * i % 63 (i counted from the packet's start; a packet is wMaxPacketSize
 * bytes, the last of a transfer maybe fewer). Every byte read is checked
 * against it; what is written follows it, and the gadget checks that (a bad
 * byte makes it halt its OUT endpoint, which fails the next URB here with
 * EPIPE, and logs "bad OUT byte" in the lab host's kernel log).
 *
 * Lines on stdout (the guest's console):
 *   LAB: bulk-device NODE in=0xEP out=0xEP mps=N
 *   LAB: bulk-in bytes=N ms=T MiBps=X urbs=KxBYTES pattern=mod63 bad=N first_bad=OFFSET|-
 *   LAB: bulk-out bytes=N ms=T MiBps=X urbs=KxBYTES pattern=mod63
 *   LAB: error bulk: TEXT
 * Exit status 0 only if both directions moved every byte and none read was
 * off the pattern.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/usbdevice_fs.h>

#define MAX_URBS 64

static const char *node;

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("LAB: error bulk: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct endpoints {
	unsigned in, out, mps;
};

/* The bulk endpoints of interface 0, alternate setting 0, of the first
 * configuration (gadget zero has one). */
static struct endpoints find_endpoints(int fd)
{
	unsigned char d[8192];
	struct endpoints ep = {0, 0, 0};
	ssize_t n = read(fd, d, sizeof(d));
	size_t end, off;
	int in_if0 = 0;

	if (n < 18 + 9 || d[1] != 1 || d[18 + 1] != 2)
		fail("%s: no device and configuration descriptors (read %zd bytes)", node, n);
	end = 18 + (d[18 + 2] | d[18 + 3] << 8);
	if (end > (size_t)n)
		end = (size_t)n;
	for (off = 18; off + 2 <= end && d[off] >= 2; off += d[off]) {
		const unsigned char *p = d + off;

		if (off + p[0] > end)
			break;
		if (p[1] == 4 && p[0] >= 9)
			in_if0 = p[2] == 0 && p[3] == 0;
		if (p[1] == 5 && p[0] >= 7 && in_if0 && (p[3] & 3) == 2) {
			unsigned mps = (p[4] | p[5] << 8) & 0x7ff;

			if (p[2] & 0x80)
				ep.in = p[2];
			else
				ep.out = p[2];
			if (!ep.mps || mps < ep.mps)
				ep.mps = mps;
		}
	}
	if (!ep.in || !ep.out || !ep.mps)
		fail("%s: interface 0 has no bulk IN and OUT endpoints", node);
	return ep;
}

/* Byte i of a URB's buffer in the mod63 pattern (the URB begins with a packet). */
static unsigned char pattern_byte(size_t i, unsigned mps)
{
	return (unsigned char)((i % mps) % 63);
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned mps)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(i, mps);
}

/* Counts the bytes of buf that are off the pattern; the URB began with a
 * packet, and only the last packet of a transfer may be short. */
static uint64_t check_pattern(const unsigned char *buf, size_t len, unsigned mps, uint64_t at,
			      uint64_t *first_bad)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == pattern_byte(i, mps))
			continue;
		if (*first_bad == UINT64_MAX)
			*first_bad = at + i;
		bad++;
	}
	return bad;
}

struct result {
	uint64_t bytes, ns, bad, first_bad;
};

/* The next URB's length: a whole urb_len, or what is left of total. */
static size_t next_len(uint64_t total, uint64_t submitted, size_t urb_len)
{
	return total - submitted < urb_len ? (size_t)(total - submitted) : urb_len;
}

/* Moves total bytes through endpoint ep with nurbs URBs of urb_len bytes in
 * flight. URBs of one endpoint complete in the order they were submitted. */
static struct result stream(int fd, unsigned ep, unsigned mps, uint64_t total, int nurbs,
			    size_t urb_len)
{
	struct usbdevfs_urb urbs[MAX_URBS];
	unsigned char *bufs[MAX_URBS];
	struct result r = {0, 0, 0, UINT64_MAX};
	int in = ep & 0x80, inflight = 0, next_reap = 0;
	const char *what = in ? "bulk IN" : "bulk OUT";
	uint64_t submitted = 0, t0;

	for (int i = 0; i < nurbs; i++) {
		bufs[i] = malloc(urb_len);
		if (!bufs[i])
			fail("no memory");
		fill_pattern(bufs[i], urb_len, mps);
	}
	t0 = now_ns();
	for (int i = 0; i < nurbs && submitted < total; i++) {
		size_t len = next_len(total, submitted, urb_len);

		memset(&urbs[i], 0, sizeof(urbs[i]));
		urbs[i].type = USBDEVFS_URB_TYPE_BULK;
		urbs[i].endpoint = ep;
		urbs[i].buffer = bufs[i];
		urbs[i].buffer_length = (int)len;
		urbs[i].usercontext = (void *)(intptr_t)i;
		if (ioctl(fd, USBDEVFS_SUBMITURB, &urbs[i]) < 0)
			fail("submitting a %s URB: %s", what, strerror(errno));
		submitted += len;
		inflight++;
	}
	while (inflight) {
		struct usbdevfs_urb *u;
		int i;

		if (ioctl(fd, USBDEVFS_REAPURB, &u) < 0) {
			if (errno == EINTR)
				continue;
			fail("reaping a %s URB after %" PRIu64 " bytes: %s", what, r.bytes, strerror(errno));
		}
		inflight--;
		i = (int)(intptr_t)u->usercontext;
		if (i != next_reap)
			fail("%s URB %d completed before URB %d", what, i, next_reap);
		next_reap = (next_reap + 1) % nurbs;
		if (u->status)
			fail("%s URB after %" PRIu64 " bytes: status %d (%s)", what, r.bytes, u->status,
			     strerror(-u->status));
		if (u->actual_length != u->buffer_length)
			fail("%s URB after %" PRIu64 " bytes: %d of %d bytes", what, r.bytes,
			     u->actual_length, u->buffer_length);
		if (in)
			r.bad += check_pattern(u->buffer, (size_t)u->actual_length, mps, r.bytes, &r.first_bad);
		r.bytes += (uint64_t)u->actual_length;
		if (submitted < total) {
			size_t len = next_len(total, submitted, urb_len);

			u->buffer_length = (int)len;
			u->actual_length = 0;
			u->status = 0;
			if (ioctl(fd, USBDEVFS_SUBMITURB, u) < 0)
				fail("resubmitting a %s URB: %s", what, strerror(errno));
			submitted += len;
			inflight++;
		}
	}
	r.ns = now_ns() - t0;
	for (int i = 0; i < nurbs; i++)
		free(bufs[i]);
	return r;
}

static unsigned long parse(const char *s, const char *what, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !v || v > max)
		fail("%s '%s' is not a number from 1 to %lu", what, s, max);
	return v;
}

int main(int argc, char **argv)
{
	struct usbdevfs_ioctl disconnect = {.ifno = 0, .ioctl_code = USBDEVFS_DISCONNECT};
	struct usbdevfs_setinterface alt0 = {.interface = 0, .altsetting = 0};
	unsigned iface = 0;
	struct endpoints ep;
	struct result in, out;
	uint64_t total;
	size_t urb_len;
	int fd, nurbs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || argc > 5)
		fail("usage: usb-bulk NODE MIB [URBS [URB_KIB]]");
	node = argv[1];
	total = (uint64_t)parse(argv[2], "MIB", 4096) << 20;
	nurbs = argc > 3 ? (int)parse(argv[3], "URBS", MAX_URBS) : 8;
	urb_len = (argc > 4 ? parse(argv[4], "URB_KIB", 1024) : 64) << 10;

	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail("%s: %s", node, strerror(errno));
	ep = find_endpoints(fd);
	if (urb_len % ep.mps)
		fail("URBs of %zu bytes are not whole packets of %u", urb_len, ep.mps);
	printf("LAB: bulk-device %s in=0x%02x out=0x%02x mps=%u\n", node, ep.in, ep.out, ep.mps);
	if (ioctl(fd, USBDEVFS_IOCTL, &disconnect) < 0 && errno != ENODATA)
		fail("detaching the kernel driver of interface 0: %s", strerror(errno));
	if (ioctl(fd, USBDEVFS_CLAIMINTERFACE, &iface) < 0)
		fail("claiming interface 0: %s", strerror(errno));
	if (ioctl(fd, USBDEVFS_SETINTERFACE, &alt0) < 0)
		fail("SET_INTERFACE 0/0: %s", strerror(errno));

	in = stream(fd, ep.in, ep.mps, total, nurbs, urb_len);
	printf("LAB: bulk-in bytes=%" PRIu64 " ms=%" PRIu64 " MiBps=%.2f urbs=%dx%zu pattern=mod63 bad=%" PRIu64,
	       in.bytes, in.ns / 1000000, (double)in.bytes / 1048576.0 / ((double)in.ns / 1e9), nurbs, urb_len,
	       in.bad);
	if (in.first_bad == UINT64_MAX)
		printf(" first_bad=-\n");
	else
		printf(" first_bad=%" PRIu64 "\n", in.first_bad);

	out = stream(fd, ep.out, ep.mps, total, nurbs, urb_len);
	printf("LAB: bulk-out bytes=%" PRIu64 " ms=%" PRIu64 " MiBps=%.2f urbs=%dx%zu pattern=mod63\n",
	       out.bytes, out.ns / 1000000, (double)out.bytes / 1048576.0 / ((double)out.ns / 1e9), nurbs,
	       urb_len);

	ioctl(fd, USBDEVFS_RELEASEINTERFACE, &iface);
	close(fd);
	return in.bad ? 1 : 0;
}
