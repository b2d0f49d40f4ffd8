/* SPDX-License-Identifier: MIT */
/*
 * A tiny guest shaped like a bzImage, for testing `svmm run` where a real
 * kernel cannot boot (see docs and vmm/boot_linux.h): a setup header that
 * passes the checks, and at the 64-bit entry (load address + 0x200) code that
 * reports, on the serial port, what a kernel would find: its command line
 * and e820 map through boot_params, the PCI bus through 0xcf8/0xcfc, the MP
 * table, the xHCI BAR through MMIO (its doorbells too, before and after it
 * moves the BAR). It echoes one byte received on the
 * serial port if asked to (cmdline contains "echo"), or with "race" makes its
 * second CPU race its BAR moves (race, below), then resets through the
 * i8042. With "crash" in the command line it instead dies as a broken kernel
 * does: an exception with no IDT to deliver it, a triple fault. Position
 * independent: it runs wherever the payload is loaded.
 */
	.text
	.code64
	.globl _start
_start:
	.org 0x1f1
	.byte 1			/* setup_sects: the payload starts at 0x400 */
	.word 0			/* root_flags */
	.long 0			/* syssize */
	.word 0, 0xffff, 0	/* ram_size, vid_mode, root_dev */
	.word 0xaa55		/* boot_flag */
	.byte 0xeb, 0x66	/* jump: the header ends at 0x268 */
	.ascii "HdrS"
	.word 0x020f		/* protocol 2.15 */
	.org 0x211
	.byte 0x01		/* loadflags: LOADED_HIGH */
	.org 0x22c
	.long 0x7fffffff	/* initrd_addr_max */
	.long 0x200000		/* kernel_alignment */
	.byte 1, 0		/* relocatable, min_alignment */
	.word 0x1		/* xloadflags: XLF_KERNEL_64 */
	.long 0x7ff		/* cmdline_size */
	.org 0x260
	.long 0x10000		/* init_size */

	.org 0x400		/* payload: loaded at 1 MiB */
	.org 0x600		/* 64-bit entry: payload + 0x200 */
entry64:
	mov %rsi, %rbx			/* boot_params */
	lea hello(%rip), %rdi
	call puts
	lea cmdline(%rip), %rdi
	call puts
	mov 0x228(%rbx), %edi		/* hdr.cmd_line_ptr */
	call puts
	call newline
	lea e820(%rip), %rdi
	call puts
	movzbl 0x1e8(%rbx), %edi	/* e820_entries */
	call puthex
	lea sep(%rip), %rdi
	call puts
	mov 0x2d0 + 20 * 2 + 8(%rbx), %rdi	/* size of the third entry: RAM from 1 MiB */
	shr $20, %rdi
	call puthex
	call newline

	mov $0x80000000, %edi		/* 00:00.0 vendor/device */
	lea pci0(%rip), %rsi
	call pciline
	mov $0x80000008, %edi		/* 00:00.0 class */
	lea pci0c(%rip), %rsi
	call pciline
	mov $0x80000800, %edi		/* 00:01.0 */
	lea pci1(%rip), %rsi
	call pciline
	mov $0x80001000, %edi		/* 00:02.0: empty */
	lea pci2(%rip), %rsi
	call pciline

	lea mp(%rip), %rdi
	call puts
	movzwl 0x40e, %eax		/* the EBDA segment, from the BIOS data area */
	shl $4, %eax
	mov (%rax), %edi		/* "_MP_" */
	call puthex
	call newline

	lea bar(%rip), %rdi
	call puts
	mov $0xc0000000, %rax		/* xHCI CAPLENGTH/HCIVERSION through MMIO */
	mov (%rax), %edi
	call puthex
	call newline

	/* Doorbell 1 (slot 1), target 2, rung twice: the VMM learns the value, then KVM signals it. */
	lea dbell(%rip), %rdi
	call puts
	mov $0xc0003004, %rax
	movl $2, (%rax)
	movl $2, (%rax)
	mov (%rax), %edi		/* doorbells read as 0 */
	call puthex
	call newline

	/* Move BAR 0 to 0xd0000000 as a kernel may (00:01.0, register 0x10), and look there. */
	mov $0xcf8, %dx
	mov $0x80000810, %eax
	out %eax, %dx
	mov $0xcfc, %dx
	mov $0xd0000000, %eax
	out %eax, %dx
	lea moved(%rip), %rdi
	call puts
	mov $0xd0000000, %rax
	mov (%rax), %edi
	call puthex
	lea dbell2(%rip), %rdi
	call puts
	mov $0xd0003004, %rax
	movl $2, (%rax)
	mov (%rax), %edi
	call puthex
	call newline

	mov 0x228(%rbx), %edi		/* "crash" anywhere in the command line? */
	mov $0x73617263, %esi		/* "cras" little endian */
	call has_word
	test %eax, %eax
	jz 4f
	lea crashing(%rip), %rdi
	call puts
	lidt empty_idt(%rip)		/* limit 0: no vector can be delivered */
	ud2				/* #UD, then #DF, then a triple fault */
