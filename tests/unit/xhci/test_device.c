/* SPDX-License-Identifier: MIT */
#include "tests/unit/xhci/test_device.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STORE_SIZE 65536
#define GONE_CANCEL_US 50000
#define UNPLUG_DESTROY_US 300000

struct test_dev {
	struct usb_device dev;
	struct event_deferred later;
	struct usb_transfer *queue[64];
	unsigned int n;
	bool hold_in;
	bool fail_first_in;	/* 'E': the first bulk IN transfer is a transaction error */
	bool gone;		/* 'G': bulk IN ends in NO_DEVICE; a cancel takes GONE_CANCEL_US */
	bool hold_stream1;	/* 'R': stream 1 waits until another stream's transfer is done */
	bool fail_at_cancel;	/* 'F': as 'H', but a cancelled bulk IN ends in a transaction error */
	bool unplug;		/* 'U': bulk IN ends in NO_DEVICE, then the device says it is gone */
	bool unplugged;
	unsigned int streams[32];	/* streams allocated, by endpoint number | 16 for IN */
	uint8_t store[STORE_SIZE];
	size_t stored;
};

static const uint8_t device_desc[18] = {
	18, 1, 0x00, 0x02, 0, 0, 0, 64,
	TEST_DEV_VENDOR & 0xff, TEST_DEV_VENDOR >> 8, TEST_DEV_PRODUCT & 0xff, TEST_DEV_PRODUCT >> 8,
	0, 1, 0, 0, 0, 1,
};

static unsigned int ep_index(uint8_t endpoint)
{
	return USB_ENDPOINT_NUMBER(endpoint) | (endpoint & USB_DIR_IN ? 16u : 0u);
}

/* A stream transfer: IN data is the stream ID in every byte, so the guest sees which stream ran. */
static void run_stream(struct test_dev *t, struct usb_transfer *x)
{
	bool fail_now = t->fail_first_in && (x->endpoint & USB_DIR_IN);

	t->fail_first_in &= !fail_now;
	if (fail_now || x->type != USB_TRANSFER_BULK || x->stream > t->streams[ep_index(x->endpoint)]) {
		x->status = USB_TRANSFER_ERROR;
		return;
	}
	if (x->endpoint & USB_DIR_IN)
		memset(x->buffer, (uint8_t)x->stream, x->length);
	x->actual = x->length;
}

static void run(struct test_dev *t, struct usb_transfer *x)
{
	size_t n;

	x->status = USB_TRANSFER_OK;
	x->actual = 0;
	if (x->stream) {
		run_stream(t, x);
		return;
	}
	if (x->type == USB_TRANSFER_CONTROL) {
		if (x->setup.request == TEST_REQ_STALL) {
			x->status = USB_TRANSFER_STALL;
		} else if (x->setup.request == 6 && (x->setup.value >> 8) == 1) {
			n = x->length < sizeof(device_desc) ? x->length : sizeof(device_desc);
			memcpy(x->buffer, device_desc, n);
			x->actual = n;
		} else if (x->setup.request == 6) {
			/* Other descriptors: fill the whole (clamped) buffer, like a big one would. */
			memset(x->buffer, 0xab, x->length);
			x->actual = x->length;
		}
		return;
	}
	if (x->endpoint & USB_DIR_IN) {
		if ((t->gone || t->unplug) && x->type == USB_TRANSFER_BULK) {
			x->status = USB_TRANSFER_NO_DEVICE;
			t->unplugged = t->unplug;
			return;
		}
		if (t->fail_first_in && x->type == USB_TRANSFER_BULK) {
			t->fail_first_in = false;
			x->status = USB_TRANSFER_ERROR;
			return;
		}
		n = x->length < t->stored ? x->length : t->stored;
		memcpy(x->buffer, t->store, n);
		x->actual = n;
		return;
	}
	n = x->length < STORE_SIZE ? x->length : STORE_SIZE;
	memcpy(t->store, x->buffer, n);
	t->stored = n;
	x->actual = x->length;
}

static void complete_all(void *opaque)
{
	struct test_dev *t = opaque;
	struct usb_transfer *batch[64];
	unsigned int n = t->n;
	bool held = false;

	/* done() may submit again: work on a copy of the queue. */
	memcpy(batch, t->queue, n * sizeof(batch[0]));
	t->n = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct usb_transfer *x = batch[i];

		if (x->device_priv == NULL && t->hold_in && (x->endpoint & USB_DIR_IN) &&
		    x->type == USB_TRANSFER_BULK) {
			t->queue[t->n++] = x;
			continue;
		}
		if (x->device_priv == NULL && t->hold_stream1 && x->stream == 1) {
			t->queue[t->n++] = x;
			held = true;
			continue;
		}
		if (x->stream > 1)
			t->hold_stream1 = false;
		if (x->device_priv && t->fail_at_cancel && (x->endpoint & USB_DIR_IN)) {
			/* The transfer failed on the bus before the cancel reached it. */
			x->status = USB_TRANSFER_ERROR;
			x->actual = 0;
		} else if (x->device_priv) {
			x->status = USB_TRANSFER_CANCELLED;
			x->actual = 0;
		} else {
			run(t, x);
		}
		x->device_priv = NULL;
		x->done(x);
	}
	/* Stream 1 was let go in this round: its held transfers run in the next. */
	if (held && !t->hold_stream1)
		event_loop_defer(t->dev.loop, &t->later);
	/* As the passthrough does: the failed transfers first, then the news. */
	if (t->unplugged && t->dev.gone) {
		t->unplugged = false;
		t->dev.gone(&t->dev, t->dev.gone_opaque);
	}
}

