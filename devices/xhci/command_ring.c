/* SPDX-License-Identifier: MIT */
/*
 * The command ring: CRCR, the doorbell-0 walk and every command. Each
 * command is checked against the spec's preconditions and ends in a Command
 * Completion Event with the code the spec gives; a command ring that leaves
 * guest memory or loops on Link TRBs is an internal inconsistency: HCE.
 *
 * Commands run in batches of XHCI_CMD_BATCH, the rest after the event loop
 * had its turn. Stop Endpoint with transfers in flight completes when the
 * device has returned them; the ring waits for it (cmd_blocked). While an
 * event ring is full no command runs (its completion would have nowhere to
 * go); the ERDP write that makes room resumes the ring.
 */
#include <errno.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

static void cmd_run_deferred(void *opaque);

void xhci_cmd_reset(struct xhci *x)
{
	x->cmd.dequeue = 0;
	x->cmd.ccs = false;
	x->crr = false;
	x->cmd_blocked = false;
	x->cmd_later.fn = cmd_run_deferred;
	x->cmd_later.opaque = x;
	event_loop_cancel_deferred(x->loop, &x->cmd_later);
}

uint32_t xhci_cmd_read_crcr(struct xhci *x, uint32_t reg)
{
	/* The pointer reads as 0; only CRR tells anything. */
	return reg == 0 && x->crr ? CRCR_CRR : 0;
}

void xhci_cmd_complete(struct xhci *x, uint64_t trb_addr, enum xhci_cc cc, unsigned int slot)
{
	struct xhci_trb ev = {
		.param = trb_addr,
		.status = (uint32_t)cc << 24,
		.control = trb_type_bits(TRB_EV_CMD_COMPLETION) | (slot << 24),
	};

	xhci_event(x, 0, &ev, true);
}

void xhci_cmd_write_crcr(struct xhci *x, uint32_t reg, uint32_t value)
{
	if (reg != 0) {
		if (!x->crr)
			x->cmd.dequeue = (x->cmd.dequeue & 0xffffffffull) | ((uint64_t)value << 32);
		return;
	}
	if (!x->crr) {
		x->cmd.dequeue = (x->cmd.dequeue & 0xffffffff00000000ull) | (value & ~0x3fu);
		x->cmd.ccs = value & CRCR_RCS;
		return;
	}
	if (value & (CRCR_CS | CRCR_CA)) {
		/*
		 * Stop or abort. A command waiting on the device is left to
		 * finish (it completes on its own); the ring stops after it.
		 */
		x->crr = false;
		if (!x->cmd_blocked)
			xhci_cmd_complete(x, x->cmd.dequeue, CC_COMMAND_RING_STOPPED, 0);
	}
}

/* The slot a command names, or NULL with *cc set. */
static struct xhci_slot *cmd_slot(struct xhci *x, const struct xhci_trb *trb, enum xhci_cc *cc)
{
	struct xhci_slot *s = xhci_slot_get(x, trb_slot(trb));

	if (!s) {
		*cc = CC_TRB_ERROR;
		return NULL;
	}
	if (!s->enabled) {
		*cc = CC_SLOT_NOT_ENABLED;
		return NULL;
	}
	return s;
}

static struct xhci_endpoint *cmd_ep(struct xhci *x, const struct xhci_trb *trb, enum xhci_cc *cc)
{
	struct xhci_slot *s = cmd_slot(x, trb, cc);
	unsigned int dci = trb_ep_id(trb);

	if (!s)
		return NULL;
	if (dci == 0) {
		*cc = CC_TRB_ERROR;
		return NULL;
	}
	return &s->ep[dci];
}

static enum xhci_cc cmd_enable_slot(struct xhci *x, const struct xhci_trb *trb, unsigned int *slot)
{
	int id;

	/* Slot type 0 is the only one the Supported Protocol capabilities name. */
	if ((trb->control >> 16) & 0x1f)
		return CC_TRB_ERROR;
	id = xhci_slot_enable(x);
	if (id < 0)
		return CC_NO_SLOTS;
	*slot = (unsigned int)id;
	return CC_SUCCESS;
}

static enum xhci_cc cmd_disable_slot(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_slot *s = cmd_slot(x, trb, &cc);

	if (s)
		xhci_slot_disable(x, s);
	return cc;
}

