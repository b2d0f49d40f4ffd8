/* SPDX-License-Identifier: MIT */
/*
 * What the xHCI 1.2 specification fixes, by its names: register offsets
 * and bits (chapter 5), TRBs, their types and completion codes (6.4),
 * context fields (6.2). The controller (devices/xhci/) implements them and
 * the test guests (tests/) drive them, the bare-metal benchmark guest
 * included: this header needs nothing but <stdint.h>. Where the
 * operational and runtime registers and the doorbells start is the
 * device's choice, read from CAPLENGTH, RTSOFF and DBOFF.
 *
 * TRBs and contexts are little endian; svmm only runs on little-endian
 * hosts (x86-64), so a TRB is read from guest memory as struct xhci_trb.
 */
#ifndef SVMM_XHCI_REGS_H
#define SVMM_XHCI_REGS_H

#include <stdint.h>

/* Capability registers (5.3), offsets in BAR 0. */
#define CAP_CAPLENGTH	0x00	/* CAPLENGTH (7:0), HCIVERSION (31:16) */
#define CAP_HCSPARAMS1	0x04	/* MaxSlots (7:0), MaxIntrs (18:8), MaxPorts (31:24) */
#define CAP_HCSPARAMS2	0x08
#define CAP_HCSPARAMS3	0x0c
#define CAP_HCCPARAMS1	0x10
#define CAP_DBOFF	0x14
#define CAP_RTSOFF	0x18

#define CAPLENGTH_MASK		0xffu
#define HCSPARAMS1_MAX_SLOTS(v)	((v) & 0xffu)
#define HCSPARAMS1_MAX_PORTS(v)	((v) >> 24)
/* Max Scratchpad Buffers, Hi (25:21) and Lo (31:27) (5.3.4). */
#define HCSPARAMS2_MAX_SCRATCHPAD(v)	((((v) >> 21) & 0x1fu) << 5 | (((v) >> 27) & 0x1fu))
#define HCCPARAMS1_CSZ		(1u << 2)	/* 64-byte contexts (5.3.6) */
#define DBOFF_MASK		(~0x3u)
#define RTSOFF_MASK		(~0x1fu)

/* Operational registers (5.4), offsets from the operational base (CAPLENGTH). */
#define OP_USBCMD	0x00
#define OP_USBSTS	0x04
#define OP_PAGESIZE	0x08
#define OP_DNCTRL	0x14
#define OP_CRCR_LO	0x18
#define OP_CRCR_HI	0x1c
#define OP_DCBAAP_LO	0x30
#define OP_DCBAAP_HI	0x34
#define OP_CONFIG	0x38
/* Port register set of root port n, 1-based (5.4.8-5.4.11). */
#define OP_PORT_BASE	0x400
#define OP_PORT_SIZE	0x10
#define OP_PORTSC(n)	(OP_PORT_BASE + OP_PORT_SIZE * ((n) - 1))
/* Registers in a port's set. */
#define PORT_SC		0x0
#define PORT_PMSC	0x4
#define PORT_LI		0x8
#define PORT_HLPMC	0xc

/* USBCMD (5.4.1) */
#define USBCMD_RS		(1u << 0)
#define USBCMD_HCRST		(1u << 1)
#define USBCMD_INTE		(1u << 2)
#define USBCMD_HSEE		(1u << 3)
#define USBCMD_LHCRST		(1u << 7)
#define USBCMD_CSS		(1u << 8)
#define USBCMD_CRS		(1u << 9)
#define USBCMD_EWE		(1u << 10)
#define USBCMD_EU3S		(1u << 11)
/* USBSTS (5.4.2) */
#define USBSTS_HCH		(1u << 0)
#define USBSTS_HSE		(1u << 2)
#define USBSTS_EINT		(1u << 3)
#define USBSTS_PCD		(1u << 4)
#define USBSTS_SSS		(1u << 8)
#define USBSTS_RSS		(1u << 9)
#define USBSTS_SRE		(1u << 10)
#define USBSTS_CNR		(1u << 11)
#define USBSTS_HCE		(1u << 12)
/* CRCR (5.4.5) */
#define CRCR_RCS		(1u << 0)
#define CRCR_CS			(1u << 1)
#define CRCR_CA			(1u << 2)
#define CRCR_CRR		(1u << 3)
/* CONFIG (5.4.7) */
#define CONFIG_MAX_SLOTS_EN	0xffu

