/* SPDX-License-Identifier: MIT */
/*
 * The controller as a whole: creation, Host Controller Reset, Run/Stop, and
 * Host Controller Error. HCE is where an internal inconsistency the guest
 * provoked ends up: the controller stops doing anything (no ring is read, no
 * event written) until the guest resets it, instead of crashing the process.
 */
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/monotonic.h"
#include "devices/xhci/xhci.h"

#define USBCMD_RW (USBCMD_RS | USBCMD_INTE | USBCMD_HSEE | USBCMD_EWE | USBCMD_EU3S)

int xhci_init(struct xhci *x, struct event_loop *loop, int event_sock)
{
	memset(x, 0, sizeof(*x));
	x->loop = loop;
	x->event_sock = event_sock;
	x->intx_fd = -1;
	guest_memory_init(&x->mem);
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++)
		x->irq_fd[v] = -1;
	xhci_pci_init(x);
	xhci_msix_reset(x);
	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++) {
		xhci_intr_init(x, i);
		if (x->intr[i].timerfd < 0) {
			xhci_release(x);
			return -1;
		}
	}
	for (unsigned int s = 0; s <= XHCI_MAX_SLOTS; s++) {
		x->slots[s].id = s;
		for (unsigned int d = 0; d < XHCI_NUM_EPS; d++)
			xhci_ep_init(x, &x->slots[s].ep[d], s, d);
	}
	xhci_port_init(x);
	xhci_reset(x);
	return 0;
}

void xhci_release(struct xhci *x)
{
	xhci_slot_reset_all(x);
	for (unsigned int p = 1; p <= XHCI_NUM_PORTS; p++)
		xhci_port_disconnect(x, p);
	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++)
		xhci_intr_release(&x->intr[i]);
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++) {
		if (x->irq_fd[v] >= 0)
			close(x->irq_fd[v]);
		x->irq_fd[v] = -1;
	}
	if (x->intx_fd >= 0)
		close(x->intx_fd);
	x->intx_fd = -1;
	if (x->event_sock_watched)
		event_loop_del_fd(x->loop, x->event_sock);
	x->event_sock_watched = false;
	event_loop_cancel_deferred(x->loop, &x->cmd_later);
	xhci_bounce_release(x);
	xhci_mirror_release(x);
	guest_memory_release(&x->mem);
}

/* HCRST: registers to their defaults, every slot gone, ports re-report their devices. */
void xhci_reset(struct xhci *x)
{
	xhci_slot_reset_all(x);
	x->usbcmd = 0;
	x->usbsts = USBSTS_HCH;
	x->dnctrl = 0;
	x->config = 0;
	x->dcbaap = 0;
	x->mfindex_frozen = 0;
	x->dead = false;
	xhci_cmd_reset(x);
	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++)
		xhci_intr_reset(&x->intr[i]);
	xhci_port_reset_all(x);
	xhci_irq_update_intx(x);
}

bool xhci_running(const struct xhci *x)
{
	return (x->usbcmd & USBCMD_RS) && !x->dead;
}

void xhci_die(struct xhci *x, const char *why)
{
	if (x->dead)
		return;
	log_warn("xhci: host controller error: %s", why);
	x->dead = true;
	x->usbsts |= USBSTS_HCE | USBSTS_HCH;
}

uint32_t xhci_mfindex(struct xhci *x)
{
	if (!(x->usbcmd & USBCMD_RS))
		return x->mfindex_frozen;
	return (uint32_t)((monotonic_ns() - x->mfindex_start_ns) / XHCI_MICROFRAME_NS) &
	       XHCI_MFINDEX_MASK;
}

void xhci_write_usbcmd(struct xhci *x, uint32_t val)
{
	uint32_t old = x->usbcmd;

	if (val & USBCMD_HCRST) {
		xhci_reset(x);
		return;
	}
	/* CSS/CRS: there is no internal state to save beyond what the registers hold. */
	x->usbcmd = val & USBCMD_RW;
	if ((val & USBCMD_RS) && !(old & USBCMD_RS)) {
		if (!x->dead)
			x->usbsts &= ~USBSTS_HCH;
		x->mfindex_start_ns = monotonic_ns() - (uint64_t)x->mfindex_frozen * XHCI_MICROFRAME_NS;
		xhci_port_notify_running(x);
	} else if (!(val & USBCMD_RS) && (old & USBCMD_RS)) {
		x->mfindex_frozen = (uint32_t)((monotonic_ns() - x->mfindex_start_ns) / XHCI_MICROFRAME_NS) &
				   XHCI_MFINDEX_MASK;
		x->usbsts |= USBSTS_HCH;
		/* Stopping the controller stops the command ring. */
		x->crr = false;
	}
	if ((val ^ old) & USBCMD_INTE)
		xhci_intr_update_all(x);
}
