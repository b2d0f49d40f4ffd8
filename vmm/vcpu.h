/* SPDX-License-Identifier: MIT */
/*
 * A virtual CPU: its KVM fd and shared kvm_run page, its CPUID (what KVM
 * supports, with this vCPU's APIC id and the VM's topology), its MSRs and
 * boot registers, and the thread that runs it and dispatches its exits to
 * the port-I/O and MMIO buses.
 */
#ifndef SVMM_VCPU_H
#define SVMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/boot_linux.h"
#include "vmm/io_bus.h"
#include "vmm/kvm.h"

/* What every vCPU shares. */
struct vcpu_env {
	struct kvm_vm *vm;
	struct io_bus *pio;
	struct io_bus *mmio;
	unsigned int ncpus;
	const struct guest_memory *mem;	/* for the code bytes at a reported rip */
	/* Called once per vCPU that wants the VM to end, with the exit status. */
	void (*request_exit)(void *opaque, int status, const char *why);
	void *opaque;
	/* Every vCPU thread waits here before its first KVM_RUN, until the VMM is locked down. */
	struct vcpu_gate *start_gate;
};

/*
 * Closed until opened once; threads wait at it. The VMM waits until every
 * thread has arrived (so each has finished glibc's thread start-up, rseq
 * registration included, before the filter forbids it), locks down, opens.
 */
struct vcpu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int arrived;
	bool open;
};

void vcpu_gate_init(struct vcpu_gate *g);
/* Waits until n threads have arrived at the gate. */
void vcpu_gate_wait_arrivals(struct vcpu_gate *g, unsigned int n);
void vcpu_gate_open(struct vcpu_gate *g);

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/* Set by any thread, read by the vCPU's: atomics (vcpu_set_stopping, vcpu_is_stopping). */
	bool stopping;
	bool report_asked;		/* log the registers at the next exit (vcpu_ask_report) */
	const struct vcpu_env *env;
};

/* Installs the signal that kicks a vCPU out of KVM_RUN; once, before any vCPU runs. */
int vcpu_signal_setup(void);

/* Creates vCPU id with CPUID, MSRs and LAPIC set; the BSP (id 0) also gets the boot registers. */
int vcpu_create(struct vcpu *v, const struct vcpu_env *env, unsigned int id,
		const struct boot_entry *entry);
int vcpu_start(struct vcpu *v);
/* Marks the vCPU to end at its next exit (vcpu_stop kicks it there too). */
void vcpu_set_stopping(struct vcpu *v);
bool vcpu_is_stopping(const struct vcpu *v);
/* Makes the vCPU leave KVM_RUN, log where the guest is, and go on. */
void vcpu_ask_report(struct vcpu *v);
/*
 * Makes the vCPU leave KVM_RUN and its thread end, and joins it by
 * deadline_ms (monotonic_ms()). 0, or -ETIMEDOUT: the thread is stuck outside KVM_RUN,
 * where the kick cannot reach it (a VMM bug); it still runs, and what it may
 * use must stay (vmm.c's teardown leaves it to the process's exit).
 */
int vcpu_stop(struct vcpu *v, int64_t deadline_ms);
void vcpu_destroy(struct vcpu *v);

/*
 * Adjusts KVM's supported CPUID for vCPU apic_id of ncpus: its APIC id and the
 * topology, the hypervisor bit, and the TSC-deadline timer when KVM has it
 * (exposed for tests).
 */
void vcpu_cpuid_fixup(struct kvm_cpuid2 *cpuid, unsigned int apic_id, unsigned int ncpus,
		       bool tsc_deadline);

#endif