4:
	mov 0x228(%rbx), %edi		/* "race" anywhere in the command line? */
	mov $0x65636172, %esi		/* "race" little endian */
	call has_word
	test %eax, %eax
	jz 5f
	call race
	jmp 2f
5:
	mov 0x228(%rbx), %edi		/* "echo" anywhere in the command line? */
	mov $0x6f686365, %esi		/* "echo" little endian */
	call has_word
	test %eax, %eax
	jz 2f
	lea waiting(%rip), %rdi
	call puts
1:	mov $0x3fd, %dx			/* LSR: wait for data ready */
	in %dx, %al
	test $1, %al
	jz 1b
	mov $0x3f8, %dx
	in %dx, %al
	movzbl %al, %edi
	lea got(%rip), %rdi
	push %rax
	call puts
	pop %rax
	mov $0x3f8, %dx
	out %al, %dx
	call newline
2:
	lea bye(%rip), %rdi
	call puts
	mov $0xfe, %al			/* i8042: pulse the reset line */
	out %al, $0x64
3:	hlt
	jmp 3b

/*
 * The race of two vCPUs over the xHCI function: CPU 1 rings doorbell 1 of
 * BAR 0 at both of its places, a new value each time (the first ones the
 * VMM learns as ioeventfds, the rest stay MMIO exits), while this CPU moves
 * BAR 0 between them and turns memory decoding off and on through
 * 0xcf8/0xcfc. RACE_ROUNDS rounds, or without end with "endless" in the
 * command line (for `svmm stop` mid-race). CPU 1 is started as a BIOS
 * starts an AP: INIT and STARTUP IPIs through the local APIC's ICR, to a
 * real-mode trampoline copied below 1 MiB that enters long mode on the boot
 * page tables and GDT (vmm/layout.h) and jumps to ap_main.
 */
.equ RACE_ROUNDS, 96
.equ AP_TRAMP, 0x10000		/* STARTUP vector 0x10; free RAM below the command line */
.equ AP_STACK, 0x1f000
.equ LAPIC_ICR_LO, 0xfee00300
.equ LAPIC_ICR_HI, 0xfee00310
.equ PCI_BAR0_ADDR, 0x80000810	/* 00:01.0 register 0x10 */
.equ PCI_CMD_ADDR, 0x80000804		/* 00:01.0 register 0x04 */
race:
	push %rbx
	lea race_start(%rip), %rdi
	call puts
	cld
	lea ap_tramp(%rip), %rsi
	mov $AP_TRAMP, %edi
	mov $(ap_tramp_end - ap_tramp), %ecx
	rep movsb
	lea ap_main(%rip), %rax
	mov %rax, AP_TRAMP + (ap_target - ap_tramp)
	mov $LAPIC_ICR_HI, %eax
	movl $(1 << 24), (%rax)		/* destination: APIC id 1 */
	mov $LAPIC_ICR_LO, %eax
	movl $0x4500, (%rax)		/* INIT, assert */
	movl $0x4600 | (AP_TRAMP >> 12), (%rax)	/* STARTUP */
	mov $0x1000000, %ecx		/* bounded: a CPU that never starts fails the test */
1:	cmpl $0, ap_started(%rip)
	jne 2f
	pause
	dec %ecx
	jnz 1b
	lea ap_absent(%rip), %rdi
	call puts
	pop %rbx
	ret
2:	lea racing(%rip), %rdi
	call puts
	mov 0x228(%rbx), %edi		/* "endless" anywhere in the command line? */
	mov $0x6c646e65, %esi		/* "endl" little endian */
	call has_word
	mov %eax, %r13d
	mov $RACE_ROUNDS, %r12d
3:	mov $PCI_BAR0_ADDR, %edi
	mov $0xc0000000, %esi
	call cfg_write32
	mov $PCI_CMD_ADDR, %edi		/* memory decoding off, then on */
	xor %esi, %esi
	call cfg_write16
	mov $PCI_CMD_ADDR, %edi
	mov $0x2, %esi
	call cfg_write16
	mov $PCI_BAR0_ADDR, %edi
	mov $0xd0000000, %esi
	call cfg_write32
	test $0xf, %r12d		/* a dot every 16 rounds: the race goes on */
	jnz 4f
	mov $0x3f8, %dx
	mov $'.', %al
	out %al, %dx
4:	test %r13d, %r13d
	jnz 3b
	dec %r12d
	jnz 3b
	movl $1, race_done(%rip)
	mov $0x1000000, %ecx
5:	cmpl $0, ap_stopped(%rip)
	jne 6f
	pause
	dec %ecx
	jnz 5b
