/* SPDX-License-Identifier: MIT */
#include "vcpu_report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

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

const char *vcpu_report_code(char *buf, size_t len, int vcpu_fd, const struct guest_memory *mem,
			     uint64_t rip)
{
	struct kvm_translation t = { .linear_address = rip };
	const uint8_t *code;
	size_t off;
	uint32_t n;

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

static void report(int vcpu_fd, unsigned int id, const struct guest_memory *mem, const char *what,
		   bool error)
{
	char code[40 + 3 * VCPU_REPORT_CODE_BYTES];
	enum log_level level = error ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char line[VCPU_REPORT_MAX];

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		log_msg(level, "vCPU %u: %s (its registers cannot be read: %s)", id, what, strerror(errno));
		return;
	}
	/*
	 * KVM on AMD (SVM) resets the vCPU when it intercepts the shutdown: the
	 * registers are then the reset state, and the crash's are lost.
	 */
	if (error && regs.rip == 0xfff0 && sregs.cs.base == 0xffff0000) {
		log_err("vCPU %u: %s; its registers are lost (KVM reset the vCPU, as it does on AMD hosts)",
			id, what);
		return;
	}
	log_msg(level, "vCPU %u: %s: %s%s", id, what, vcpu_report_format(line, sizeof(line), &regs, &sregs),
		vcpu_report_code(code, sizeof(code), vcpu_fd, mem, regs.rip));
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