static int td_submit(struct usb_device *dev, struct usb_transfer *x)
{
	struct test_dev *t = (struct test_dev *)dev;

	if (t->n == 64)
		return -1;
	x->device_priv = NULL;
	t->queue[t->n++] = x;
	event_loop_defer(dev->loop, &t->later);
	return 0;
}

static void td_cancel(struct usb_device *dev, struct usb_transfer *x)
{
	struct test_dev *t = (struct test_dev *)dev;

	/*
	 * A slow cancel (usbfs discarding the URBs of a vanished device) holds
	 * the controller between two steps, as a host that deschedules the
	 * process does: long enough for a guest to look in between.
	 */
	if (t->gone)
		usleep(GONE_CANCEL_US);
	x->device_priv = (void *)1;	/* cancelled */
	event_loop_defer(dev->loop, &t->later);
}

static int td_reset(struct usb_device *dev)
{
	struct test_dev *t = (struct test_dev *)dev;

	for (unsigned int i = 0; i < t->n; i++)
		t->queue[i]->device_priv = (void *)1;
	event_loop_defer(dev->loop, &t->later);
	return 0;
}

static int td_clear_halt(struct usb_device *dev, uint8_t ep)
{
	(void)dev;
	(void)ep;
	return 0;
}

static void td_destroy(struct usb_device *dev)
{
	struct test_dev *t = (struct test_dev *)dev;

	/* Releasing a vanished device's interfaces and host drivers takes the host a while. */
	if (t->unplug)
		usleep(UNPLUG_DESTROY_US);
	event_loop_cancel_deferred(dev->loop, &t->later);
	for (unsigned int i = 0; i < t->n; i++) {
		t->queue[i]->status = USB_TRANSFER_CANCELLED;
		t->queue[i]->actual = 0;
		t->queue[i]->done(t->queue[i]);
	}
	free(t);
}

static int td_alloc_streams(struct usb_device *dev, uint8_t endpoint, unsigned int num_streams)
{
	struct test_dev *t = (struct test_dev *)dev;

	t->streams[ep_index(endpoint)] = num_streams;
	return 0;
}

static void td_free_streams(struct usb_device *dev, uint8_t endpoint)
{
	struct test_dev *t = (struct test_dev *)dev;

	t->streams[ep_index(endpoint)] = 0;
}

static const struct usb_device_ops test_ops = {
	.submit = td_submit,
	.cancel = td_cancel,
	.reset = td_reset,
	.clear_halt = td_clear_halt,
	.destroy = td_destroy,
	.alloc_streams = td_alloc_streams,
	.free_streams = td_free_streams,
};

struct usb_device *test_device_attach(struct event_loop *loop, int fd,
				      const struct devproto_attach *a,
				      enum devproto_usb_speed preferred)
{
	struct test_dev *t = calloc(1, sizeof(*t));
	char cfg[2] = { 0, 0 };

	(void)a;
	(void)preferred;
	if (!t)
		return NULL;
	if (pread(fd, cfg, sizeof(cfg), 0) < 1) {
		free(t);
		return NULL;
	}
	close(fd);
	t->dev.ops = &test_ops;
	t->dev.loop = loop;
	t->dev.speed = cfg[0] == 'S' ? DEVPROTO_SPEED_SUPER : DEVPROTO_SPEED_HIGH;
	t->dev.vendor = TEST_DEV_VENDOR;
	t->dev.product = TEST_DEV_PRODUCT;
	t->hold_in = cfg[1] == 'H' || cfg[1] == 'F';
	t->fail_at_cancel = cfg[1] == 'F';
	t->fail_first_in = cfg[1] == 'E';
	t->gone = cfg[1] == 'G';
	t->unplug = cfg[1] == 'U';
	t->hold_stream1 = cfg[1] == 'R';
	t->later.fn = complete_all;
	t->later.opaque = t;
	return &t->dev;
}

int test_device_image(char speed, char mode)
{
	int fd = memfd_create("test-image", MFD_CLOEXEC);
	char cfg[2] = { speed, mode };

	if (fd >= 0 && write(fd, cfg, sizeof(cfg)) != sizeof(cfg)) {
		close(fd);
		return -1;
	}
	return fd;
}
