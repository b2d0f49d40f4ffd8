/* SPDX-License-Identifier: MIT */
/*
 * A minimal xHCI driver for one USB device on one root port: controller
 * reset, a command ring, interrupter 0's event ring (polled, or woken by
 * MSI-X), Enable Slot / Address Device / Configure Endpoint, control
 * transfers on endpoint 0 and bulk transfer rings. Register offsets and
 * TRB types are the specification's, named in devices/xhci/xhci_regs.h.
 * Any failure ends the guest (fail()): a benchmark with a broken driver
 * must not print figures.
 */
#ifndef BENCH_XHCI_H
#define BENCH_XHCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/xhci/xhci_regs.h"

#define XHCI_RING_TRBS 256u

struct xhci_ring {
	struct xhci_trb *trb;	/* identity mapped: virtual = physical */
	unsigned int idx;
	uint32_t cycle;
};

struct xhci_endpoint {
	struct xhci_ring ring;
	uint8_t addr;		/* USB endpoint address, 0x80 for IN */
	unsigned int dci;
	unsigned int max_packet, max_burst;
};

/* One device on a root port, with its slot and default control endpoint. */
struct usb_dev {
	unsigned int port, speed, slot;
	struct xhci_endpoint ep0;
};

struct xhci {
	volatile uint8_t *cap, *op, *rt, *db, *ir0;
	unsigned int max_ports, ctx_size;
	uint64_t timeout_cycles;
	struct xhci_ring cmd;
	struct xhci_trb *evt;
	unsigned int evt_idx;
	uint32_t evt_cycle;
	uint64_t *dcbaa;
	bool msix;		/* wait for MSI-X before looking at the event ring */
	bool unacked;		/* events consumed since the last ERDP write */
	uint32_t msi_seen;
	unsigned int ports_taken;	/* bit n: port n has a usb_dev */
};

/* Bump allocation of zeroed, aligned DMA memory (the identity-mapped area from 16 MiB). */
void *dma_alloc(uint64_t size, uint64_t align);

void xhci_init(struct xhci *x, uint64_t bar0, uint64_t timeout_cycles);
/* Interrupter 0 interrupts (IMAN.IE) on or off: the MSI-X or polled mode. */
void xhci_set_msix(struct xhci *x, bool on);
#define XHCI_MAX_DEVICES 4u

/* Waits for a device on a root port not taken yet, resets the port (USB 2) and enables it. */
void xhci_wait_port(struct xhci *x, struct usb_dev *dev);
/* Enable Slot and Address Device. */
void xhci_address_device(struct xhci *x, struct usb_dev *dev);

/* Puts one TRB on a ring (a Link TRB wraps it); returns its address. */
uint64_t xhci_ring_put(struct xhci_ring *r, uint64_t param, uint32_t status, uint32_t control);
void xhci_ring_init(struct xhci_ring *r);

/* The next event, waiting for it; port status events are skipped. */
struct xhci_trb xhci_next_event(struct xhci *x);
/* Tells the controller the events up to here are consumed (ERDP, EHB). */
void xhci_ack_events(struct xhci *x);
/* Rings doorbell 0 with one command and waits for its completion; returns the event. */
struct xhci_trb xhci_command(struct xhci *x, uint64_t param, uint32_t status, uint32_t control);
/* Rings a slot doorbell. */
static inline void xhci_ring_doorbell(struct xhci *x, unsigned int slot, unsigned int target)
{
	*(volatile uint32_t *)(x->db + 4 * slot) = target;
}

/* A control transfer on endpoint 0; data (in or out) at buf. Returns the completion code. */
unsigned int xhci_control(struct xhci *x, struct usb_dev *dev, uint8_t type, uint8_t req,
			  uint16_t value, uint16_t index, void *buf, uint16_t len);
/* Configure Endpoint for two bulk endpoints, their addr, max_packet and max_burst filled in. */
void xhci_configure_bulk(struct xhci *x, struct usb_dev *dev, struct xhci_endpoint *in,
			 struct xhci_endpoint *out);

#endif
