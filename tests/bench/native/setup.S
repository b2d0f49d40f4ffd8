/* SPDX-License-Identifier: MIT */
/*
 * The bzImage setup block svmm reads (Linux boot protocol 2.15, the fields
 * vmm/boot_linux.c checks): one setup sector, so the payload starts at file
 * offset 0x400 and is loaded at 1 MiB; 64-bit entry at payload + 0x200
 * (entry.S). QEMU does not see this block: it boots the multiboot build.
 */
	.section .setup, "a"
	.org 0x1f1
	.byte 1			/* setup_sects */
	.word 0			/* root_flags */
	.long 0			/* syssize: unchecked */
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
	.byte 0, 0		/* relocatable_kernel: no, it is linked at 1 MiB */
	.word 0x1		/* xloadflags: XLF_KERNEL_64 */
	.long 0x7ff		/* cmdline_size */
	.org 0x260
	.long 0x400000		/* init_size: payload and bss */
	.org 0x400
