/* SPDX-License-Identifier: MIT */
/*
 * What svmm says about a stuck guest's page tables: the walk of the guest's
 * own tables for an address, as a person reading the log needs it to tell a
 * page the guest unmapped from a table that was overwritten.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vcpu_report.h"

#define RAM_SIZE (64u << 12)
#define PRESENT 1ull
#define LARGE (1ull << 7)
#define LA57 (1ull << 12)
#define LMA (1ull << 10)

static struct guest_memory mem;
static uint64_t *ram;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	cr_assert_not_null(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_memory){ .memfd = -1, .host = (uint8_t *)ram, .size = RAM_SIZE, .nregions = 1,
				     .regions = { { .gpa = 0, .size = RAM_SIZE, .offset = 0 } } };
}

static void teardown(void)
{
	free(ram);
}

/* Entry idx of the table in guest page pfn. */
static void set_entry(unsigned int pfn, unsigned int idx, uint64_t value)
{
	ram[pfn * 512 + idx] = value;
}

/* 0xffffffffc059820c: L5 511, L4 511, L3 511, L2 2, L1 0x198. */
static const uint64_t rip = 0xffffffffc059820cull;

static void map_down_to_l1(bool la57)
{
	unsigned int top = 1;

	if (la57)
		set_entry(1, 511, (2u << 12) | PRESENT), top = 2;
	set_entry(top, 511, (3u << 12) | PRESENT);
	set_entry(3, 511, (4u << 12) | PRESENT);
	set_entry(4, 2, (5u << 12) | PRESENT);
}

Test(vcpu_report, a_mapped_page_walks_all_five_levels, .init = setup, .fini = teardown)
{
	char buf[512];

	map_down_to_l1(true);
	set_entry(5, 0x198, (9u << 12) | PRESENT);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, LA57, LMA, rip);
	cr_assert_str_eq(buf, " walk L5[511]=0x2001 L4[511]=0x3001 L3[511]=0x4001 L2[2]=0x5001 L1[408]=0x9001");
}

Test(vcpu_report, four_levels_without_la57, .init = setup, .fini = teardown)
{
	char buf[512];

	map_down_to_l1(false);
	set_entry(5, 0x198, (9u << 12) | PRESENT);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, 0, LMA, rip);
	cr_assert_str_eq(buf, " walk L4[511]=0x3001 L3[511]=0x4001 L2[2]=0x5001 L1[408]=0x9001");
}

Test(vcpu_report, a_missing_page_shows_its_table, .init = setup, .fini = teardown)
{
	char buf[512];

	map_down_to_l1(true);
	set_entry(5, 0x196, (7u << 12) | PRESENT);
	set_entry(5, 0x197, (8u << 12) | PRESENT);
	set_entry(5, 0x199, (10u << 12) | PRESENT);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, LA57, LMA, rip);
	cr_assert_str_eq(buf, " walk L5[511]=0x2001 L4[511]=0x3001 L3[511]=0x4001 L2[2]=0x5001 L1[408]=0x0"
			      " (not present; 3 of 512 present; beside it: [406]=0x7001 [407]=0x8001"
			      " [409]=0xa001 [410]=0x0)");
}

Test(vcpu_report, a_large_page_ends_the_walk, .init = setup, .fini = teardown)
{
	char buf[512];

	map_down_to_l1(false);
	set_entry(4, 2, (512u << 12) | LARGE | PRESENT);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, 0, LMA, rip);
	cr_assert_str_eq(buf, " walk L4[511]=0x3001 L3[511]=0x4001 L2[2]=0x200081");
}

Test(vcpu_report, a_table_outside_ram_is_named_not_read, .init = setup, .fini = teardown)
{
	char buf[512];

	/* The guest controls every entry: one that points past its RAM is reported. */
	set_entry(1, 511, 0x7fff0000000ull | PRESENT);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, 0, LMA, rip);
	cr_assert_str_eq(buf, " walk L4[511]=0x7fff0000001 L3 table at gpa 0x7fff0000000, which is not RAM");
}

Test(vcpu_report, nothing_outside_long_mode_or_in_a_tiny_buffer, .init = setup, .fini = teardown)
{
	char buf[512], tiny[8];

	map_down_to_l1(false);
	vcpu_report_walk(buf, sizeof(buf), &mem, 1u << 12, 0, 0, rip);
	cr_assert_str_eq(buf, "");
	vcpu_report_walk(tiny, sizeof(tiny), &mem, 1u << 12, 0, LMA, rip);
	cr_assert_str_eq(tiny, " walk L");
}
