/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical memory map (x86-64), in one place so that the boot code,
 * the e820 table, the MP table and the PCI proxy agree on it. It follows
 * firecracker's layout for the low megabyte.
 *
 *   0x0000_0500  GDT used for the 64-bit entry
 *   0x0000_7000  boot_params ("zero page")
 *   0x0000_8ff0  initial stack (grows down)
 *   0x0000_9000  PML4, 0xa000 PDPT, 0xb000-0xefff four PDs: 4 GiB identity map
 *   0x0002_0000  kernel command line
 *   0x0009_f000  EBDA: MP floating pointer + MP table (e820 reserved; the BIOS data
 *                area's EBDA pointer at 0x40e says so, which is where Linux looks)
 *   0x0010_0000  protected-mode kernel (bzImage payload), 64-bit entry at +0x200
 *   ...          initrd at the top of the RAM below 4 GiB (under initrd_addr_max)
 *   0xc000_0000  PCI hole (1 GiB): the device's BAR 0 at its start, IOAPIC, LAPIC, KVM's TSS
 *   0x1_0000_0000 RAM above 4 GiB when the guest has more than 3 GiB
 */
#ifndef SVMM_LAYOUT_H
#define SVMM_LAYOUT_H

#define LAYOUT_GDT		0x500ull
#define LAYOUT_BOOT_PARAMS	0x7000ull
#define LAYOUT_BOOT_STACK	0x8ff0ull
#define LAYOUT_PML4		0x9000ull
#define LAYOUT_PDPT		0xa000ull
#define LAYOUT_PD		0xb000ull	/* 4 pages */
#define LAYOUT_CMDLINE		0x20000ull
#define LAYOUT_CMDLINE_MAX	0x10000ull
#define LAYOUT_BDA_EBDA_PTR	0x40eull	/* BIOS data area: EBDA segment */
#define LAYOUT_EBDA		0x9f000ull	/* 4 KiB: room for the MP table of 64 CPUs */
#define LAYOUT_EBDA_END		0xa0000ull
#define LAYOUT_HIGH_RAM		0x100000ull	/* 1 MiB: the kernel is loaded here */

#define LAYOUT_PCI_HOLE		0xc0000000ull
#define LAYOUT_4G		0x100000000ull
#define LAYOUT_DEVICE_BAR0	0xc0000000ull
#define LAYOUT_IOAPIC		0xfec00000ull
#define LAYOUT_LAPIC		0xfee00000ull
/* KVM on Intel needs three pages for a real-mode TSS and one for an identity map. */
#define LAYOUT_KVM_IDENTITY	0xfeffc000ull
#define LAYOUT_KVM_TSS		0xfeffd000ull

/* KVM memory slots: guest RAM takes 0 and 1 (guest_memory.c). */
#define LAYOUT_KVM_SLOT_DOORBELL_PAGE	8u	/* the doorbell page, read-only zeros */

/* Interrupt lines (GSIs). */
#define LAYOUT_IRQ_SERIAL	4u
#define LAYOUT_IRQ_I8042	1u
#define LAYOUT_IRQ_PCI_INTX	16u	/* IOAPIC pin of the device function's INTA# */
#define LAYOUT_IOAPIC_PINS	24u
#define LAYOUT_GSI_MSI_BASE	24u	/* MSI-X vector v is GSI 24 + v */

/* PCI slots. */
#define LAYOUT_PCI_SLOT_DEVICE	1u

#endif
