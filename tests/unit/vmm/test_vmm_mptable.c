/* SPDX-License-Identifier: MIT */
/* The MP table: checksums, what Linux reads from it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/mptable.h"

static uint8_t buf[4096];

Test(mptable, checksums_and_pointer)
{
	int n = mptable_write(buf, sizeof(buf), (uint32_t)LAYOUT_EBDA, 2);
	struct mp_floating *mpf = (void *)buf;
	struct mp_config *mpc = (void *)(mpf + 1);

	cr_assert_eq(n, (int)mptable_size(2));
	cr_assert_leq(n, (int)(LAYOUT_EBDA_END - LAYOUT_EBDA), "the table must fit the EBDA KiB");
	cr_assert_eq(memcmp(mpf->signature, "_MP_", 4), 0);
	cr_assert_eq(mpf->length, 1);
	cr_assert_eq(mpf->specification, 4);
	cr_assert_eq(mptable_checksum(mpf, sizeof(*mpf)), 0);
	cr_assert_eq(mpf->physptr, LAYOUT_EBDA + sizeof(*mpf));
	cr_assert_eq(memcmp(mpc->signature, "PCMP", 4), 0);
	cr_assert_eq(mptable_checksum(mpc, mpc->length), 0);
	cr_assert_eq(mpc->lapic, LAYOUT_LAPIC);
	cr_assert_eq(sizeof(*mpf) + mpc->length, (size_t)n);
	/* Breaking a byte breaks the checksum. */
	buf[sizeof(*mpf) + 50] ^= 1;
	cr_assert_neq(mptable_checksum(mpc, mpc->length), 0);
}

Test(mptable, contents)
{
	unsigned int cpus = 4, procs = 0, buses = 0, ioapics = 0, ints = 0, lints = 0;
	struct mp_floating *mpf = (void *)buf;
	struct mp_config *mpc = (void *)(mpf + 1);
	uint8_t *p, *end;
	bool pci_intx = false, serial = false;

	cr_assert_gt(mptable_write(buf, sizeof(buf), (uint32_t)LAYOUT_EBDA, cpus), 0);
	p = (uint8_t *)(mpc + 1);
	end = (uint8_t *)mpc + mpc->length;
	for (unsigned int i = 0; i < mpc->count; i++) {
		cr_assert_lt(p, end);
		switch (*p) {
		case 0: {
			struct mp_processor *c = (void *)p;

			cr_assert_eq(c->apicid, procs);
			cr_assert_eq(c->cpuflag, procs == 0 ? 3 : 1, "CPU 0 is the only BSP");
			procs++;
			p += sizeof(*c);
			break;
		}
		case 1:
			buses++;
			p += sizeof(struct mp_bus);
			break;
		case 2: {
			struct mp_ioapic *io = (void *)p;

			cr_assert_eq(io->apicid, cpus, "IOAPIC id after the CPUs'");
			cr_assert_eq(io->apicaddr, LAYOUT_IOAPIC);
			ioapics++;
			p += sizeof(*io);
			break;
		}
		case 3: {
			struct mp_intsrc *s = (void *)p;

			if (s->srcbus == MP_BUS_PCI) {
				cr_assert_eq(s->srcbusirq, LAYOUT_PCI_SLOT_DEVICE << 2);
				cr_assert_eq(s->dstirq, LAYOUT_IRQ_PCI_INTX);
				cr_assert_eq(s->irqflag, 0x0d, "PCI INTx: level, active high");
				pci_intx = true;
			} else if (s->srcbusirq == LAYOUT_IRQ_SERIAL) {
				cr_assert_eq(s->dstirq, LAYOUT_IRQ_SERIAL);
				serial = true;
			}
			ints++;
			p += sizeof(*s);
			break;
		}
		case 4:
			lints++;
			p += sizeof(struct mp_intsrc);
			break;
		default:
			cr_assert_fail("unknown entry type %u", *p);
		}
	}
	cr_assert_eq(p, end);
	cr_assert_eq(procs, cpus);
	cr_assert_eq(buses, 2);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(ints, 17);
	cr_assert_eq(lints, 2);
	cr_assert(pci_intx && serial);
}

Test(mptable, refuses_bad_sizes)
{
	cr_assert_eq(mptable_write(buf, 16, 0, 1), -ENOSPC);
	cr_assert_eq(mptable_write(buf, sizeof(buf), 0, 0), -EINVAL);
	cr_assert_eq(mptable_write(buf, sizeof(buf), 0, MPTABLE_MAX_CPUS + 1), -EINVAL);
	cr_assert_gt(mptable_write(buf, sizeof(buf), 0, MPTABLE_MAX_CPUS), 0);
}
