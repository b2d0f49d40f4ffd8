/* SPDX-License-Identifier: MIT */
/*
 * The guest-side xHCI driver every test plays, as the Linux xhci driver
 * does it: rings, the event ring, the init sequence, commands, contexts,
 * doorbells, control and bulk transfers, the BOT CBW. Register names are
 * the spec's (xhci_regs.h); where the registers sit is read from CAPLENGTH,
 * RTSOFF and DBOFF.
 *
 * The controller is reached through a transport (struct drv_transport):
 * the real forked device process over the wire protocol (device_process.c:
 * the unit tests and the benchmark), or a struct xhci in the caller's own
 * process (the fuzz target). A failure the driver cannot go on from (no
 * completion, a refused request) calls the caller's fail hook, which does
 * not return: a criterion assertion, exit(1) for the benchmark, abort() in
 * the fuzz harness (which never waits, so never fails).
 */
#ifndef SVMM_TEST_XHCI_DRIVER_H
#define SVMM_TEST_XHCI_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/device_protocol.h"
#include "devices/xhci/xhci_process.h"
#include "devices/xhci/xhci_regs.h"

#define DRV_RAM_SIZE (16u << 20)
#define DRV_RAM_GPA 0x100000ull
#define DRV_SLOTS 64u
#define DRV_MSI_VECTOR 0x41	/* the message data (x86 vector) of MSI-X vector 0; n adds n */
#define DRV_EVENT_TIMEOUT 5000	/* drv_wait_event rounds: at least this many ms */

/* A producer ring the driver fills (command or transfer ring). */
struct drv_ring {
	uint64_t base;
	unsigned int idx, size;
	bool cycle;
};

struct drv;

/* How the driver reaches the controller and guest RAM. */
struct drv_transport {
	uint64_t (*read)(struct drv *d, uint64_t off, unsigned int size);
	void (*write)(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
	/* Host address of [gpa, gpa + len): NULL (or the fail hook) outside guest RAM. */
	void *(*ptr)(struct drv *d, uint64_t gpa, uint64_t len);
	uint32_t (*cfg_read)(struct drv *d, uint32_t off, uint32_t size);
	void (*cfg_write)(struct drv *d, uint32_t off, uint32_t size, uint32_t v);
	/* Nothing new on the event ring: lets the controller run; false ends the wait. */
	bool (*idle)(struct drv *d, int timeout_ms);
};

typedef void (*drv_fail_fn)(const char *msg) __attribute__((noreturn));

struct drv {
	const struct drv_transport *t;
	drv_fail_fn fail;
	void *opaque;			/* the transport's caller's */
	uint32_t op, rt, db;		/* BAR offsets of the operational, runtime and doorbell registers */
	/* The forked device process (device_process.c). */
	pid_t pid;
	int req, ev;
	uint8_t *ram;
	uint64_t ram_size;
	uint32_t seq;
	int irq_fd;
	bool irq_wait;			/* wait on irq_fd (MSI-X) instead of polling */
	uint64_t next_alloc;
	/* Guest state. */
	uint64_t dcbaa, erst, evt;
	unsigned int evt_idx, evt_size;
	bool evt_cycle;
	bool unacked;			/* events taken since the last ERDP write */
	bool lazy_ack;			/* drv_wait_event moves ERDP only when the ring is empty */
	struct drv_ring cmd;
	struct drv_ring ep_ring[DRV_SLOTS + 1][32];
	uint64_t out_ctx[DRV_SLOTS + 1];
};

/* Where drv_init_layout puts the controller's structures in guest RAM. */
struct drv_layout {
	unsigned int slots;		/* CONFIG.MaxSlotsEn */
	uint64_t dcbaa;
	uint64_t cmd_ring;
	unsigned int cmd_trbs;
	uint64_t erst;
	uint64_t evt_ring;
	unsigned int evt_trbs;
	uint32_t imod;
};

/* Reads CAPLENGTH, RTSOFF and DBOFF: where the registers are. */
void drv_read_layout(struct drv *d);
/* Calls the fail hook with a formatted message. */
void drv_fail(struct drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

uint64_t drv_read(struct drv *d, uint64_t off, unsigned int size);
void drv_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
uint32_t drv_cfg_read(struct drv *d, uint32_t off, uint32_t size);
void drv_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v);
uint32_t drv_op_read(struct drv *d, uint32_t reg);
void drv_op_write(struct drv *d, uint32_t reg, uint32_t v);
/* Interrupter ir's register reg (IR_*). */
void drv_ir_write(struct drv *d, unsigned int ir, uint32_t reg, unsigned int size, uint64_t v);
uint32_t drv_portsc(struct drv *d, unsigned int port);
void drv_portsc_write(struct drv *d, unsigned int port, uint32_t v);
void drv_doorbell(struct drv *d, unsigned int index, uint32_t target);

/* Host pointer for gpa (the transport fails outside guest RAM, or NULL). */
void *drv_ptr(struct drv *d, uint64_t gpa);

/* Rewinds r onto size TRBs at base, zeroed. */
void drv_ring_place(struct drv *d, struct drv_ring *r, uint64_t base, unsigned int size);
/*
 * Pushes one TRB, its cycle bit written last (the bit hands it over; a
 * withheld TRB carries the wrong one); the ring's last slot is a Link TRB
 * back to its start that toggles the cycle. Returns the TRB's address (0
 * if the ring is outside guest RAM).
 */
uint64_t drv_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		  uint32_t control, bool withhold);

