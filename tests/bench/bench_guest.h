/* SPDX-License-Identifier: MIT */
/*
 * The guest the xHCI benchmark plays: it forks the real device process,
 * gives it a memfd as guest RAM, an MSI-X irq eventfd and doorbell eventfds
 * (what KVM's irqfd and ioeventfd would be), and drives it over the wire
 * protocol the way the Linux xhci driver does. Unlike the unit tests'
 * driver it never sleeps: it waits for events on the irq eventfd, or spins
 * on the event ring when timing, so its own overhead stays out of the
 * figures. Any failure ends the benchmark (bg_die).
 */
#ifndef SVMM_BENCH_GUEST_H
#define SVMM_BENCH_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BG_RAM_GPA 0x100000ull
#define BG_EVT_TRBS 1024u

struct bg_ring {
	uint64_t base;
	unsigned int idx, size;
	bool cycle;
};

struct bg_event {
	uint64_t param;
	uint32_t status, control;
};

struct bg {
	pid_t pid;
	int req, ev;
	uint8_t *ram;
	uint64_t ram_size;
	uint32_t seq;
	int irq_fd;
	int db_fd[3];			/* doorbell 0 (commands); slot 1's bulk OUT and IN by value */
	uint64_t next_alloc;
	uint64_t dcbaa, erst, evt;
	unsigned int evt_idx;
	bool evt_cycle, unacked;
	struct bg_ring cmd, ep0, bulk_in, bulk_out;
	unsigned int slot;
};

void bg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Forks the controller with ram_size bytes of guest RAM. */
void bg_start(struct bg *g, uint64_t ram_size);
/* SHUTDOWN, and waits for the process to exit 0. */
void bg_stop(struct bg *g);

uint64_t bg_read(struct bg *g, uint64_t off, unsigned int size);
void bg_write(struct bg *g, uint64_t off, unsigned int size, uint64_t v);
/* BAR_WRITE without waiting for the reply; bg_reply() collects it. */
void bg_write_async(struct bg *g, uint64_t off, unsigned int size, uint64_t v);
void bg_reply(struct bg *g);

uint64_t bg_alloc(struct bg *g, uint64_t size, uint64_t align);
void *bg_ptr(struct bg *g, uint64_t gpa);

/* HCRST, rings, ERST, MSI-X vector 0 unmasked, no moderation, RS. */
void bg_init(struct bg *g);
/* Attaches a disk image; returns the port. */
unsigned int bg_attach(struct bg *g, int fd);
/* Port reset, Enable Slot, Address Device, SET_CONFIGURATION, bulk DCIs 3 (IN) and 4 (OUT). */
void bg_enumerate_storage(struct bg *g, unsigned int port);

void bg_ring_init(struct bg *g, struct bg_ring *r, unsigned int size);
uint64_t bg_push(struct bg *g, struct bg_ring *r, uint64_t param, uint32_t status,
		 uint32_t control);
/* Signals doorbell index's eventfds (slot 1: both bulk endpoints), as KVM's ioeventfds do. */
void bg_kick(struct bg *g, unsigned int index);

/* The next event if the controller wrote one (consumed); false if none yet. */
bool bg_next_event(struct bg *g, struct bg_event *ev);
/* Moves ERDP past what was consumed and clears EHB, as the guest's handler does. */
void bg_ack(struct bg *g);
/* Waits (irq eventfd) for the next event; dies after timeout_ms. */
void bg_wait_event(struct bg *g, struct bg_event *ev, int timeout_ms);
/* Queues a command, rings doorbell 0 by BAR write, returns its completion code. */
unsigned int bg_command(struct bg *g, uint64_t param, uint32_t status, uint32_t control,
			unsigned int *slot);

#endif
