/* SPDX-License-Identifier: MIT */
/*
 * A device process's PCI function as the guest sees it on the VMM's bus:
 * config space and BAR 0 accesses are forwarded over the request socket.
 * The VMM plays firmware once (sizes BAR 0, places it at LAYOUT_DEVICE_BAR0,
 * enables memory decoding) and follows the guest's BAR programming after
 * that. Everything else it knows of the device is the description the
 * device declared in its HELLO (struct devproto_desc, checked at spawn):
 * its doorbells, which become KVM ioeventfds, its MSI-X vectors, which
 * become KVM irqfds, which BAR writes are posted, and the register
 * mirror's read rules (bar_mirror.h). docs/protocol.md is the contract.
 */
#ifndef SVMM_PCI_PROXY_H
#define SVMM_PCI_PROXY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bar_mirror.h"
#include "vmm/device_process.h"
#include "common/device_protocol.h"
#include "vmm/io_bus.h"
#include "vmm/kvm.h"
#include "vmm/pci_bus.h"

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

	/* From the device's description, precomputed for the MMIO path. */
	uint64_t db_offset;		/* doorbell registers in BAR 0 */
	uint64_t db_len;		/* bytes they span; 0: no doorbells */
	unsigned int db_shift;		/* log2 of their stride */
	unsigned int ndoorbells;
	unsigned int nbare;		/* doorbells 0..nbare-1 signal on any write; the rest by value */
	uint64_t posted_offset, posted_end;	/* BAR writes in [offset, end) are posted */
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
	bool intx_level;
	bool msix_seen;			/* a vector has been unmasked once (logged) */
};

extern const struct pci_function_ops pci_proxy_ops;

/*
 * Sets the function up after the device's HELLO (dev->desc) and memory:
 * sizes and places BAR 0, creates and sends the doorbell and interrupt
 * eventfds, and maps the BAR. Returns 0 or -errno (logged).
 */
int pci_proxy_init(struct pci_proxy *p, struct device_process *dev, struct kvm_vm *vm,
		   struct io_bus *mmio);
void pci_proxy_destroy(struct pci_proxy *p);

/* Handles one of the function's events (MSIX_ROUTE, INTX_LEVEL) from the device. */
void pci_proxy_event(struct pci_proxy *p, const struct devproto_msg *m);
/* The device died: drop its interrupt line. */
void pci_proxy_device_dead(struct pci_proxy *p);

#endif
