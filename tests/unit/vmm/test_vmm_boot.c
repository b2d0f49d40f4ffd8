/* SPDX-License-Identifier: MIT */
/* bzImage header checks, the e820 map, boot_params layout and the boot loader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/boot_linux.h"
#include "vmm/guest_memory.h"
#include "vmm/layout.h"

#define IMG_LEN 0x2000

/* A minimal valid bzImage: header at 0x1f1, payload (2 sectors of setup) at 0x400. */
static uint8_t *fake_bzimage(uint16_t version)
{
	static uint8_t img[IMG_LEN];
	struct boot_setup_header *h = (void *)(img + 0x1f1);

	memset(img, 0, sizeof(img));
	h->setup_sects = 1;
	h->boot_flag = 0xaa55;
	img[0x200] = 0xeb;
	img[0x201] = 0x66;
	h->header = BOOT_HDR_MAGIC;
	h->version = version;
	h->loadflags = BOOT_LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->xloadflags = BOOT_XLF_KERNEL_64;
	h->cmdline_size = 0x7ff;
	h->init_size = 0x10000;
	memset(img + 0x400, 0x90, IMG_LEN - 0x400);	/* the "kernel" */
	return img;
}

Test(bzimage, good)
{
	struct bzimage b;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(fake_bzimage(0x20f), IMG_LEN, &b, &why), 0, "%s", why);
	cr_assert_eq(b.payload_offset, 0x400);
	cr_assert_eq(b.payload_len, IMG_LEN - 0x400);
	cr_assert_eq(b.hdr_len, 0x268 - 0x1f1);
	cr_assert_eq(b.hdr.version, 0x20f);
	cr_assert_eq(b.hdr.cmdline_size, 0x7ff);
}

Test(bzimage, setup_sects_zero_means_four)
{
	uint8_t *img = fake_bzimage(0x20f);
	struct bzimage b;
	const char *why;

	img[0x1f1] = 0;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &b, &why), 0);
	cr_assert_eq(b.payload_offset, 5 * 512);
}

Test(bzimage, truncated)
{
	uint8_t *img = fake_bzimage(0x20f);
	struct bzimage b;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(img, 0x250, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "short"), "%s", why);
	cr_assert_eq(bzimage_parse(img, 0x400, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "truncated"), "%s", why);
	((struct boot_setup_header *)(img + 0x1f1))->syssize = IMG_LEN / 16;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "shorter than the header"), "%s", why);
}

Test(bzimage, not_a_bzimage)
{
	uint8_t elf[IMG_LEN] = { 0x7f, 'E', 'L', 'F' };
	struct bzimage b;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(elf, sizeof(elf), &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "not a bzImage"), "%s", why);
	/* Magic right, boot flag wrong. */
	uint8_t *img = fake_bzimage(0x20f);
	img[0x1fe] = 0;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &b, &why), -ENOEXEC);
}

Test(bzimage, old_protocol)
{
	struct bzimage b;
	const char *why = NULL;

	cr_assert_eq(bzimage_parse(fake_bzimage(0x205), IMG_LEN, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "2.06"), "%s", why);
	cr_assert_eq(bzimage_parse(fake_bzimage(0x206), IMG_LEN, &b, &why), 0);
}

Test(bzimage, needs_64bit_entry_and_loaded_high)
{
	uint8_t *img = fake_bzimage(0x20c);
	struct bzimage b;
	const char *why = NULL;

	((struct boot_setup_header *)(img + 0x1f1))->xloadflags = 0;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "64-bit"), "%s", why);
	img = fake_bzimage(0x20f);
	((struct boot_setup_header *)(img + 0x1f1))->loadflags = 0;
	cr_assert_eq(bzimage_parse(img, IMG_LEN, &b, &why), -ENOEXEC);
	cr_assert(strstr(why, "zImage"), "%s", why);
}

Test(boot_params, layout_matches_the_boot_protocol)
{
	cr_assert_eq(sizeof(struct boot_params), 4096);
	cr_assert_eq(offsetof(struct boot_params, ext_ramdisk_image), 0x0c0);
	cr_assert_eq(offsetof(struct boot_params, ext_cmd_line_ptr), 0x0c8);
	cr_assert_eq(offsetof(struct boot_params, e820_entries), 0x1e8);
	cr_assert_eq(offsetof(struct boot_params, hdr), 0x1f1);
	cr_assert_eq(offsetof(struct boot_params, e820_table), 0x2d0);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, header), 0x202);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, type_of_loader), 0x210);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, ramdisk_image), 0x218);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, cmd_line_ptr), 0x228);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, initrd_addr_max), 0x22c);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, xloadflags), 0x236);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, pref_address), 0x258);
	cr_assert_eq(0x1f1 + offsetof(struct boot_setup_header, init_size), 0x260);
	cr_assert_eq(sizeof(struct boot_e820_entry), 20);
}

Test(e820, below_the_pci_hole)
{
	struct boot_e820_entry t[BOOT_E820_MAX];
	unsigned int n = boot_e820_build(512ull << 20, t, BOOT_E820_MAX);

	cr_assert_eq(n, 3);
	cr_assert_eq(t[0].addr, 0);
	cr_assert_eq(t[0].size, LAYOUT_EBDA);
	cr_assert_eq(t[0].type, BOOT_E820_RAM);
	cr_assert_eq(t[1].addr, LAYOUT_EBDA);
	cr_assert_eq(t[1].type, BOOT_E820_RESERVED);
	cr_assert_eq(t[2].addr, 1 << 20);
	cr_assert_eq(t[2].addr + t[2].size, 512ull << 20);
	cr_assert_eq(t[2].type, BOOT_E820_RAM);
}

