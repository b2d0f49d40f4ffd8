/* SPDX-License-Identifier: MIT */
/*
 * Bulk-Only Transport (USB Mass Storage Class BOT 1.0): every command is a
 * 31-byte CBW on bulk OUT, an optional data phase on bulk IN or OUT, and a
 * 13-byte CSW on bulk IN. The device only sees transfers, in order per
 * endpoint, and the controller may have queued several ahead (a data phase
 * split over many TDs, the CSW's TD already waiting behind them, even the
 * next CBW): a transfer on the endpoint the current phase does not use just
 * waits, as a NAKed token would.
 *
 * Where host (dCBWDataTransferLength, direction) and command disagree, the
 * thirteen cases of BOT 6.7 apply: data the command does not have is padded
 * when the command succeeded, and the IN pipe is stalled when it failed or
 * on a phase error; OUT data the command does not want is accepted and
 * dropped. dCSWDataResidue is always what the host asked for minus the
 * command data that really moved (padding and dropped bytes excluded).
 *
 * A CBW that is not valid and meaningful stalls both bulk pipes until Reset
 * Recovery (class reset, then CLEAR_FEATURE(HALT) on both), BOT 6.6.1.
 */
#include "devices/usb/mass_storage.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/usb/byteorder.h"
#include "devices/usb/scsi_disk.h"
#include "devices/usb/usb_descriptors.h"
#include "devices/usb/usb_queue.h"
#include "devices/usb/usb_standard.h"

#define CBW_SIZE 31
#define CSW_SIZE 13
#define CBW_SIGNATURE 0x43425355u	/* "USBC" */
#define CSW_SIGNATURE 0x53425355u	/* "USBS" */

enum csw_status {
	CSW_GOOD = 0,
	CSW_FAILED = 1,
	CSW_PHASE_ERROR = 2,
};

enum ms_class_request {
	MS_REQ_GET_MAX_LUN = 0xfe,
	MS_REQ_RESET = 0xff,
};

/* Completions delivered per deferred run, so a busy guest cannot starve the loop's fds. */
#define MS_BATCH 64

enum bot_phase {
	BOT_CBW,
	BOT_DATA_IN,
	BOT_DATA_OUT,
	BOT_CSW,
	BOT_NEEDS_RESET,	/* invalid CBW: both pipes stall until Reset Recovery */
};

struct bot_command {
	uint32_t tag;
	uint32_t host_len;	/* dCBWDataTransferLength */
	uint32_t host_done;	/* bytes through the data phase, padding and dropped data included */
	uint32_t data_len;	/* bytes of the command's own data that go through, <= host_len */
	uint32_t data_done;
	uint8_t status;		/* enum csw_status */
};

struct mass_storage {
	struct usb_device dev;
	struct usb_std std;
	struct usb_function_info info;
	char serial[17];
	struct scsi_disk disk;
	struct scsi_request req;
	struct bot_command cmd;
	enum bot_phase phase;
	/* Queued per endpoint; finished holds results waiting for their deferred done(). */
	struct usb_queue ctrl, in, out, finished;
	struct event_deferred kick;
	bool running;		/* inside ms_run: destroy() must leave the free to it */
	bool dying;
};

static const struct usb_endpoint_info ms_endpoints[] = {
	{ .address = MASS_STORAGE_EP_IN, .attributes = USB_EP_ATTR_BULK, .max_burst = 15 },
	{ .address = MASS_STORAGE_EP_OUT, .attributes = USB_EP_ATTR_BULK, .max_burst = 15 },
};

/* pid.codes' open-source vendor ID with its test product ID. */
#define MS_VENDOR 0x1209
#define MS_PRODUCT 0x0001

static struct mass_storage *to_ms(struct usb_device *dev)
{
	return (struct mass_storage *)dev;
}

static void kick(struct mass_storage *ms)
{
	if (!ms->dying)
		event_loop_defer(ms->dev.loop, &ms->kick);
}

static void bot_reset(struct mass_storage *ms)
{
	ms->phase = BOT_CBW;
	ms->cmd = (struct bot_command){ 0 };
}

