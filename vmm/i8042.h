/* SPDX-License-Identifier: MIT */
/*
 * The i8042 keyboard controller, only as far as Linux needs it: its probe
 * (self test, command byte, AUX loop) answers quickly instead of timing out,
 * and the reset line (command 0xfe, or output port bit 0 cleared) ends the
 * VM. That is how `reboot` leaves the guest with reboot=k. No keyboard or
 * mouse is attached: their commands get no answer.
 */
#ifndef SVMM_I8042_H
#define SVMM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60u
#define I8042_CMD_PORT 0x64u

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *opaque);
	void (*irq)(void *opaque, unsigned int line);	/* pulses IRQ 1 or 12 */
	void *opaque;
	uint8_t ctr;		/* the controller's command byte */
	uint8_t pending;	/* command waiting for its data byte, or 0 */
	uint8_t out;		/* output buffer */
	bool out_full, out_aux;
	bool last_was_cmd;
};

void i8042_init(struct i8042 *k, void (*reset)(void *opaque),
		void (*irq)(void *opaque, unsigned int line), void *opaque);

/* Handlers for port 0x60 and port 0x64 (io_handler_fn). */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
