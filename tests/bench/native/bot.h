/* SPDX-License-Identifier: MIT */
/*
 * USB Mass Storage Bulk-Only Transport (BOT 1.0) on the xHCI driver: finds
 * the bulk endpoints, configures them, waits for the disk to be ready, and
 * issues READ(10)/WRITE(10) of 512-byte blocks, one command in flight: a
 * BOT device takes a CBW only after the previous CSW.
 */
#ifndef BENCH_BOT_H
#define BENCH_BOT_H

#include <stdbool.h>
#include <stdint.h>

#include "xhci.h"

#define BOT_BLOCK 512u

struct bot {
	struct xhci *x;
	struct xhci_endpoint in, out;
	uint8_t *cbw, *csw;
	uint32_t tag;
	uint32_t blocks;	/* READ CAPACITY: the disk's size */
};

void bot_init(struct bot *b, struct xhci *x);
/* One READ(10) or WRITE(10) of `count` blocks at `lba` from/to buf (64 KiB aligned), checked: CSW good, no residue. */
void bot_rw(struct bot *b, bool write, uint32_t lba, uint32_t count, void *buf);

#endif