/* CBW: a valid (size, signature) and meaningful (LUN, CB length) one starts a command. */
static void receive_cbw(struct mass_storage *ms, struct usb_transfer *t)
{
	const uint8_t *b = t->buffer;
	struct bot_command *cmd = &ms->cmd;
	struct scsi_request *req = &ms->req;
	uint32_t dev_len;
	bool host_in;

	/* The bytes were taken off the bus whatever they say. */
	t->actual = t->length;
	/* bCBWLUN and bCBWCBLength: reserved high bits must be 0, so compare whole bytes. */
	if (t->length != CBW_SIZE || get_le32(b) != CBW_SIGNATURE || b[13] != 0 || b[14] == 0 ||
	    b[14] > SCSI_CDB_MAX) {
		ms->phase = BOT_NEEDS_RESET;
		usb_std_ep_halt(&ms->std, MASS_STORAGE_EP_IN, false);
		usb_std_ep_halt(&ms->std, MASS_STORAGE_EP_OUT, false);
		return;
	}
	*cmd = (struct bot_command){ .tag = get_le32(b + 4), .host_len = get_le32(b + 8) };
	host_in = b[12] & 0x80;
	scsi_disk_start(&ms->disk, req, b + 15, b[14]);
	cmd->status = req->status == SCSI_STATUS_GOOD ? CSW_GOOD : CSW_FAILED;
	dev_len = req->dir == SCSI_DATA_NONE ? 0 : req->length;

	if (cmd->host_len == 0) {
		/* Cases 1-3: the host expects no data; a command that has some is a phase error. */
		if (dev_len)
			cmd->status = CSW_PHASE_ERROR;
		ms->phase = BOT_CSW;
	} else if (host_in) {
		/* Case 8 (device would receive), case 7 (more than the host takes). */
		if (req->dir == SCSI_DATA_OUT || dev_len > cmd->host_len)
			cmd->status = CSW_PHASE_ERROR;
		else
			cmd->data_len = dev_len;	/* cases 4-6 */
		ms->phase = BOT_DATA_IN;
	} else {
		/* Case 10 (device would send), case 13 (host sends less than the command needs). */
		if (req->dir == SCSI_DATA_IN || dev_len > cmd->host_len)
			cmd->status = CSW_PHASE_ERROR;
		else
			cmd->data_len = dev_len;	/* cases 9, 11, 12 */
		ms->phase = BOT_DATA_OUT;
	}
}

static void end_data_phase(struct mass_storage *ms)
{
	if (ms->cmd.status == CSW_GOOD) {
		scsi_disk_finish(&ms->disk, &ms->req);
		if (ms->req.status != SCSI_STATUS_GOOD)
			ms->cmd.status = CSW_FAILED;
	}
	ms->phase = BOT_CSW;
}

static void data_in(struct mass_storage *ms, struct usb_transfer *t)
{
	struct bot_command *cmd = &ms->cmd;
	size_t want = t->length, have = cmd->data_len - cmd->data_done, got = 0;

	if (want > cmd->host_len - cmd->host_done)
		want = cmd->host_len - cmd->host_done;
	if (have > want)
		have = want;
	if (have) {
		/* Straight from the image into the transfer's buffer. */
		got = scsi_disk_read(&ms->disk, &ms->req, cmd->data_done, t->buffer, have);
		if (got < have) {
			cmd->status = CSW_FAILED;
			cmd->data_len = cmd->data_done + (uint32_t)got;
		}
		cmd->data_done += (uint32_t)got;
	}
	t->actual = got;
	if (got < want) {
		if (cmd->status != CSW_GOOD) {
			/* Failed or phase error with data still expected: BOT stalls the IN pipe. */
			t->status = USB_TRANSFER_STALL;
			usb_std_ep_halt(&ms->std, MASS_STORAGE_EP_IN, true);
			cmd->host_done += (uint32_t)got;
			end_data_phase(ms);
			return;
		}
		/* The command had less than asked for (cases 4, 5): pad, the residue says so. */
		memset(t->buffer + got, 0, want - got);
		t->actual = want;
	}
	cmd->host_done += (uint32_t)t->actual;
	if (cmd->host_done == cmd->host_len)
		end_data_phase(ms);
}

static void data_out(struct mass_storage *ms, struct usb_transfer *t)
{
	struct bot_command *cmd = &ms->cmd;
	size_t want = cmd->data_len - cmd->data_done, put;

	if (t->length > cmd->host_len - cmd->host_done) {
		/* More than the CBW announced: refuse it, the CSW reports a phase error. */
		t->status = USB_TRANSFER_STALL;
		usb_std_ep_halt(&ms->std, MASS_STORAGE_EP_OUT, true);
		cmd->status = CSW_PHASE_ERROR;
		ms->phase = BOT_CSW;
		return;
	}
	if (want > t->length)
		want = t->length;
	if (want) {
		put = scsi_disk_write(&ms->disk, &ms->req, cmd->data_done, t->buffer, want);
		if (put < want) {
			/* The rest of the data phase is taken and dropped. */
			cmd->status = CSW_FAILED;
			cmd->data_len = cmd->data_done + (uint32_t)put;
		}
		cmd->data_done += (uint32_t)put;
	}
	/* Bytes beyond the command's (cases 9, 11, after an error) are accepted and dropped. */
	t->actual = t->length;
	cmd->host_done += (uint32_t)t->length;
	if (cmd->host_done == cmd->host_len)
		end_data_phase(ms);
}

