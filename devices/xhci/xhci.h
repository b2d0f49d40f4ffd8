/* SPDX-License-Identifier: MIT */
/*
 * The xHCI controller's state, shared by the files of devices/xhci/. Each
 * file owns one concept (see the comment at its top); this header only
 * declares the state and the calls between them.
 *
 * Everything here runs on the device process's single thread. Guest memory
 * is only ever touched through guest_memory.h.
 */
#ifndef SVMM_XHCI_H
#define SVMM_XHCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/event_loop.h"
#include "devices/xhci/guest_dma.h"
#include "devices/usb/usb_device.h"
#include "devices/xhci/xhci_regs.h"

/* BAR 0 layout. */
#define XHCI_BAR_SIZE		0x10000u
#define XHCI_CAP_LENGTH		0x40u
#define XHCI_OP_BASE		XHCI_CAP_LENGTH
#define XHCI_OP_SIZE		0x400u
#define XHCI_PORT_BASE		(XHCI_OP_BASE + XHCI_OP_SIZE)
#define XHCI_XECP_BASE		0x1000u
#define XHCI_RT_BASE		0x2000u
#define XHCI_MICROFRAME_NS	125000u	/* MFINDEX counts 125 us microframes (xHCI 5.5.1) */
#define XHCI_MFINDEX_MASK	0x3fffu
#define XHCI_DB_BASE		0x3000u
#define XHCI_MSIX_TABLE		0x4000u
#define XHCI_MSIX_PBA		0x5000u
#define XHCI_XECP_SIZE		0x20u	/* the two Supported Protocol capabilities */

/* What the controller offers. */
#define XHCI_MAX_SLOTS		64u
#define XHCI_NUM_INTRS		4u
#define XHCI_USB2_PORTS		8u
#define XHCI_USB3_PORTS		8u
#define XHCI_NUM_PORTS		(XHCI_USB2_PORTS + XHCI_USB3_PORTS)
/* Ports 1..8 speak USB 2, 9..16 USB 3 (the Supported Protocol capabilities say so). */
#define XHCI_USB3_FIRST_PORT	(XHCI_USB2_PORTS + 1)
#define XHCI_ERST_MAX_LOG2	4u
#define XHCI_ERST_MAX		(1u << XHCI_ERST_MAX_LOG2)
#define XHCI_NUM_EPS		32u	/* DCI 1..31; 0 is the slot context */
/*
 * Bulk streams: HCCPARAMS1.MaxPSASize 7, a Primary Stream Context Array of
 * at most 2^(7+1) = 256 entries (stream IDs 1..255), linear only (NSS).
 * Linux's UAS driver uses at most 256 streams; a device with more gets
 * fewer. Each stream costs the process one struct xhci_tr.
 */
#define XHCI_MAX_PSA_SIZE	7u
#define XHCI_MAX_STREAMS	(2u << XHCI_MAX_PSA_SIZE)

/*
 * Hostile-guest limits. A ring walk never follows more than XHCI_LINK_MAX
 * Link TRBs in a row, never reads more than XHCI_WALK_BUDGET TRBs between
 * two doorbells, a TD has at most XHCI_TD_MAX_TRBS TRBs and XHCI_TD_MAX_BYTES
 * bytes: every loop the guest drives ends.
 */
#define XHCI_LINK_MAX		32u
#define XHCI_WALK_BUDGET	(1u << 16)
#define XHCI_TD_MAX_TRBS	1024u
#define XHCI_TD_MAX_BYTES	(4u << 20)
#define XHCI_EP_MAX_INFLIGHT	16u
/* Commands run per round before yielding to the event loop. */
#define XHCI_CMD_BATCH		64u
/*
 * Events one interrupter keeps while its event ring is full (event_ring.c):
 * 64 KiB each. While any ring is full no new command or TD is fetched, so
 * only work already started still completes: a command, up to
 * XHCI_EP_MAX_INFLIGHT TDs per endpoint, port changes. A guest that makes
 * more than this many events without moving ERDP gets HCE.
 */
#define XHCI_EVENT_BACKLOG	4096u

struct xhci;
struct xhci_td;

/* A position in a ring: the next TRB to read and the cycle state it must carry. */
struct xhci_ring {
	uint64_t dequeue;
	bool ccs;
};

/* Context dwords, kept by the controller; the guest's output context is a copy. */
#define XHCI_CTX_DWORDS 8

