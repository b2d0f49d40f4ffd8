/* SPDX-License-Identifier: MIT */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "common/log.h"

static int kvm_check_cap(struct kvm_vm *vm, long cap, const char *name)
{
	if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, cap) <= 0) {
		log_err("KVM lacks %s", name);
		return -ENOTSUP;
	}
	return 0;
}

int kvm_vm_create(struct kvm_vm *vm)
{
	static const struct { long cap; const char *name; } needed[] = {
		{ KVM_CAP_IRQCHIP, "an in-kernel irqchip" },
		{ KVM_CAP_PIT2, "an in-kernel PIT" },
		{ KVM_CAP_USER_MEMORY, "user memory slots" },
		{ KVM_CAP_IRQFD, "irqfd" },
		{ KVM_CAP_IOEVENTFD, "ioeventfd" },
		{ KVM_CAP_IRQ_ROUTING, "GSI routing" },
		{ KVM_CAP_EXT_CPUID, "KVM_GET_SUPPORTED_CPUID" },
		{ KVM_CAP_IMMEDIATE_EXIT, "immediate_exit" },
	};
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = LAYOUT_KVM_IDENTITY;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	pthread_mutex_init(&vm->routing_lock, NULL);
	vm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->sys_fd < 0) {
		r = -errno;
		log_err("cannot open /dev/kvm: %s", strerror(errno));
		return r;
	}
	r = ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		log_err("KVM API version %d, expected %d", r, KVM_API_VERSION);
		r = -ENOTSUP;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		r = kvm_check_cap(vm, needed[i].cap, needed[i].name);
		if (r < 0)
			goto fail;
	}
	/*
	 * KVM emulates the TSC-deadline timer but leaves it out of the CPUID it
	 * reports: the VMM says so. Without it Linux drives the LAPIC timer
	 * through its one-shot count: twice the timer writes, each a VM exit.
	 */
	vm->tsc_deadline = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	vm->readonly_mem = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	vm->vcpu_mmap_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0) {
		r = -errno;
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto fail;
	}
	vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	/* Intel VMX needs these before the first vCPU exists; harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = -errno;
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = -errno;
		log_err("KVM_CREATE_PIT2: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	kvm_vm_destroy(vm);
	return r;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	vm->vm_fd = vm->sys_fd = -1;
}

int kvm_vm_irq_line(struct kvm_vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

static void route_irqchip(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip,
			  uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/*
 * KVM_SET_GSI_ROUTING replaces the whole table, so it is rebuilt from the
 * same legacy routes KVM sets up by default (GSI 0-15 to both PICs and the
 * IOAPIC, 16-23 to the IOAPIC only) plus the MSI routes in use.
 */
static int kvm_vm_commit_routing(struct kvm_vm *vm)
{
	size_t max = 16 * 2 + 8 + KVM_MSI_ROUTES_MAX, n = 0;
	struct kvm_irq_routing *table;
	int r = 0;

	table = calloc(1, sizeof(*table) + max * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < LAYOUT_IOAPIC_PINS; gsi++) {
		if (gsi < 16)
			route_irqchip(&table->entries[n++], gsi,
				      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				      gsi % 8);
		route_irqchip(&table->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	for (uint32_t i = 0; i < KVM_MSI_ROUTES_MAX; i++) {
		struct kvm_irq_routing_entry *e;

		if (!vm->msi[i].active)
			continue;
		e = &table->entries[n++];
		e->gsi = LAYOUT_GSI_MSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)vm->msi[i].address;
		e->u.msi.address_hi = (uint32_t)(vm->msi[i].address >> 32);
		e->u.msi.data = vm->msi[i].data;
	}
	table->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		r = -errno;
	free(table);
	return r;
}

int kvm_vm_set_msi_route(struct kvm_vm *vm, unsigned int i, bool active, uint64_t address,
			 uint32_t data)
{
	int r;

	if (i >= KVM_MSI_ROUTES_MAX)
		return -EINVAL;
	pthread_mutex_lock(&vm->routing_lock);
	vm->msi[i] = (struct kvm_msi_slot){ .active = active, .address = address, .data = data };
	r = kvm_vm_commit_routing(vm);
	pthread_mutex_unlock(&vm->routing_lock);
	return r;
}

int kvm_vm_irqfd(struct kvm_vm *vm, int eventfd, uint32_t gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)eventfd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

static int set_ioeventfd(struct kvm_vm *vm, struct kvm_ioeventfd *io, bool assign)
{
	if (!assign)
		io->flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, io) < 0)
		return -errno;
	return 0;
}

int kvm_vm_ioeventfd(struct kvm_vm *vm, int eventfd, uint64_t addr, uint32_t len, bool assign)
{
	struct kvm_ioeventfd io = { .addr = addr, .len = len, .fd = eventfd };

	return set_ioeventfd(vm, &io, assign);
}

int kvm_vm_ioeventfd_value(struct kvm_vm *vm, int eventfd, uint64_t addr, uint32_t len,
			   uint64_t value, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = value,
		.addr = addr,
		.len = len,
		.fd = eventfd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return set_ioeventfd(vm, &io, assign);
}

int kvm_vm_readonly_slot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
			 const void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = KVM_MEM_READONLY,
		.guest_phys_addr = gpa,
		.memory_size = host ? size : 0,
		.userspace_addr = (uintptr_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	return 0;
}
