/* SPDX-License-Identifier: MIT */
#include "vmm/boot_linux.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/layout.h"

#define SETUP_HDR_OFFSET 0x1f1u
#define BOOT_FLAG 0xaa55u
/* Before protocol 2.03 the initrd had to end below this. */
#define BOOT_OLD_INITRD_MAX 0x37ffffffu
#define PAGE_SIZE 4096u

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *out, const char **why)
{
	const struct boot_setup_header *h;
	size_t setup_sects, hdr_end;

	memset(out, 0, sizeof(*out));
	if (len < SETUP_HDR_OFFSET + sizeof(*h)) {
		*why = "too short to hold a Linux setup header";
		return -ENOEXEC;
	}
	h = (const void *)(buf + SETUP_HDR_OFFSET);
	if (h->header != BOOT_HDR_MAGIC || h->boot_flag != BOOT_FLAG) {
		*why = "no Linux boot header (\"HdrS\" magic); not a bzImage";
		return -ENOEXEC;
	}
	if (h->version < BOOT_MIN_PROTOCOL) {
		*why = "boot protocol older than 2.06";
		return -ENOEXEC;
	}
	if (!(h->loadflags & BOOT_LOADED_HIGH)) {
		*why = "a zImage loaded low, not a bzImage";
		return -ENOEXEC;
	}
	/* Protocol 2.12 says whether the 64-bit entry exists; older x86-64 kernels all have it. */
	if (h->version >= 0x20c && !(h->xloadflags & BOOT_XLF_KERNEL_64)) {
		*why = "not a 64-bit kernel (no 64-bit entry point)";
		return -ENOEXEC;
	}
	setup_sects = h->setup_sects ? h->setup_sects : 4;
	out->payload_offset = (setup_sects + 1) * 512;
	if (out->payload_offset >= len) {
		*why = "truncated: no protected-mode kernel after the setup code";
		return -ENOEXEC;
	}
	if (h->syssize && (uint64_t)h->syssize * 16 > len - out->payload_offset) {
		*why = "truncated: the protected-mode kernel is shorter than the header says";
		return -ENOEXEC;
	}
	out->payload_len = len - out->payload_offset;
	/* The header ends where the jump at 0x200 lands. */
	hdr_end = 0x202 + buf[0x201];
	if (hdr_end > SETUP_HDR_OFFSET + sizeof(*h))
		hdr_end = SETUP_HDR_OFFSET + sizeof(*h);
	out->hdr_len = hdr_end - SETUP_HDR_OFFSET;
	memcpy(&out->hdr, h, out->hdr_len);
	return 0;
}

unsigned int boot_e820_build(uint64_t mem_size, struct boot_e820_entry *table, unsigned int max)
{
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
	unsigned int nregions = guest_memory_layout(mem_size, regions), n = 0;

	if (max < 3 + GUEST_MEMORY_MAX_REGIONS)
		return 0;
	table[n++] = (struct boot_e820_entry){ 0, LAYOUT_EBDA, BOOT_E820_RAM };
	/* The MP table lives here; Linux must not hand it out. */
	table[n++] = (struct boot_e820_entry){ LAYOUT_EBDA, LAYOUT_EBDA_END - LAYOUT_EBDA,
					       BOOT_E820_RESERVED };
	table[n++] = (struct boot_e820_entry){ LAYOUT_HIGH_RAM, regions[0].size - LAYOUT_HIGH_RAM,
					       BOOT_E820_RAM };
	if (nregions > 1)
		table[n++] = (struct boot_e820_entry){ regions[1].gpa, regions[1].size, BOOT_E820_RAM };
	return n;
}

static uint64_t kernel_footprint_end(const struct bzimage *img)
{
	/*
	 * The decompressor runs from the load address but writes the kernel at
	 * the preferred address (LOAD_PHYSICAL_ADDR) when that is higher, and
	 * needs init_size bytes there: nothing else may sit in either range.
	 */
	uint64_t base = LAYOUT_HIGH_RAM, end;

	if (img->hdr.version >= 0x20a && img->hdr.pref_address > base)
		base = img->hdr.pref_address;
	end = base + (img->hdr.version >= 0x20a ? img->hdr.init_size : 0);
	if (end < LAYOUT_HIGH_RAM + img->payload_len)
		end = LAYOUT_HIGH_RAM + img->payload_len;
	return end;
}

uint64_t boot_initrd_address(const struct bzimage *img, uint64_t low_ram_end, uint64_t initrd_size)
{
	uint64_t limit = img->hdr.version >= 0x203 ? img->hdr.initrd_addr_max : BOOT_OLD_INITRD_MAX;
	uint64_t top = low_ram_end, start;

	if ((uint64_t)limit + 1 < top)
		top = (uint64_t)limit + 1;
	if (initrd_size > top)
		return 0;
	start = (top - initrd_size) & ~(uint64_t)(PAGE_SIZE - 1);
	if (start < kernel_footprint_end(img))
		return 0;
	return start;
}