static enum xhci_cc cmd_address_device(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_slot *s = cmd_slot(x, trb, &cc);
	bool bsr = trb->control & TRB_BSR;
	struct xhci_input_ctx in;
	struct xhci_port *p;
	uint64_t out;
	unsigned int port;

	if (!s)
		return cc;
	if (s->state != SLOT_DISABLED_ENABLED && !(s->state == SLOT_DEFAULT && !bsr))
		return CC_CONTEXT_STATE_ERROR;
	if (xhci_ctx_read_input(x, trb->param, 1u << 1, &in) < 0)
		return CC_TRB_ERROR;
	if (in.drop != 0 || (in.add & 3) != 3)
		return CC_PARAMETER_ERROR;
	port = xhci_slot_ctx_port(in.slot);
	p = xhci_port_get(x, port);
	/* No hubs behind the root ports: a route string names nothing. */
	if (!p || (in.slot[0] & 0xfffff))
		return CC_PARAMETER_ERROR;
	/*
	 * One slot per root port: a second slot on the same device would mix
	 * two guests' views of one BOT state machine and multiply what the
	 * device holds queued (QEMU refuses it the same way).
	 */
	for (unsigned int id = 1; id <= XHCI_MAX_SLOTS; id++) {
		if (id != s->id && x->slots[id].enabled && x->slots[id].port == port)
			return CC_TRB_ERROR;
	}
	cc = xhci_ctx_check_ep(in.ep[1], 1);
	if (cc != CC_SUCCESS)
		return cc;
	if (xhci_ctx_read_dcbaa(x, s->id, &out) < 0)
		return CC_PARAMETER_ERROR;
	/* The device must be there and its port enabled (reset done). */
	if (!p->dev || !(xhci_port_read(x, port - 1, 0) & 0x2))
		return CC_USB_TRANSACTION_ERROR;
	s->port = port;
	s->out_ctx = out;
	for (unsigned int i = 0; i < XHCI_CTX_DWORDS; i++)
		s->ctx[i] = in.slot[i];
	/* Context Entries is 1 until Configure Endpoint adds more. */
	s->ctx[0] = (s->ctx[0] & 0x07ffffffu) | (1u << 27);
	/* SET_ADDRESS is the controller's business; the address is the slot ID. */
	s->state = bsr ? SLOT_DEFAULT : SLOT_ADDRESSED;
	s->ctx[3] = (bsr ? 0 : s->id) | ((uint32_t)s->state << 27);
	cc = xhci_ep_enable(&s->ep[1], in.ep[1]);	/* no streams on EP0: cannot fail */
	xhci_slot_write_out(x, s, 0);
	return cc;
}

/* Enables the endpoints a Configure Endpoint adds, streams allocated on the device. */
static enum xhci_cc enable_added(struct xhci *x, struct xhci_slot *s, const struct xhci_input_ctx *in)
{
	struct usb_device *dev = xhci_slot_device(x, s);
	enum xhci_cc cc = CC_SUCCESS;

	for (unsigned int d = 2; d < XHCI_NUM_EPS && cc == CC_SUCCESS; d++) {
		if (!(in->add & (1u << d)))
			continue;
		cc = xhci_ep_enable(&s->ep[d], in->ep[d]);
		if (cc == CC_SUCCESS)
			cc = xhci_streams_alloc_device(&s->ep[d], dev);
	}
	if (cc == CC_SUCCESS)
		return cc;
	/* The device refused: none of the added endpoints is left half enabled. */
	for (unsigned int d = 2; d < XHCI_NUM_EPS; d++) {
		if (in->add & (1u << d))
			xhci_ep_disable(&s->ep[d]);
	}
	return cc;
}

