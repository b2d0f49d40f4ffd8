/* SPDX-License-Identifier: MIT */
/*
 * The CMOS RTC (ports 0x70/0x71), read-only wall clock from the host's UTC
 * time: without it Linux's rtc-cmos probe and clock reads would see all-ones
 * ("update in progress" forever) and wait.
 */
#ifndef SVMM_CMOS_H
#define SVMM_CMOS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CMOS_PORT 0x70u

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
};

void cmos_init(struct cmos *c);
/* Handler for ports 0x70-0x71 (io_handler_fn). */
void cmos_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