struct xhci_endpoint;

/*
 * One transfer ring of an endpoint and the TDs fetched from it, in ring
 * order: the endpoint's own ring (stream 0), or one stream's.
 */
struct xhci_tr {
	struct xhci_endpoint *ep;
	unsigned int stream;		/* 0: the endpoint's own ring */
	bool loaded;			/* stream: its Stream Context was read and is valid */
	bool rung;			/* doorbell seen since the ring was last found empty */
	struct xhci_ring ring;		/* next TRB to fetch */
	uint32_t budget;		/* TRBs it may still read before the next doorbell */
	struct xhci_td *head, *tail;
	unsigned int inflight;
	bool stop_reported;		/* Stop Endpoint: the Stopped event of this ring went out */
};

struct xhci_endpoint {
	struct xhci *x;
	unsigned int slot_id;
	unsigned int dci;
	uint32_t ctx[XHCI_CTX_DWORDS];
	enum xhci_ep_state state;
	enum xhci_ep_type type;
	uint16_t max_packet;
	struct xhci_tr tr;		/* the ring of an endpoint without streams */
	/* Streams (stream.c): Primary Stream Context Array, [0] unused; NULL without. */
	struct xhci_tr *streams;
	unsigned int nstreams;		/* array entries, 2^(MaxPStreams+1) */
	uint64_t stream_array;		/* its guest address */
	unsigned int next_stream;	/* where the next kick starts, for fairness */
	unsigned int inflight;		/* TDs at the device, all rings together */
	bool fetch_held;		/* a kick found an event ring full (interrupter.c) */
	/* Stop Endpoint waiting for the device to return cancelled TDs. */
	bool stopping;
	uint64_t stop_cmd;		/* the command TRB to complete */
	struct event_deferred kick_later;
};

struct xhci_slot {
	unsigned int id;
	bool enabled;
	enum xhci_slot_state state;
	unsigned int port;		/* root port number, 0 before Address Device */
	uint64_t out_ctx;		/* guest address of the output device context */
	uint32_t ctx[XHCI_CTX_DWORDS];
	struct xhci_endpoint ep[XHCI_NUM_EPS];
};

struct xhci_interrupter {
	struct xhci *x;
	unsigned int index;
	uint32_t iman, imod, erstsz;
	uint64_t erstba, erdp;
	/* The event ring, cached at the ERSTBA write. */
	bool ring_ok;
	unsigned int nseg;
	uint64_t seg_base[XHCI_ERST_MAX];
	uint32_t seg_size[XHCI_ERST_MAX];
	unsigned int enq_seg, enq_idx;
	bool pcs;
	bool full;			/* Event Ring Full posted; waiting for ERDP to move */
	/* Events waiting for room in the ring, oldest at backlog_head. */
	struct xhci_trb *backlog;	/* XHCI_EVENT_BACKLOG entries */
	unsigned int backlog_head, backlog_count;
	/* Moderation. */
	bool pending;			/* an interrupt is owed */
	uint64_t interval_end_ns;	/* CLOCK_MONOTONIC; no interrupt before it */
	bool timer_armed;		/* the timerfd waits for interval_end_ns */
	int timerfd;
};

struct xhci_port {
	unsigned int num;		/* 1-based */
	bool usb3;
	struct usb_device *dev;
	uint32_t portsc;
	uint32_t pmsc, li, hlpmc;
};

struct xhci_msix_entry {
	uint64_t address;
	uint32_t data;
	uint32_t ctrl;			/* bit 0: masked */
};

/* Freed bounce buffers kept for the next TDs (bounce.c). */
#define XHCI_BOUNCE_CACHE	16u
#define XHCI_BOUNCE_CACHE_BYTES	(16u << 20)

struct xhci_bounce_cache {
	unsigned int n;
	size_t bytes;
	bool closed;
	struct {
		uint8_t *p;
		size_t cap;
	} e[XHCI_BOUNCE_CACHE];
};

struct xhci {
	struct event_loop *loop;
	struct guest_memory mem;
	struct xhci_bounce_cache bounce;

	/* PCI */
	uint8_t cfg[DEVPROTO_CFG_SPACE_SIZE];
	struct xhci_msix_entry msix[XHCI_NUM_INTRS];
	uint32_t msix_pba;
	int irq_fd[XHCI_NUM_INTRS];
	int intx_fd;
	bool intx_level;

