/* SPDX-License-Identifier: MIT */
#include "tests/unit/usb/usb_harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"
#include "devices/event_loop.h"
#include "devices/usb/mass_storage.h"
#include "devices/usb/usb_standard.h"

int h_make_image(size_t size, unsigned int seed)
{
	int fd = memfd_create("usb-test-image", MFD_CLOEXEC);
	uint8_t *buf;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	buf = malloc(size ? size : 1);
	cr_assert_not_null(buf);
	/* xorshift: every block differs, so a misplaced read shows. */
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}

int h_reopen_ro(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ro, 0);
	return ro;
}

void h_setup(struct harness *h, size_t size, bool read_only, enum devproto_usb_speed speed,
	     bool configure)
{
	int fd;

	memset(h, 0, sizeof(*h));
	h->loop = event_loop_new();
	cr_assert_not_null(h->loop);
	h->image = h_make_image(size, (unsigned int)size);
	h->image_size = size;
	fd = read_only ? h_reopen_ro(h->image) : dup(h->image);
	cr_assert_geq(fd, 0);
	h->dev = mass_storage_new(h->loop, fd, read_only, speed);
	cr_assert_not_null(h->dev);
	cr_assert_eq(h->dev->speed, speed);
	cr_assert_eq(h->dev->kind, DEVPROTO_ATTACH_IMAGE);
	h->tag = 0x1000;
	if (configure)
		cr_assert_eq(h_control(h, 0x00, USB_REQ_SET_CONFIGURATION, 1, 0, 0, NULL, NULL),
			     USB_TRANSFER_OK);
}

void h_teardown(struct harness *h)
{
	if (h->dev)
		h->dev->ops->destroy(h->dev);
	h->dev = NULL;
	h_run(h);
	close(h->image);
	event_loop_free(h->loop);
}

void h_run(struct harness *h)
{
	for (int i = 0; i < 64; i++)
		event_loop_run_once(h->loop, 0);
}

static void on_done(struct usb_transfer *t)
{
	struct xfer *x = t->opaque;

	x->done_calls++;
}

void h_prepare(struct xfer *x, enum usb_transfer_type type, uint8_t ep, void *buf, size_t len)
{
	memset(x, 0, sizeof(*x));
	x->t.type = type;
	x->t.endpoint = ep;
	x->t.buffer = buf;
	x->t.length = len;
	x->t.done = on_done;
	x->t.opaque = x;
	x->t.status = (enum usb_transfer_status)-1;
}

int h_submit(struct harness *h, struct xfer *x, enum usb_transfer_type type, uint8_t ep,
	     void *buf, size_t len)
{
	h_prepare(x, type, ep, buf, len);
	return h->dev->ops->submit(h->dev, &x->t);
}

void h_wait(struct harness *h, struct xfer *x)
{
	for (int i = 0; i < 10000 && !x->done_calls; i++)
		event_loop_run_once(h->loop, 0);
	cr_assert_eq(x->done_calls, 1, "transfer on ep %#x: %d done() calls", x->t.endpoint,
		     x->done_calls);
}

enum usb_transfer_status h_control(struct harness *h, uint8_t type, uint8_t request,
				   uint16_t value, uint16_t index, uint16_t length, void *buf,
				   size_t *actual)
{
	uint8_t dummy[8];
	struct xfer x;

	h_prepare(&x, USB_TRANSFER_CONTROL, 0, buf ? buf : dummy, buf ? length : 0);
	x.t.setup = (struct usb_setup){ type, request, value, index, length };
	cr_assert_eq(h->dev->ops->submit(h->dev, &x.t), 0);
	cr_assert_eq(x.done_calls, 0, "done() from inside submit()");
	h_wait(h, &x);
	if (actual)
		*actual = x.t.actual;
	return x.t.status;
}

void h_clear_halt(struct harness *h, uint8_t ep)
{
	cr_assert_eq(h_control(h, 0x02, USB_REQ_CLEAR_FEATURE, 0, ep, 0, NULL, NULL),
		     USB_TRANSFER_OK);
}

