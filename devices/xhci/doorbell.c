/* SPDX-License-Identifier: MIT */
/*
 * Doorbells. Doorbell 0 is the command ring's; doorbell n (1..MaxSlots) is
 * device slot n's, its DB Target naming the endpoint (DCI) and DB Stream ID
 * the stream. A doorbell may come as a BAR write or as a KVM ioeventfd
 * that fires for one value (datamatch): both say which endpoint, and both
 * run xhci_doorbell. One may also come as a bare ioeventfd firing for any
 * value (the command ring's, or an older VMM's): then every Running endpoint of the slot
 * is kicked, every stream of a streams endpoint too, which is harmless
 * because a kick only reads TRBs the guest has handed over (their cycle bit
 * says so). A Stopped endpoint is not: its dequeue pointer may still be on
 * a TD the guest has cancelled or is about to skip with Set TR Dequeue
 * Pointer (after Reset Endpoint), and running that TD would write into a
 * buffer the guest may have freed. Only a doorbell with its value restarts
 * it; the VMM sends slot doorbells that way (vmm/pci_proxy.c).
 */
#include "log.h"
#include "xhci.h"

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

void xhci_doorbell_kick_slot(struct xhci *x, unsigned int index)
{
	struct xhci_slot *s;

	if (!xhci_running(x))
		return;
	if (index == 0) {
		xhci_cmd_doorbell(x);
		return;
	}
	s = xhci_slot_get(x, index);
	if (!s || !s->enabled)
		return;
	for (unsigned int d = 1; d < XHCI_NUM_EPS; d++) {
		if (s->ep[d].state == EP_RUNNING)
			xhci_ep_doorbell_all(&s->ep[d]);
	}
}
