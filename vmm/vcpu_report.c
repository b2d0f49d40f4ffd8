/* SPDX-License-Identifier: MIT */
#include "vmm/vcpu_report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"

#define VCPU_REPORT_MAX 512

const char *vcpu_report_format(char *buf, size_t len, const struct kvm_regs *regs,
			       const struct kvm_sregs *sregs)
{
	if (len == 0)
		return buf;
	snprintf(buf, len,
		 "rip 0x%llx rsp 0x%llx rflags 0x%llx cs 0x%x cpl %u "
		 "cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx "
		 "idt 0x%llx/0x%x gdt 0x%llx/0x%x "
		 "rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx rsi 0x%llx rdi 0x%llx rbp 0x%llx",
		 (unsigned long long)regs->rip, (unsigned long long)regs->rsp,
		 (unsigned long long)regs->rflags, sregs->cs.selector, sregs->cs.dpl,
		 (unsigned long long)sregs->cr0, (unsigned long long)sregs->cr2,
		 (unsigned long long)sregs->cr3, (unsigned long long)sregs->cr4,
		 (unsigned long long)sregs->efer,
		 (unsigned long long)sregs->idt.base, sregs->idt.limit,
		 (unsigned long long)sregs->gdt.base, sregs->gdt.limit,
		 (unsigned long long)regs->rax, (unsigned long long)regs->rbx,
		 (unsigned long long)regs->rcx, (unsigned long long)regs->rdx,
		 (unsigned long long)regs->rsi, (unsigned long long)regs->rdi,
		 (unsigned long long)regs->rbp);
	return buf;
}

/* Bytes of code shown: the longest x86 instruction is 15. */
#define VCPU_REPORT_CODE_BYTES 16u

/* A walk: five levels, and four more entries and a count around a missing one. */
#define VCPU_REPORT_WALK_MAX 512

const char *vcpu_report_code(char *buf, size_t len, int vcpu_fd, const struct guest_memory *mem,
			     uint64_t rip, bool *unmapped)
{
	struct kvm_translation t = { .linear_address = rip };
	const uint8_t *code;
	size_t off;
	uint32_t n;

	*unmapped = false;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (!mem)
		return buf;
	if (ioctl(vcpu_fd, KVM_TRANSLATE, &t) < 0) {
		snprintf(buf, len, " code unknown (KVM_TRANSLATE: %s)", strerror(errno));
		return buf;
	}
	if (!t.valid) {
		*unmapped = true;
		snprintf(buf, len, " code unmapped (the guest's page tables have no page at rip)");
		return buf;
	}
	n = 4096 - (uint32_t)(t.physical_address & 0xfff);
	if (n > VCPU_REPORT_CODE_BYTES)
		n = VCPU_REPORT_CODE_BYTES;
	code = guest_memory_ptr(mem, t.physical_address, n);
	if (!code) {
		snprintf(buf, len, " code at gpa 0x%llx, which is not RAM",
			 (unsigned long long)t.physical_address);
		return buf;
	}
	off = (size_t)snprintf(buf, len, " code at gpa 0x%llx:", (unsigned long long)t.physical_address);
	for (uint32_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %02x", code[i]);
	return buf;
}

#define PTE_PRESENT	(1ull << 0)
#define PTE_LARGE	(1ull << 7)
#define PTE_ADDR_MASK	0x000ffffffffff000ull
#define CR4_LA57	(1ull << 12)
#define EFER_LMA	(1ull << 10)

/* Appends to buf at *off, never past len. */
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

/* A not-present entry's table: how full it is, and the entries beside it. */
static void append_table(char *buf, size_t len, size_t *off, const uint64_t *table, unsigned int idx)
{
	unsigned int present = 0;

	for (unsigned int i = 0; i < 512; i++)
		present += (table[i] & PTE_PRESENT) != 0;
	append(buf, len, off, " (not present; %u of 512 present; beside it:", present);
	for (unsigned int i = idx >= 2 ? idx - 2 : 0; i <= idx + 2 && i < 512; i++) {
		if (i != idx)
			append(buf, len, off, " [%u]=0x%llx", i, (unsigned long long)table[i]);
	}
	append(buf, len, off, ")");
}

const char *vcpu_report_walk(char *buf, size_t len, const struct guest_memory *mem, uint64_t cr3,
			     uint64_t cr4, uint64_t efer, uint64_t addr)
{
	unsigned int levels = cr4 & CR4_LA57 ? 5 : 4;
	uint64_t table_gpa = cr3 & PTE_ADDR_MASK;
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (!mem || !(efer & EFER_LMA))
		return buf;
	append(buf, len, &off, " walk");
	for (unsigned int level = levels; level >= 1; level--) {
		unsigned int idx = (unsigned int)(addr >> (12 + 9 * (level - 1))) & 511;
		const uint64_t *table = guest_memory_ptr(mem, table_gpa, 4096);
		uint64_t entry;

		if (!table) {
			append(buf, len, &off, " L%u table at gpa 0x%llx, which is not RAM", level,
			       (unsigned long long)table_gpa);
			break;
		}
		entry = table[idx];
		append(buf, len, &off, " L%u[%u]=0x%llx", level, idx, (unsigned long long)entry);
		if (!(entry & PTE_PRESENT)) {
			append_table(buf, len, &off, table, idx);
			break;
		}
		if (level == 1 || ((level == 2 || level == 3) && (entry & PTE_LARGE)))
			break;
		table_gpa = entry & PTE_ADDR_MASK;
	}
	return buf;
}

static void report(int vcpu_fd, unsigned int id, const struct guest_memory *mem, const char *what,
		   bool error)
{
	char code[40 + 3 * VCPU_REPORT_CODE_BYTES], walk[VCPU_REPORT_WALK_MAX];
	enum log_level level = error ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char line[VCPU_REPORT_MAX];
	bool unmapped;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		log_msg(level, "vCPU %u: %s (its registers cannot be read: %s)", id, what, strerror(errno));
		return;
	}
	/*
	 * Some KVMs (AMD's SVM, usually) reset the vCPU at the shutdown: the
	 * registers are then the reset state, and the crash's are lost.
	 */
	if (error && regs.rip == 0xfff0 && sregs.cs.base == 0xffff0000) {
		log_err("vCPU %u: %s; its registers are lost (KVM reset the vCPU at the shutdown)",
			id, what);
		return;
	}
	vcpu_report_code(code, sizeof(code), vcpu_fd, mem, regs.rip, &unmapped);
	walk[0] = '\0';
	/* Where rip is not mapped, how the guest's page tables say so. */
	if (unmapped)
		vcpu_report_walk(walk, sizeof(walk), mem, sregs.cr3, sregs.cr4, sregs.efer, regs.rip);
	log_msg(level, "vCPU %u: %s: %s%s%s", id, what, vcpu_report_format(line, sizeof(line), &regs, &sregs),
		code, walk);
}

void vcpu_report_log(int vcpu_fd, unsigned int id, const struct guest_memory *mem,
		     const char *what)
{
	report(vcpu_fd, id, mem, what, true);
}

void vcpu_report_where(int vcpu_fd, unsigned int id, const struct guest_memory *mem)
{
	report(vcpu_fd, id, mem, "where the guest is", false);
}
