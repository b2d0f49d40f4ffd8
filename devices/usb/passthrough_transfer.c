/* SPDX-License-Identifier: MIT */
/*
 * Transfers of a passed-through device: each usb_transfer becomes one
 * asynchronous libusb_transfer (one usbfs URB, or a few for a long bulk
 * transfer), submitted at once, so the controller's pipelined TDs are all
 * in the kernel together.
 *
 * Order: each endpoint has a FIFO of the transfers it holds, in submission
 * order. A libusb callback only records the result; the deferred pump hands
 * a result to the controller once nothing ahead of it in its FIFO is on the
 * same stream, so done() runs in submission order per endpoint (per stream
 * on a bulk endpoint with streams, where the device picks which stream
 * moves) even when a cancelled transfer comes back before the ones ahead of
 * it, and never inside libusb_handle_events (the controller may submit,
 * cancel or destroy from done()), nor inside submit().
 *
 * Streams: USB 3 bulk streams are allocated on the host's controller with
 * libusb_alloc_streams (USBDEVFS_ALLOC_STREAMS) when the guest configures the
 * endpoint, and each transfer names its stream (libusb_fill_bulk_stream_transfer).
 *
 * Budget: a transfer goes to the kernel only while the process's share of
 * usbfs's URB memory has room for it (passthrough_budget.c); otherwise it
 * waits, and so does everything behind it on its endpoint, until transfers
 * in flight come back.
 *
 * Buffers: bulk, interrupt and isochronous transfers use the controller's
 * buffer directly (usbfs copies in and out of it). A control transfer needs
 * the SETUP packet in front of its data, so it has a buffer of its own, and
 * the wLength the device sees is the length of the data stage the guest
 * gave: the device is never asked for more than the buffer holds.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "devices/usb/passthrough_internal.h"

static struct pt_device *to_pt(struct usb_device *dev)
{
	return (struct pt_device *)dev;
}

static struct pt_queue *queue_of(struct pt_device *pt, uint8_t endpoint)
{
	return &pt->queues[USB_ENDPOINT_NUMBER(endpoint) | (endpoint & USB_DIR_IN ? 16 : 0)];
}

static void push(struct pt_queue *q, struct pt_xfer *x)
{
	x->next = NULL;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
}

/* Transfers of every device waiting for the budget: while any does, a return of budget pumps them all. */
static unsigned int waiting;

/* What usbfs charges a transfer to its budget, but for a few hundred bytes of URB. */
static size_t cost_of(const struct usb_transfer *t)
{
	return t->length + (t->type == USB_TRANSFER_CONTROL ? LIBUSB_CONTROL_SETUP_SIZE : 0);
}

static bool charge(struct pt_xfer *x)
{
	size_t cost = cost_of(x->t);

	if (!pt_budget_take(cost))
		return false;
	x->charged = cost;
	return true;
}

static void uncharge(struct pt_xfer *x)
{
	if (!x->charged)
		return;
	pt_budget_give(x->charged);
	x->charged = 0;
	if (waiting)
		pt_host_schedule_all();
}

/* Leaves PT_XFER_WAITING for state. */
static void stop_waiting(struct pt_xfer *x, enum pt_xfer_state state)
{
	if (x->state == PT_XFER_WAITING)
		waiting--;
	x->state = state;
}

static struct pt_xfer *pop(struct pt_queue *q)
{
	struct pt_xfer *x = q->head;

	if (!x)
		return NULL;
	q->head = x->next;
	if (!q->head)
		q->tail = NULL;
	x->next = NULL;
	return x;
}

enum usb_transfer_status pt_status(enum libusb_transfer_status st)
{
	switch (st) {
	case LIBUSB_TRANSFER_COMPLETED:
		return USB_TRANSFER_OK;		/* a short transfer too: actual says how much */
	case LIBUSB_TRANSFER_STALL:
		return USB_TRANSFER_STALL;
	case LIBUSB_TRANSFER_NO_DEVICE:
		return USB_TRANSFER_NO_DEVICE;
	case LIBUSB_TRANSFER_OVERFLOW:
		return USB_TRANSFER_BABBLE;
	case LIBUSB_TRANSFER_CANCELLED:
		return USB_TRANSFER_CANCELLED;
	case LIBUSB_TRANSFER_ERROR:
	case LIBUSB_TRANSFER_TIMED_OUT:		/* we set no timeouts */
	default:
		return USB_TRANSFER_ERROR;
	}
}