	/* Operational registers */
	uint32_t usbcmd, usbsts, dnctrl, config;
	uint64_t dcbaap;
	uint64_t mfindex_start_ns;	/* MFINDEX 0 when RS was set */
	uint32_t mfindex_frozen;
	bool dead;			/* HCE: nothing runs until HCRST */

	/* Command ring */
	struct xhci_ring cmd;
	bool crr;
	uint32_t cmd_budget;
	bool cmd_blocked;		/* a Stop Endpoint waits for the device */
	struct event_deferred cmd_later;

	struct xhci_interrupter intr[XHCI_NUM_INTRS];
	struct xhci_port ports[XHCI_NUM_PORTS];
	struct xhci_slot slots[XHCI_MAX_SLOTS + 1];	/* [0] unused */

	/* Event socket notices (event_socket.c) */
	int event_sock;
	bool event_sock_watched;
	uint32_t msix_dirty;
	bool intx_dirty;
	uint32_t gone_dirty;		/* bit per port index */

	/* The register mirror the VMM reads (reg_mirror.c), or NULL. */
	struct devproto_reg_mirror *mirror;
	uint32_t mirror_count;
	uint32_t mirror_live_from;	/* registers before it never change */
	bool cfg_written;		/* config space written since the mirror's last refresh */
};

/* controller.c */
int xhci_init(struct xhci *x, struct event_loop *loop, int event_sock);
void xhci_release(struct xhci *x);
void xhci_reset(struct xhci *x);
void xhci_die(struct xhci *x, const char *why);
bool xhci_running(const struct xhci *x);
void xhci_write_usbcmd(struct xhci *x, uint32_t val);
uint32_t xhci_mfindex(struct xhci *x);

/* reg_mirror.c */
int xhci_mirror_attach(struct xhci *x, int fd);
void xhci_mirror_publish(struct xhci *x);
void xhci_mirror_done(struct xhci *x, uint32_t seq);
void xhci_mirror_release(struct xhci *x);

/* pci_config.c */
void xhci_pci_init(struct xhci *x);
uint32_t xhci_pci_read(struct xhci *x, uint32_t offset, uint32_t size);
void xhci_pci_write(struct xhci *x, uint32_t offset, uint32_t size, uint32_t value);
bool xhci_pci_msix_enabled(const struct xhci *x);
bool xhci_pci_msix_function_masked(const struct xhci *x);
bool xhci_pci_intx_disabled(const struct xhci *x);

/* msix.c */
void xhci_msix_reset(struct xhci *x);
uint32_t xhci_msix_read(struct xhci *x, uint32_t offset);
void xhci_msix_write(struct xhci *x, uint32_t offset, uint32_t value, uint32_t size);
void xhci_msix_control_changed(struct xhci *x);
bool xhci_msix_vector_masked(const struct xhci *x, unsigned int v);
void xhci_msix_send(struct xhci *x, unsigned int v);

/* irq.c: how an interrupter's interrupt leaves the process. */
/* An interrupter asserts its interrupt: MSI-X message or INTx level. */
void xhci_irq_interrupt(struct xhci *x, unsigned int intr);
/* Signals vector's irq eventfd (MSI-X, unmasked). */
void xhci_irq_raise(struct xhci *x, unsigned int vector);
void xhci_irq_update_intx(struct xhci *x);
void xhci_irq_set_fd(struct xhci *x, unsigned int vector, int fd);

/* event_socket.c */
void xhci_notify_msix(struct xhci *x, unsigned int vector);
void xhci_notify_intx(struct xhci *x);
void xhci_notify_port_gone(struct xhci *x, unsigned int port);
void xhci_notify_flush(struct xhci *x);

/* mmio.c */
uint64_t xhci_bar_read(struct xhci *x, uint64_t offset, unsigned int size);
void xhci_bar_write(struct xhci *x, uint64_t offset, unsigned int size, uint64_t value);

/* regs_capability.c */
uint32_t xhci_cap_read(struct xhci *x, uint32_t offset);
uint32_t xhci_xecp_read(struct xhci *x, uint32_t offset);

/* regs_operational.c */
uint32_t xhci_op_read(struct xhci *x, uint32_t offset);
void xhci_op_write(struct xhci *x, uint32_t offset, uint32_t value);

/* regs_runtime.c */
uint32_t xhci_rt_read(struct xhci *x, uint32_t offset);
void xhci_rt_write(struct xhci *x, uint32_t offset, uint32_t value);