static void send_csw(struct mass_storage *ms, struct usb_transfer *t)
{
	uint8_t csw[CSW_SIZE];

	put_le32(csw, CSW_SIGNATURE);
	put_le32(csw + 4, ms->cmd.tag);
	put_le32(csw + 8, ms->cmd.host_len - ms->cmd.data_done);
	csw[12] = ms->cmd.status;
	t->actual = t->length < CSW_SIZE ? t->length : CSW_SIZE;
	memcpy(t->buffer, csw, t->actual);
	/* A buffer too small for the 13-byte packet overflows, as on the wire. */
	if (t->length < CSW_SIZE)
		t->status = USB_TRANSFER_BABBLE;
	bot_reset(ms);
}

static int class_request(struct mass_storage *ms, const struct usb_setup *s, uint8_t *buf,
			 size_t len)
{
	if ((s->request_type & USB_RT_TYPE_MASK) != USB_RT_TYPE_CLASS ||
	    (s->request_type & USB_RT_RECIP_MASK) != USB_RT_RECIP_INTERFACE || s->index != 0 ||
	    s->value != 0 || !ms->std.configuration)
		return -EPIPE;
	switch (s->request) {
	case MS_REQ_RESET:
		/* Ready for a CBW; halts stay until the host clears them (BOT 3.1). */
		if ((s->request_type & USB_DIR_IN) || s->length)
			return -EPIPE;
		bot_reset(ms);
		return 0;
	case MS_REQ_GET_MAX_LUN:
		if (!(s->request_type & USB_DIR_IN) || s->length != 1 || len < 1)
			return -EPIPE;
		buf[0] = 0;	/* LUN 0 only */
		return 1;
	default:
		return -EPIPE;
	}
}

static void control(struct mass_storage *ms, struct usb_transfer *t)
{
	size_t len = t->length < t->setup.length ? t->length : t->setup.length;
	int r = usb_std_control(&ms->std, &t->setup, t->buffer, len);

	if (r == -EOPNOTSUPP)
		r = class_request(ms, &t->setup, t->buffer, len);
	if (r < 0) {
		t->status = USB_TRANSFER_STALL;
		t->actual = 0;
	} else {
		t->actual = (size_t)r;
	}
}

/* What bulk IN does with the transfer at its head; false if it must wait. */
static bool step_in(struct mass_storage *ms, struct usb_transfer *t)
{
	switch (ms->phase) {
	case BOT_DATA_IN:
		data_in(ms, t);
		return true;
	case BOT_CSW:
		send_csw(ms, t);
		return true;
	default:
		return false;
	}
}

static bool step_out(struct mass_storage *ms, struct usb_transfer *t)
{
	switch (ms->phase) {
	case BOT_CBW:
		receive_cbw(ms, t);
		return true;
	case BOT_DATA_OUT:
		data_out(ms, t);
		return true;
	default:
		return false;
	}
}

static struct usb_transfer *step_bulk(struct mass_storage *ms, struct usb_queue *q, uint8_t ep,
				      bool (*step)(struct mass_storage *, struct usb_transfer *))
{
	struct usb_transfer *t = usb_queue_peek(q);

	if (!t)
		return NULL;
	/* Cancelled while others were ahead of it: its turn has come. */
	if (t->status == USB_TRANSFER_CANCELLED)
		return usb_queue_pop(q);
	switch (usb_std_ep_gate(&ms->std, ep)) {
	case USB_EP_STALL:
		t->status = USB_TRANSFER_STALL;
		return usb_queue_pop(q);
	case USB_EP_WAIT:
		return NULL;
	case USB_EP_OPEN:
		break;
	}
	return step(ms, t) ? usb_queue_pop(q) : NULL;
}

/* Moves the protocol one transfer forward; the transfer it finished, or NULL. */
static struct usb_transfer *step(struct mass_storage *ms)
{
	struct usb_transfer *t = usb_queue_pop(&ms->ctrl);