/* PORTSC (5.4.8) */
#define PORTSC_CCS	(1u << 0)
#define PORTSC_PED	(1u << 1)
#define PORTSC_OCA	(1u << 3)
#define PORTSC_PR	(1u << 4)
#define PORTSC_PLS_SHIFT 5
#define PORTSC_PLS	(0xfu << PORTSC_PLS_SHIFT)
#define PORTSC_PP	(1u << 9)
#define PORTSC_SPEED_SHIFT 10
#define PORTSC_SPEED	(0xfu << PORTSC_SPEED_SHIFT)
#define PORTSC_PIC	(3u << 14)
#define PORTSC_LWS	(1u << 16)
#define PORTSC_CSC	(1u << 17)
#define PORTSC_PEC	(1u << 18)
#define PORTSC_WRC	(1u << 19)
#define PORTSC_OCC	(1u << 20)
#define PORTSC_PRC	(1u << 21)
#define PORTSC_PLC	(1u << 22)
#define PORTSC_CEC	(1u << 23)
#define PORTSC_CAS	(1u << 24)
#define PORTSC_WCE	(1u << 25)
#define PORTSC_WDE	(1u << 26)
#define PORTSC_WOE	(1u << 27)
#define PORTSC_DR	(1u << 30)
#define PORTSC_WPR	(1u << 31)
/* The change bits, write-1-to-clear. */
#define PORTSC_CHANGE (PORTSC_CSC | PORTSC_PEC | PORTSC_WRC | PORTSC_OCC | PORTSC_PRC | \
		       PORTSC_PLC | PORTSC_CEC)
#define PORTSC_WAKE (PORTSC_WCE | PORTSC_WDE | PORTSC_WOE)

/* Port link states, PORTSC.PLS (5.4.8, table 5-27). */
enum xhci_pls {
	PLS_U0 = 0,
	PLS_U2 = 2,
	PLS_U3 = 3,
	PLS_DISABLED = 4,
	PLS_RXDETECT = 5,
	PLS_POLLING = 7,
	PLS_RESUME = 15,
};

/* Port speeds, the default Protocol Speed IDs (7.2.2.1.1). */
#define SPEED_FULL	1u
#define SPEED_LOW	2u
#define SPEED_HIGH	3u
#define SPEED_SUPER	4u

/* Runtime registers (5.5), offsets from the runtime base (RTSOFF): MFINDEX, then one set per interrupter. */
#define RT_MFINDEX	0x00
#define RT_IR0		0x20
#define RT_IR_SIZE	0x20

/* An interrupter's registers (5.5.2), offsets in its set. */
#define IR_IMAN		0x00
#define IR_IMOD		0x04
#define IR_ERSTSZ	0x08
#define IR_ERSTBA_LO	0x10
#define IR_ERSTBA_HI	0x14
#define IR_ERDP_LO	0x18
#define IR_ERDP_HI	0x1c

#define IMAN_IP		(1u << 0)
#define IMAN_IE		(1u << 1)
#define ERDP_EHB	(1u << 3)

/* Doorbell registers (5.6): 32 bits each from DBOFF, 0 for commands, n for slot n. */
#define DB_SIZE_BYTES	4u
#define DB_HOST_COMMAND	0u

/* Event Ring Segment Table entry (6.5). */
struct xhci_erst_entry {
	uint64_t base;
	uint32_t size;		/* TRBs, 16..4096 */
	uint32_t reserved;
};

/* Transfer Request Blocks (6.4): the 16-byte unit of every ring. */
struct xhci_trb {
	uint64_t param;
	uint32_t status;
	uint32_t control;
};

_Static_assert(sizeof(struct xhci_trb) == 16, "TRB size");
_Static_assert(sizeof(struct xhci_erst_entry) == 16, "ERST entry size");

/* TRB types (6.4.6, table 6-91). */
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

/* Completion codes (6.4.5, table 6-90). */
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

/* Control dword bits (6.4.1-6.4.4). */
#define TRB_C			(1u << 0)
#define TRB_LINK_TC		(1u << 1)
#define TRB_ENT			(1u << 1)
#define TRB_ISP			(1u << 2)
#define TRB_EV_ED		(1u << 2)
#define TRB_CH			(1u << 4)
#define TRB_IOC			(1u << 5)
#define TRB_IDT			(1u << 6)
#define TRB_BSR			(1u << 9)	/* Address Device: Block Set Address Request */
#define TRB_DC			(1u << 9)	/* Configure Endpoint: Deconfigure */
#define TRB_TSP			(1u << 9)	/* Reset Endpoint: Transfer State Preserve */
#define TRB_BEI			(1u << 9)
#define TRB_DATA_DIR_IN		(1u << 16)
/* Setup Stage: Transfer Type (6.4.1.2.1). */
#define TRB_TRT_SHIFT		16
#define TRB_TRT_NO_DATA		0u
#define TRB_TRT_OUT		2u
#define TRB_TRT_IN		3u

