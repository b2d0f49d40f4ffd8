/* SPDX-License-Identifier: MIT */
/*
 * Endpoints: the endpoint state machine (Disabled, Running, Halted, Stopped),
 * the queue of TDs fetched from the transfer ring, and the ordering of their
 * completions.
 *
 * Up to XHCI_EP_MAX_INFLIGHT TDs of one endpoint are at the device at once,
 * so a bulk pipe never idles between TDs. The device completes them in order
 * (usb_device.h), but reporting goes through the queue head anyway: events
 * reach the guest in ring order whatever happens. A failed TD halts the
 * endpoint; the TDs behind it are cancelled and will be fetched again after
 * the guest recovers the endpoint. While an event ring is full no new TD is
 * fetched (interrupter.c); xhci_ep_resume_fetch picks up from there.
 */
#include <string.h>

#include "log.h"
#include "xhci.h"

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
	ep->kick_later.fn = kick_deferred;
	ep->kick_later.opaque = ep;
}

static struct xhci_slot *ep_slot(struct xhci_endpoint *ep)
{
	return &ep->x->slots[ep->slot_id];
}

/* Mirrors state and dequeue pointer into the context and the guest's output context. */
static void sync_ctx(struct xhci_endpoint *ep)
{
	ep->ctx[0] = (ep->ctx[0] & ~7u) | (uint32_t)ep->state;
	ep->ctx[2] = (uint32_t)(ep->ring.dequeue & ~0xfull) | (ep->ring.ccs ? 1u : 0u);
	ep->ctx[3] = (uint32_t)(ep->ring.dequeue >> 32);
	xhci_slot_write_out(ep->x, ep_slot(ep), ep->dci);
}

void xhci_ep_set_state(struct xhci_endpoint *ep, enum xhci_ep_state st)
{
	ep->state = st;
	sync_ctx(ep);
}

void xhci_ep_set_dequeue(struct xhci_endpoint *ep, uint64_t ptr, bool dcs)
{
	ep->ring.dequeue = ptr;
	ep->ring.ccs = dcs;
	sync_ctx(ep);
}

static void finish_stop(struct xhci_endpoint *ep)
{
	ep->stopping = false;
	if (ep->state == EP_RUNNING)
		ep->state = EP_STOPPED;
	sync_ctx(ep);
	xhci_cmd_complete(ep->x, ep->stop_cmd, CC_SUCCESS, ep->slot_id);
	xhci_cmd_resume(ep->x);
}

/* Gives every queued TD up: the device returns them to nobody. */
void xhci_ep_orphan_all(struct xhci_endpoint *ep)
{
	struct xhci_td *td = ep->head;

	ep->head = ep->tail = NULL;
	ep->inflight = 0;
	while (td) {
		struct xhci_td *next = xhci_td_next(td);

		xhci_td_orphan(td);
		td = next;
	}
	event_loop_cancel_deferred(ep->x->loop, &ep->kick_later);
	if (ep->stopping)
		finish_stop(ep);
}

void xhci_ep_enable(struct xhci_endpoint *ep, const uint32_t *ctx)
{
	xhci_ep_orphan_all(ep);
	memcpy(ep->ctx, ctx, sizeof(ep->ctx));
	ep->type = (ctx[1] >> 3) & 7;
	ep->max_packet = (uint16_t)(ctx[1] >> 16);
	ep->ring.dequeue = ((uint64_t)ctx[3] << 32 | ctx[2]) & ~0xfull;
	ep->ring.ccs = ctx[2] & 1;
	ep->budget = 0;
	ep->fetch_held = false;
	ep->state = EP_RUNNING;
	sync_ctx(ep);
}

void xhci_ep_disable(struct xhci_endpoint *ep)
{
	xhci_ep_orphan_all(ep);
	if (ep->state == EP_DISABLED)
		return;
	ep->state = EP_DISABLED;
	sync_ctx(ep);
}

static void append(struct xhci_endpoint *ep, struct xhci_td *td)
{
	if (ep->tail)
		xhci_td_set_next(ep->tail, td);
	else
		ep->head = td;
	ep->tail = td;
	ep->inflight++;
}

static struct xhci_td *pop(struct xhci_endpoint *ep)
{
	struct xhci_td *td = ep->head;