static enum xhci_cc cmd_configure_ep(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_slot *s = cmd_slot(x, trb, &cc);
	struct xhci_input_ctx in;

	if (!s)
		return cc;
	if (s->state != SLOT_ADDRESSED && s->state != SLOT_CONFIGURED)
		return CC_CONTEXT_STATE_ERROR;
	if (trb->control & TRB_DC) {
		for (unsigned int d = 2; d < XHCI_NUM_EPS; d++)
			xhci_ep_disable(&s->ep[d]);
		xhci_slot_update_configured(s);
		xhci_slot_write_out(x, s, 0);
		return CC_SUCCESS;
	}
	if (xhci_ctx_read_input(x, trb->param, ~3u, &in) < 0)
		return CC_TRB_ERROR;
	if ((in.drop & 3) || (in.add & 2))
		return CC_PARAMETER_ERROR;
	/*
	 * Check everything first: a refused command changes nothing. Only a
	 * device refusing streams (Resource Error) comes after the drops.
	 */
	for (unsigned int d = 2; d < XHCI_NUM_EPS; d++) {
		if (!(in.add & (1u << d)))
			continue;
		cc = xhci_ctx_check_ep(in.ep[d], d);
		if (cc == CC_SUCCESS)
			cc = xhci_streams_check(x, in.ep[d], xhci_slot_device(x, s));
		if (cc != CC_SUCCESS)
			return cc;
	}
	/* An endpoint added again is dropped first: its device streams are freed. */
	for (unsigned int d = 2; d < XHCI_NUM_EPS; d++) {
		if ((in.drop | in.add) & (1u << d))
			xhci_ep_disable(&s->ep[d]);
	}
	cc = enable_added(x, s, &in);
	if (cc == CC_SUCCESS && (in.add & 1))
		s->ctx[0] = (s->ctx[0] & 0x07ffffffu) | (in.slot[0] & 0xf8000000u);
	xhci_slot_update_configured(s);
	xhci_slot_write_out(x, s, 0);
	return cc;
}

static enum xhci_cc cmd_evaluate_ctx(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_slot *s = cmd_slot(x, trb, &cc);
	struct xhci_input_ctx in;

	if (!s)
		return cc;
	if (s->state == SLOT_DISABLED_ENABLED)
		return CC_CONTEXT_STATE_ERROR;
	if (xhci_ctx_read_input(x, trb->param, 1u << 1, &in) < 0)
		return CC_TRB_ERROR;
	if ((in.add & 2) && ((in.ep[1][1] >> 16) == 0 || (in.ep[1][1] >> 16) > 1024))
		return CC_PARAMETER_ERROR;
	if (in.add & 1) {
		/* Max Exit Latency and Interrupter Target are what Evaluate Context may change. */
		s->ctx[1] = (s->ctx[1] & ~0xffffu) | (in.slot[1] & 0xffffu);
		s->ctx[2] = (s->ctx[2] & 0x003fffffu) | (in.slot[2] & 0xffc00000u);
		xhci_slot_write_out(x, s, 0);
	}
	if (in.add & 2) {
		struct xhci_endpoint *ep = &s->ep[1];

		ep->max_packet = (uint16_t)(in.ep[1][1] >> 16);
		ep->ctx[1] = (ep->ctx[1] & 0xffffu) | ((uint32_t)ep->max_packet << 16);
		xhci_slot_write_out(x, s, 1);
	}
	return CC_SUCCESS;
}

static enum xhci_cc cmd_reset_ep(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_endpoint *ep = cmd_ep(x, trb, &cc);

	if (!ep)
		return cc;
	if (ep->state != EP_HALTED)
		return CC_CONTEXT_STATE_ERROR;
	xhci_ep_set_state(ep, EP_STOPPED);
	return CC_SUCCESS;
}

/* CC_INVALID: the command completes later. */
static enum xhci_cc cmd_stop_ep(struct xhci *x, const struct xhci_trb *trb, uint64_t addr)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_endpoint *ep = cmd_ep(x, trb, &cc);

	if (!ep)
		return cc;
	if (ep->state != EP_RUNNING)
		return CC_CONTEXT_STATE_ERROR;
	if (xhci_ep_stop(ep, addr) > 0) {
		x->cmd_blocked = true;
		return CC_INVALID;
	}
	return CC_SUCCESS;
}

static enum xhci_cc cmd_set_tr_deq(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_endpoint *ep = cmd_ep(x, trb, &cc);
	uint64_t ptr = trb->param & ~0xfull;

	unsigned int stream = trb->status >> 16;
	struct xhci_tr *tr = NULL;

	if (!ep)
		return cc;
	if (ep->streams) {
		/* The stream's ring; SCT (3:1) must say primary transfer ring, all a linear array has. */
		tr = xhci_stream_get(ep, stream, false, &cc);
		if (!tr)
			return cc;
		if (((trb->param >> 1) & 7) != 1)
			return CC_INVALID_STREAM_TYPE;
	} else if (stream) {
		return CC_INVALID_STREAM_ID;
	} else {
		tr = &ep->tr;
	}
	if (ep->state != EP_STOPPED && ep->state != EP_ERROR)
		return CC_CONTEXT_STATE_ERROR;
	if (ptr == 0)
		return CC_TRB_ERROR;
	xhci_ep_set_dequeue(ep, tr, ptr, trb->param & 1);
	return CC_SUCCESS;
}

