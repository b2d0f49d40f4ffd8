/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART (COM1, ports 0x3f8-0x3ff, IRQ 4): the guest's console.
 * Transmitted bytes go straight to an output fd; received bytes are queued
 * by the main loop (from stdin) in a 64-byte receive FIFO.
 */
#ifndef SVMM_SERIAL_H
#define SVMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8u
#define SERIAL_PORTS 8u
#define SERIAL_FIFO_SIZE 64u

struct serial {
	pthread_mutex_t lock;
	int out_fd;
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	bool irq_level;

	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

void serial_init(struct serial *s, int out_fd, void (*set_irq)(void *opaque, int level),
		 void *irq_opaque);

/* The port-I/O handler (offset 0-7 from the base); an io_handler_fn. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Queues up to n received bytes; returns how many fit. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);
/* Bytes the receive FIFO can still take. */
size_t serial_rx_room(struct serial *s);

#endif
