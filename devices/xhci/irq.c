/* SPDX-License-Identifier: MIT */
/*
 * How an interrupt leaves the device process. With MSI-X enabled, interrupter
 * n owns vector n and a message is a write to that vector's eventfd, which
 * the VMM has made a KVM irqfd. Without MSI-X the INTx line is level
 * triggered: it is the OR of IMAN.IP && IMAN.IE over the interrupters (gated
 * by USBCMD.INTE and the PCI INTx-disable bit); each change of level is sent
 * as DEVPROTO_INTX_LEVEL, and a rising edge also signals the INTx eventfd if
 * the VMM gave one. Either way the register mirror is refreshed first: the
 * guest's handler reads USBSTS and IMAN from it (reg_mirror.c).
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd < 0)
		return;
	/* An eventfd write only fails when the counter would overflow: already signalled. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("irq eventfd write: %d", errno);
}

void xhci_irq_raise(struct xhci *x, unsigned int vector)
{
	if (vector >= XHCI_NUM_INTRS)
		return;
	xhci_mirror_publish(x);
	signal_fd(x->irq_fd[vector]);
}

void xhci_irq_interrupt(struct xhci *x, unsigned int intr)
{
	if (xhci_pci_msix_enabled(x))
		xhci_msix_send(x, intr);
	else
		xhci_irq_update_intx(x);
}

void xhci_irq_update_intx(struct xhci *x)
{
	bool level = false;

	if (!xhci_pci_msix_enabled(x) && !xhci_pci_intx_disabled(x) && (x->usbcmd & USBCMD_INTE)) {
		for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++) {
			uint32_t iman = x->intr[i].iman;

			if ((iman & IMAN_IP) && (iman & IMAN_IE))
				level = true;
		}
	}
	if (level == x->intx_level)
		return;
	if (level)
		xhci_mirror_publish(x);
	x->intx_level = level;
	xhci_notify_intx(x);
	if (level)
		signal_fd(x->intx_fd);
}

void xhci_irq_set_fd(struct xhci *x, unsigned int vector, int fd)
{
	int *slot;

	if (vector == DEVPROTO_IRQ_INTX)
		slot = &x->intx_fd;
	else if (vector < XHCI_NUM_INTRS)
		slot = &x->irq_fd[vector];
	else {
		close(fd);
		return;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}
