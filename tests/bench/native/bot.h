/* SPDX-License-Identifier: MIT */
/*
 * USB Mass Storage Bulk-Only Transport (BOT 1.0) on the xHCI driver: finds
 * the bulk endpoints, configures them, waits for the disk to be ready, and
 * runs READ(10)/WRITE(10) of 512-byte blocks. One command is in flight per
 * device (a BOT device takes a CBW only after the previous CSW); commands
 * on several devices run side by side, each moved on by its events.
 */
#ifndef BENCH_BOT_H
#define BENCH_BOT_H

#include <stdbool.h>
#include <stdint.h>

#include "tests/bench/native/guest_xhci.h"

#define BOT_BLOCK 512u

enum bot_stage { BOT_IDLE, BOT_CBW, BOT_DATA, BOT_CSW };

struct bot {
	struct xhci *x;
	struct usb_dev dev;
	struct xhci_endpoint in, out;
	uint8_t *cbw, *csw;
	uint32_t tag;
	uint32_t blocks;	/* READ CAPACITY: the disk's size */
	/* the command in flight */
	enum bot_stage stage;
	uint64_t awaited;	/* the TRB whose transfer event ends the stage */
	bool data_in;
	uint32_t data_len;
	uint8_t *data;
	unsigned int status;	/* the last CSW's */
};

/* Configures the device b->dev (addressed), waits until its disk is ready. */
void bot_init(struct bot *b, struct xhci *x);
/* Starts a command: queues its CBW and rings bulk OUT. */
void bot_start(struct bot *b, const uint8_t *cdb, uint8_t cdb_len, bool in, uint32_t len, void *buf);
/* Starts a READ(10) or WRITE(10) of `count` blocks at `lba` from/to buf (64 KiB aligned). */
void bot_start_rw(struct bot *b, bool write, uint32_t lba, uint32_t count, void *buf);
/* Takes a transfer event of b's slot and moves the command on; true once its CSW is in and checked (status). */
bool bot_event(struct bot *b, const struct xhci_trb *ev);

#endif