static inline unsigned int trb_type(const struct xhci_trb *t)
{
	return (t->control >> 10) & 0x3f;
}

static inline uint32_t trb_type_bits(unsigned int type)
{
	return (uint32_t)type << 10;
}

static inline unsigned int trb_slot(const struct xhci_trb *t)
{
	return t->control >> 24;
}

static inline uint32_t trb_slot_bits(unsigned int slot)
{
	return (uint32_t)slot << 24;
}

/* Endpoint ID (DCI) of endpoint commands and transfer events, 20:16. */
static inline unsigned int trb_ep_id(const struct xhci_trb *t)
{
	return (t->control >> 16) & 0x1f;
}

static inline uint32_t trb_ep_id_bits(unsigned int dci)
{
	return (uint32_t)(dci & 0x1f) << 16;
}

/* Transfer TRBs: length 16:0, interrupter target 31:22. */
static inline uint32_t trb_len(const struct xhci_trb *t)
{
	return t->status & 0x1ffff;
}

/* TD Size (4.11.2.4): packets left after this TRB, 21:17, capped at 31. */
static inline uint32_t trb_td_size_bits(uint32_t packets)
{
	return (packets > 31 ? 31u : packets) << 17;
}

static inline unsigned int trb_intr_target(const struct xhci_trb *t)
{
	return t->status >> 22;
}

/* Event TRBs: completion code 31:24; a transfer event's residual length 23:0. */
static inline unsigned int trb_cc(const struct xhci_trb *t)
{
	return t->status >> 24;
}

static inline uint32_t trb_ev_residual(const struct xhci_trb *t)
{
	return t->status & 0xffffff;
}

/* Contexts (6.2): 32 bytes each here (HCCPARAMS1.CSZ 0), as 8 dwords. */
#define CTX_DWORDS		8u
/* Input Control Context (6.2.5.1): drop flags in dword 0, add flags in dword 1. */
#define INPUT_CTX_DROP		0
#define INPUT_CTX_ADD		1
/* An input context holds the control context, then the slot context, then DCI 1..31. */
#define INPUT_CTX_ENTRIES	33u
/* Slot Context (6.2.2) */
#define SLOT_CTX_SPEED(s)	((uint32_t)(s) << 20)		/* dword 0 */
#define SLOT_CTX_ENTRIES(n)	((uint32_t)(n) << 27)		/* dword 0 */
#define SLOT_CTX_ROOT_PORT(p)	((uint32_t)((p) & 0xff) << 16)	/* dword 1 */
/* Endpoint Context (6.2.3) */
#define EP_CTX_MAX_PSTREAMS_SHIFT 10				/* dword 0, 14:10 */
#define EP_CTX_LSA		(1u << 15)			/* dword 0 */
#define EP_CTX_CERR(n)		((uint32_t)(n) << 1)		/* dword 1 */
#define EP_CTX_TYPE(t)		((uint32_t)(t) << 3)		/* dword 1 */
#define EP_CTX_MAX_BURST(n)	((uint32_t)(n) << 8)		/* dword 1 */
#define EP_CTX_MAX_PACKET(n)	((uint32_t)(n) << 16)		/* dword 1 */
#define EP_CTX_DCS		1u				/* dword 2 */

/* Slot and endpoint context states (6.2.2, 6.2.3). */
enum xhci_slot_state {
	SLOT_DISABLED_ENABLED = 0,
	SLOT_DEFAULT = 1,
	SLOT_ADDRESSED = 2,
	SLOT_CONFIGURED = 3,
};

enum xhci_ep_state {
	EP_DISABLED = 0,
	EP_RUNNING = 1,
	EP_HALTED = 2,
	EP_STOPPED = 3,
	EP_ERROR = 4,
};

/* Endpoint types (6.2.3, table 6-9). */
enum xhci_ep_type {
	EP_TYPE_INVALID = 0,
	EP_TYPE_ISOCH_OUT = 1,
	EP_TYPE_BULK_OUT = 2,
	EP_TYPE_INT_OUT = 3,
	EP_TYPE_CONTROL = 4,
	EP_TYPE_ISOCH_IN = 5,
	EP_TYPE_BULK_IN = 6,
	EP_TYPE_INT_IN = 7,
};

#endif
