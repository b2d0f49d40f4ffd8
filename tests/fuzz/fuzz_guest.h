/* SPDX-License-Identifier: MIT */
/*
 * The guest the xHCI fuzz target plays, in-process: the controller (struct
 * xhci) and its event loop without the device process around them, guest
 * RAM registered through guest_memory_add() exactly as the process does it,
 * and emulated mass-storage devices on small memfd images. The shared test
 * driver (xhci_driver.h) reaches that controller through direct calls; the
 * harness gives it a fixed memory layout (below) so a few fuzz bytes can
 * queue a command, a TD or a whole BOT command the controller will accept,
 * while raw register and memory writes stay available for everything else.
 * The driver never waits here: what it queued runs in fg_turns().
 */
#ifndef SVMM_FUZZ_GUEST_H
#define SVMM_FUZZ_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/xhci/xhci.h"
#include "tests/xhci_driver/xhci_driver.h"

/* Guest RAM: 1 MiB low, and 64 KiB above 4 GiB so 64-bit pointers matter. */
#define FG_RAM_GPA		0x100000ull
#define FG_RAM_SIZE		0x100000ull
#define FG_HIGH_GPA		0x100000000ull
#define FG_HIGH_SIZE		0x10000ull

/* Layout inside the low RAM. */
#define FG_DCBAA		(FG_RAM_GPA + 0x0000)
#define FG_ERST			(FG_RAM_GPA + 0x0400)
#define FG_EVT_RING		(FG_RAM_GPA + 0x1000)
#define FG_EVT_TRBS		256u
#define FG_CMD_RING		(FG_RAM_GPA + 0x2000)
#define FG_CMD_TRBS		256u
#define FG_INPUT_CTX		(FG_RAM_GPA + 0x3000)
#define FG_OUT_CTX		(FG_RAM_GPA + 0x4000)	/* 1 KiB per slot 1..FG_SLOTS */
#define FG_XFER_RINGS		(FG_RAM_GPA + 0x8000)	/* per (slot, dci) */
#define FG_XFER_TRBS		64u
#define FG_DATA			(FG_RAM_GPA + 0x20000)
#define FG_DATA_SIZE		(FG_RAM_SIZE - 0x20000)

/* Slots and DCIs the guest keeps rings for; others get raw pointers. */
#define FG_SLOTS		8u
#define FG_DCIS			8u
#define FG_MAX_DEVICES		4u

struct fg {
	struct event_loop *loop;
	struct xhci x;
	int event_sock[2];
	uint8_t *ram, *high;		/* the harness's own mappings of guest RAM */
	struct drv d;			/* its rings: d.cmd, d.ep_ring[slot][dci] */
	unsigned int dev_port[FG_MAX_DEVICES];	/* 0: none */
	unsigned int turns_left;
};

/*
 * Event-loop turns one input may run. The controller bounds what one
 * doorbell can start (XHCI_WALK_BUDGET TRBs per endpoint), but a kick of a
 * slot's 31 endpoints over rings of empty TDs is millions of TDs worked a
 * turn at a time; capping the turns keeps every input well inside
 * libFuzzer's -timeout without hiding any path (teardown's turns are extra).
 */
#define FG_MAX_TURNS 32u

/* One-time setup of the guest RAM memfds and their mappings; 0 or -1. */
int fg_global_init(void);
/* A fresh controller on zeroed guest RAM; 0 or -1. */
int fg_start(struct fg *g);
/* Releases every device and the controller, as SHUTDOWN does. */
void fg_stop(struct fg *g);

/* Host pointer for [gpa, gpa + len) of guest RAM, or NULL. */
uint8_t *fg_ptr(struct fg *g, uint64_t gpa, uint64_t len);

/* Attaches (slot i empty) or detaches (taken) the device of harness slot i. */
void fg_hotplug(struct fg *g, unsigned int i);
/* Runs up to n turns of the event loop without sleeping. */
void fg_turns(struct fg *g, unsigned int n);
/* Reads what the controller sent on the event socket, then runs a turn (it flushes its backlog). */
void fg_drain_event_socket(struct fg *g);
/* Makes every armed interrupter moderation timer expire now and runs its handler. */
void fg_fire_timers(struct fg *g);

/* The Linux init sequence: HCRST, MaxSlotsEn, DCBAAP, CRCR, ERST, IMOD, IE, RS|INTE. */
void fg_init_sequence(struct fg *g, bool moderate);
void fg_enable_msix(struct fg *g);
/* Consumes the events of interrupter 0's ring and moves ERDP (clearing EHB). */
void fg_consume_events(struct fg *g);

/* The ring for (slot, dci), zeroed and rewound if fresh or new; NULL if the guest keeps none. */
struct drv_ring *fg_xfer_ring(struct fg *g, unsigned int slot, unsigned int dci, bool fresh);

/*
 * Builds an input context for slot: add/drop flags, slot context on port at
 * speed, endpoint contexts for every added DCI (type from the DCI's
 * direction unless ep_type is non-zero, max packet mps, dequeue at the
 * guest's ring for it) and queues command type with it.
 */
void fg_context_command(struct fg *g, unsigned int type, unsigned int slot, uint32_t add,
			uint32_t drop, unsigned int port, unsigned int speed, unsigned int ep_type,
			unsigned int mps, uint32_t extra_control);

/* A control transfer on slot's EP0 (Setup, optional Data, Status) and its doorbell. */
void fg_control(struct fg *g, unsigned int slot, uint64_t setup, bool with_data);

/*
 * One BOT command on slot: CBW on bulk OUT (DCI 4), host_len bytes of data
 * in chunk-sized TRBs on bulk IN (DCI 3) or OUT, CSW on bulk IN; rings both
 * doorbells.
 */
void fg_bot(struct fg *g, unsigned int slot, const uint8_t *cdb, unsigned int cdb_len, bool in,
	    uint32_t host_len, uint32_t chunk);

/* Warm reset (USB 3) or reset (USB 2) of port, then Enable Slot, Address Device, SET_CONFIGURATION, Configure Endpoint (bulk DCI 3 and 4). */
void fg_bring_up(struct fg *g, unsigned int port, unsigned int slot);

#endif
