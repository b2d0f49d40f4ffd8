/* SPDX-License-Identifier: MIT */
/* The unit tests' start of the shared driver: its failures fail the test case. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tests/xhci_driver/xhci_driver.h"

__attribute__((noreturn)) static void fail_test(const char *msg)
{
	cr_assert_fail("%s", msg);
	abort();	/* not reached: criterion ends the test case */
}

void drv_start(struct drv *d, xhci_attach_fn attach)
{
	drv_spawn(d, DRV_RAM_SIZE, attach, fail_test);
}
