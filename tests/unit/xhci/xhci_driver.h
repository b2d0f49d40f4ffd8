/* SPDX-License-Identifier: MIT */
/*
 * A test driver that plays the guest: it forks the real xHCI device process,
 * gives it a memfd as guest RAM, and drives it over the real wire protocol
 * (config/BAR accesses, doorbells) the way the Linux xhci driver does.
 * Everything it asserts is what a guest could observe.
 */
#ifndef SVMM_TEST_XHCI_DRIVER_H
#define SVMM_TEST_XHCI_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "device_protocol.h"
#include "xhci_process.h"

#define DRV_RAM_SIZE (16u << 20)
#define DRV_RAM_GPA 0x100000ull

/* A producer ring the driver fills (command or transfer ring). */
struct drv_ring {
	uint64_t base;
	unsigned int idx, size;
	bool cycle;
};

struct drv {
	pid_t pid;
	int req, ev;
	uint8_t *ram;
	uint32_t seq;
	int irq_fd;
	uint64_t next_alloc;
	uint64_t dcbaa, erst, evt;
	unsigned int evt_idx, evt_size;
	bool evt_cycle;
	struct drv_ring cmd;
	struct drv_ring ep_ring[65][32];
	uint64_t out_ctx[65];
};

struct drv_event {
	uint64_t param;
	uint32_t status, control;
};

/* Forks the controller with attach as the image-kind constructor (NULL: mass storage). */
void drv_start(struct drv *d, xhci_attach_fn attach);
/* SHUTDOWN; asserts the process exits 0. */
void drv_stop(struct drv *d);
/* Asserts the process still answers (a BAR read). */
void drv_alive(struct drv *d);

struct devproto_reply drv_request(struct drv *d, struct devproto_msg *m, int fd);
uint32_t drv_cfg_read(struct drv *d, uint32_t off, uint32_t size);
void drv_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v);
uint64_t drv_read(struct drv *d, uint64_t off, unsigned int size);
/* A BAR write as the VMM posts a guest's: sent, no reply awaited. */
void drv_write_posted(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
/* Hands the controller a register mirror page; returns the VMM's view of it. */
const struct devproto_reg_mirror *drv_mirror(struct drv *d);
/* Gives doorbell index an eventfd (as a KVM ioeventfd would be) and returns it. */
int drv_doorbell_eventfd(struct drv *d, unsigned int index);
/* The same for one value of that register (a KVM ioeventfd with datamatch): the fd. */
int drv_doorbell_value_eventfd(struct drv *d, unsigned int index, uint32_t value);
void drv_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v);
uint32_t drv_op_read(struct drv *d, uint32_t reg);
void drv_op_write(struct drv *d, uint32_t reg, uint32_t v);
uint32_t drv_portsc(struct drv *d, unsigned int port);

/* Guest memory: an allocator and host pointers. */
uint64_t drv_alloc(struct drv *d, uint64_t size, uint64_t align);
void *drv_ptr(struct drv *d, uint64_t gpa);

/* Attaches an image (any fd); returns the reply. */
struct devproto_reply drv_attach(struct drv *d, int fd, uint32_t flags);

/* The Linux init sequence: HCRST, CNR, MaxSlotsEn, DCBAAP, CRCR, ERST, IMAN, RUN. */
void drv_init(struct drv *d);
/* Resets a port (USB 2 PR, or USB 3 warm reset) and waits for PRC. */
void drv_port_reset(struct drv *d, unsigned int port, bool warm);

/*
 * Reads the next event, if the controller wrote one, without telling it
 * (ERDP stays): a guest that is slow to acknowledge.
 */
bool drv_take_event(struct drv *d, struct drv_event *ev);
/* Moves ERDP past every event taken, clearing EHB. */
void drv_ack_events(struct drv *d);
/* Replaces the primary event ring by one of size TRBs (one segment). */
void drv_set_event_ring(struct drv *d, unsigned int size);
/* Waits for the next event of type (others are skipped, each acknowledged); false on timeout. */
bool drv_wait_event(struct drv *d, unsigned int type, struct drv_event *ev, int timeout_ms);
/* Queues a command, rings doorbell 0 and returns its completion code (slot in *slot). */
unsigned int drv_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control,
			 unsigned int *slot);

/* Enable Slot + Address Device (bsr) for the device on port; returns the slot ID. */
unsigned int drv_enable_address(struct drv *d, unsigned int port, unsigned int speed, bool bsr,
				unsigned int *cc);
/* Configure Endpoint adding bulk endpoints at dci (type 2 out / 6 in). */
unsigned int drv_configure_bulk(struct drv *d, unsigned int slot, unsigned int dci_out,
				unsigned int dci_in, unsigned int mps);

/* Pushes one TRB on a ring (a Link with TC closes each ring). Returns its address. */
uint64_t drv_ring_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		       uint32_t control);
void drv_ring_init(struct drv *d, struct drv_ring *r, unsigned int size);
void drv_doorbell(struct drv *d, unsigned int index, uint32_t target);

/* A control transfer on slot's EP0; returns the completion code of the final event. */
unsigned int drv_control(struct drv *d, unsigned int slot, uint8_t type, uint8_t req,
			 uint16_t value, uint16_t index, uint16_t length, uint64_t buf,
			 uint32_t buf_len, uint32_t *residual);
/* One Normal TRB TD on dci; returns the completion code. */
unsigned int drv_bulk(struct drv *d, unsigned int slot, unsigned int dci, uint64_t buf,
		      uint32_t len, uint32_t *residual);

#endif