6:	lea race_end(%rip), %rdi
	call puts
	mov ap_rings(%rip), %edi
	call puthex
	call newline
	pop %rbx
	ret

/* CPU 1: rings until told to stop, then waits (no hlt: the VM ends at CPU 0's reset). */
ap_main:
	lock incl ap_started(%rip)
	xor %ecx, %ecx
1:	cmpl $0, race_done(%rip)
	jne 2f
	inc %ecx
	mov $0xc0003004, %rax
	movl %ecx, (%rax)
	mov $0xd0003004, %rax
	movl %ecx, (%rax)
	jmp 1b
2:	mov %ecx, ap_rings(%rip)
	movl $1, ap_stopped(%rip)
3:	pause
	jmp 3b

/* edi: 0xcf8 address, esi: value */
cfg_write32:
	mov %edi, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov %esi, %eax
	mov $0xcfc, %dx
	out %eax, %dx
	ret

cfg_write16:
	mov %edi, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov %esi, %eax
	mov $0xcfc, %dx
	out %ax, %dx
	ret

/* Copied to AP_TRAMP; CPU 1 starts here in real mode, CS = AP_TRAMP >> 4. */
	.p2align 4
ap_tramp:
	.code16
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl ap_gdtr - ap_tramp
	mov $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0x9000, %eax		/* the boot page tables: 4 GiB identity map */
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov $0x80000033, %eax		/* PG, NE, ET, MP, PE, as CPU 0 has them */
	mov %eax, %cr0
	ljmpl $0x10, $(AP_TRAMP + ap_tramp64 - ap_tramp)
	.code64
ap_tramp64:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $AP_STACK, %esp
	jmp *ap_target(%rip)
	.p2align 3
ap_target: .quad 0
ap_gdtr: .word 5 * 8 - 1		/* the boot GDT (vmm/boot_linux.c) */
	.long 0x500
ap_tramp_end:

	.p2align 2
ap_started: .long 0
race_done: .long 0
ap_stopped: .long 0
ap_rings: .long 0

/* rdi: 0xcf8 address, rsi: label */
pciline:
	push %rdi
	mov %rsi, %rdi
	call puts
	pop %rax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	mov %eax, %edi
	call puthex
	jmp newline

/* rdi: NUL-terminated string */
puts:
	mov $0x3f8, %dx
1:	movb (%rdi), %al
	test %al, %al
	jz 2f
	out %al, %dx
	inc %rdi
	jmp 1b
2:	ret

newline:
	mov $0x3f8, %dx
	mov $'\n', %al
	out %al, %dx
	ret

/* edi: 32-bit value, printed as 8 hex digits */
puthex:
	mov $0x3f8, %dx
	mov $8, %ecx
1:	rol $4, %edi
	mov %edi, %eax
	and $0xf, %eax
	lea hexdigits(%rip), %rsi
	movb (%rsi,%rax), %al
	out %al, %dx
	dec %ecx
	jnz 1b
	ret

/* edi: string, esi: 4 bytes; eax = 1 if the string contains them */
has_word:
	mov %edi, %edi
1:	cmpb $0, (%rdi)
	je 2f
	cmpl %esi, (%rdi)
	je 3f
	inc %rdi
	jmp 1b
2:	xor %eax, %eax
	ret
3:	mov $1, %eax
	ret

hexdigits: .ascii "0123456789abcdef"
hello:	.asciz "svmm-guest: hello from 64-bit mode\n"
cmdline: .asciz "svmm-guest: cmdline: "
e820:	.asciz "svmm-guest: e820 entries "
sep:	.asciz " high-ram-mib "
pci0:	.asciz "svmm-guest: pci 00:00.0 id "
pci0c:	.asciz "svmm-guest: pci 00:00.0 class "
pci1:	.asciz "svmm-guest: pci 00:01.0 id "
pci2:	.asciz "svmm-guest: pci 00:02.0 id "
mp:	.asciz "svmm-guest: mptable "
bar:	.asciz "svmm-guest: xhci bar0 "
dbell:	.asciz "svmm-guest: xhci doorbell 1 reads "
moved:	.asciz "svmm-guest: xhci bar0 moved to d0000000 reads "
dbell2:	.asciz ", its doorbell 1 "
waiting: .asciz "svmm-guest: waiting for a byte\n"
got:	.asciz "svmm-guest: got "
bye:	.asciz "svmm-guest: resetting\n"
crashing: .asciz "svmm-guest: crashing\n"
race_start: .asciz "svmm-guest: race: starting cpu 1\n"
ap_absent: .asciz "svmm-guest: race: cpu 1 did not start\n"
racing:	.asciz "svmm-guest: racing "
race_end: .asciz "\nsvmm-guest: race over, cpu 1 rang its doorbells "

	.p2align 3
empty_idt: .word 0		/* limit */
	.quad 0			/* base */
