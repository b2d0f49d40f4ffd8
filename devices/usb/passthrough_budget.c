/* SPDX-License-Identifier: MIT */
/*
 * The device process's share of usbfs's URB memory. usbfs charges the buffer
 * of every URB in flight, of every process on the host, to one budget
 * (module parameter usbfs_memory_mb, 16 MiB by default; devio.c
 * usbfs_increase_memory_usage) and fails a submit beyond it with ENOMEM,
 * whoever submits. The controller lets a guest keep 16 TDs of up to 4 MiB in
 * flight per endpoint: a guest parking bulk-IN TDs on an endpoint that never
 * answers could hold all of it, and every other VM and host program using
 * usbfs would get ENOMEM, even for a control transfer. This process keeps at
 * most PT_BUDGET_BYTES in flight, all its devices together; one transfer
 * larger than that may still go, alone.
 */
#include "devices/usb/passthrough_internal.h"

static size_t budget_used;

bool pt_budget_take(size_t cost)
{
	if (budget_used && (cost > PT_BUDGET_BYTES || budget_used > PT_BUDGET_BYTES - cost))
		return false;
	budget_used += cost;
	return true;
}

void pt_budget_give(size_t cost)
{
	budget_used = cost > budget_used ? 0 : budget_used - cost;
}

size_t pt_budget_used(void)
{
	return budget_used;
}
