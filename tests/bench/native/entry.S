/* SPDX-License-Identifier: MIT */
/*
 * The native benchmark guest's ring 0: two entries into one payload, linked
 * at 1 MiB (guest.ld). svmm loads the payload of a bzImage there and enters
 * it in 64-bit mode at +0x200 (Linux boot protocol); QEMU's -kernel loads the
 * same payload bytes through the multiboot header below (a.out kludge) and
 * enters its 32-bit entry without paging. Both then load this guest's own
 * GDT, page tables (4 GiB identity map, user-accessible), TSS and IDT, and
 * drop to ring 3 at bench_main: on this host ring 0 is emulated an
 * instruction at a time and ring 3 runs natively, so everything timed runs
 * in ring 3 and ring 0 only serves a few traps:
 *   #UD from ring 3   the system call (ud2): port I/O and the reset (sys.h)
 *   vector 0x40       the xHCI's MSI-X vector: counts, EOIs
 *   other interrupts  counted as strays, EOI'd
 *   exceptions        reported on the serial port (from ring 3), then the guest resets
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00010000	/* bit 16: the load addresses below are valid */
#define KCODE		0x08
#define KDATA		0x10
#define UDATA		0x1b
#define UCODE		0x23
#define TSS_SEL		0x28
#define MSI_VECTOR	0x40
#define LAPIC_EOI	0xfee000b0
#define LAPIC_SVR	0xfee000f0
#define COM1		0x3f8

	.section .head, "ax"
	.code32
	/* Multiboot 1 header (must lie in the first 8 KiB, 4-byte aligned). */
	.globl mb_header
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header		/* header_addr */
	.long mb_header		/* load_addr: the payload's first byte */
	.long _load_end		/* load_end_addr */
	.long _bss_end		/* bss_end_addr */
	.long mb_entry32	/* entry_addr */

	/* QEMU: 32-bit protected mode, no paging, ebx = multiboot info. */
mb_entry32:
	cli
	movl $1, boot_kind
	testl $4, (%ebx)		/* MULTIBOOT_INFO_CMDLINE */
	jz 1f
	movl 16(%ebx), %eax
	movl %eax, boot_cmdline
1:	lgdt gdt_desc
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG, PE */
	movl %eax, %cr0
	ljmp $KCODE, $common64

	/* svmm: 64-bit entry at payload + 0x200, rsi = boot_params. */
	.org 0x200
	.code64
entry64:
	cli
	movl $0, boot_kind(%rip)
	movl 0x228(%rsi), %eax		/* hdr.cmd_line_ptr */
	movl %eax, boot_cmdline(%rip)
	lgdt gdt_desc(%rip)
	mov $pml4, %eax
	mov %rax, %cr3
	pushq $KCODE
	lea common64(%rip), %rax
	push %rax
	lretq

	.text
common64:
	mov $KDATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	mov $kstack_top, %rsp

	/* The TSS descriptor: only rsp0 matters (the stack of traps from ring 3). */
	mov $tss, %rax
	mov %ax, gdt + TSS_SEL + 2
	shr $16, %rax
	mov %al, gdt + TSS_SEL + 4
	mov %ah, gdt + TSS_SEL + 7
	shr $16, %rax
	mov %eax, gdt + TSS_SEL + 8
	movq $kstack_top, tss + 4
	mov $TSS_SEL, %ax
	ltr %ax

	/* IDT: exceptions 0-31 to their stubs, 0x40 to the MSI-X handler, the rest stray. */
	xor %ecx, %ecx
1:	mov $isr_stray, %rax
	cmp $32, %ecx
	jae 2f
	mov %ecx, %eax
	imul $16, %eax			/* each exception stub is 16 bytes */
	add $isr_exc, %rax
2:	cmp $MSI_VECTOR, %ecx
	jne 3f
	mov $isr_msi, %rax
3:	cmp $6, %ecx
	jne 4f
	mov $isr_ud, %rax
4:	mov %ecx, %edx
	shl $4, %edx
	add $idt, %rdx
	mov %ax, (%rdx)			/* offset 15:0 */
	movw $KCODE, 2(%rdx)
	movw $0x8e00, 4(%rdx)		/* present, DPL 0, 64-bit interrupt gate */
	shr $16, %rax
	mov %ax, 6(%rdx)		/* offset 31:16; 63:32 stay 0 */
	inc %ecx
	cmp $256, %ecx
	jb 1b
	lidt idt_desc

	/* The 8259s masked (a BIOS may have left the PIT on), the LAPIC on: MSI-X goes to it. */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	mov $LAPIC_SVR, %eax
	movl $0x1ff, (%rax)

	/* Ring 3, interrupts on: bench_main(boot_kind, cmdline). */
	movl boot_kind, %edi
	movl boot_cmdline, %esi
	pushq $UDATA
	pushq $ustack_top
	pushq $0x202
	pushq $UCODE
	pushq $bench_main
	iretq

