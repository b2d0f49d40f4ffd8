/* SPDX-License-Identifier: MIT */
/*
 * Endpoints: the endpoint state machine (Disabled, Running, Halted, Stopped),
 * the queues of TDs fetched from the transfer rings, and the ordering of
 * their completions.
 *
 * An endpoint has one transfer ring, or with bulk streams one per stream
 * (stream.c); each ring (struct xhci_tr) keeps its own queue. Up to
 * XHCI_EP_MAX_INFLIGHT TDs of one endpoint, all rings together, are at the
 * device at once, so a bulk pipe never idles between TDs; streams take
 * turns. The device completes the TDs of one ring in order (usb_device.h),
 * but reporting goes through the ring's queue head anyway: events reach the
 * guest in ring order whatever happens, and a stream never waits for
 * another. A failed TD halts the endpoint; the TDs behind it, on every ring,
 * are cancelled and will be fetched again after the guest recovers the
 * endpoint. While an event ring is full no new TD is fetched
 * (interrupter.c); xhci_ep_resume_fetch picks up from there.
 */
#include <string.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

static void kick_deferred(void *opaque)
{
	xhci_ep_kick(opaque);
}

void xhci_ep_init(struct xhci *x, struct xhci_endpoint *ep, unsigned int slot, unsigned int dci)
{
	memset(ep, 0, sizeof(*ep));
	ep->x = x;
	ep->slot_id = slot;
	ep->dci = dci;
	ep->tr.ep = ep;
	ep->kick_later.fn = kick_deferred;
	ep->kick_later.opaque = ep;
}

static struct xhci_slot *ep_slot(struct xhci_endpoint *ep)
{
	return &ep->x->slots[ep->slot_id];
}

uint8_t xhci_ep_address(const struct xhci_endpoint *ep)
{
	return (uint8_t)(ep->dci / 2) | (ep->dci & 1 ? USB_DIR_IN : 0);
}

/* The rings of ep: its own, or its streams' (entry 0 of which is never used). */
static struct xhci_tr *rings(struct xhci_endpoint *ep, unsigned int *n)
{
	if (ep->streams) {
		*n = ep->nstreams;
		return ep->streams;
	}
	*n = 1;
	return &ep->tr;
}

/*
 * Mirrors state and dequeue pointer into the context and the guest's output
 * context. With streams the context's dequeue field keeps naming the stream
 * array; each stream's position goes to its Stream Context instead.
 */
static void sync_ctx(struct xhci_endpoint *ep)
{
	ep->ctx[0] = (ep->ctx[0] & ~7u) | (uint32_t)ep->state;
	if (ep->streams) {
		for (unsigned int i = 1; i < ep->nstreams; i++)
			xhci_stream_write_ctx(&ep->streams[i]);
	} else {
		ep->ctx[2] = (uint32_t)(ep->tr.ring.dequeue & ~0xfull) | (ep->tr.ring.ccs ? 1u : 0u);
		ep->ctx[3] = (uint32_t)(ep->tr.ring.dequeue >> 32);
	}
	xhci_slot_write_out(ep->x, ep_slot(ep), ep->dci);
}

void xhci_ep_set_state(struct xhci_endpoint *ep, enum xhci_ep_state st)
{
	ep->state = st;
	sync_ctx(ep);
	/* Stopped: the guest may now rewrite Stream Contexts; read them again at the next doorbell. */
	if (st == EP_STOPPED && ep->streams)
		xhci_streams_forget(ep);
}

void xhci_ep_set_dequeue(struct xhci_endpoint *ep, struct xhci_tr *tr, uint64_t ptr, bool dcs)
{
	tr->ring.dequeue = ptr;
	tr->ring.ccs = dcs;
	tr->budget = 0;
	if (tr->stream)
		tr->loaded = true;
	sync_ctx(ep);
}

/*
 * A TD that failed before its cancel reached it halted the endpoint while
 * the stop waited: a stop finds the endpoint Halted, a Context State Error
 * (xHCI 1.2, 4.6.9), which Linux answers by resetting it. Success would say
 * Stopped, and Linux's Set TR Dequeue Pointer would then fail on it.
 */
static void finish_stop(struct xhci_endpoint *ep)
{
	bool halted = ep->state == EP_HALTED;

	ep->stopping = false;
	xhci_ep_set_state(ep, ep->state == EP_RUNNING ? EP_STOPPED : ep->state);
	xhci_cmd_complete(ep->x, ep->stop_cmd, halted ? CC_CONTEXT_STATE_ERROR : CC_SUCCESS,
			  ep->slot_id);
	xhci_cmd_resume(ep->x);
}

/* Gives every queued TD up: the device returns them to nobody. */
void xhci_ep_orphan_all(struct xhci_endpoint *ep)
{
	unsigned int n;
	struct xhci_tr *trs = rings(ep, &n);

	for (unsigned int i = 0; i < n; i++) {
		struct xhci_td *td = trs[i].head;

		trs[i].head = trs[i].tail = NULL;
		trs[i].inflight = 0;
		while (td) {
			struct xhci_td *next = xhci_td_next(td);

			xhci_td_orphan(td);
			td = next;
		}
	}
	ep->inflight = 0;
	event_loop_cancel_deferred(ep->x->loop, &ep->kick_later);
	if (ep->stopping)
		finish_stop(ep);
}

enum xhci_cc xhci_ep_enable(struct xhci_endpoint *ep, const uint32_t *ctx)
{
	enum xhci_cc cc;

	xhci_ep_orphan_all(ep);
	xhci_streams_release(ep);
	memcpy(ep->ctx, ctx, sizeof(ep->ctx));
	ep->type = (ctx[1] >> 3) & 7;
	ep->max_packet = (uint16_t)(ctx[1] >> 16);
	memset(&ep->tr, 0, sizeof(ep->tr));
	ep->tr.ep = ep;
	ep->fetch_held = false;
	cc = xhci_streams_setup(ep);
	if (cc != CC_SUCCESS) {
		ep->state = EP_DISABLED;
		return cc;
	}
	if (!ep->streams) {
		ep->tr.ring.dequeue = ((uint64_t)ctx[3] << 32 | ctx[2]) & ~0xfull;
		ep->tr.ring.ccs = ctx[2] & 1;
	}
	ep->state = EP_RUNNING;
	sync_ctx(ep);
	return CC_SUCCESS;
}

void xhci_ep_disable(struct xhci_endpoint *ep)
{
	xhci_ep_orphan_all(ep);
	xhci_streams_free_device(ep, xhci_slot_device(ep->x, ep_slot(ep)));
	xhci_streams_release(ep);
	if (ep->state == EP_DISABLED)
		return;
	ep->state = EP_DISABLED;
	sync_ctx(ep);
}

static void append(struct xhci_tr *tr, struct xhci_td *td)
{
	if (tr->tail)
		xhci_td_set_next(tr->tail, td);
	else
		tr->head = td;
	tr->tail = td;
	tr->inflight++;
	tr->ep->inflight++;
}

static struct xhci_td *pop(struct xhci_tr *tr)
{
	struct xhci_td *td = tr->head;

	tr->head = xhci_td_next(td);
	if (!tr->head)
		tr->tail = NULL;
	xhci_td_set_next(td, NULL);
	tr->inflight--;
	tr->ep->inflight--;
	return td;
}

/*
 * The head TD of failed's ring failed: the endpoint halts, that ring resumes
 * at resume_at, every other ring at its first TD not reported, and the
 * guest's output context says so at once. What the rings queued is given up
 * afterwards (xhci_ep_orphan_all), once the failure is reported.
 */
static void halt(struct xhci_tr *failed, const struct xhci_ring *resume_at)
{
	struct xhci_endpoint *ep = failed->ep;
	unsigned int n;
	struct xhci_tr *trs = rings(ep, &n);

	for (unsigned int i = 0; i < n; i++) {
		if (trs[i].head)
			trs[i].ring = *xhci_td_start(trs[i].head);
	}
	failed->ring = *resume_at;
	ep->state = EP_HALTED;
	sync_ctx(ep);
}

/* Reports the TDs at the head of tr's queue that are done, in ring order. */
void xhci_tr_complete(struct xhci_tr *tr)
{
	struct xhci_endpoint *ep = tr->ep;

	while (tr->head && xhci_td_is_done(tr->head)) {
		struct xhci_td *td = pop(tr);

		if (ep->stopping && xhci_td_cancelled(td)) {
			/* The first TD the stop cut short is where the ring resumes. */
			if (!tr->stop_reported) {
				tr->ring = *xhci_td_start(td);
				xhci_td_report_stopped(td);
				tr->stop_reported = true;
			}
			xhci_td_free(td);
			continue;
		}
		if (xhci_td_halts(td)) {
			/*
			 * The Halted endpoint's dequeue pointer stays on the TD that
			 * failed (xHCI 4.10.2). A driver that gives the TD up moves it
			 * with Set TR Dequeue Pointer (Linux does after a stall); one
			 * that retries resets the endpoint with TSP and rings again
			 * (Linux's soft retry of a Transaction Error), and the same TD
			 * must run, not the one behind it.
			 *
			 * The output context says Halted before the event that tells
			 * why is written: the guest's vCPUs run while this process
			 * works, and Linux reads the context as it handles an error it
			 * no longer soft-retries (finish_td). Seeing it still Running
			 * or Stopped, Linux gives the TD back with neither Reset
			 * Endpoint nor Set TR Dequeue Pointer, while this endpoint
			 * stays halted on that TD and runs it again at the next
			 * restart, behind Linux's dequeue pointer ("TRB DMA ptr not
			 * part of current TD" after a host unplug).
			 */
			struct xhci_ring at = *xhci_td_start(td);

			halt(tr, &at);
			xhci_td_report(td);
			xhci_td_free(td);
			/* The TDs behind it, on every ring, are cancelled and never reported. */
			xhci_ep_orphan_all(ep);
			break;
		}
		xhci_td_report(td);
		xhci_td_free(td);
	}
	sync_ctx(ep);
	if (ep->stopping) {
		if (ep->inflight == 0)
			finish_stop(ep);
		return;
	}
	if (ep->state == EP_RUNNING && ep->inflight < XHCI_EP_MAX_INFLIGHT)
		event_loop_defer(ep->x->loop, &ep->kick_later);
}

