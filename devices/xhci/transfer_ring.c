/* SPDX-License-Identifier: MIT */
/*
 * Transfer rings: turning the TRBs of one TD into a usb_transfer, and the
 * Transfer Events that report it.
 *
 * A TD is read whole before anything is submitted: every TRB is copied out
 * of guest memory, its type checked against the endpoint (Setup/Data/Status
 * only on control endpoints, a control TD starts with Setup and ends with
 * Status), its buffer checked to lie in guest memory, and its length added
 * to a total capped at XHCI_TD_MAX_BYTES with at most XHCI_TD_MAX_TRBS TRBs.
 * A TD that breaks a rule becomes a TRB Error event and halts the endpoint.
 * Data moves through a bounce buffer of exactly the TD's length: the device
 * never sees guest memory, and a SETUP wLength larger than the data stage
 * (CVE-2020-14364) is clamped to it. The one exception is a bulk or
 * interrupt IN TD whose data TRBs form one contiguous range inside one
 * guest memory region, for a device that only ever writes its IN buffers
 * while working them (usb_device.direct_in): the device writes that range
 * in place, which spares a copy of every byte a disk reads. The range is
 * checked like any buffer, and nothing reads through it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

struct td_trb {
	uint64_t addr;
	struct xhci_trb trb;
};

struct xhci_td {
	struct xhci_td *next;
	struct xhci_tr *tr;		/* its ring; NULL: orphaned, freed when the device returns it */
	struct usb_device *dev;		/* the device holding it */
	struct xhci *x;
	struct xhci_ring start, end;	/* ring position of the TD and after it */
	unsigned int ntrbs, cap;
	struct td_trb *trbs;
	enum xhci_cc error;		/* CC_SUCCESS unless the TD itself is bad */
	uint64_t error_trb;
	bool in, has_data, submitted, done, cancel_asked;
	bool direct;			/* t.buffer is guest memory, buf unused */
	uint8_t *buf;
	size_t buf_cap;
	struct usb_iso_packet iso;
	struct usb_transfer t;
};

struct xhci_td *xhci_td_next(const struct xhci_td *td) { return td->next; }
void xhci_td_set_next(struct xhci_td *td, struct xhci_td *next) { td->next = next; }
const struct xhci_ring *xhci_td_start(const struct xhci_td *td) { return &td->start; }
const struct xhci_ring *xhci_td_end(const struct xhci_td *td) { return &td->end; }
bool xhci_td_is_done(const struct xhci_td *td) { return td->done; }
bool xhci_td_failed(const struct xhci_td *td) { return td->error != CC_SUCCESS; }

bool xhci_td_cancelled(const struct xhci_td *td)
{
	return td->done && td->t.status == USB_TRANSFER_CANCELLED;
}

void xhci_td_free(struct xhci_td *td)
{
	free(td->trbs);
	xhci_bounce_put(td->x, td->buf, td->buf_cap);
	free(td);
}

static void fail(struct xhci_td *td, uint64_t trb_addr)
{
	if (td->error == CC_SUCCESS) {
		td->error = CC_TRB_ERROR;
		td->error_trb = trb_addr;
	}
}