	ep->head = xhci_td_next(td);
	if (!ep->head)
		ep->tail = NULL;
	xhci_td_set_next(td, NULL);
	ep->inflight--;
	return td;
}

/* The head TD failed: the endpoint halts and what followed it is given up. */
static void halt(struct xhci_endpoint *ep, const struct xhci_ring *resume_at)
{
	ep->ring = *resume_at;
	ep->state = EP_HALTED;
	xhci_ep_orphan_all(ep);
}

/* Reports the TDs at the head of the queue that are done, in ring order. */
void xhci_ep_complete(struct xhci_endpoint *ep)
{
	while (ep->head && xhci_td_is_done(ep->head)) {
		struct xhci_td *td = pop(ep);
		enum xhci_cc cc;

		if (ep->stopping && xhci_td_cancelled(td)) {
			/* The first TD the stop cut short is where the ring resumes. */
			if (!ep->stop_reported) {
				ep->ring = *xhci_td_start(td);
				xhci_td_report_stopped(td);
				ep->stop_reported = true;
			}
			xhci_td_free(td);
			continue;
		}
		cc = xhci_td_report(td);
		if (cc != CC_SUCCESS && cc != CC_SHORT_PACKET) {
			/*
			 * The Halted endpoint's dequeue pointer stays on the TD that
			 * failed (xHCI 4.10.2). A driver that gives the TD up moves it
			 * with Set TR Dequeue Pointer (Linux does after a stall); one
			 * that retries resets the endpoint with TSP and rings again
			 * (Linux's soft retry of a Transaction Error), and the same TD
			 * must run, not the one behind it.
			 */
			struct xhci_ring at = *xhci_td_start(td);

			xhci_td_free(td);
			halt(ep, &at);
			break;
		}
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

void xhci_ep_kick(struct xhci_endpoint *ep)
{
	struct xhci *x = ep->x;
	struct usb_device *dev;
	bool fetched = false;

	if (!xhci_running(x) || ep->state != EP_RUNNING || ep->stopping)
		return;
	if (xhci_intr_backlogged(x)) {
		ep->fetch_held = true;
		return;
	}
	dev = xhci_slot_device(x, ep_slot(ep));
	while (ep->inflight < XHCI_EP_MAX_INFLIGHT) {
		struct xhci_td *td = xhci_td_fetch(ep, dev);

		if (!td)
			break;
		fetched = true;
		append(ep, td);
		xhci_td_submit(td, dev);
		if (xhci_td_failed(td))
			break;
	}
	if (fetched)
		xhci_ep_complete(ep);
}

/* Only an endpoint a full event ring held up: the others have no doorbell to honour. */
void xhci_ep_resume_fetch(struct xhci_endpoint *ep)
{
	if (!ep->fetch_held)
		return;
	ep->fetch_held = false;
	event_loop_defer(ep->x->loop, &ep->kick_later);
}

void xhci_ep_doorbell(struct xhci_endpoint *ep, unsigned int stream)
{
	if (stream) {
		/* No endpoint has streams; the doorbell names nothing. */
		log_debug("xhci: doorbell for stream %u on a stream-less endpoint ignored", stream);
		return;
	}
	if (ep->state == EP_STOPPED)
		ep->state = EP_RUNNING;
	if (ep->state != EP_RUNNING)
		return;
	ep->budget = XHCI_WALK_BUDGET;
	xhci_ep_kick(ep);
}

int xhci_ep_stop(struct xhci_endpoint *ep, uint64_t cmd_trb)
{
	struct usb_device *dev = xhci_slot_device(ep->x, ep_slot(ep));

	event_loop_cancel_deferred(ep->x->loop, &ep->kick_later);
	if (ep->inflight == 0) {
		xhci_ep_set_state(ep, EP_STOPPED);
		return 0;
	}
	ep->stopping = true;
	ep->stop_reported = false;
	ep->stop_cmd = cmd_trb;
	/*
	 * The head TD is never done here (xhci_ep_complete reports done heads at
	 * once), so the stop completes when the device returns the cancelled TDs.
	 */
	for (struct xhci_td *td = ep->head; td; td = xhci_td_next(td))
		xhci_td_cancel(td, dev);
	return 1;
}