static int load_initrd(struct guest_memory *mem, int fd, uint64_t gpa, uint64_t size,
		       char *err, size_t errlen)
{
	uint8_t *dst = guest_memory_ptr(mem, gpa, size);
	uint64_t done = 0;

	if (!dst) {
		snprintf(err, errlen, "initrd does not fit in guest memory");
		return -ENOMEM;
	}
	while (done < size) {
		ssize_t n = pread(fd, dst + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read the initrd: %s",
				 n < 0 ? strerror(errno) : "file shrank while reading");
			return n < 0 ? -errno : -EIO;
		}
		done += (uint64_t)n;
	}
	return 0;
}

/* 4 GiB identity map with 2 MiB pages: the kernel, zero page, command line and initrd are all reachable. */
static void write_page_tables(struct guest_memory *mem)
{
	uint64_t *pml4 = guest_memory_ptr(mem, LAYOUT_PML4, PAGE_SIZE);
	uint64_t *pdpt = guest_memory_ptr(mem, LAYOUT_PDPT, PAGE_SIZE);
	uint64_t *pd = guest_memory_ptr(mem, LAYOUT_PD, 4 * PAGE_SIZE);

	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	pml4[0] = LAYOUT_PDPT | 0x3;	/* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * PAGE_SIZE) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;	/* present, writable, 2 MiB page */
}

static void write_gdt(struct guest_memory *mem)
{
	uint64_t *gdt = guest_memory_ptr(mem, LAYOUT_GDT, BOOT_GDT_ENTRIES * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[BOOT_CS / 8] = 0x00af9b000000ffffull;	/* 64-bit code, flat */
	gdt[BOOT_DS / 8] = 0x00cf93000000ffffull;	/* data, flat, 4 GiB */
	gdt[BOOT_TSS / 8] = 0x008f8b000000ffffull;	/* busy TSS: VMX wants a usable TR */
}

int boot_linux_load(struct guest_memory *mem, const uint8_t *kernel, const struct bzimage *img,
		    int initrd_fd, uint64_t initrd_size, const char *cmdline,
		    struct boot_entry *entry, char *err, size_t errlen)
{
	uint64_t low_end = guest_memory_low_end(mem);
	size_t cmdline_len = strlen(cmdline);
	uint32_t cmdline_max = img->hdr.cmdline_size ? img->hdr.cmdline_size : 255;
	struct boot_params *bp;
	uint8_t *dst;
	int r;

	if (kernel_footprint_end(img) > low_end) {
		snprintf(err, errlen, "the kernel needs %" PRIu64 " MiB of memory to decompress; "
			 "the guest has %" PRIu64 " MiB", (kernel_footprint_end(img) >> 20) + 1,
			 mem->size >> 20);
		return -ENOMEM;
	}
	if (cmdline_len >= cmdline_max || cmdline_len >= LAYOUT_CMDLINE_MAX) {
		snprintf(err, errlen, "kernel command line too long (%zu bytes, the kernel takes %u)",
			 cmdline_len, cmdline_max - 1);
		return -E2BIG;
	}
	dst = guest_memory_ptr(mem, LAYOUT_HIGH_RAM, img->payload_len);
	memcpy(dst, kernel + img->payload_offset, img->payload_len);
	memcpy(guest_memory_ptr(mem, LAYOUT_CMDLINE, cmdline_len + 1), cmdline, cmdline_len + 1);

	bp = guest_memory_ptr(mem, LAYOUT_BOOT_PARAMS, sizeof(*bp));
	memset(bp, 0, sizeof(*bp));
	memcpy(&bp->hdr, &img->hdr, img->hdr_len);
	bp->hdr.vid_mode = 0xffff;		/* "normal" */
	bp->hdr.type_of_loader = 0xff;		/* undefined loader */
	bp->hdr.loadflags |= BOOT_CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	bp->hdr.code32_start = (uint32_t)LAYOUT_HIGH_RAM;
	if (initrd_fd >= 0 && initrd_size) {
		uint64_t at = boot_initrd_address(img, low_end, initrd_size);

		if (!at) {
			snprintf(err, errlen, "the initrd (%" PRIu64 " MiB) does not fit in guest memory "
				 "beside the kernel; give the guest more memory", (initrd_size >> 20) + 1);
			return -ENOMEM;
		}
		r = load_initrd(mem, initrd_fd, at, initrd_size, err, errlen);
		if (r < 0)
			return r;
		bp->hdr.ramdisk_image = (uint32_t)at;
		bp->hdr.ramdisk_size = (uint32_t)initrd_size;
		bp->ext_ramdisk_image = (uint32_t)(at >> 32);
		bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	}
	bp->e820_entries = (uint8_t)boot_e820_build(mem->size, bp->e820_table, BOOT_E820_MAX);

	write_page_tables(mem);
	write_gdt(mem);
	*entry = (struct boot_entry){
		.rip = LAYOUT_HIGH_RAM + 0x200,
		.rsi = LAYOUT_BOOT_PARAMS,
		.rsp = LAYOUT_BOOT_STACK,
		.cr3 = LAYOUT_PML4,
		.gdt_base = LAYOUT_GDT,
		.gdt_limit = BOOT_GDT_ENTRIES * 8 - 1,
	};
	return 0;
}