void h_reset_recovery(struct harness *h)
{
	cr_assert_eq(h_control(h, 0x21, 0xff, 0, 0, 0, NULL, NULL), USB_TRANSFER_OK);
	h_clear_halt(h, MASS_STORAGE_EP_IN);
	h_clear_halt(h, MASS_STORAGE_EP_OUT);
}

void h_cbw(uint8_t *buf, uint32_t tag, uint32_t host_len, bool in, uint8_t lun,
	   const uint8_t *cdb, uint8_t cdb_len)
{
	memset(buf, 0, 31);
	put_le32(buf, 0x43425355);
	put_le32(buf + 4, tag);
	put_le32(buf + 8, host_len);
	buf[12] = in ? 0x80 : 0;
	buf[13] = lun;
	buf[14] = cdb_len;
	memcpy(buf + 15, cdb, cdb_len < 16 ? cdb_len : 16);
}

enum usb_transfer_status h_bulk(struct harness *h, uint8_t ep, void *buf, size_t len,
				size_t *actual)
{
	struct xfer x;

	cr_assert_eq(h_submit(h, &x, USB_TRANSFER_BULK, ep, buf, len), 0);
	cr_assert_eq(x.done_calls, 0, "done() from inside submit()");
	h_wait(h, &x);
	if (actual)
		*actual = x.t.actual;
	return x.t.status;
}

enum usb_transfer_status h_read_csw(struct harness *h, struct csw *csw)
{
	uint8_t b[13] = { 0 };
	size_t n = 0;
	enum usb_transfer_status st = h_bulk(h, MASS_STORAGE_EP_IN, b, sizeof(b), &n);

	if (st == USB_TRANSFER_OK)
		cr_assert_eq(n, 13);
	csw->signature = get_le32(b);
	csw->tag = get_le32(b + 4);
	csw->residue = get_le32(b + 8);
	csw->status = b[12];
	return st;
}

struct csw h_command(struct harness *h, const uint8_t *cdb, uint8_t cdb_len, bool in,
		     uint32_t host_len, void *buf, size_t chunk, size_t *data_actual,
		     bool *data_stalled)
{
	uint8_t cbw[31];
	uint32_t tag = ++h->tag;
	uint8_t ep = in ? MASS_STORAGE_EP_IN : MASS_STORAGE_EP_OUT;
	size_t moved = 0, n;
	bool stalled = false;
	struct csw csw;

	h_cbw(cbw, tag, host_len, in, 0, cdb, cdb_len);
	cr_assert_eq(h_bulk(h, MASS_STORAGE_EP_OUT, cbw, sizeof(cbw), &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 31);
	if (!chunk)
		chunk = host_len;
	while (moved < host_len) {
		size_t len = host_len - moved < chunk ? host_len - moved : chunk;
		enum usb_transfer_status st = h_bulk(h, ep, (uint8_t *)buf + moved, len, &n);

		moved += n;
		if (st == USB_TRANSFER_STALL) {
			stalled = true;
			h_clear_halt(h, ep);
			break;
		}
		cr_assert_eq(st, USB_TRANSFER_OK);
		if (n < len)
			break;	/* short packet ends the data phase */
	}
	if (data_actual)
		*data_actual = moved;
	if (data_stalled)
		*data_stalled = stalled;
	if (h_read_csw(h, &csw) == USB_TRANSFER_STALL) {
		h_clear_halt(h, MASS_STORAGE_EP_IN);
		cr_assert_eq(h_read_csw(h, &csw), USB_TRANSFER_OK);
	}
	cr_assert_eq(csw.signature, 0x53425355u);
	cr_assert_eq(csw.tag, tag);
	return csw;
}

uint32_t h_sense(struct harness *h)
{
	uint8_t cdb[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t sense[18] = { 0 };
	struct csw csw = h_command(h, cdb, 6, true, 18, sense, 0, NULL, NULL);

	cr_assert_eq(csw.status, 0);
	cr_assert_eq(csw.residue, 0);
	cr_assert_eq(sense[0], 0x70);
	return (uint32_t)(sense[2] & 0x0f) << 16 | (uint32_t)sense[12] << 8 | sense[13];
}
