/* SPDX-License-Identifier: MIT */
/*
 * The device process's share of usbfs's host-wide URB memory: what it lets
 * into the kernel at once. (That a guest parking bulk-IN TDs starves other
 * usbfs users without it is measured in the lab: tests/lab/scenarios/usbfs-memory.)
 */
#include <criterion/criterion.h>

#include "devices/usb/passthrough_internal.h"

Test(passthrough_budget, the_process_keeps_at_most_its_share_in_flight)
{
	size_t mib = 1u << 20;

	cr_assert_eq(PT_BUDGET_BYTES, 4 * mib, "a quarter of usbfs's default 16 MiB");
	/* 16 bulk-IN TDs of 1 MiB parked on one endpoint: four go, the rest wait. */
	for (unsigned int i = 0; i < 4; i++)
		cr_assert(pt_budget_take(mib), "TD %u", i);
	cr_assert_not(pt_budget_take(mib));
	cr_assert_not(pt_budget_take(1));
	cr_assert_eq(pt_budget_used(), 4 * mib);
	/* One comes back: one more may go. */
	pt_budget_give(mib);
	cr_assert(pt_budget_take(mib));
	cr_assert_not(pt_budget_take(8));
	for (unsigned int i = 0; i < 4; i++)
		pt_budget_give(mib);
	cr_assert_eq(pt_budget_used(), 0);
	/* A transfer larger than the share goes alone, and nothing beside it. */
	cr_assert(pt_budget_take(6 * mib));
	cr_assert_not(pt_budget_take(64));
	pt_budget_give(6 * mib);
	/* A give of more than was taken cannot wrap the count. */
	pt_budget_give(mib);
	cr_assert_eq(pt_budget_used(), 0);
	cr_assert(pt_budget_take(SIZE_MAX));
	cr_assert_not(pt_budget_take(1));
	pt_budget_give(SIZE_MAX);
	cr_assert(pt_budget_take(PT_BUDGET_BYTES));
}
