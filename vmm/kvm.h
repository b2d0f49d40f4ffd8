/* SPDX-License-Identifier: MIT */
/*
 * The KVM virtual machine: /dev/kvm, the VM fd, the in-kernel interrupt
 * controllers (PIC, IOAPIC, LAPICs) and PIT, and the GSI routing table, which
 * is ours to rebuild whenever an MSI-X vector moves.
 */
#ifndef SVMM_KVM_H
#define SVMM_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define KVM_MSI_ROUTES_MAX 64u

struct kvm_msi_slot {
	bool active;
	uint64_t address;
	uint32_t data;
};

struct kvm_vm {
	int sys_fd;		/* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	bool tsc_deadline;	/* the in-kernel LAPIC has the TSC-deadline timer mode */
	bool readonly_mem;	/* read-only memory slots (KVM_MEM_READONLY) */
	pthread_mutex_t routing_lock;
	struct kvm_msi_slot msi[KVM_MSI_ROUTES_MAX];	/* GSI LAYOUT_GSI_MSI_BASE + i */
};

/* Opens /dev/kvm, creates the VM with its irqchip and PIT; 0 or -errno (logged). */
int kvm_vm_create(struct kvm_vm *vm);
void kvm_vm_destroy(struct kvm_vm *vm);

/* Sets an interrupt line (GSI) to level; 0 or -errno. */
int kvm_vm_irq_line(struct kvm_vm *vm, uint32_t gsi, int level);

/*
 * Routes MSI slot i (GSI LAYOUT_GSI_MSI_BASE + i) to address/data, or removes
 * its route when active is false; rebuilds the whole routing table.
 */
int kvm_vm_set_msi_route(struct kvm_vm *vm, unsigned int i, bool active, uint64_t address,
			 uint32_t data);

/* Binds eventfd to GSI (irqfd): a write to it raises the interrupt in the kernel. */
int kvm_vm_irqfd(struct kvm_vm *vm, int eventfd, uint32_t gsi, bool assign);

/* Binds eventfd to a guest MMIO write of len bytes at addr (ioeventfd). */
int kvm_vm_ioeventfd(struct kvm_vm *vm, int eventfd, uint64_t addr, uint32_t len, bool assign);

/* The same for a write of exactly value (ioeventfd with datamatch). */
int kvm_vm_ioeventfd_value(struct kvm_vm *vm, int eventfd, uint64_t addr, uint32_t len,
			   uint64_t value, bool assign);

/*
 * Maps size bytes at host as read-only guest memory at gpa in memory slot
 * slot (guest reads need no exit; writes exit as MMIO), or removes the slot
 * when host is NULL. 0 or -errno.
 */
int kvm_vm_readonly_slot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
			 const void *host);

#endif
