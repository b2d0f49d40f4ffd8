/* SPDX-License-Identifier: MIT */
/* The CPUID a guest sees: what svmm changes in the table KVM supports. */
#include <criterion/criterion.h>
#include <linux/kvm.h>
#include <stdlib.h>

#include "vmm/vcpu.h"

#define TSC_DEADLINE (1u << 24)
#define HYPERVISOR (1u << 31)

/* KVM's table as a host might report it: leaf 1 and the two 0xb levels. */
static struct kvm_cpuid2 *host_table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 3 * sizeof(c->entries[0]));

	cr_assert_not_null(c);
	c->nent = 3;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x00000800,
						   .ecx = 0x00200001, .edx = 0x078bfbff };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1 };
	return c;
}

Test(vcpu_cpuid, tsc_deadline_timer_when_kvm_has_it)
{
	struct kvm_cpuid2 *with = host_table(), *without = host_table();

	vcpu_cpuid_fixup(with, 0, 1, true);
	vcpu_cpuid_fixup(without, 0, 1, false);
	cr_assert(with->entries[0].ecx & TSC_DEADLINE, "Linux would drive the LAPIC timer by count");
	cr_assert_not(without->entries[0].ecx & TSC_DEADLINE,
		      "a timer mode KVM lacks must not be promised");
	/* Nothing else of the host's leaf 1 features is lost. */
	cr_assert_eq(with->entries[0].ecx & ~(TSC_DEADLINE | HYPERVISOR), 0x00200001u);
	cr_assert_eq(with->entries[0].edx, 0x078bfbffu);
	free(with);
	free(without);
}

Test(vcpu_cpuid, apic_id_and_topology)
{
	struct kvm_cpuid2 *c = host_table();

	vcpu_cpuid_fixup(c, 2, 4, false);
	cr_assert(c->entries[0].ecx & HYPERVISOR);
	cr_assert_eq(c->entries[0].ebx >> 24, 2u, "initial APIC id");
	cr_assert_eq((c->entries[0].ebx >> 16) & 0xff, 4u, "logical processors");
	cr_assert(c->entries[0].edx & (1u << 28), "HTT: the count is valid");
	cr_assert_eq(c->entries[2].ebx, 4u, "cores at the core level");
	cr_assert_eq(c->entries[2].eax, 2u, "APIC id bits for 4 cores");
	cr_assert_eq(c->entries[1].edx, 2u, "x2APIC id");
	free(c);
}