Test(e820, split_around_the_pci_hole)
{
	struct boot_e820_entry t[BOOT_E820_MAX];
	unsigned int n = boot_e820_build(4096ull << 20, t, BOOT_E820_MAX);

	cr_assert_eq(n, 4);
	cr_assert_eq(t[2].addr + t[2].size, LAYOUT_PCI_HOLE);
	cr_assert_eq(t[3].addr, LAYOUT_4G);
	cr_assert_eq(t[3].size, (4096ull << 20) - LAYOUT_PCI_HOLE);
	/* Nothing RAM overlaps the hole, where BAR 0, the IOAPIC and the LAPIC live. */
	for (unsigned int i = 0; i < n; i++)
		cr_assert(t[i].addr >= LAYOUT_4G || t[i].addr + t[i].size <= LAYOUT_PCI_HOLE);
	cr_assert_eq(boot_e820_build(4096ull << 20, t, 2), 0);
}

Test(initrd, placed_high_below_the_limits)
{
	struct bzimage b;
	const char *why;
	uint64_t at;

	bzimage_parse(fake_bzimage(0x20f), IMG_LEN, &b, &why);
	at = boot_initrd_address(&b, 512ull << 20, 10u << 20);
	cr_assert_eq(at % 4096, 0);
	cr_assert_leq(at + (10u << 20), 512ull << 20);
	cr_assert_gt(at + (10u << 20), (512ull << 20) - 4096);
	b.hdr.initrd_addr_max = (64u << 20) - 1;
	at = boot_initrd_address(&b, 512ull << 20, 10u << 20);
	cr_assert_leq(at + (10u << 20), 64u << 20);
	/* Too large to fit above the kernel. */
	cr_assert_eq(boot_initrd_address(&b, 512ull << 20, 63u << 20), 0);
	cr_assert_eq(boot_initrd_address(&b, 512ull << 20, 1ull << 33), 0);
}

Test(boot_linux, load_writes_the_zero_page)
{
	struct guest_memory mem;
	struct boot_entry e;
	struct bzimage b;
	const char *why;
	char err[256] = "";
	int initrd = memfd_create("initrd", 0);
	uint8_t data[8192];

	cr_assert_eq(guest_memory_create(&mem, 128ull << 20), 0);
	memset(data, 0xab, sizeof(data));
	cr_assert_eq(write(initrd, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(bzimage_parse(fake_bzimage(0x20f), IMG_LEN, &b, &why), 0);
	cr_assert_eq(boot_linux_load(&mem, fake_bzimage(0x20f), &b, initrd, sizeof(data),
				     "console=ttyS0 hello", &e, err, sizeof(err)), 0, "%s", err);

	struct boot_params *bp = guest_memory_ptr(&mem, LAYOUT_BOOT_PARAMS, 4096);
	cr_assert_eq(e.rip, LAYOUT_HIGH_RAM + 0x200);
	cr_assert_eq(e.rsi, LAYOUT_BOOT_PARAMS);
	cr_assert_eq(bp->hdr.header, BOOT_HDR_MAGIC);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert(bp->hdr.loadflags & BOOT_CAN_USE_HEAP);
	cr_assert_str_eq((char *)guest_memory_ptr(&mem, bp->hdr.cmd_line_ptr, 1), "console=ttyS0 hello");
	cr_assert_eq(bp->e820_entries, 3);
	cr_assert_eq(bp->hdr.ramdisk_size, sizeof(data));
	cr_assert_eq(memcmp(guest_memory_ptr(&mem, bp->hdr.ramdisk_image, sizeof(data)), data,
			    sizeof(data)), 0);
	cr_assert_eq(*(uint8_t *)guest_memory_ptr(&mem, LAYOUT_HIGH_RAM, 1), 0x90);
	/* Identity map: the last 2 MiB page below 4 GiB maps to itself. */
	uint64_t *pd = guest_memory_ptr(&mem, LAYOUT_PD, 4 * 4096);
	cr_assert_eq(pd[2047], (2047ull << 21) | 0x83);
	uint64_t *gdt = guest_memory_ptr(&mem, LAYOUT_GDT, 40);
	cr_assert_eq(gdt[BOOT_CS / 8], 0x00af9b000000ffffull);
	cr_assert_eq(gdt[BOOT_DS / 8], 0x00cf93000000ffffull);

	char longline[4096];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	cr_assert_eq(boot_linux_load(&mem, fake_bzimage(0x20f), &b, -1, 0, longline, &e, err,
				     sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "too long"), "%s", err);
	guest_memory_destroy(&mem);
	close(initrd);
}

Test(guest_memory, regions_and_lookup)
{
	struct guest_region r[GUEST_MEMORY_MAX_REGIONS];

	cr_assert_eq(guest_memory_layout(512ull << 20, r), 1);
	cr_assert_eq(guest_memory_layout(LAYOUT_PCI_HOLE, r), 1);
	cr_assert_eq(guest_memory_layout(LAYOUT_PCI_HOLE + 4096, r), 2);
	cr_assert_eq(r[1].gpa, LAYOUT_4G);
	cr_assert_eq(r[1].offset, LAYOUT_PCI_HOLE);
	cr_assert_eq(r[1].size, 4096);

	struct guest_memory mem;
	cr_assert_eq(guest_memory_create(&mem, 64ull << 20), 0);
	cr_assert_not_null(guest_memory_ptr(&mem, (64ull << 20) - 8, 8));
	cr_assert_null(guest_memory_ptr(&mem, (64ull << 20) - 4, 8));
	cr_assert_null(guest_memory_ptr(&mem, ~0ull - 2, 8));
	/* Sealed: nobody (the device process included) can shrink it under the VMM. */
	cr_assert_lt(ftruncate(mem.memfd, 4096), 0);
	guest_memory_destroy(&mem);
}