/* doorbell.c */
void xhci_doorbell(struct xhci *x, unsigned int index, uint32_t value);

/* interrupter.c */
void xhci_intr_init(struct xhci *x, unsigned int i);
void xhci_intr_reset(struct xhci_interrupter *ir);
void xhci_intr_release(struct xhci_interrupter *ir);
uint32_t xhci_intr_read(struct xhci_interrupter *ir, uint32_t reg);
void xhci_intr_write(struct xhci_interrupter *ir, uint32_t reg, uint32_t value);
/* Posts ev (cycle bit filled in) to interrupter i; irq: ask for an interrupt. */
void xhci_event(struct xhci *x, unsigned int intr, struct xhci_trb *ev, bool irq);
/* Re-evaluates the interrupt line/messages after IE, INTE or masks changed. */
void xhci_intr_update_all(struct xhci *x);
/* Some event ring is full: no new command or TD is fetched until it drains. */
bool xhci_intr_backlogged(const struct xhci *x);

/* event_ring.c */
int xhci_event_ring_setup(struct xhci_interrupter *ir);
int xhci_event_ring_post(struct xhci_interrupter *ir, const struct xhci_trb *ev);
bool xhci_event_ring_busy(const struct xhci_interrupter *ir);
bool xhci_event_ring_backlogged(const struct xhci_interrupter *ir);
int xhci_event_ring_dequeue_moved(struct xhci_interrupter *ir);
/* Drops the Event Ring Full state and the backlog (ring set up again, HCRST). */
void xhci_event_ring_forget(struct xhci_interrupter *ir);

/* ring.c: reading TRBs from a producer ring. */
int xhci_ring_fetch(struct xhci *x, struct xhci_ring *r, uint32_t *budget,
		    struct xhci_trb *trb, uint64_t *addr);
void xhci_ring_advance(struct xhci_ring *r);

/* command_ring.c */
void xhci_cmd_write_crcr(struct xhci *x, uint32_t reg, uint32_t value);
uint32_t xhci_cmd_read_crcr(struct xhci *x, uint32_t reg);
void xhci_cmd_doorbell(struct xhci *x);
void xhci_cmd_reset(struct xhci *x);
void xhci_cmd_complete(struct xhci *x, uint64_t trb_addr, enum xhci_cc cc, unsigned int slot);
void xhci_cmd_resume(struct xhci *x);
void xhci_cmd_resume_fetch(struct xhci *x);

/* device_slot.c */
struct xhci_slot *xhci_slot_get(struct xhci *x, unsigned int id);
int xhci_slot_enable(struct xhci *x);
void xhci_slot_disable(struct xhci *x, struct xhci_slot *s);
void xhci_slot_reset_all(struct xhci *x);
struct usb_device *xhci_slot_device(struct xhci *x, const struct xhci_slot *s);
int xhci_slot_write_out(struct xhci *x, struct xhci_slot *s, unsigned int dci);
void xhci_slot_port_gone(struct xhci *x, unsigned int port);
void xhci_slot_update_configured(struct xhci_slot *s);
void xhci_slot_resume_fetch(struct xhci *x);

/* contexts.c: the guest's input contexts, read once and validated. */
struct xhci_input_ctx {
	uint32_t drop, add;
	uint32_t slot[XHCI_CTX_DWORDS];
	uint32_t ep[XHCI_NUM_EPS][XHCI_CTX_DWORDS];	/* [dci], only the added ones read */
};
int xhci_ctx_read_input(struct xhci *x, uint64_t addr, uint32_t max_dci_mask,
			struct xhci_input_ctx *in);
enum xhci_cc xhci_ctx_check_ep(const uint32_t *ctx, unsigned int dci);
int xhci_ctx_read_dcbaa(struct xhci *x, unsigned int slot, uint64_t *out);
unsigned int xhci_slot_ctx_port(const uint32_t *slot_ctx);

