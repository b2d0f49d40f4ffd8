/* SPDX-License-Identifier: MIT */
#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "vmm/vcpu_report.h"

#define VCPU_KICK_SIGNAL SIGUSR1
#define VCPU_STOP_POLL_MS 5	/* how often vcpu_stop looks whether the thread ended */
#define CPUID_MAX_ENTRIES 256

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void vcpu_kick_handler(int sig)
{
	(void)sig;	/* only there to interrupt KVM_RUN */
}

int vcpu_signal_setup(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void vcpu_cpuid_fixup(struct kvm_cpuid2 *cpuid, unsigned int apic_id, unsigned int ncpus,
		       bool tsc_deadline)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			/* EBX: initial APIC id (31:24), logical processors (23:16), CLFLUSH size. */
			e->ebx = (apic_id << 24) | (ncpus << 16) | (e->ebx & 0xffff);
			e->ecx |= 1u << 31;	/* running on a hypervisor */
			if (tsc_deadline)
				e->ecx |= 1u << 24;	/* TSC-deadline timer (kvm.c says why) */
			if (ncpus > 1)
				e->edx |= 1u << 28;	/* HTT: the count above is valid */
			break;
		case 4:
			/* Cores per package - 1 (31:26); one thread per cache. */
			e->eax = (e->eax & 0x3fff) | ((ncpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* Topology: one thread per core, ncpus cores, x2APIC id in EDX. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8);
			} else if (e->index == 1) {
				e->eax = bits_for(ncpus);
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = apic_id;
			break;
		default:
			break;
		}
	}
}

static int vcpu_set_cpuid(struct vcpu *v)
{
	struct kvm_cpuid2 *cpuid;
	int r = 0;

	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(v->env->vm->sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		r = -errno;
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		goto out;
	}
	vcpu_cpuid_fixup(cpuid, v->id, v->env->ncpus, v->env->vm->tsc_deadline);
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) {
		r = -errno;
		log_err("KVM_SET_CPUID2: %s", strerror(errno));
	}
out:
	free(cpuid);
	return r;
}

static int vcpu_set_msrs(struct vcpu *v)
{
	static const struct { uint32_t index; uint64_t value; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },		/* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 },	/* MTRRs on, write-back by default */
	};
	const size_t n = sizeof(init) / sizeof(init[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[sizeof(init) / sizeof(init[0])];
	} msrs;
	int set;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		msrs.entries[i].index = init[i].index;
		msrs.entries[i].data = init[i].value;
	}
	set = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (set < 0)
		return -errno;
	/* KVM stops at the first MSR it refuses; the rest are optional niceties. */
	if ((size_t)set < n)
		log_debug("vCPU %u: KVM took %d of %zu initial MSRs", v->id, set, n);
	return 0;
}

static uint32_t lapic_get(const struct kvm_lapic_state *s, unsigned int reg)
{
	uint32_t v;

	memcpy(&v, s->regs + reg, sizeof(v));
	return v;
}

static void lapic_set(struct kvm_lapic_state *s, unsigned int reg, uint32_t v)
{
	memcpy(s->regs + reg, &v, sizeof(v));
}

/* LINT0 receives the PIC (ExtINT), LINT1 NMIs, as a BIOS leaves them. */
static int vcpu_set_lint(struct vcpu *v)
{
	struct kvm_lapic_state s;

	if (ioctl(v->fd, KVM_GET_LAPIC, &s) < 0)
		return -errno;
	lapic_set(&s, APIC_LVT0, (lapic_get(&s, APIC_LVT0) & ~0x700u) | (APIC_MODE_EXTINT << 8));
	lapic_set(&s, APIC_LVT1, (lapic_get(&s, APIC_LVT1) & ~0x700u) | (APIC_MODE_NMI << 8));
	if (ioctl(v->fd, KVM_SET_LAPIC, &s) < 0)
		return -errno;
	return 0;
}

static void segment_flat(struct kvm_segment *s, uint16_t selector, bool code)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = code ? 0xb : 0x3,	/* execute/read accessed, or read/write accessed */
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

/* The state Linux's 64-bit entry expects (boot.rst, "64-bit BOOT PROTOCOL"). */
static int vcpu_set_boot_regs(struct vcpu *v, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	segment_flat(&sregs.cs, BOOT_CS, true);
	segment_flat(&sregs.ds, BOOT_DS, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.selector = BOOT_TSS, .limit = 0xfffff, .type = 0xb, .present = 1, .g = 1,
	};
	sregs.gdt.base = entry->gdt_base;
	sregs.gdt.limit = entry->gdt_limit;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80000033;		/* PG, NE, ET, MP, PE */
	sregs.cr3 = entry->cr3;
	sregs.cr4 = 0x20;		/* PAE */
	sregs.efer = 0x500;		/* LMA, LME */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = entry->rip;
	regs.rsi = entry->rsi;
	regs.rsp = regs.rbp = entry->rsp;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vcpu *v, const struct vcpu_env *env, unsigned int id,
		const struct boot_entry *entry)
{
	void *run;
	int r;

	memset(v, 0, sizeof(*v));
	v->id = id;
	v->env = env;
	v->fd = ioctl(env->vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		r = -errno;
		log_err("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return r;
	}
	run = mmap(NULL, (size_t)env->vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		log_err("cannot map vCPU %u's kvm_run: %s", id, strerror(errno));
		goto fail;
	}
	v->run = run;
	r = vcpu_set_cpuid(v);
	if (r < 0)
		goto fail;
	r = vcpu_set_msrs(v);
	if (r < 0) {
		log_err("vCPU %u: KVM_SET_MSRS: %s", id, strerror(-r));
		goto fail;
	}
	r = vcpu_set_lint(v);
	if (r < 0) {
		log_err("vCPU %u: cannot program the local APIC: %s", id, strerror(-r));
		goto fail;
	}
	/* Application processors wait for INIT/SIPI from the BSP in the kernel's LAPIC. */
	if (id == 0) {
		r = vcpu_set_boot_regs(v, entry);
		if (r < 0) {
			log_err("vCPU 0: cannot set the boot registers: %s", strerror(-r));
			goto fail;
		}
	}
	return 0;
fail:
	vcpu_destroy(v);
	return r;
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!io_bus_dispatch(v->env->pio, run->io.port, data, run->io.size, is_write) &&
		    !is_write)
			memset(data, 0xff, run->io.size);	/* nothing there: the bus floats high */
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	if (!io_bus_dispatch(v->env->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			     run->mmio.is_write)) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, run->mmio.len);
		log_debug("vCPU %u: unclaimed MMIO %s at 0x%llx", v->id,
			  run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr);
	}
}