/*
 * The Linux init sequence on the layout's memory: halt, HCRST, wait for
 * HCRST and CNR to clear, MaxSlotsEn, DCBAAP, CRCR, ERST, IMOD, IE, RS|INTE.
 * Returns NULL or what went wrong.
 */
const char *drv_init_layout(struct drv *d, const struct drv_layout *l);
/* Points interrupter 0 at one segment of size TRBs at evt (ERST entry at d->erst). */
void drv_place_event_ring(struct drv *d, uint64_t evt, unsigned int size);
/* MSI-X vectors 0..n-1 unmasked, found through the PCI capability, and MSI-X enabled. */
void drv_enable_msix(struct drv *d, unsigned int vectors);

/*
 * Reads the next event, if the controller wrote one, without telling it
 * (ERDP stays): a guest that is slow to acknowledge.
 */
bool drv_take_event(struct drv *d, struct xhci_trb *ev);
/* Moves ERDP past every event taken, clearing EHB. */
void drv_ack_events(struct drv *d);
/*
 * Waits for the next event of type (0: any; others are skipped), each
 * acknowledged as taken (lazy_ack: once the ring is empty); false once
 * timeout_ms idle rounds passed.
 */
bool drv_wait_event(struct drv *d, unsigned int type, struct xhci_trb *ev, int timeout_ms);

/* Queues a command and rings doorbell 0; returns its address. */
uint64_t drv_queue_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control);
/* drv_queue_command, then waits for its completion: the completion code (slot in *slot). */
unsigned int drv_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control,
			 unsigned int *slot);

/* Input context fields (6.2.5): the slot context, and endpoint dci (its add flag set). */
void drv_input_slot(uint32_t *in, unsigned int entries, unsigned int speed, unsigned int port);
void drv_input_ep(uint32_t *in, unsigned int dci, unsigned int type, unsigned int mps,
		  uint64_t dequeue, uint32_t avg_trb_len);
/* EP0's max packet size at a port speed. */
unsigned int drv_ep0_max_packet(unsigned int speed);

/* Enable Slot + Address Device (bsr) for the device on port; returns the slot ID. */
unsigned int drv_enable_address(struct drv *d, unsigned int port, unsigned int speed, bool bsr,
				unsigned int *cc);
/* Configure Endpoint adding bulk endpoints at dci (type 2 out / 6 in), rings of trbs TRBs. */
unsigned int drv_configure_bulk_rings(struct drv *d, unsigned int slot, unsigned int dci_out,
				      unsigned int dci_in, unsigned int mps, unsigned int trbs);
unsigned int drv_configure_bulk(struct drv *d, unsigned int slot, unsigned int dci_out,
				unsigned int dci_in, unsigned int mps);

/* Writes a port reset (USB 2 PR, or USB 3 warm reset), keeping PP. */
void drv_port_reset_start(struct drv *d, unsigned int port, bool warm);
/* Resets a port and waits for PRC, then clears the change bits (W1C). */
void drv_port_reset(struct drv *d, unsigned int port, bool warm);