/* endpoint.c */
void xhci_ep_init(struct xhci *x, struct xhci_endpoint *ep, unsigned int slot, unsigned int dci);
/* CC_SUCCESS, or CC_RESOURCE_ERROR when the stream state cannot be allocated. */
enum xhci_cc xhci_ep_enable(struct xhci_endpoint *ep, const uint32_t *ctx);
void xhci_ep_disable(struct xhci_endpoint *ep);
void xhci_ep_kick(struct xhci_endpoint *ep);
void xhci_ep_resume_fetch(struct xhci_endpoint *ep);
void xhci_ep_doorbell(struct xhci_endpoint *ep, unsigned int stream);
void xhci_ep_set_state(struct xhci_endpoint *ep, enum xhci_ep_state st);
void xhci_ep_set_dequeue(struct xhci_endpoint *ep, struct xhci_tr *tr, uint64_t ptr, bool dcs);
/* 0: stopped now; 1: the command completes later (xhci_cmd_complete) */
int xhci_ep_stop(struct xhci_endpoint *ep, uint64_t cmd_trb);
void xhci_ep_orphan_all(struct xhci_endpoint *ep);
void xhci_tr_complete(struct xhci_tr *tr);
/* The endpoint's address on the device: number | USB_DIR_IN. */
uint8_t xhci_ep_address(const struct xhci_endpoint *ep);

/* stream.c: Primary Stream Context Arrays of bulk endpoints. */
/* Checks the streams an endpoint context asks for (Configure Endpoint), before anything changes. */
enum xhci_cc xhci_streams_check(struct xhci *x, const uint32_t *ctx, const struct usb_device *dev);
/* The stream state of a freshly enabled endpoint; CC_SUCCESS or CC_RESOURCE_ERROR. */
enum xhci_cc xhci_streams_setup(struct xhci_endpoint *ep);
void xhci_streams_release(struct xhci_endpoint *ep);
/* Asks the device for ep's streams; CC_SUCCESS or CC_RESOURCE_ERROR. */
enum xhci_cc xhci_streams_alloc_device(struct xhci_endpoint *ep, struct usb_device *dev);
void xhci_streams_free_device(struct xhci_endpoint *ep, struct usb_device *dev);
/*
 * Stream id's ring; with read_ctx its Stream Context is read first if it was
 * not. NULL with *cc if the ID is out of range or the context invalid.
 */
struct xhci_tr *xhci_stream_get(struct xhci_endpoint *ep, unsigned int id, bool read_ctx,
				enum xhci_cc *cc);
/* Writes tr's dequeue pointer and cycle state to its Stream Context in guest memory. */
void xhci_stream_write_ctx(struct xhci_tr *tr);
/* Contexts are read again at the next use (the guest may rewrite them while the endpoint is stopped). */
void xhci_streams_forget(struct xhci_endpoint *ep);

/* transfer_ring.c */
struct xhci_td *xhci_td_fetch(struct xhci_tr *tr, const struct usb_device *dev);
int xhci_td_submit(struct xhci_td *td, struct usb_device *dev);
bool xhci_td_halts(const struct xhci_td *td);
void xhci_td_report(struct xhci_td *td);
void xhci_td_free(struct xhci_td *td);
bool xhci_td_is_done(const struct xhci_td *td);
bool xhci_td_failed(const struct xhci_td *td);
void xhci_td_cancel(struct xhci_td *td, struct usb_device *dev);
void xhci_td_orphan(struct xhci_td *td);
struct xhci_td *xhci_td_next(const struct xhci_td *td);
void xhci_td_set_next(struct xhci_td *td, struct xhci_td *next);
const struct xhci_ring *xhci_td_start(const struct xhci_td *td);
const struct xhci_ring *xhci_td_end(const struct xhci_td *td);
bool xhci_td_cancelled(const struct xhci_td *td);
void xhci_td_report_stopped(struct xhci_td *td);

/* bounce.c: TD data buffers; *cap is what must be handed back to put. */
uint8_t *xhci_bounce_get(struct xhci *x, size_t len, size_t *cap);
void xhci_bounce_put(struct xhci *x, uint8_t *p, size_t cap);
void xhci_bounce_release(struct xhci *x);

/* port.c */
void xhci_port_init(struct xhci *x);
void xhci_port_reset_all(struct xhci *x);
uint32_t xhci_port_read(struct xhci *x, unsigned int index, uint32_t reg);
void xhci_port_write(struct xhci *x, unsigned int index, uint32_t reg, uint32_t value);
int xhci_port_connect(struct xhci *x, struct usb_device *dev, unsigned int port);
int xhci_port_disconnect(struct xhci *x, unsigned int port);
struct xhci_port *xhci_port_get(struct xhci *x, unsigned int port);
void xhci_port_notify_running(struct xhci *x);

#endif