/* Fetches and submits TDs of tr while the endpoint may hold more. */
static void kick_ring(struct xhci_endpoint *ep, struct xhci_tr *tr, struct usb_device *dev)
{
	bool fetched = false;

	while (ep->inflight < XHCI_EP_MAX_INFLIGHT) {
		struct xhci_td *td = xhci_td_fetch(tr, dev);

		if (!td) {
			/* Nothing more until the next doorbell of this ring. */
			tr->rung = false;
			break;
		}
		fetched = true;
		append(tr, td);
		xhci_td_submit(td, dev);
		if (xhci_td_failed(td))
			break;
	}
	if (fetched)
		xhci_tr_complete(tr);
}

void xhci_ep_kick(struct xhci_endpoint *ep)
{
	struct xhci *x = ep->x;
	struct usb_device *dev;
	unsigned int n;

	if (!xhci_running(x) || ep->state != EP_RUNNING || ep->stopping)
		return;
	if (xhci_intr_backlogged(x)) {
		ep->fetch_held = true;
		return;
	}
	dev = xhci_slot_device(x, ep_slot(ep));
	/*
	 * The device left its port: its TDs wait on the ring, as for a device
	 * that does not answer, until the guest, told by the port, stops the
	 * endpoint or disables the slot (as QEMU's xHCI does). An error for each
	 * would feed Linux's soft retries and drivers that resubmit from the
	 * completion, and keep the guest from the disconnect.
	 */
	if (!dev)
		return;
	if (!ep->streams) {
		kick_ring(ep, &ep->tr, dev);
		return;
	}
	/* Streams whose doorbell rang, each in turn from a start that moves on: none starves. */
	n = ep->nstreams;
	for (unsigned int i = 0; i < n && ep->state == EP_RUNNING && !ep->stopping &&
	     ep->inflight < XHCI_EP_MAX_INFLIGHT; i++) {
		struct xhci_tr *tr = &ep->streams[(ep->next_stream + i) % n];

		if (tr->rung)
			kick_ring(ep, tr, dev);
	}
	ep->next_stream = ep->next_stream % (n - 1) + 1;
}

/* Only an endpoint a full event ring held up: the others have no doorbell to honour. */
void xhci_ep_resume_fetch(struct xhci_endpoint *ep)
{
	if (!ep->fetch_held)
		return;
	ep->fetch_held = false;
	event_loop_defer(ep->x->loop, &ep->kick_later);
}

/* The ring a doorbell names, its context read; NULL if it names none. */
static struct xhci_tr *doorbell_ring(struct xhci_endpoint *ep, unsigned int stream)
{
	enum xhci_cc cc;
	struct xhci_tr *tr;

	if (!ep->streams) {
		if (stream == 0)
			return &ep->tr;
		log_debug("xhci: doorbell for stream %u on a stream-less endpoint ignored", stream);
		return NULL;
	}
	/* Stream 0 is reserved, others beyond the array or with a bad context name nothing. */
	tr = xhci_stream_get(ep, stream, true, &cc);
	if (!tr)
		log_debug("xhci: slot %u endpoint %u: doorbell for stream %u ignored (cc %d)",
			  ep->slot_id, ep->dci, stream, cc);
	return tr;
}

static void ring_it(struct xhci_tr *tr)
{
	tr->budget = XHCI_WALK_BUDGET;
	tr->rung = true;
}

static void run(struct xhci_endpoint *ep)
{
	if (ep->state == EP_STOPPED)
		ep->state = EP_RUNNING;
	if (ep->state == EP_RUNNING)
		xhci_ep_kick(ep);
}

void xhci_ep_doorbell(struct xhci_endpoint *ep, unsigned int stream)
{
	struct xhci_tr *tr;

	if (ep->state != EP_RUNNING && ep->state != EP_STOPPED)
		return;
	tr = doorbell_ring(ep, stream);
	if (!tr)
		return;
	ring_it(tr);
	run(ep);
}

int xhci_ep_stop(struct xhci_endpoint *ep, uint64_t cmd_trb)
{
	struct usb_device *dev = xhci_slot_device(ep->x, ep_slot(ep));
	unsigned int n;
	struct xhci_tr *trs = rings(ep, &n);

	event_loop_cancel_deferred(ep->x->loop, &ep->kick_later);
	if (ep->inflight == 0) {
		xhci_ep_set_state(ep, EP_STOPPED);
		return 0;
	}
	ep->stopping = true;
	ep->stop_cmd = cmd_trb;
	/*
	 * A head TD is never done here (xhci_tr_complete reports done heads at
	 * once), so the stop completes when the device returns the cancelled TDs.
	 */
	for (unsigned int i = 0; i < n; i++) {
		trs[i].stop_reported = false;
		for (struct xhci_td *td = trs[i].head; td; td = xhci_td_next(td))
			xhci_td_cancel(td, dev);
	}
	return 1;
}
