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

#include "device_protocol.h"

struct bar_mirror {
	const struct devproto_reg_mirror *page;	/* NULL: no mirror, every read is a round trip */
};

/* Creates the page; *fd is the memfd to hand the device (the caller closes it). 0 or -errno. */
int bar_mirror_create(struct bar_mirror *m, int *fd);
void bar_mirror_destroy(struct bar_mirror *m);

/*
 * Answers a BAR read of size bytes (1, 2, 4 or 8, naturally aligned) at
 * offset from the mirror if every request up to sent_seq has run in the
 * device and the dwords it covers are mirrored. Returns false when the read
 * must go to the device.
 */
bool bar_mirror_read(const struct bar_mirror *m, uint32_t sent_seq, uint64_t offset, uint32_t size,
		     uint64_t *value);

/* The same for a config space read (size 1, 2 or 4) in the first 256 bytes. */
bool bar_mirror_cfg_read(const struct bar_mirror *m, uint32_t sent_seq, uint32_t offset,
			 uint32_t size, uint32_t *value);

#endif
