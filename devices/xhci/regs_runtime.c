/* SPDX-License-Identifier: MIT */
/*
 * Runtime registers: MFINDEX and the interrupter register sets, which
 * interrupter.c owns.
 */
#include "devices/xhci/xhci.h"

uint32_t xhci_rt_read(struct xhci *x, uint32_t offset)
{
	if (offset == RT_MFINDEX)
		return xhci_mfindex(x);
	if (offset < RT_IR0)
		return 0;
	offset -= RT_IR0;
	if (offset / RT_IR_SIZE >= XHCI_NUM_INTRS)
		return 0;
	return xhci_intr_read(&x->intr[offset / RT_IR_SIZE], offset % RT_IR_SIZE);
}

void xhci_rt_write(struct xhci *x, uint32_t offset, uint32_t value)
{
	/* MFINDEX is read-only. */
	if (offset < RT_IR0)
		return;
	offset -= RT_IR0;
	if (offset / RT_IR_SIZE >= XHCI_NUM_INTRS)
		return;
	xhci_intr_write(&x->intr[offset / RT_IR_SIZE], offset % RT_IR_SIZE, value);
}
