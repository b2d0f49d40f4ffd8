/* SPDX-License-Identifier: MIT */
/*
 * The Intel MultiProcessor Specification 1.4 table: how Linux, without ACPI,
 * learns the CPUs (their APIC ids), the IOAPIC and where each ISA and PCI
 * interrupt arrives on it. Placed at the start of the EBDA, one of the places
 * Linux scans for the floating pointer "_MP_".
 */
#ifndef SVMM_MPTABLE_H
#define SVMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 64u

#define MP_BUS_PCI 0u
#define MP_BUS_ISA 1u

struct __attribute__((packed)) mp_floating {
	char signature[4];	/* "_MP_" */
	uint32_t physptr;
	uint8_t length;		/* in 16-byte units: 1 */
	uint8_t specification;	/* 4: version 1.4 */
	uint8_t checksum;
	uint8_t feature[5];
};

struct __attribute__((packed)) mp_config {
	char signature[4];	/* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
};

struct __attribute__((packed)) mp_processor {
	uint8_t type;		/* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;	/* 1 enabled, 2 bootstrap processor */
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
};

struct __attribute__((packed)) mp_bus {
	uint8_t type;		/* 1 */
	uint8_t busid;
	char bustype[6];
};

struct __attribute__((packed)) mp_ioapic {
	uint8_t type;		/* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
};

struct __attribute__((packed)) mp_intsrc {
	uint8_t type;		/* 3 I/O interrupt, 4 local interrupt */
	uint8_t irqtype;	/* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t irqflag;	/* polarity bits 0-1, trigger bits 2-3 */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
};

/* Bytes the floating pointer and table take for ncpus CPUs. */
size_t mptable_size(unsigned int ncpus);

/*
 * Writes the floating pointer and the table at buf, which the guest sees at
 * gpa; returns the bytes written or -ENOSPC / -EINVAL.
 */
int mptable_write(uint8_t *buf, size_t len, uint32_t gpa, unsigned int ncpus);

/* Sum of len bytes mod 256 (0 for a valid MP structure). */
uint8_t mptable_checksum(const void *p, size_t len);

#endif