	if (t) {
		if (t->status != USB_TRANSFER_CANCELLED)
			control(ms, t);
		return t;
	}
	t = step_bulk(ms, &ms->in, MASS_STORAGE_EP_IN, step_in);
	if (!t)
		t = step_bulk(ms, &ms->out, MASS_STORAGE_EP_OUT, step_out);
	return t;
}

static void ms_free(struct mass_storage *ms)
{
	scsi_disk_close(&ms->disk);
	free(ms);
}

/* The deferred call: every done() is made from here, never from submit/cancel/reset. */
static void ms_run(void *opaque)
{
	struct mass_storage *ms = opaque;
	int n;

	ms->running = true;
	for (n = 0; n < MS_BATCH && !ms->dying; n++) {
		struct usb_transfer *t = usb_queue_pop(&ms->finished);

		if (!t)
			t = step(ms);
		if (!t)
			break;
		/* done() may submit, cancel, reset or even destroy: t is off every queue. */
		t->done(t);
	}
	ms->running = false;
	if (ms->dying) {
		ms_free(ms);
		return;
	}
	if (n == MS_BATCH)
		kick(ms);
}

static int ms_submit(struct usb_device *dev, struct usb_transfer *t)
{
	struct mass_storage *ms = to_ms(dev);
	struct usb_queue *q;

	if (ms->dying)
		return -ENODEV;
	if (!t || !t->done || (t->length && !t->buffer) || t->stream)
		return -EINVAL;
	switch (t->type) {
	case USB_TRANSFER_CONTROL:
		if (USB_ENDPOINT_NUMBER(t->endpoint) != 0)
			return -EINVAL;
		q = &ms->ctrl;
		break;
	case USB_TRANSFER_BULK:
		/* Bulk endpoints exist only while configured. */
		if (!usb_std_ep_exists(&ms->std, t->endpoint, USB_EP_ATTR_BULK))
			return -ENOENT;
		q = (t->endpoint & USB_DIR_IN) ? &ms->in : &ms->out;
		break;
	default:
		return -EINVAL;
	}
	t->actual = 0;
	t->status = USB_TRANSFER_OK;
	usb_queue_push(q, t);
	kick(ms);
	return 0;
}

/* The queue t waits in, or NULL if the device does not hold it (any more). */
static struct usb_queue *queue_of(struct mass_storage *ms, struct usb_transfer *t)
{
	struct usb_queue *queues[] = { &ms->ctrl, &ms->in, &ms->out };

	for (size_t i = 0; i < 3; i++) {
		if (usb_queue_contains(queues[i], t))
			return queues[i];
	}
	return NULL;
}

static void ms_cancel(struct usb_device *dev, struct usb_transfer *t)
{
	struct mass_storage *ms = to_ms(dev);
	struct usb_queue *q;

	if (ms->dying || !t)
		return;
	/*
	 * Queued transfers have not been started (each is worked whole, at
	 * once), so cancelling one has no effect on the device. One already
	 * in finished keeps its real result. A cancelled transfer still
	 * completes after those ahead of it on its endpoint: it is marked and
	 * left in place until it reaches the head.
	 */
	q = queue_of(ms, t);
	if (!q)
		return;
	t->status = USB_TRANSFER_CANCELLED;
	t->actual = 0;
	if (usb_queue_peek(q) == t) {
		usb_queue_pop(q);
		usb_queue_push(&ms->finished, t);
	}
	kick(ms);
}

static void cancel_all(struct mass_storage *ms, bool bulk_only)
{
	if (!bulk_only)
		usb_queue_drain(&ms->finished, &ms->ctrl, USB_TRANSFER_CANCELLED);
	usb_queue_drain(&ms->finished, &ms->in, USB_TRANSFER_CANCELLED);
	usb_queue_drain(&ms->finished, &ms->out, USB_TRANSFER_CANCELLED);
	kick(ms);
}

static int ms_reset(struct usb_device *dev)
{
	struct mass_storage *ms = to_ms(dev);

	if (ms->dying)
		return -ENODEV;
	cancel_all(ms, false);
	usb_std_reset(&ms->std);
	scsi_disk_reset(&ms->disk);
	bot_reset(ms);
	return 0;
}

static int ms_clear_halt(struct usb_device *dev, uint8_t endpoint)
{
	struct mass_storage *ms = to_ms(dev);

	if (ms->dying)
		return -ENODEV;
	if (endpoint != MASS_STORAGE_EP_IN && endpoint != MASS_STORAGE_EP_OUT)
		return -EINVAL;
	usb_std_ep_clear_halt(&ms->std, endpoint);
	return 0;
}

