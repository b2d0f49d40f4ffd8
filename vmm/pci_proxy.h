/* SPDX-License-Identifier: MIT */
/*
 * The xHCI PCI function as the guest sees it on the VMM's bus, served by the
 * device process: config space and BAR 0 accesses are forwarded over the
 * request socket. The VMM plays firmware once (sizes BAR 0, places it at
 * LAYOUT_XHCI_BAR0, enables memory decoding) and follows the guest's BAR
 * programming after that. The hot paths bypass the device process's round
 * trip or the VMM altogether: doorbells are KVM ioeventfds the device waits
 * on (the command ring's for any write, a slot's one per value it has been
 * rung with) and read as a read-only page of zeros, each MSI-X vector is a
 * KVM irqfd the device writes (routed
 * from its MSIX_ROUTE events), BAR writes are posted (sent, not waited
 * for), and reads of registers and config space are answered from the
 * device's register mirror (bar_mirror.h).
 */
#ifndef SVMM_PCI_PROXY_H
#define SVMM_PCI_PROXY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bar_mirror.h"
#include "device_process.h"
#include "device_protocol.h"
#include "io_bus.h"
#include "kvm.h"
#include "pci_bus.h"

/* Doorbell (register, value) pairs that get an ioeventfd of their own (pci_proxy.c). */
#define PCI_PROXY_VALUE_DOORBELLS 32u

struct pci_proxy {
	struct device_process *dev;
	struct kvm_vm *vm;
	struct io_bus *mmio;
	/*
	 * The BAR's placement (mapped, bar_addr, the value doorbells' ioeventfds).
	 * Taken by a vCPU in a handler (the bus lock is not held then, io_bus.h);
	 * the device process's lock and the MMIO bus's lock nest inside it, never
	 * the other way (docs/architecture.md, "Locks").
	 */
	pthread_mutex_t lock;

	uint64_t bar_size;
	bool bar64;
	bool mapped;
	uint64_t bar_addr;		/* where it is mapped, when mapped */

	uint32_t db_offset;		/* doorbell array in BAR 0 (xHCI DBOFF) */
	unsigned int ndoorbells;
	int db_fds[DEVPROTO_MAX_DOORBELLS];
	/* Value doorbells (pci_proxy.c): eventfds made before lockdown, given out as values appear. */
	struct proxy_value_doorbell {
		int fd;
		bool used;
		uint32_t index, value;
	} value_dbs[PCI_PROXY_VALUE_DOORBELLS];
	bool value_dbs_off;		/* one failed to register: the rest stay BAR writes */
	const void *db_zero_page;	/* read-only zeros the doorbell page maps, or NULL */
	struct bar_mirror mirror;
	unsigned int nvectors;
	int irq_fds[DEVPROTO_MAX_VECTORS];
	unsigned int nports;		/* root hub ports (xHCI HCSPARAMS1.MaxPorts) */
	bool intx_level;
	bool msix_seen;			/* a vector has been unmasked once (logged) */
	/* Called when a USB device left a port by itself (host unplug); may be NULL. */
	void (*port_gone)(void *opaque, unsigned int port);
	void *port_gone_opaque;
};

extern const struct pci_function_ops pci_proxy_ops;

/*
 * Sets the function up after the device's HELLO and memory: sizes and places
 * BAR 0, creates and sends the doorbell and interrupt eventfds, and maps the
 * BAR. Returns 0 or -errno (logged).
 */
int pci_proxy_init(struct pci_proxy *p, struct device_process *dev, struct kvm_vm *vm,
		   struct io_bus *mmio);
void pci_proxy_destroy(struct pci_proxy *p);

/* Handles one event (MSIX_ROUTE, INTX_LEVEL, PORT_GONE) from the device. */
void pci_proxy_event(struct pci_proxy *p, const struct devproto_msg *m);
/* The device died: drop its interrupt line. */
void pci_proxy_device_dead(struct pci_proxy *p);

#endif
