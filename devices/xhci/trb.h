/* SPDX-License-Identifier: MIT */
/*
 * Transfer Request Blocks: the 16-byte unit of every xHCI ring (xHCI 1.2
 * section 6.4), their types, fields and the completion codes the guest sees.
 * TRBs are little endian; svmm only runs on little-endian hosts (x86-64), so
 * a TRB is read from guest memory as this struct directly.
 */
#ifndef SVMM_XHCI_TRB_H
#define SVMM_XHCI_TRB_H

#include <stdint.h>

struct xhci_trb {
	uint64_t param;
	uint32_t status;
	uint32_t control;
};

_Static_assert(sizeof(struct xhci_trb) == 16, "TRB size");

enum xhci_trb_type {
	TRB_NORMAL = 1,
	TRB_SETUP = 2,
	TRB_DATA = 3,
	TRB_STATUS = 4,
	TRB_ISOCH = 5,
	TRB_LINK = 6,
	TRB_EVENT_DATA = 7,
	TRB_NOOP = 8,
	TRB_CMD_ENABLE_SLOT = 9,
	TRB_CMD_DISABLE_SLOT = 10,
	TRB_CMD_ADDRESS_DEVICE = 11,
	TRB_CMD_CONFIGURE_EP = 12,
	TRB_CMD_EVALUATE_CTX = 13,
	TRB_CMD_RESET_EP = 14,
	TRB_CMD_STOP_EP = 15,
	TRB_CMD_SET_TR_DEQ = 16,
	TRB_CMD_RESET_DEVICE = 17,
	TRB_CMD_NOOP = 23,
	TRB_EV_TRANSFER = 32,
	TRB_EV_CMD_COMPLETION = 33,
	TRB_EV_PORT_STATUS = 34,
	TRB_EV_HOST_CONTROLLER = 37,
};

enum xhci_cc {
	CC_INVALID = 0,
	CC_SUCCESS = 1,
	CC_DATA_BUFFER_ERROR = 2,
	CC_BABBLE = 3,
	CC_USB_TRANSACTION_ERROR = 4,
	CC_TRB_ERROR = 5,
	CC_STALL = 6,
	CC_RESOURCE_ERROR = 7,
	CC_NO_SLOTS = 9,
	CC_INVALID_STREAM_TYPE = 10,
	CC_SLOT_NOT_ENABLED = 11,
	CC_EP_NOT_ENABLED = 12,
	CC_SHORT_PACKET = 13,
	CC_PARAMETER_ERROR = 17,
	CC_CONTEXT_STATE_ERROR = 19,
	CC_EVENT_RING_FULL = 21,
	CC_COMMAND_RING_STOPPED = 24,
	CC_COMMAND_ABORTED = 25,
	CC_STOPPED = 26,
	CC_STOPPED_LENGTH_INVALID = 27,
	CC_INVALID_STREAM_ID = 34,
};

/* control dword */
#define TRB_C			(1u << 0)
#define TRB_LINK_TC		(1u << 1)
#define TRB_ENT			(1u << 1)
#define TRB_ISP			(1u << 2)
#define TRB_CH			(1u << 4)
#define TRB_IOC			(1u << 5)
#define TRB_IDT			(1u << 6)
#define TRB_BEI			(1u << 9)
#define TRB_DATA_DIR_IN		(1u << 16)
#define TRB_EV_ED		(1u << 2)

static inline unsigned int trb_type(const struct xhci_trb *t)
{
	return (t->control >> 10) & 0x3f;
}

static inline unsigned int trb_slot(const struct xhci_trb *t)
{
	return t->control >> 24;
}

/* Endpoint ID (DCI) of endpoint commands, 20:16. */
static inline unsigned int trb_ep_id(const struct xhci_trb *t)
{
	return (t->control >> 16) & 0x1f;
}

static inline uint32_t trb_type_bits(unsigned int type)
{
	return (uint32_t)type << 10;
}

/* Transfer TRBs: length 16:0, interrupter target 31:22. */
static inline uint32_t trb_len(const struct xhci_trb *t)
{
	return t->status & 0x1ffff;
}

static inline unsigned int trb_intr_target(const struct xhci_trb *t)
{
	return t->status >> 22;
}

#endif
