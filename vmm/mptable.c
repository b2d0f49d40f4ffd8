/* SPDX-License-Identifier: MIT */
#include "vmm/mptable.h"

#include <errno.h>
#include <string.h>

#include "vmm/layout.h"

#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3
#define MP_CPU_ENABLED 1
#define MP_CPU_BSP 2
#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
/* PCI INTx: active high, level triggered (KVM's IOAPIC ignores polarity; level matters). */
#define MP_IRQFLAG_PCI 0x0d
#define MP_IRQFLAG_CONFORMING 0

static unsigned int mp_entries_isa(void) { return 16; }

size_t mptable_size(unsigned int ncpus)
{
	return sizeof(struct mp_floating) + sizeof(struct mp_config) +
	       ncpus * sizeof(struct mp_processor) + 2 * sizeof(struct mp_bus) +
	       sizeof(struct mp_ioapic) + (mp_entries_isa() + 1 + 2) * sizeof(struct mp_intsrc);
}

uint8_t mptable_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

int mptable_write(uint8_t *buf, size_t len, uint32_t gpa, unsigned int ncpus)
{
	size_t size = mptable_size(ncpus);
	struct mp_floating *mpf = (void *)buf;
	struct mp_config *mpc = (void *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t count = 0;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if (len < size)
		return -ENOSPC;
	memset(buf, 0, size);

	for (unsigned int i = 0; i < ncpus; i++, count++) {
		struct mp_processor *c = (void *)p;

		c->type = MP_PROCESSOR;
		c->apicid = (uint8_t)i;
		c->apicver = MP_APIC_VERSION;
		c->cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		c->cpufeature = 0x600;		/* family 6 */
		c->featureflag = 0x201;		/* FPU, APIC */
		p += sizeof(*c);
	}
	for (unsigned int i = 0; i < 2; i++, count++) {
		struct mp_bus *b = (void *)p;

		b->type = MP_BUS;
		b->busid = (uint8_t)(i == 0 ? MP_BUS_PCI : MP_BUS_ISA);
		memcpy(b->bustype, i == 0 ? "PCI   " : "ISA   ", 6);
		p += sizeof(*b);
	}
	{
		struct mp_ioapic *io = (void *)p;

		io->type = MP_IOAPIC;
		io->apicid = ioapic_id;
		io->apicver = MP_IOAPIC_VERSION;
		io->flags = 1;
		io->apicaddr = (uint32_t)LAYOUT_IOAPIC;
		p += sizeof(*io);
		count++;
	}
	/* ISA IRQ n on IOAPIC pin n, as KVM's GSI routing sends it. */
	for (unsigned int i = 0; i < mp_entries_isa(); i++, count++) {
		struct mp_intsrc *s = (void *)p;

		*s = (struct mp_intsrc){ MP_INTSRC, MP_INT, MP_IRQFLAG_CONFORMING, MP_BUS_ISA,
					 (uint8_t)i, ioapic_id, (uint8_t)i };
		p += sizeof(*s);
	}
	{
		/* The device function's INTA#: source irq is (slot << 2) | (pin - 1). */
		struct mp_intsrc *s = (void *)p;

		*s = (struct mp_intsrc){ MP_INTSRC, MP_INT, MP_IRQFLAG_PCI, MP_BUS_PCI,
					 (uint8_t)(LAYOUT_PCI_SLOT_DEVICE << 2), ioapic_id,
					 (uint8_t)LAYOUT_IRQ_PCI_INTX };
		p += sizeof(*s);
		count++;
	}
	for (unsigned int i = 0; i < 2; i++, count++) {
		/* LINT0 gets the PIC (ExtINT), LINT1 NMIs, on every CPU (0xff). */
		struct mp_intsrc *s = (void *)p;

		*s = (struct mp_intsrc){ MP_LINTSRC, i == 0 ? MP_EXTINT : MP_NMI, MP_IRQFLAG_CONFORMING,
					 MP_BUS_ISA, 0, 0xff, (uint8_t)i };
		p += sizeof(*s);
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "SVMM    ", 8);
	memcpy(mpc->product, "SVMM        ", 12);
	mpc->count = count;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC;
	mpc->checksum = (uint8_t)-mptable_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = gpa + (uint32_t)sizeof(*mpf);
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = (uint8_t)-mptable_checksum(mpf, sizeof(*mpf));
	return (int)size;
}
