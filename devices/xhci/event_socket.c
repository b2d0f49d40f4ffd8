/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous notices to the VMM on the event socket. The socket is
 * non-blocking: a slow VMM must not stall the controller. What is owed is
 * kept as dirty bits (one per MSI-X vector, the INTx level, one per port
 * gone), so a backlog is bounded and the VMM always ends with the latest
 * state; the bits are flushed when the socket is writable again.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

static void on_writable(void *opaque, uint32_t events);

static int send_one(struct xhci *x, struct devproto_msg *m)
{
	int err = devproto_send(x->event_sock, m, -1);

	if (err == -EAGAIN || err == -EWOULDBLOCK || err == -ENOBUFS)
		return -EAGAIN;
	if (err < 0 && err != -EPIPE && err != -ECONNRESET)
		log_warn("event socket: %d", err);
	/* A dead peer is the request socket's business (EOF there ends the process). */
	return 0;
}

static void watch(struct xhci *x, bool on)
{
	if (on == x->event_sock_watched || x->event_sock < 0)
		return;
	if (on) {
		if (event_loop_add_fd(x->loop, x->event_sock, EPOLLOUT, on_writable, x) < 0)
			return;
	} else {
		event_loop_del_fd(x->loop, x->event_sock);
	}
	x->event_sock_watched = on;
}

void xhci_notify_flush(struct xhci *x)
{
	struct devproto_msg m;

	if (x->event_sock < 0) {
		x->msix_dirty = 0;
		x->intx_dirty = false;
		x->gone_dirty = 0;
		return;
	}
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++) {
		if (!(x->msix_dirty & (1u << v)))
			continue;
		m = devproto_msg_init(DEVPROTO_MSIX_ROUTE, 0);
		m.u.msix.vector = v;
		m.u.msix.masked = xhci_msix_vector_masked(x, v);
		m.u.msix.address = x->msix[v].address;
		m.u.msix.data = x->msix[v].data;
		if (send_one(x, &m) < 0)
			goto busy;
		x->msix_dirty &= ~(1u << v);
	}
	if (x->intx_dirty) {
		m = devproto_msg_init(DEVPROTO_INTX_LEVEL, 0);
		m.u.intx.level = x->intx_level;
		if (send_one(x, &m) < 0)
			goto busy;
		x->intx_dirty = false;
	}
	for (unsigned int p = 0; p < XHCI_NUM_PORTS; p++) {
		if (!(x->gone_dirty & (1u << p)))
			continue;
		m = devproto_msg_init(DEVPROTO_PORT_GONE, 0);
		m.u.port.port = p + 1;
		if (send_one(x, &m) < 0)
			goto busy;
		x->gone_dirty &= ~(1u << p);
	}
	watch(x, false);
	return;
busy:
	watch(x, true);
}

static void on_writable(void *opaque, uint32_t events)
{
	(void)events;
	xhci_notify_flush(opaque);
}

void xhci_notify_msix(struct xhci *x, unsigned int vector)
{
	if (vector >= XHCI_NUM_INTRS)
		return;
	x->msix_dirty |= 1u << vector;
	xhci_notify_flush(x);
}

void xhci_notify_intx(struct xhci *x)
{
	x->intx_dirty = true;
	xhci_notify_flush(x);
}

void xhci_notify_port_gone(struct xhci *x, unsigned int port)
{
	if (port == 0 || port > XHCI_NUM_PORTS)
		return;
	x->gone_dirty |= 1u << (port - 1);
	xhci_notify_flush(x);
}