/* The system call: ud2 from ring 3, rax = number, rdi and rsi its arguments, result in rax. */
isr_ud:
	testb $3, 8(%rsp)
	jz exc_ud_kernel
	push %rdx
	push %rcx
	cmp $1, %eax
	je sys_outb
	cmp $2, %eax
	je sys_inb
	cmp $3, %eax
	je sys_outl
	cmp $4, %eax
	je sys_inl
	cmp $5, %eax
	je sys_write
	cmp $6, %eax
	je sys_reset
	mov $-1, %rax
	jmp sys_done
sys_outb:
	mov %edi, %edx
	mov %esi, %eax
	out %al, %dx
	jmp sys_done
sys_inb:
	mov %edi, %edx
	xor %eax, %eax
	in %dx, %al
	jmp sys_done
sys_outl:
	mov %edi, %edx
	mov %esi, %eax
	out %eax, %dx
	jmp sys_done
sys_inl:
	mov %edi, %edx
	in %dx, %eax
	jmp sys_done
sys_write:				/* rdi = text, rsi = length: to COM1 */
	mov $COM1, %dx
	mov %rdi, %rcx
	add %rsi, %rdi
5:	cmp %rdi, %rcx
	jae 6f
	movb (%rcx), %al
	out %al, %dx
	inc %rcx
	jmp 5b
6:	sub %rsi, %rdi
	xor %eax, %eax
	jmp sys_done
sys_reset:
	mov $0xfe, %al			/* i8042: pulse the reset line; both VMMs end the VM */
	out %al, $0x64
7:	hlt
	jmp 7b
sys_done:
	pop %rcx
	pop %rdx
	addq $2, (%rsp)			/* past the ud2 */
	iretq

isr_msi:
	lock incl msi_count
	push %rax
	mov $LAPIC_EOI, %eax
	movl $0, (%rax)
	pop %rax
	iretq

isr_stray:
	lock incl stray_count
	push %rax
	mov $LAPIC_EOI, %eax
	movl $0, (%rax)
	pop %rax
	iretq

exc_ud_kernel:
	pushq $6
	jmp exc_common

	/* One 16-byte stub per exception vector: pushes the vector. */
	.p2align 4
isr_exc:
	.set vec, 0
	.rept 32
	.p2align 4
	pushq $vec
	jmp exc_common
	.set vec, vec + 1
	.endr

/*
 * Fatal: ring 3's exception_report(vector, the three words above it on the
 * stack, cr2) prints them and resets; printing there is C and costs no
 * emulated ring-0 loop. A second exception on the way resets at once.
 */
exc_common:
	lock btsl $0, exc_once
	jc sys_reset
	pop %rdi
	mov (%rsp), %rsi
	mov 8(%rsp), %rdx
	mov 16(%rsp), %rcx
	mov %cr2, %r8
	pushq $UDATA
	pushq $ustack_top
	pushq $0x2
	pushq $UCODE
	pushq $exception_report
	iretq

	.data
	.globl msi_count, stray_count
	.p2align 3
boot_kind:	.long 0
boot_cmdline:	.long 0
msi_count:	.long 0
stray_count:	.long 0
exc_once:	.long 0

	.p2align 4
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data */
	.quad 0x00affa000000ffff	/* 0x20 user code, 64-bit */
	.quad 0x0000890000000067, 0	/* 0x28 TSS (base filled in at start) */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt
idt_desc:
	.word 256 * 16 - 1
	.quad idt

	.p2align 4
tss:
	.fill 0x68, 1, 0

	/* 4 GiB identity map with 2 MiB pages, user-accessible: P, RW, US (+ PS). */
	.p2align 12
pml4:
	.quad pdpt + 7
	.fill 511, 8, 0
pdpt:
	.quad pd + 7, pd + 0x1000 + 7, pd + 0x2000 + 7, pd + 0x3000 + 7
	.fill 508, 8, 0
pd:
	.set page, 0
	.rept 2048
	.quad (page << 21) | 0x87
	.set page, page + 1
	.endr

	.bss
	.p2align 12
idt:	.skip 256 * 16
kstack:	.skip 16384
kstack_top:
ustack:	.skip 65536
ustack_top:
