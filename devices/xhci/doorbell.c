/* SPDX-License-Identifier: MIT */
/*
 * Doorbells (xHCI 1.2, 5.6). Doorbell 0 is the command ring's; doorbell n
 * (1..MaxSlots) is device slot n's, its DB Target naming the endpoint (DCI)
 * and DB Stream ID the stream. Every doorbell that reaches here carries its
 * value: a BAR write, or a value doorbell's eventfd, which stands for one
 * (register, value) write; the command ring's bare eventfd stands for a
 * write of 0 (docs/protocol.md, "Doorbells"). So a Stopped endpoint is
 * restarted only by the guest's own doorbell for it, never by a guess: its
 * dequeue pointer may still be on a TD the guest cancelled.
 */
#include "common/log.h"
#include "devices/xhci/xhci.h"

#define DB_TARGET(v) ((v) & 0xff)
#define DB_STREAM(v) ((v) >> 16)

void xhci_doorbell(struct xhci *x, unsigned int index, uint32_t value)
{
	struct xhci_slot *s;
	unsigned int target = DB_TARGET(value);

	if (!xhci_running(x))
		return;
	if (index == 0) {
		/* Target 0 is the only valid one for the host controller doorbell. */
		if (target == 0)
			xhci_cmd_doorbell(x);
		return;
	}
	s = xhci_slot_get(x, index);
	if (!s || !s->enabled || target == 0 || target >= XHCI_NUM_EPS) {
		log_debug("xhci: doorbell %u target %u ignored", index, target);
		return;
	}
	xhci_ep_doorbell(&s->ep[target], DB_STREAM(value));
}