static enum xhci_cc cmd_reset_device(struct xhci *x, const struct xhci_trb *trb)
{
	enum xhci_cc cc = CC_SUCCESS;
	struct xhci_slot *s = cmd_slot(x, trb, &cc);

	if (!s)
		return cc;
	if (s->state != SLOT_ADDRESSED && s->state != SLOT_CONFIGURED)
		return CC_CONTEXT_STATE_ERROR;
	for (unsigned int d = 2; d < XHCI_NUM_EPS; d++)
		xhci_ep_disable(&s->ep[d]);
	xhci_ep_orphan_all(&s->ep[1]);
	s->state = SLOT_DEFAULT;
	s->ctx[0] = (s->ctx[0] & 0x07ffffffu) | (1u << 27);
	s->ctx[3] = (uint32_t)SLOT_DEFAULT << 27;
	xhci_slot_write_out(x, s, 0);
	return CC_SUCCESS;
}

static void run_command(struct xhci *x, const struct xhci_trb *trb, uint64_t addr)
{
	unsigned int slot = trb_slot(trb);
	enum xhci_cc cc;

	switch (trb_type(trb)) {
	case TRB_CMD_ENABLE_SLOT:
		slot = 0;
		cc = cmd_enable_slot(x, trb, &slot);
		break;
	case TRB_CMD_DISABLE_SLOT: cc = cmd_disable_slot(x, trb); break;
	case TRB_CMD_ADDRESS_DEVICE: cc = cmd_address_device(x, trb); break;
	case TRB_CMD_CONFIGURE_EP: cc = cmd_configure_ep(x, trb); break;
	case TRB_CMD_EVALUATE_CTX: cc = cmd_evaluate_ctx(x, trb); break;
	case TRB_CMD_RESET_EP: cc = cmd_reset_ep(x, trb); break;
	case TRB_CMD_STOP_EP: cc = cmd_stop_ep(x, trb, addr); break;
	case TRB_CMD_SET_TR_DEQ: cc = cmd_set_tr_deq(x, trb); break;
	case TRB_CMD_RESET_DEVICE: cc = cmd_reset_device(x, trb); break;
	case TRB_CMD_NOOP:
		slot = 0;
		cc = CC_SUCCESS;
		break;
	default:
		/* Transfer TRBs, events and commands this controller does not have. */
		slot = 0;
		cc = CC_TRB_ERROR;
		break;
	}
	if (cc != CC_INVALID)
		xhci_cmd_complete(x, addr, cc, slot);
}

static void cmd_run(struct xhci *x)
{
	struct xhci_trb trb;
	uint64_t addr;
	int r;

	for (unsigned int n = 0; n < XHCI_CMD_BATCH; n++) {
		if (!xhci_running(x) || !x->crr || x->cmd_blocked || xhci_intr_backlogged(x))
			return;
		r = xhci_ring_fetch(x, &x->cmd, &x->cmd_budget, &trb, &addr);
		if (r == 0)
			return;
		if (r < 0) {
			x->crr = false;
			xhci_die(x, r == -ELOOP ? "command ring loops" :
				 "command ring outside guest memory");
			return;
		}
		xhci_ring_advance(&x->cmd);
		run_command(x, &trb, addr);
	}
	event_loop_defer(x->loop, &x->cmd_later);
}

static void cmd_run_deferred(void *opaque)
{
	cmd_run(opaque);
}

void xhci_cmd_doorbell(struct xhci *x)
{
	x->crr = true;
	x->cmd_budget = XHCI_WALK_BUDGET;
	cmd_run(x);
}

/* Event rings have room again: run the commands that waited for it. */
void xhci_cmd_resume_fetch(struct xhci *x)
{
	if (x->crr && !x->cmd_blocked)
		event_loop_defer(x->loop, &x->cmd_later);
}

/* A command that waited on the device completed: carry on, or honour a stop asked meanwhile. */
void xhci_cmd_resume(struct xhci *x)
{
	x->cmd_blocked = false;
	if (!x->crr) {
		xhci_cmd_complete(x, x->cmd.dequeue, CC_COMMAND_RING_STOPPED, 0);
		return;
	}
	event_loop_defer(x->loop, &x->cmd_later);
}