void vcpu_set_stopping(struct vcpu *v)
{
	__atomic_store_n(&v->stopping, true, __ATOMIC_RELEASE);
}

bool vcpu_is_stopping(const struct vcpu *v)
{
	return __atomic_load_n(&v->stopping, __ATOMIC_ACQUIRE);
}

static void vcpu_exit_vm(struct vcpu *v, int status, const char *why)
{
	vcpu_set_stopping(v);
	v->env->request_exit(v->env->opaque, status, why);
}

/* Returns false when the thread should end. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return !vcpu_is_stopping(v);
	case KVM_EXIT_SHUTDOWN:
		/*
		 * A triple fault. Linux reboots through the i8042 here (an exit
		 * status of 0); it triple-faults only when it has crashed where it
		 * could not even print, or was told to (reboot=t): an error.
		 */
		vcpu_report_log(v->fd, v->id, v->env->mem, "the guest triple-faulted");
		vcpu_exit_vm(v, 1, "the guest reset by a triple fault (it crashed, or booted with reboot=t)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			vcpu_exit_vm(v, 1, "the guest crashed");
		else
			vcpu_exit_vm(v, 0, "the guest reset or powered off");
		return false;
	case KVM_EXIT_HLT:
		vcpu_exit_vm(v, 0, "the guest halted");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: KVM entry failed, hardware reason 0x%llx", v->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_exit_vm(v, 1, "vCPU entry failed");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_err("vCPU %u: KVM internal error, suberror %u", v->id, run->internal.suberror);
		vcpu_exit_vm(v, 1, "KVM internal error");
		return false;
	default:
		log_err("vCPU %u: unexpected exit reason %u", v->id, run->exit_reason);
		vcpu_exit_vm(v, 1, "unexpected vCPU exit");
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* No guest instruction runs before the VMM's seccomp filter covers this thread. */
	if (v->env->start_gate) {
		struct vcpu_gate *g = v->env->start_gate;

		pthread_mutex_lock(&g->lock);
		g->arrived++;
		pthread_cond_broadcast(&g->cond);
		while (!g->open)
			pthread_cond_wait(&g->cond, &g->lock);
		pthread_mutex_unlock(&g->lock);
	}
	while (!vcpu_is_stopping(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && __atomic_exchange_n(&v->report_asked, false, __ATOMIC_ACQ_REL)) {
				vcpu_report_where(v->fd, v->id, v->env->mem);
				/* A stop that came meanwhile set it too; the loop's test sees that one. */
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			vcpu_exit_vm(v, 1, "KVM_RUN failed");
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

void vcpu_gate_init(struct vcpu_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->arrived = 0;
	g->open = false;
}

void vcpu_gate_wait_arrivals(struct vcpu_gate *g, unsigned int n)
{
	pthread_mutex_lock(&g->lock);
	while (g->arrived < n)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

void vcpu_gate_open(struct vcpu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

int vcpu_start(struct vcpu *v)
{
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (r) {
		log_err("cannot start vCPU %u's thread: %s", v->id, strerror(r));
		return -r;
	}
	v->started = true;
	return 0;
}

void vcpu_ask_report(struct vcpu *v)
{
	if (!v->started || vcpu_is_stopping(v))
		return;
	__atomic_store_n(&v->report_asked, true, __ATOMIC_RELEASE);
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

int vcpu_stop(struct vcpu *v, int64_t deadline_ms)
{
	const struct timespec pause = { .tv_nsec = VCPU_STOP_POLL_MS * 1000000L };
	int r;

	if (!v->started)
		return 0;
	vcpu_set_stopping(v);
	/* immediate_exit covers a kick that lands just before KVM_RUN is entered. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	/* tryjoin, not pthread_clockjoin_np: ThreadSanitizer sees the join (the deadline is monotonic). */
	while ((r = pthread_tryjoin_np(v->thread, NULL)) == EBUSY) {
		if (monotonic_ms() >= deadline_ms) {
			r = ETIMEDOUT;
			break;
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
	}
	if (r == ETIMEDOUT) {
		log_err("vCPU %u did not stop in time: it is stuck in the VMM, not in the guest", v->id);
		return -r;
	}
	if (r) {
		log_err("vCPU %u: cannot join its thread: %s", v->id, strerror(r));
		return -r;
	}
	v->started = false;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->env->vm->vcpu_mmap_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