/* What the controller asks for, checked before anything is allocated. */
static int check(const struct usb_transfer *t)
{
	size_t sum = 0;

	if (t->stream && t->type != USB_TRANSFER_BULK)
		return -EINVAL;		/* streams are a bulk endpoint's */
	if ((t->length && !t->buffer) || t->length > INT_MAX)
		return -EINVAL;
	switch (t->type) {
	case USB_TRANSFER_CONTROL:
		/* The data stage never exceeds wLength (so never 64 KiB). */
		return t->length > t->setup.length ? -EINVAL : 0;
	case USB_TRANSFER_BULK:
	case USB_TRANSFER_INTERRUPT:
		return USB_ENDPOINT_NUMBER(t->endpoint) ? 0 : -EINVAL;
	case USB_TRANSFER_ISOCH:
		if (!USB_ENDPOINT_NUMBER(t->endpoint) || !t->iso_packets || !t->num_iso_packets ||
		    t->num_iso_packets > USB_MAX_ISO_PACKETS)
			return -EINVAL;
		/* Packets lie back to back in the buffer, each at its requested length. */
		for (unsigned int i = 0; i < t->num_iso_packets; i++) {
			sum += t->iso_packets[i].length;
			if (sum > t->length)
				return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static void control_done(struct libusb_transfer *lt, struct usb_transfer *t)
{
	size_t n = lt->actual_length > 0 ? (size_t)lt->actual_length : 0;

	if (n > t->length) {
		/* usbfs cannot return more than wLength; a guard, not a path. */
		n = t->length;
		t->status = USB_TRANSFER_BABBLE;
	}
	if ((t->setup.request_type & USB_DIR_IN) && n)
		memcpy(t->buffer, libusb_control_transfer_get_data(lt), n);
	t->actual = n;
}

static void iso_done(struct libusb_transfer *lt, struct usb_transfer *t)
{
	bool any_ok = false;

	for (unsigned int i = 0; i < t->num_iso_packets; i++) {
		const struct libusb_iso_packet_descriptor *d = &lt->iso_packet_desc[i];
		struct usb_iso_packet *p = &t->iso_packets[i];

		p->actual = d->actual_length < p->length ? d->actual_length : p->length;
		p->status = pt_status(d->status);
		if (p->status == USB_TRANSFER_OK)
			any_ok = true;
		t->actual += p->actual;
	}
	/* One bad packet does not fail a stream; all of them do. */
	if (t->status == USB_TRANSFER_OK && !any_ok)
		t->status = t->iso_packets[0].status;
}

static void LIBUSB_CALL on_complete(struct libusb_transfer *lt)
{
	struct pt_xfer *x = lt->user_data;
	struct usb_transfer *t = x->t;

	t->status = pt_status(lt->status);
	t->actual = 0;
	switch (t->type) {
	case USB_TRANSFER_CONTROL:
		control_done(lt, t);
		break;
	case USB_TRANSFER_ISOCH:
		iso_done(lt, t);
		break;
	default:
		t->actual = lt->actual_length > 0 ? (size_t)lt->actual_length : 0;
		if (t->actual > t->length)
			t->actual = t->length;
		break;
	}
	x->state = PT_XFER_FINISHED;
	uncharge(x);
	if (lt->status == LIBUSB_TRANSFER_NO_DEVICE)
		pt_lost(x->pt);
	pt_schedule(x->pt);
}

static int fill_control(struct pt_device *pt, struct pt_xfer *x, struct libusb_transfer *lt)
{
	const struct usb_transfer *t = x->t;
	uint16_t len = (uint16_t)t->length;	/* <= setup.length: check() */
	uint8_t *buf = malloc(LIBUSB_CONTROL_SETUP_SIZE + (size_t)len);

	if (!buf)
		return -ENOMEM;
	libusb_fill_control_setup(buf, t->setup.request_type, t->setup.request, t->setup.value,
				  t->setup.index, len);
	if (!(t->setup.request_type & USB_DIR_IN) && len)
		memcpy(buf + LIBUSB_CONTROL_SETUP_SIZE, t->buffer, len);
	libusb_fill_control_transfer(lt, pt->handle, buf, on_complete, x, 0);
	lt->endpoint = USB_ENDPOINT_NUMBER(t->endpoint);
	lt->flags |= LIBUSB_TRANSFER_FREE_BUFFER;
	return 0;
}

/* Submits x to libusb; 0 (in flight, or finished with NO_DEVICE) or -errno. */
static int start(struct pt_device *pt, struct pt_xfer *x)
{
	struct usb_transfer *t = x->t;
	uint8_t ep = t->endpoint & (USB_DIR_IN | 0x0f);
	int n = (int)t->length, r;
	struct libusb_transfer *lt;

	lt = libusb_alloc_transfer(t->type == USB_TRANSFER_ISOCH ? (int)t->num_iso_packets : 0);
	if (!lt)
		return -ENOMEM;
	switch (t->type) {
	case USB_TRANSFER_CONTROL:
		r = fill_control(pt, x, lt);
		if (r < 0) {
			libusb_free_transfer(lt);
			return r;
		}
		break;
	case USB_TRANSFER_BULK:
		if (t->stream)
			libusb_fill_bulk_stream_transfer(lt, pt->handle, ep, t->stream, t->buffer, n,
							 on_complete, x, 0);
		else
			libusb_fill_bulk_transfer(lt, pt->handle, ep, t->buffer, n, on_complete, x, 0);
		break;
	case USB_TRANSFER_INTERRUPT:
		libusb_fill_interrupt_transfer(lt, pt->handle, ep, t->buffer, n, on_complete, x, 0);
		break;
	case USB_TRANSFER_ISOCH:
		libusb_fill_iso_transfer(lt, pt->handle, ep, t->buffer, n, (int)t->num_iso_packets,
					 on_complete, x, 0);
		for (unsigned int i = 0; i < t->num_iso_packets; i++)
			lt->iso_packet_desc[i].length = t->iso_packets[i].length;
		break;
	}
	r = libusb_submit_transfer(lt);
	if (r == 0) {
		x->lt = lt;
		x->state = PT_XFER_INFLIGHT;
		return 0;
	}
	libusb_free_transfer(lt);
	if (r != LIBUSB_ERROR_NO_DEVICE)
		return pt_errno(r);
	/* Unplugged under us: the transfer ends like every other one will. */
	t->status = USB_TRANSFER_NO_DEVICE;
	x->state = PT_XFER_FINISHED;
	uncharge(x);
	pt_lost(pt);
	return 0;
}

/* Whether a transfer waits on queue q: one ahead of it does (order on the bus). */
static bool queue_waits(const struct pt_queue *q)
{
	for (const struct pt_xfer *x = q->head; x; x = x->next) {
		if (x->state == PT_XFER_WAITING)
			return true;
	}
	return false;
}

/* Starts the waiting transfers of pt that fit the budget now, in order on each endpoint. */
static void start_waiting(struct pt_device *pt)
{
	for (unsigned int q = 0; q < PT_EP_QUEUES && waiting; q++) {
		for (struct pt_xfer *x = pt->queues[q].head; x; x = x->next) {
			if (x->state != PT_XFER_WAITING)
				continue;
			if (pt->lost) {
				x->t->status = USB_TRANSFER_NO_DEVICE;
				stop_waiting(x, PT_XFER_FINISHED);
				continue;
			}
			if (!charge(x))
				break;	/* nothing behind it on this endpoint may pass it */
			stop_waiting(x, PT_XFER_FINISHED);
			if (start(pt, x) < 0) {
				uncharge(x);
				x->t->status = USB_TRANSFER_ERROR;
				x->t->actual = 0;
				x->state = PT_XFER_FINISHED;
			}
		}
	}
}

int pt_submit(struct usb_device *dev, struct usb_transfer *t)
{
	struct pt_device *pt = to_pt(dev);
	struct pt_xfer *x;
	int err;

	if (pt->dying)
		return -ENODEV;
	err = check(t);
	if (err < 0)
		return err;
	if (pt->ntransfers >= PT_MAX_TRANSFERS)
		return -EBUSY;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->t = t;
	x->pt = pt;
	t->actual = 0;
	t->status = USB_TRANSFER_OK;
	if (t->type == USB_TRANSFER_CONTROL && USB_ENDPOINT_NUMBER(t->endpoint) == 0)
		x->local = pt_setup_classify(&t->setup);
	if (pt->lost) {
		t->status = USB_TRANSFER_NO_DEVICE;
		x->state = PT_XFER_FINISHED;
	} else if (x->local != PT_SETUP_PASS) {
		/* Run from the pump, once the control transfers ahead of it are done. */
		x->state = PT_XFER_LOCAL;
	} else if (queue_waits(queue_of(pt, t->endpoint)) || !charge(x)) {
		x->state = PT_XFER_WAITING;
		waiting++;
	} else {
		err = start(pt, x);
		if (err < 0) {
			uncharge(x);
			free(x);
			return err;
		}
	}
	/* libusb calls back only from libusb_handle_events: queueing after start() is safe. */
	push(queue_of(pt, t->endpoint), x);
	pt->ntransfers++;
	t->device_priv = x;
	if (x->state != PT_XFER_INFLIGHT)
		pt_schedule(pt);
	return 0;
}

int pt_alloc_streams(struct usb_device *dev, uint8_t endpoint, unsigned int num_streams)
{
	struct pt_device *pt = to_pt(dev);
	unsigned char ep = endpoint;
	int r;

	if (pt->lost || num_streams == 0 || num_streams > UINT16_MAX)
		return -EINVAL;
	r = libusb_alloc_streams(pt->handle, (uint32_t)num_streams, &ep, 1);
	if (r < 0)
		return pt_errno(r);
	/* The host gives what the device can do; the guest asked the same descriptor. */
	if ((unsigned int)r < num_streams)
		log_info("passthrough %u-%u: endpoint %#x: %d of %u streams", pt->dev.busnum,
			 pt->dev.devnum, endpoint, r, num_streams);
	return 0;
}

void pt_free_streams(struct usb_device *dev, uint8_t endpoint)
{
	struct pt_device *pt = to_pt(dev);
	unsigned char ep = endpoint;
	int r;

	if (pt->lost)
		return;
	r = libusb_free_streams(pt->handle, &ep, 1);
	if (r < 0 && r != LIBUSB_ERROR_NO_DEVICE)
		log_warn("passthrough %u-%u: free streams of %#x: %s", pt->dev.busnum, pt->dev.devnum,
			 endpoint, libusb_error_name(r));
}

static void cancel_one(struct pt_device *pt, struct pt_xfer *x)
{
	int r;

	if (x->state == PT_XFER_FINISHED || x->cancel_asked)
		return;
	x->cancel_asked = true;
	if (x->state == PT_XFER_LOCAL || x->state == PT_XFER_WAITING) {
		x->t->status = USB_TRANSFER_CANCELLED;
		x->t->actual = 0;
		stop_waiting(x, PT_XFER_FINISHED);
		pt_schedule(pt);
		return;
	}
	/*
	 * The callback follows with CANCELLED, or with the real result if the
	 * URB had already completed (NOT_FOUND); a vanished device (NO_DEVICE)
	 * fails it when libusb sees the disconnect.
	 */
	r = libusb_cancel_transfer(x->lt);
	if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND && r != LIBUSB_ERROR_NO_DEVICE)
		log_warn("passthrough %u-%u: cancel: %s", pt->dev.busnum, pt->dev.devnum,
			 libusb_error_name(r));
}

void pt_cancel(struct usb_device *dev, struct usb_transfer *t)
{
	struct pt_device *pt = to_pt(dev);
	struct pt_xfer *x = t->device_priv;

	if (!x || x->pt != pt || x->t != t)
		return;
	cancel_one(pt, x);
}

void pt_cancel_all(struct pt_device *pt)
{
	for (unsigned int q = 0; q < PT_EP_QUEUES; q++) {
		for (struct pt_xfer *x = pt->queues[q].head; x; x = x->next)
			cancel_one(pt, x);
	}
}

unsigned int pt_inflight(const struct pt_device *pt)
{
	unsigned int n = 0;

	for (unsigned int q = 0; q < PT_EP_QUEUES; q++) {
		for (const struct pt_xfer *x = pt->queues[q].head; x; x = x->next)
			n += x->state == PT_XFER_INFLIGHT;
	}
	return n;
}

/* Gives t back to the controller; x is off its queue. */
static void finish(struct pt_device *pt, struct pt_xfer *x)
{
	struct usb_transfer *t = x->t;

	stop_waiting(x, PT_XFER_FINISHED);
	uncharge(x);	/* destroy: not returned in time, freed with the fd */
	libusb_free_transfer(x->lt);
	free(x);
	pt->ntransfers--;
	t->device_priv = NULL;
	t->done(t);
}

void pt_finish_all(struct pt_device *pt)
{
	for (unsigned int q = 0; q < PT_EP_QUEUES; q++) {
		struct pt_xfer *x;

		while ((x = pop(&pt->queues[q]))) {
			if (x->state != PT_XFER_FINISHED) {
				x->t->status = USB_TRANSFER_CANCELLED;
				x->t->actual = 0;
			}
			finish(pt, x);
		}
	}
}

void pt_schedule(struct pt_device *pt)
{
	if (!pt->dying)
		event_loop_defer(pt->dev.loop, &pt->pump);
}

/* The first transfer of q whose result may go: finished, nothing ahead of it on its stream. */
static struct pt_xfer *next_ready(struct pt_queue *q)
{
	for (struct pt_xfer *x = q->head; x; x = x->next) {
		bool behind = false;

		for (const struct pt_xfer *a = q->head; a != x && !behind; a = a->next)
			behind = a->t->stream == x->t->stream;
		if (!behind && x->state == PT_XFER_FINISHED)
			return x;
	}
	return NULL;
}

static void unlink_xfer(struct pt_queue *q, struct pt_xfer *x)
{
	struct pt_xfer **at = &q->head, *prev = NULL;

	while (*at != x) {
		prev = *at;
		at = &(*at)->next;
	}
	*at = x->next;
	if (q->tail == x)
		q->tail = prev;
	x->next = NULL;
}

void pt_pump(void *opaque)
{
	struct pt_device *pt = opaque;

	pt->pumping = true;
	start_waiting(pt);
	for (unsigned int q = 0; q < PT_EP_QUEUES && !pt->dying; q++) {
		struct pt_queue *queue = &pt->queues[q];
		struct pt_xfer *x;

		while (!pt->dying) {
			/* Intercepted SETUPs run in order, at the head of EP 0 (which has no streams). */
			if (queue->head && queue->head->state == PT_XFER_LOCAL)
				pt_control_local(pt, queue->head);
			x = next_ready(queue);
			if (!x)
				break;
			/* done() may submit, cancel, reset or destroy: x is off the queue first. */
			unlink_xfer(queue, x);
			finish(pt, x);
		}
	}
	if (!pt->dying && pt->lost && !pt->gone_reported) {
		pt->gone_reported = true;
		log_info("passthrough %u-%u: the host device is gone", pt->dev.busnum, pt->dev.devnum);
		if (pt->dev.gone)
			pt->dev.gone(&pt->dev, pt->dev.gone_opaque);
	}
	pt->pumping = false;
	if (pt->dying)
		pt_free(pt);
}
