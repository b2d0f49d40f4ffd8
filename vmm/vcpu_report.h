/* SPDX-License-Identifier: MIT */
/*
 * What a vCPU looked like when its guest died without a word (a triple
 * fault): one log line with the registers a person needs to find where and
 * why, as QEMU's "-d cpu_reset" would show. A kernel that dies this way
 * prints nothing, so this line is the only trace. (Not on AMD hosts, where
 * KVM resets the vCPU at the triple fault: the line then says the registers
 * are lost.)
 */
#ifndef SVMM_VCPU_REPORT_H
#define SVMM_VCPU_REPORT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_memory.h"

/* Formats the registers into buf (always NUL-terminated); returns buf. */
const char *vcpu_report_format(char *buf, size_t len, const struct kvm_regs *regs,
			       const struct kvm_sregs *sregs);

/*
 * The 16 bytes of guest code at rip (fewer at a page's end), found through
 * the guest's own page tables (KVM_TRANSLATE), as " code at gpa 0x...: xx
 * xx ...", or why not (unmapped, not RAM). mem may be NULL: nothing.
 * *unmapped says whether the guest's page tables have no page at rip.
 */
const char *vcpu_report_code(char *buf, size_t len, int vcpu_fd, const struct guest_memory *mem,
			     uint64_t rip, bool *unmapped);

/*
 * The walk of the guest's 4- or 5-level page tables (cr4.LA57) for the
 * linear address addr, read from guest memory, as " walk L5[i]=0x...
 * L4[j]=0x... ...", each level's index and entry. It stops at the first
 * entry that is not present or maps a large page. At an entry that is not
 * present it also shows its table: how many of the 512 entries are present
 * and the two entries on each side, so a reader can tell a mapping the
 * guest removed from a table that was overwritten. Nothing when the guest
 * is not in long mode with paging (efer.LMA).
 */
const char *vcpu_report_walk(char *buf, size_t len, const struct guest_memory *mem, uint64_t cr3,
			     uint64_t cr4, uint64_t efer, uint64_t addr);

/* Reads the vCPU's registers and logs them as an error, prefixed with what happened. */
void vcpu_report_log(int vcpu_fd, unsigned int id, const struct guest_memory *mem,
		     const char *what);

/* The same as information: where a running guest is, when someone asks (SIGUSR2). */
void vcpu_report_where(int vcpu_fd, unsigned int id, const struct guest_memory *mem);

#endif
