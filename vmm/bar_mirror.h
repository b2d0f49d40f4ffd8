/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of the register mirror (struct devproto_reg_mirror in
 * device_protocol.h): a page the device keeps its hot registers in, which
 * the VMM maps read-only and answers guest reads from, when it may.
 */
#ifndef SVMM_BAR_MIRROR_H
#define SVMM_BAR_MIRROR_H

#include <stdbool.h>
#include <stdint.h>

#include "common/device_protocol.h"

struct bar_mirror {
	const struct devproto_reg_mirror *page;	/* NULL: no mirror, every read is a round trip */

	/*
	 * Which posted writes a read must wait for (docs/protocol.md, "Register
	 * mirror"): the device's declared rules, offsets in BAR 0; has_rules
	 * false until bar_mirror_set_rules. The seqs are the last posted write
	 * of each kind, 0 for none.
	 */
	bool has_rules;
	uint64_t status;
	uint64_t block_base;
	uint32_t block_shift;		/* log2 of a block's size */
	uint32_t nblocks;
	uint32_t last_any;
	uint32_t last_status;
	uint32_t last_block[DEVPROTO_MAX_MIRROR_BLOCKS];
};

/* Creates the page; *fd is the memfd to hand the device (the caller closes it). 0 or -errno. */
int bar_mirror_create(struct bar_mirror *m, int *fd);
void bar_mirror_destroy(struct bar_mirror *m);

/*
 * Takes the read rules of a description devproto_desc_check() accepted: the
 * status register and the register blocks whose writes have narrow effects.
 * Without DEVPROTO_DESC_MIRROR_RULES every read waits for every write.
 */
void bar_mirror_set_rules(struct bar_mirror *m, const struct devproto_desc *d);

/* Notes that the posted write request seq went to offset (size bytes). */
void bar_mirror_posted(struct bar_mirror *m, uint32_t seq, uint64_t offset, uint32_t size);

/*
 * Answers a BAR read of size bytes (1, 2, 4 or 8, naturally aligned) at
 * offset from the mirror if the device has run every request up to sent_seq
 * that could have changed what the read covers, and the dwords it covers
 * are mirrored. Returns false when the read must go to the device.
 */
bool bar_mirror_read(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset, uint32_t size,
		     uint64_t *value);

/* The same for a config space read (size 1, 2 or 4) in the first 256 bytes. */
bool bar_mirror_cfg_read(const struct bar_mirror *m, uint32_t sent_seq, uint32_t offset,
			 uint32_t size, uint32_t *value);

#endif