static int append_trb(struct xhci_td *td, uint64_t addr, const struct xhci_trb *trb)
{
	if (td->ntrbs == td->cap) {
		unsigned int cap = td->cap ? td->cap * 2 : 8;
		struct td_trb *n;

		if (cap > XHCI_TD_MAX_TRBS)
			cap = XHCI_TD_MAX_TRBS;
		if (td->ntrbs == cap)
			return -E2BIG;
		n = realloc(td->trbs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		td->trbs = n;
		td->cap = cap;
	}
	td->trbs[td->ntrbs].addr = addr;
	td->trbs[td->ntrbs].trb = *trb;
	td->ntrbs++;
	return 0;
}

static bool is_data(unsigned int type)
{
	return type == TRB_NORMAL || type == TRB_DATA || type == TRB_ISOCH;
}

/*
 * Reads the TRBs of one TD into td. Returns 1 when the TD is complete (or
 * broken: td->error), 0 when the guest has not finished writing it.
 */
static int read_trbs(struct xhci_tr *tr, struct xhci_td *td)
{
	struct xhci_endpoint *ep = tr->ep;
	bool control = ep->type == EP_TYPE_CONTROL;
	struct xhci_ring cur = tr->ring;
	struct xhci_trb trb;
	uint64_t addr;

	td->start = cur;
	for (;;) {
		unsigned int type;
		int r = xhci_ring_fetch(ep->x, &cur, &tr->budget, &trb, &addr);

		if (r == 0)
			return 0;
		if (r < 0) {
			/* Link loop, exhausted budget or a ring leaving guest memory. */
			fail(td, addr);
			break;
		}
		if (append_trb(td, addr, &trb) < 0) {
			fail(td, addr);	/* unbounded chain (CVE-2020-14394) */
			break;
		}
		xhci_ring_advance(&cur);
		type = trb_type(&trb);
		if (control) {
			if (td->ntrbs == 1) {
				if (type == TRB_NOOP && !(trb.control & TRB_CH))
					break;
				if (type != TRB_SETUP) {
					fail(td, addr);
					break;
				}
				continue;
			}
			if (type == TRB_STATUS)
				break;
			if (type == TRB_SETUP || type == TRB_ISOCH || (type == TRB_DATA && td->ntrbs != 2)) {
				fail(td, addr);
				break;
			}
			continue;
		}
		if (type == TRB_SETUP || type == TRB_DATA || type == TRB_STATUS ||
		    (type == TRB_ISOCH && td->ntrbs != 1)) {
			fail(td, addr);
			break;
		}
		if (!(trb.control & TRB_CH))
			break;
	}
	td->end = cur;
	return 1;
}

static enum usb_transfer_type transfer_type(enum xhci_ep_type t)
{
	switch (t) {
	case EP_TYPE_CONTROL: return USB_TRANSFER_CONTROL;
	case EP_TYPE_ISOCH_IN:
	case EP_TYPE_ISOCH_OUT: return USB_TRANSFER_ISOCH;
	case EP_TYPE_INT_IN:
	case EP_TYPE_INT_OUT: return USB_TRANSFER_INTERRUPT;
	default: return USB_TRANSFER_BULK;
	}
}

/*
 * The host address of the TD's data when the device may write it in place:
 * an IN TD on a bulk or interrupt endpoint, every data TRB (no immediate
 * data) continuing where the previous one ended, all inside one region.
 */
static uint8_t *direct_buffer(struct xhci *x, const struct xhci_td *td, uint64_t total)
{
	uint64_t start = 0, next = 0;
	bool first = true;

	for (unsigned int i = 0; i < td->ntrbs; i++) {
		const struct xhci_trb *t = &td->trbs[i].trb;

		if (!is_data(trb_type(t)) || !trb_len(t))
			continue;
		if (t->control & TRB_IDT)
			return NULL;
		if (first) {
			start = next = t->param;
			first = false;
		}
		if (t->param != next)
			return NULL;
		next += trb_len(t);
	}
	return first ? NULL : guest_memory_host(&x->mem, start, total);
}

/* Checks the TRBs, sizes the bounce buffer and fills it for OUT. */
static void build(struct xhci_endpoint *ep, struct xhci_td *td, const struct usb_device *dev)
{
	struct xhci *x = ep->x;
	uint64_t total = 0, off = 0;

	td->in = ep->type >= EP_TYPE_ISOCH_IN && ep->type != EP_TYPE_CONTROL;
	for (unsigned int i = 0; i < td->ntrbs && td->error == CC_SUCCESS; i++) {
		const struct xhci_trb *t = &td->trbs[i].trb;
		uint32_t len = trb_len(t);

		switch (trb_type(t)) {
		case TRB_SETUP:
			if (!(t->control & TRB_IDT) || len != 8) {
				fail(td, td->trbs[i].addr);
				break;
			}
			td->t.setup.request_type = (uint8_t)t->param;
			td->t.setup.request = (uint8_t)(t->param >> 8);
			td->t.setup.value = (uint16_t)(t->param >> 16);
			td->t.setup.index = (uint16_t)(t->param >> 32);
			td->t.setup.length = (uint16_t)(t->param >> 48);
			td->in = td->t.setup.request_type & USB_DIR_IN;
			td->has_data = true;
			break;
		case TRB_DATA:
			if (!!(t->control & TRB_DATA_DIR_IN) != td->in) {
				fail(td, td->trbs[i].addr);
				break;
			}
			/* fall through */
		case TRB_NORMAL:
		case TRB_ISOCH:
			td->has_data = true;
			if (t->control & TRB_IDT) {
				/* Immediate data: at most 8 bytes, OUT only. */
				if (len > 8 || td->in)
					fail(td, td->trbs[i].addr);
			} else if (len && !guest_memory_valid(&x->mem, t->param, len)) {
				fail(td, td->trbs[i].addr);
			}
			total += len;
			if (total > XHCI_TD_MAX_BYTES)
				fail(td, td->trbs[i].addr);
			break;
		default:
			break;
		}
	}
	if (td->error != CC_SUCCESS)
		return;
	td->t.length = total;
	if (td->in && dev && dev->direct_in && total &&
	    (ep->type == EP_TYPE_BULK_IN || ep->type == EP_TYPE_INT_IN)) {
		td->t.buffer = direct_buffer(x, td, total);
		td->direct = td->t.buffer != NULL;
		if (td->direct)
			return;
	}
	td->buf = xhci_bounce_get(x, total, &td->buf_cap);
	if (!td->buf) {
		fail(td, td->trbs[0].addr);
		return;
	}
	td->t.buffer = td->buf;
	if (!td->in) {
		for (unsigned int i = 0; i < td->ntrbs; i++) {
			const struct xhci_trb *t = &td->trbs[i].trb;
			uint32_t len = trb_len(t);

			if (!is_data(trb_type(t)) || !len)
				continue;
			if (t->control & TRB_IDT)
				memcpy(td->buf + off, &t->param, len);
			else if (guest_memory_read(&x->mem, t->param, td->buf + off, len) < 0)
				fail(td, td->trbs[i].addr);
			off += len;
		}
	}
	if (ep->type == EP_TYPE_CONTROL && td->t.length > td->t.setup.length)
		td->t.length = td->t.setup.length;
}

/* The next TD on ring tr, or NULL if there is none yet (or no memory). */
struct xhci_td *xhci_td_fetch(struct xhci_tr *tr, const struct usb_device *dev)
{
	struct xhci_endpoint *ep = tr->ep;
	struct xhci_td *td = calloc(1, sizeof(*td));

	if (!td)
		return NULL;
	td->x = ep->x;
	td->tr = tr;
	td->error = CC_SUCCESS;
	if (read_trbs(tr, td) == 0) {
		xhci_td_free(td);
		return NULL;
	}
	if (td->error == CC_SUCCESS)
		build(ep, td, dev);
	tr->ring = td->end;
	td->t.type = transfer_type(ep->type);
	/* The device learns the stream ID; 0 on an endpoint without streams. */
	td->t.stream = (uint16_t)tr->stream;
	td->t.endpoint = (uint8_t)(ep->dci / 2) | (td->in && ep->dci > 1 ? USB_DIR_IN : 0);
	if (ep->type == EP_TYPE_CONTROL)
		td->t.endpoint = (uint8_t)(ep->dci / 2);
	if (td->t.type == USB_TRANSFER_ISOCH) {
		td->iso.length = (uint32_t)td->t.length;
		td->t.num_iso_packets = 1;
		td->t.iso_packets = &td->iso;
	}
	return td;
}

static void td_done(struct usb_transfer *t)
{
	struct xhci_td *td = t->opaque;

	td->done = true;
	td->dev = NULL;
	if (!td->tr) {
		xhci_td_free(td);
		return;
	}
	xhci_tr_complete(td->tr);
}

/* Hands td to dev; a TD that needs no device (broken, No-Op only) is done at once. */
int xhci_td_submit(struct xhci_td *td, struct usb_device *dev)
{
	int err;

	td->t.done = td_done;
	td->t.opaque = td;
	if (td->error != CC_SUCCESS || !td->has_data) {
		td->t.status = USB_TRANSFER_OK;
		td->done = true;
		return 0;
	}
	if (!dev) {
		td->t.status = USB_TRANSFER_NO_DEVICE;
		td->done = true;
		return 0;
	}
	err = dev->ops->submit(dev, &td->t);
	if (err < 0) {
		td->t.status = USB_TRANSFER_ERROR;
		td->done = true;
		return err;
	}
	td->submitted = true;
	td->dev = dev;
	return 0;
}

void xhci_td_cancel(struct xhci_td *td, struct usb_device *dev)
{
	(void)dev;
	if (td->done || !td->submitted || td->cancel_asked || !td->dev)
		return;
	td->cancel_asked = true;
	if (td->dev->ops->cancel)
		td->dev->ops->cancel(td->dev, &td->t);
}

void xhci_td_orphan(struct xhci_td *td)
{
	td->tr = NULL;
	td->next = NULL;
	if (td->done || !td->submitted) {
		xhci_td_free(td);
		return;
	}
	xhci_td_cancel(td, td->dev);
}

static void post(struct xhci_td *td, const struct xhci_trb *at, uint64_t ptr, uint32_t len,
		 enum xhci_cc cc, bool ed)
{
	struct xhci_endpoint *ep = td->tr->ep;
	struct xhci_trb ev = {
		.param = ptr,
		.status = (len & 0xffffff) | ((uint32_t)cc << 24),
		.control = trb_type_bits(TRB_EV_TRANSFER) | (ep->dci << 16) |
			   (ep->slot_id << 24) | (ed ? TRB_EV_ED : 0),
	};
	bool bei = (trb_type(at) == TRB_NORMAL || trb_type(at) == TRB_ISOCH ||
		    trb_type(at) == TRB_EVENT_DATA) && (at->control & TRB_BEI);

	xhci_event(td->x, trb_intr_target(at), &ev, !bei);
}

static enum xhci_cc device_cc(enum usb_transfer_status st)
{
	switch (st) {
	case USB_TRANSFER_OK: return CC_SUCCESS;
	case USB_TRANSFER_STALL: return CC_STALL;
	case USB_TRANSFER_BABBLE: return CC_BABBLE;
	default: return CC_USB_TRANSACTION_ERROR;
	}
}

/* Whether td ends in an error that halts its endpoint: known before xhci_td_report posts it. */
bool xhci_td_halts(const struct xhci_td *td)
{
	return td->error != CC_SUCCESS || device_cc(td->t.status) != CC_SUCCESS;
}

/* Copies what an IN transfer brought to the guest's buffers, in TRB order. */
static void scatter(struct xhci_td *td, size_t actual)
{
	size_t off = 0;

	for (unsigned int i = 0; i < td->ntrbs && off < actual; i++) {
		const struct xhci_trb *t = &td->trbs[i].trb;
		size_t len = trb_len(t);

		if (!is_data(trb_type(t)) || !len)
			continue;
		if (len > actual - off)
			len = actual - off;
		/* Checked at fetch time; regions never shrink, but check again anyway. */
		if (guest_memory_write(&td->x->mem, t->param, td->buf + off, len) < 0)
			return;
		off += len;
	}
}

void xhci_td_report_stopped(struct xhci_td *td)
{
	const struct xhci_trb *first = &td->trbs[0].trb;

	post(td, first, td->trbs[0].addr, 0, CC_STOPPED_LENGTH_INVALID, false);
}

/*
 * Writes IN data and posts the TD's Transfer Events: at each IOC TRB, at the
 * TRB where a short packet ended the data if it has ISP, at Event Data TRBs
 * with IOC, and at the TRB where an error struck. A control transfer's
 * Status stage is reported on its own (Linux waits for that event after a
 * short Data stage). xhci_td_halts tells beforehand whether the TD halts
 * its endpoint, whose context must say Halted before these events go out.
 */
void xhci_td_report(struct xhci_td *td)
{
	enum xhci_cc dcc;
	size_t left, actual;
	uint32_t edtla = 0;
	bool shortpkt = false, reported = false;

	if (td->error != CC_SUCCESS) {
		/* No TRB at all when the very first fetch failed (trbs is NULL then). */
		static const struct xhci_trb none;
		const struct xhci_trb *at = td->ntrbs ? &td->trbs[0].trb : &none;

		for (unsigned int i = 0; i < td->ntrbs; i++) {
			if (td->trbs[i].addr == td->error_trb)
				at = &td->trbs[i].trb;
		}
		post(td, at, td->error_trb, 0, td->error, false);
		return;
	}
	dcc = device_cc(td->t.status);
	actual = td->t.actual < td->t.length ? td->t.actual : td->t.length;
	if (td->in && dcc != CC_BABBLE && !td->direct)
		scatter(td, actual);
	left = actual;
	for (unsigned int i = 0; i < td->ntrbs; i++) {
		const struct xhci_trb *t = &td->trbs[i].trb;
		unsigned int type = trb_type(t);
		uint32_t len = 0, chunk = 0;

		if (is_data(type)) {
			len = trb_len(t);
			chunk = len;
			if (chunk > left) {
				chunk = (uint32_t)left;
				if (dcc == CC_SUCCESS)
					shortpkt = true;
			}
			left -= chunk;
			edtla += chunk;
		}
		if (type == TRB_STATUS && dcc == CC_SUCCESS) {
			/* The Status stage is a TD of its own: a short Data stage does not end it. */
			reported = false;
			shortpkt = false;
		}
		if (type == TRB_EVENT_DATA) {
			if (!reported && (t->control & TRB_IOC))
				post(td, t, t->param, edtla, shortpkt ? CC_SHORT_PACKET : dcc, true);
			edtla = 0;
			continue;
		}
		if (!reported && ((t->control & TRB_IOC) || (shortpkt && (t->control & TRB_ISP)) ||
				  (dcc != CC_SUCCESS && left == 0 && (is_data(type) || type == TRB_STATUS)))) {
			enum xhci_cc cc = dcc != CC_SUCCESS ? dcc : shortpkt ? CC_SHORT_PACKET : CC_SUCCESS;

			post(td, t, td->trbs[i].addr, len - chunk, cc, false);
			reported = true;
			if (dcc != CC_SUCCESS)
				return;
		}
	}
	if (dcc != CC_SUCCESS && !reported) {
		const struct td_trb *last = &td->trbs[td->ntrbs - 1];

		post(td, &last->trb, last->addr, 0, dcc, false);
	}
}
