/* SPDX-License-Identifier: MIT */
/*
 * Bulk streams (xHCI 1.2 section 4.12): an endpoint context with MaxPStreams
 * > 0 names, in its TR Dequeue Pointer field, a linear Primary Stream
 * Context Array of 2^(MaxPStreams+1) Stream Contexts (section 6.2.4.1), one
 * transfer ring per stream ID; ID 0 is reserved. The controller offers only
 * linear arrays (HCCPARAMS1.NSS, LSA = 1) of at most XHCI_MAX_STREAMS.
 *
 * The array is checked to lie in guest memory when the endpoint is
 * configured. A Stream Context is read when its stream is first used (a
 * doorbell) and then kept: the guest may change it only while the endpoint
 * is stopped, and stopping forgets what was read (xhci_streams_forget) after
 * writing each stream's dequeue pointer and cycle state back to it, so the
 * guest's contexts always say where every stream resumes.
 *
 * The device must take part: its streams are allocated when the endpoint is
 * configured (usb_device_ops.alloc_streams) and freed when it is disabled.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

#define EP_CTX_MAX_PSTREAMS(c0)	(((c0) >> 10) & 0x1f)
#define STREAM_CTX_SIZE		16u
#define SCT_PRIMARY_TR		1u

static uint64_t array_base(const uint32_t *ctx)
{
	return ((uint64_t)ctx[3] << 32 | ctx[2]) & ~0xfull;
}

/*
 * A context that asks for what the controller does not offer (streams on a
 * non-bulk endpoint, more than MaxPSASize, secondary arrays) is invalid:
 * Parameter Error, as for any invalid endpoint context field. A device that
 * cannot do streams is a resource the controller lacks: Resource Error.
 */
enum xhci_cc xhci_streams_check(struct xhci *x, const uint32_t *ctx, const struct usb_device *dev)
{
	unsigned int max_pstreams = EP_CTX_MAX_PSTREAMS(ctx[0]);
	unsigned int type = (ctx[1] >> 3) & 7;

	if (max_pstreams == 0)
		return CC_SUCCESS;
	if (type != EP_TYPE_BULK_OUT && type != EP_TYPE_BULK_IN)
		return CC_PARAMETER_ERROR;
	if (max_pstreams > XHCI_MAX_PSA_SIZE || !(ctx[0] & EP_CTX_LSA))
		return CC_PARAMETER_ERROR;
	if (!guest_memory_valid(&x->mem, array_base(ctx), (uint64_t)STREAM_CTX_SIZE << (max_pstreams + 1)))
		return CC_PARAMETER_ERROR;
	if (!dev || !dev->ops->alloc_streams) {
		log_debug("xhci: streams asked of a device that has none");
		return CC_RESOURCE_ERROR;
	}
	return CC_SUCCESS;
}

enum xhci_cc xhci_streams_setup(struct xhci_endpoint *ep)
{
	unsigned int max_pstreams = EP_CTX_MAX_PSTREAMS(ep->ctx[0]);
	unsigned int n;

	if (max_pstreams == 0)
		return CC_SUCCESS;
	n = 2u << max_pstreams;		/* <= XHCI_MAX_STREAMS: xhci_streams_check */
	ep->streams = calloc(n, sizeof(*ep->streams));
	if (!ep->streams)
		return CC_RESOURCE_ERROR;
	for (unsigned int i = 0; i < n; i++) {
		ep->streams[i].ep = ep;
		ep->streams[i].stream = i;
	}
	ep->nstreams = n;
	ep->stream_array = array_base(ep->ctx);
	ep->next_stream = 1;
	return CC_SUCCESS;
}

void xhci_streams_release(struct xhci_endpoint *ep)
{
	free(ep->streams);
	ep->streams = NULL;
	ep->nstreams = 0;
	ep->stream_array = 0;
}

enum xhci_cc xhci_streams_alloc_device(struct xhci_endpoint *ep, struct usb_device *dev)
{
	int r;

	if (!ep->streams)
		return CC_SUCCESS;
	if (!dev || !dev->ops->alloc_streams)
		return CC_RESOURCE_ERROR;
	/* Stream IDs 1..nstreams-1. */
	r = dev->ops->alloc_streams(dev, xhci_ep_address(ep), ep->nstreams - 1);
	if (r < 0) {
		log_warn("xhci: slot %u endpoint %u: the device refused %u streams (%d)", ep->slot_id,
			 ep->dci, ep->nstreams - 1, r);
		return CC_RESOURCE_ERROR;
	}
	return CC_SUCCESS;
}

void xhci_streams_free_device(struct xhci_endpoint *ep, struct usb_device *dev)
{
	if (ep->streams && dev && dev->ops->free_streams)
		dev->ops->free_streams(dev, xhci_ep_address(ep));
}

/* Reads stream tr's context; CC_SUCCESS when it names a primary transfer ring. */
static enum xhci_cc load(struct xhci_endpoint *ep, struct xhci_tr *tr)
{
	uint32_t sc[2];
	uint64_t deq;

	/* In guest memory since Configure Endpoint (regions never shrink), but check. */
	if (guest_memory_read(&ep->x->mem, ep->stream_array + STREAM_CTX_SIZE * tr->stream, sc, sizeof(sc)) < 0)
		return CC_TRB_ERROR;
	if (((sc[0] >> 1) & 7) != SCT_PRIMARY_TR)
		return CC_INVALID_STREAM_TYPE;
	deq = ((uint64_t)sc[1] << 32 | sc[0]) & ~0xfull;
	if (deq == 0)
		return CC_TRB_ERROR;
	tr->ring.dequeue = deq;
	tr->ring.ccs = sc[0] & 1;
	tr->budget = 0;
	tr->loaded = true;
	return CC_SUCCESS;
}

struct xhci_tr *xhci_stream_get(struct xhci_endpoint *ep, unsigned int id, bool read_ctx,
				enum xhci_cc *cc)
{
	struct xhci_tr *tr;

	if (!ep->streams || id == 0 || id >= ep->nstreams) {
		*cc = CC_INVALID_STREAM_ID;
		return NULL;
	}
	tr = &ep->streams[id];
	if (read_ctx && !tr->loaded) {
		*cc = load(ep, tr);
		if (*cc != CC_SUCCESS)
			return NULL;
	}
	*cc = CC_SUCCESS;
	return tr;
}

void xhci_stream_write_ctx(struct xhci_tr *tr)
{
	struct xhci_endpoint *ep = tr->ep;
	uint32_t sc[2] = {
		(uint32_t)(tr->ring.dequeue & ~0xfull) | (SCT_PRIMARY_TR << 1) | (tr->ring.ccs ? 1u : 0u),
		(uint32_t)(tr->ring.dequeue >> 32),
	};

	if (!tr->loaded || tr->stream == 0)
		return;
	if (guest_memory_write(&ep->x->mem, ep->stream_array + STREAM_CTX_SIZE * tr->stream, sc, sizeof(sc)) < 0)
		log_debug("xhci: stream context %u outside guest memory", tr->stream);
}

void xhci_streams_forget(struct xhci_endpoint *ep)
{
	for (unsigned int i = 0; i < ep->nstreams; i++) {
		ep->streams[i].loaded = false;
		ep->streams[i].rung = false;
	}
}