static void ms_destroy(struct usb_device *dev)
{
	struct mass_storage *ms = to_ms(dev);
	struct usb_transfer *t;

	if (ms->dying)
		return;
	ms->dying = true;
	event_loop_cancel_deferred(ms->dev.loop, &ms->kick);
	usb_queue_drain(&ms->finished, &ms->ctrl, USB_TRANSFER_CANCELLED);
	usb_queue_drain(&ms->finished, &ms->in, USB_TRANSFER_CANCELLED);
	usb_queue_drain(&ms->finished, &ms->out, USB_TRANSFER_CANCELLED);
	/* The device is going away: no later turn of the loop to defer to. */
	while ((t = usb_queue_pop(&ms->finished)))
		t->done(t);
	if (!ms->running)
		ms_free(ms);
}

static void ms_endpoints_reset(void *opaque)
{
	struct mass_storage *ms = opaque;

	/* A new configuration (or none) starts the transport afresh. */
	bot_reset(ms);
	if (!ms->std.configuration)
		cancel_all(ms, true);
	kick(ms);
}

static void ms_halt_cleared(void *opaque, uint8_t endpoint)
{
	struct mass_storage *ms = opaque;

	/* BOT 6.6.1: after an invalid CBW only Reset Recovery ends the stalls. */
	if (ms->phase == BOT_NEEDS_RESET && USB_ENDPOINT_NUMBER(endpoint) != 0)
		usb_std_ep_halt(&ms->std, endpoint, false);
	kick(ms);
}

static const struct usb_device_ops ms_ops = {
	.submit = ms_submit,
	.cancel = ms_cancel,
	.reset = ms_reset,
	.clear_halt = ms_clear_halt,
	.destroy = ms_destroy,
};

static const struct usb_std_hooks ms_hooks = {
	.endpoints_reset = ms_endpoints_reset,
	.halt_cleared = ms_halt_cleared,
};

/*
 * BOT 4.1.1 wants a serial number of at least 12 hex digits, and Windows
 * keys its per-device settings on it: derive it from the image's identity
 * so the same image is the same stick next time.
 */
static int make_serial(int fd, char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	uint64_t id[2];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id[0] = st.st_dev;
	id[1] = st.st_ino;
	for (size_t i = 0; i < sizeof(id); i++) {
		h ^= ((const uint8_t *)id)[i];
		h *= 0x100000001b3ull;
	}
	snprintf(out, size, "%016llX", (unsigned long long)h);
	return 0;
}

struct usb_device *mass_storage_new(struct event_loop *loop, int image_fd, bool read_only,
				    enum devproto_usb_speed speed)
{
	struct mass_storage *ms;
	int r;

	if (!loop || (speed != DEVPROTO_SPEED_FULL && speed != DEVPROTO_SPEED_HIGH &&
		      speed != DEVPROTO_SPEED_SUPER)) {
		errno = EINVAL;
		return NULL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return NULL;
	r = make_serial(image_fd, ms->serial, sizeof(ms->serial));
	if (!r)
		r = scsi_disk_init(&ms->disk, image_fd, read_only, ms->serial);
	if (r < 0) {
		free(ms);
		errno = -r;
		return NULL;
	}
	ms->info = (struct usb_function_info){
		.vendor = MS_VENDOR,
		.product = MS_PRODUCT,
		.bcd_device = 0x0100,
		.iface_class = 0x08,	/* mass storage */
		.iface_subclass = 0x06,	/* SCSI transparent command set */
		.iface_protocol = 0x50,	/* Bulk-Only Transport */
		.endpoints = ms_endpoints,
		.num_endpoints = 2,
		.max_power_ma = 100,
		.self_powered = true,
		.manufacturer = "svmm",
		.product_name = "svmm USB disk image",
		.serial = ms->serial,
	};
	usb_std_init(&ms->std, &ms->info, speed, &ms_hooks, ms);
	ms->kick.fn = ms_run;
	ms->kick.opaque = ms;
	ms->phase = BOT_CBW;
	ms->dev = (struct usb_device){
		.ops = &ms_ops,
		.loop = loop,
		.speed = speed,
		.kind = DEVPROTO_ATTACH_IMAGE,
		.vendor = MS_VENDOR,
		.product = MS_PRODUCT,
		/* Each transfer is worked whole in ms_run; a cancelled one is never worked. */
		.direct_in = true,
	};
	return &ms->dev;
}
