/* SPDX-License-Identifier: MIT */
/*
 * The bzImage setup block svmm reads, filled in with svmm's own definition
 * of the setup header (vmm/boot_linux.h): one setup sector, so the payload
 * starts at file offset 0x400 and is loaded at 1 MiB; the 64-bit entry is at
 * payload + 0x200 (entry.S). QEMU never sees this block: it boots the
 * multiboot build, which is the payload alone (guest.ld).
 */
#include "vmm/boot_linux.h"

#define SETUP_HEADER_AT 0x1f1
#define SETUP_SIZE 0x400

struct setup_block {
	uint8_t boot_sector[SETUP_HEADER_AT];
	struct boot_setup_header hdr;
	uint8_t rest[SETUP_SIZE - SETUP_HEADER_AT - sizeof(struct boot_setup_header)];
};

_Static_assert(sizeof(struct setup_block) == SETUP_SIZE, "one boot sector and one setup sector");

__attribute__((section(".setup"), used)) static const struct setup_block setup = {
	.hdr = {
		.setup_sects = 1,
		.vid_mode = 0xffff,
		.boot_flag = 0xaa55,
		.jump = 0x66eb,		/* jmp +0x66: the header ends at 0x268 */
		.header = BOOT_HDR_MAGIC,
		.version = 0x020f,
		.loadflags = BOOT_LOADED_HIGH,
		.initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000,
		.xloadflags = BOOT_XLF_KERNEL_64,
		.cmdline_size = 0x7ff,
		.init_size = 0x400000,	/* payload and bss */
	},
};
