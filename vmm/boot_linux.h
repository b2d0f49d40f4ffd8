/* SPDX-License-Identifier: MIT */
/*
 * The Linux x86 boot protocol (Documentation/x86/boot.rst), 64-bit entry:
 * the bzImage's setup header is checked, its protected-mode payload loaded
 * at 1 MiB, the zero page (boot_params) filled with the header, the command
 * line, the initrd and the e820 map, and the CPU state the 64-bit entry
 * expects (identity-mapped page tables, a GDT with __BOOT_CS/__BOOT_DS)
 * written into guest memory; startup_64 is at the load address + 0x200.
 */
#ifndef SVMM_BOOT_LINUX_H
#define SVMM_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_memory.h"

#define BOOT_CS 0x10	/* __BOOT_CS */
#define BOOT_DS 0x18	/* __BOOT_DS */
#define BOOT_TSS 0x20
#define BOOT_GDT_ENTRIES 5

#define BOOT_HDR_MAGIC 0x53726448u	/* "HdrS" */
#define BOOT_MIN_PROTOCOL 0x206u
#define BOOT_LOADED_HIGH 0x01u
#define BOOT_CAN_USE_HEAP 0x80u
#define BOOT_XLF_KERNEL_64 0x01u
#define BOOT_E820_MAX 128u
#define BOOT_E820_RAM 1u
#define BOOT_E820_RESERVED 2u

struct __attribute__((packed)) boot_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
};

struct __attribute__((packed)) boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct __attribute__((packed)) boot_params {
	uint8_t pad0[0x0c0];
	uint32_t ext_ramdisk_image;	/* 0x0c0 */
	uint32_t ext_ramdisk_size;	/* 0x0c4 */
	uint32_t ext_cmd_line_ptr;	/* 0x0c8 */
	uint8_t pad1[0x1e8 - 0x0cc];
	uint8_t e820_entries;		/* 0x1e8 */
	uint8_t pad2[0x1f1 - 0x1e9];
	struct boot_setup_header hdr;	/* 0x1f1 */
	uint8_t pad3[0x2d0 - 0x1f1 - sizeof(struct boot_setup_header)];
	struct boot_e820_entry e820_table[BOOT_E820_MAX];	/* 0x2d0 */
	uint8_t pad4[0x1000 - 0x2d0 - BOOT_E820_MAX * sizeof(struct boot_e820_entry)];
};

_Static_assert(sizeof(struct boot_setup_header) == 0x26c - 0x1f1, "setup header size");
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

/* What boot needs from a checked bzImage. */
struct bzimage {
	struct boot_setup_header hdr;	/* as in the file */
	size_t hdr_len;			/* bytes of it the file defines */
	size_t payload_offset;		/* protected-mode kernel in the file */
	size_t payload_len;
};

/* Checks a bzImage in buf; 0, or -ENOEXEC/-EINVAL with *why set. */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *out, const char **why);

/* Builds the e820 map of a guest with mem_size bytes of RAM; returns the count. */
unsigned int boot_e820_build(uint64_t mem_size, struct boot_e820_entry *table, unsigned int max);

/* Where the initrd goes: the highest page below initrd_addr_max and the low RAM; 0 if none fits. */
uint64_t boot_initrd_address(const struct bzimage *img, uint64_t low_ram_end, uint64_t initrd_size);

struct boot_entry {
	uint64_t rip, rsi, rsp;
	uint64_t cr3;
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

/*
 * Loads the kernel (file bytes in kernel), the initrd (initrd_fd, initrd_size
 * bytes, or -1) and the command line into guest memory and writes the zero
 * page, page tables and GDT. Returns 0, or -errno with a reason in err.
 */
int boot_linux_load(struct guest_memory *mem, const uint8_t *kernel, const struct bzimage *img,
		    int initrd_fd, uint64_t initrd_size, const char *cmdline,
		    struct boot_entry *entry, char *err, size_t errlen);

#endif