/* A Setup packet as a 64-bit Setup Stage parameter (IDT). */
uint64_t drv_setup_packet(uint8_t type, uint8_t req, uint16_t value, uint16_t index,
			  uint16_t length);
/* Queues a control transfer (Setup, Data if buf_len, Status with IOC); returns the Status TRB's address. */
uint64_t drv_queue_control(struct drv *d, struct drv_ring *r, uint64_t setup, uint64_t buf,
			   uint32_t buf_len);
/* A control transfer on slot's EP0; returns the completion code of the final event. */
unsigned int drv_control(struct drv *d, unsigned int slot, uint8_t type, uint8_t req,
			 uint16_t value, uint16_t index, uint16_t length, uint64_t buf,
			 uint32_t buf_len, uint32_t *residual);
/* One Normal TRB TD on dci; returns the completion code. */
unsigned int drv_bulk(struct drv *d, unsigned int slot, unsigned int dci, uint64_t buf,
		      uint32_t len, uint32_t *residual);

/* Bulk-Only Transport (BOT 1.0, 5.1): a 31-byte CBW at cbw. */
#define BOT_CBW_LEN 31u
#define BOT_CSW_LEN 13u
#define BOT_CBW_SIGNATURE 0x43425355u
#define BOT_CSW_SIGNATURE 0x53425355u
void drv_bot_cbw(uint8_t *cbw, uint32_t tag, uint32_t data_len, bool in, const uint8_t *cdb,
		 unsigned int cdb_len);

/* The device process transport (device_process.c). */

/*
 * Forks the controller with ram_size bytes of guest RAM at DRV_RAM_GPA and
 * interrupt vector 0 on an eventfd; attach is the image-kind constructor
 * (NULL: mass storage).
 */
void drv_spawn(struct drv *d, uint64_t ram_size, xhci_attach_fn attach, drv_fail_fn fail);
/* drv_spawn with DRV_RAM_SIZE, failing through criterion (tests/unit/xhci/criterion_driver.c). */
void drv_start(struct drv *d, xhci_attach_fn attach);
/* SHUTDOWN; fails unless the process exits 0. */
void drv_stop(struct drv *d);
/* Fails unless the process still answers (a BAR read). */
void drv_alive(struct drv *d);

struct devproto_reply drv_request(struct drv *d, struct devproto_msg *m, int fd);
/* Sends m (its seq set) without waiting; drv_reply collects the answer. */
void drv_send(struct drv *d, struct devproto_msg *m, int fd);
struct devproto_reply drv_reply(struct drv *d);
/* A BAR write as the VMM posts a guest's: sent, no reply awaited. */
void drv_write_posted(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
/* A BAR write whose reply drv_reply collects. */
void drv_write_async(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
/* Hands the controller a register mirror page; returns the VMM's view of it. */
const struct devproto_reg_mirror *drv_mirror(struct drv *d);
/* Gives doorbell index an eventfd (as a KVM ioeventfd would be) and returns it. */
int drv_doorbell_eventfd(struct drv *d, unsigned int index);
/* The same for one value of that register (a KVM ioeventfd with datamatch): the fd. */
int drv_doorbell_value_eventfd(struct drv *d, unsigned int index, uint32_t value);
/* Attaches an image (any fd); returns the reply. */
struct devproto_reply drv_attach(struct drv *d, int fd, uint32_t flags);

/* Guest memory: a bump allocator of zeroed memory. */
uint64_t drv_alloc(struct drv *d, uint64_t size, uint64_t align);
void drv_ring_init(struct drv *d, struct drv_ring *r, unsigned int size);
uint64_t drv_ring_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		       uint32_t control);

/* drv_init_layout on allocated memory: slots 64, cmd_trbs and evt_trbs TRBs, no moderation, IE. */
void drv_init_rings(struct drv *d, unsigned int cmd_trbs, unsigned int evt_trbs);
/* drv_init_rings(d, 64, 64), checking MaxSlots. */
void drv_init(struct drv *d);
/* Replaces the primary event ring by one of size TRBs (one segment), the controller halted meanwhile. */
void drv_set_event_ring(struct drv *d, unsigned int size);

#endif
