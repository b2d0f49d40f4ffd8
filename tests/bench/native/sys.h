/* SPDX-License-Identifier: MIT */
/*
 * What ring 3 asks of ring 0 (entry.S, isr_ud): port I/O, serial output and
 * the reset. A ud2 is the system call: on this host int $0x80 from ring 3
 * raises #UD anyway and IOPL 3 is not honoured, and a #UD is delivered to
 * its handler like on hardware.
 */
#ifndef BENCH_SYS_H
#define BENCH_SYS_H

#include <stddef.h>
#include <stdint.h>

enum { SYS_OUTB = 1, SYS_INB, SYS_OUTL, SYS_INL, SYS_WRITE, SYS_RESET };

static inline uint64_t sys_call(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint64_t r;

	__asm__ volatile("ud2" : "=a"(r) : "a"(nr), "D"(a0), "S"(a1) : "memory");
	return r;
}

static inline void outb(uint16_t port, uint8_t v) { sys_call(SYS_OUTB, port, v); }
static inline uint8_t inb(uint16_t port) { return (uint8_t)sys_call(SYS_INB, port, 0); }
static inline void outl(uint16_t port, uint32_t v) { sys_call(SYS_OUTL, port, v); }
static inline uint32_t inl(uint16_t port) { return (uint32_t)sys_call(SYS_INL, port, 0); }
static inline void sys_write(const char *s, size_t n) { sys_call(SYS_WRITE, (uintptr_t)s, n); }
__attribute__((noreturn)) static inline void sys_reset(void)
{
	sys_call(SYS_RESET, 0, 0);
	__builtin_unreachable();
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint32_t mmio_read32(volatile void *p) { return *(volatile uint32_t *)p; }
static inline void mmio_write32(volatile void *p, uint32_t v) { *(volatile uint32_t *)p = v; }
static inline void mmio_write64(volatile void *p, uint64_t v)
{
	/* Two dword writes, low first: what every VMM's xHCI accepts. */
	((volatile uint32_t *)p)[0] = (uint32_t)v;
	((volatile uint32_t *)p)[1] = (uint32_t)(v >> 32);
}

/* Marks a phase boundary for the runner's exit counting: a write to port 0x80 (ignored by both VMMs). */
static inline void phase_mark(uint8_t id) { outb(0x80, id); }

extern volatile uint32_t msi_count, stray_count;

#endif
