/* SPDX-License-Identifier: MIT */
/*
 * A producer ring as a guest fills it (command or transfer ring), shared by
 * the guests the tests, the benchmark and the fuzz target play: each TRB is
 * written with its cycle bit last (the bit hands it to the controller), and
 * the ring's last slot is a Link TRB back to its start that toggles the
 * cycle state.
 */
#ifndef SVMM_TEST_TRB_RING_H
#define SVMM_TEST_TRB_RING_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Writes a TRB at slot *idx of the size-slot ring at guest address base,
 * mapped at host; advances *idx and *cycle past it (and past the Link).
 * withhold writes the wrong cycle bit: a TRB not handed over yet. Returns
 * the TRB's guest address.
 */
uint64_t trb_ring_put(uint8_t *host, uint64_t base, unsigned int size, unsigned int *idx,
		      bool *cycle, uint64_t param, uint32_t status, uint32_t control,
		      bool withhold);

#endif
