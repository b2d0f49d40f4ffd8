/* SPDX-License-Identifier: MIT */
/*
 * The device process: one event loop over the request socket, the doorbell
 * eventfds, the interrupters' timerfds and whatever the USB devices watch.
 * Every request gets exactly one reply. USB devices are made through a
 * table keyed by attach kind, so usbfs passthrough can be added beside the
 * emulated mass-storage device without touching the controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/device_main.h"
#include "common/log.h"
#include "devices/usb/mass_storage.h"
#include "devices/usb/passthrough.h"
#include "devices/xhci/xhci.h"
#include "devices/xhci/xhci_process.h"

/* Rounds of the loop SHUTDOWN allows devices to return cancelled transfers. */
#define SHUTDOWN_DRAIN_ROUNDS 16
/* Requests served in one go, so a flood of posted writes cannot starve the rest. */
#define REQUEST_BATCH 64
/*
 * Before a doorbell every waiting request runs. The socket's buffer holds a
 * few hundred messages at most (and the VMM blocks when it is full): this
 * bound is never the one that ends the loop.
 */
#define REQUEST_DRAIN_MAX 4096
/* Doorbells from this one on (the slots') are value doorbells: the value names the endpoint. */
#define XHCI_DB_VALUE_FIRST 1u

struct xhci_process;
static void serve_requests(struct xhci_process *p, unsigned int max);

/*
 * An eventfd KVM signals for a doorbell register: the command ring's for
 * any write (value 0), a slot's for a write of one value (a value
 * doorbell). Either way the signal is a write of value (docs/protocol.md).
 */
struct doorbell_watch {
	struct xhci_process *p;
	unsigned int index;
	uint32_t value;
	int fd;
};

struct xhci_process {
	struct event_loop *loop;
	struct xhci x;
	int request_sock;
	uint64_t mirror_fresh_at;		/* event_loop_dispatches() when the mirror was last refreshed whole */
	struct doorbell_watch doorbells[DEVPROTO_MAX_DOORBELLS];
	struct doorbell_watch value_doorbells[DEVPROTO_MAX_VALUE_DOORBELLS];
	uint32_t gone_ports;			/* bit per port index: device left on its own */
	struct event_deferred gone_later;
};

static struct usb_device *attach_image(struct event_loop *loop, int fd,
				       const struct devproto_attach *a,
				       enum devproto_usb_speed preferred)
{
	return mass_storage_new(loop, fd, a->flags & DEVPROTO_ATTACH_READONLY, preferred);
}

static xhci_attach_fn attach_table[DEVPROTO_ATTACH_IMAGE + 1] = {
	[DEVPROTO_ATTACH_USBFS] = passthrough_new,
	[DEVPROTO_ATTACH_IMAGE] = attach_image,
};

void xhci_process_set_attach(enum devproto_attach_kind kind, xhci_attach_fn fn)
{
	if (kind == DEVPROTO_ATTACH_USBFS || kind == DEVPROTO_ATTACH_IMAGE)
		attach_table[kind] = fn;
}

static void reply(struct xhci_process *p, const struct devproto_msg *req, struct devproto_reply r)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_REPLY, req->seq);
	int err;

	m.u.reply = r;
	err = devproto_send(p->request_sock, &m, -1);
	if (err < 0)
		log_warn("xhci: reply to %s: %d", devproto_type_name(req->type), err);
}

/*
 * What the VMM needs to know of this controller (docs/protocol.md,
 * "Self-description"): BAR 0 as the capability registers lay it out, the
 * doorbell array (doorbell 0 the command ring's, any write rings it; slot
 * doorbells by value, since the value names the endpoint, xHCI 1.2 5.6),
 * USBSTS and the interrupter register sets as the mirror's narrow writes
 * (xHCI 1.2 5.4.2, 5.5.2), every BAR write posted.
 */
static void answer_hello(struct xhci_process *p, const struct devproto_msg *req)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_HELLO, req->seq);
	int err;

	m.u.hello.version = DEVPROTO_VERSION;
	m.u.hello.desc = (struct devproto_desc){
		.bar_size = XHCI_BAR_SIZE,
		.db_offset = XHCI_DB_BASE,
		.db_count = XHCI_MAX_SLOTS + 1,
		.db_stride = 4,
		.db_value_first = XHCI_DB_VALUE_FIRST,
		.nvectors = XHCI_NUM_INTRS,
		.nports = XHCI_NUM_PORTS,
		.mirror_status = XHCI_OP_BASE + OP_USBSTS,
		.mirror_block_base = XHCI_RT_BASE + RT_IR0,
		.mirror_block_stride = RT_IR_SIZE,
		.mirror_nblocks = XHCI_NUM_INTRS,
		.posted_offset = 0,
		.posted_size = XHCI_BAR_SIZE,
		.flags = DEVPROTO_DESC_MIRROR_RULES | DEVPROTO_DESC_DB_PAGE,
	};
	err = devproto_send(p->request_sock, &m, -1);
	if (err < 0)
		log_warn("xhci: answer to HELLO: %d", err);
}

static struct devproto_reply status(enum svmm_status st)
{
	struct devproto_reply r = { .status = st };

	return r;
}

static void release_device(struct xhci_process *p, unsigned int port)
{
	struct xhci_port *xp = xhci_port_get(&p->x, port);
	struct usb_device *dev = xp ? xp->dev : NULL;

	if (!dev)
		return;
	xhci_port_disconnect(&p->x, port);
	dev->ops->destroy(dev);
}

/* A device left by itself; it is destroyed later, not from inside its own callback. */
static void on_device_gone(struct usb_device *dev, void *opaque)
{
	struct xhci_process *p = opaque;

	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		if (p->x.ports[i].dev == dev)
			p->gone_ports |= 1u << i;
	}
	event_loop_defer(p->loop, &p->gone_later);
}

static void gone_deferred(void *opaque)
{
	struct xhci_process *p = opaque;
	uint32_t gone = p->gone_ports;

	p->gone_ports = 0;
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		if (!(gone & (1u << i)))
			continue;
		release_device(p, i + 1);
		xhci_notify_port_gone(&p->x, i + 1);
	}
}

static bool port_kind_free(struct xhci *x, bool usb3)
{
	for (unsigned int i = 0; i < XHCI_NUM_PORTS; i++) {
		if (x->ports[i].usb3 == usb3 && !x->ports[i].dev)
			return true;
	}
	return false;
}

static struct devproto_reply do_attach(struct xhci_process *p, const struct devproto_attach *a,
				       int fd)
{
	struct devproto_reply r = status(SVMM_OK);
	enum devproto_usb_speed preferred;
	struct usb_device *dev;
	int port;

	if (a->kind >= sizeof(attach_table) / sizeof(attach_table[0]) || !attach_table[a->kind]) {
		close(fd);
		return status(SVMM_E_FAILED_TO_OPEN_DEVICE);
	}
	if (a->port) {
		/* A followed device comes back to the port the guest knew it on. */
		struct xhci_port *want = xhci_port_get(&p->x, a->port);

		if (!want) {
			close(fd);
			return status(SVMM_E_NO_SUCH_PORT);
		}
		if (want->dev) {
			close(fd);
			return status(SVMM_E_NO_AVAILABLE_PORT);
		}
		preferred = want->usb3 ? DEVPROTO_SPEED_SUPER : DEVPROTO_SPEED_HIGH;
	} else if (port_kind_free(&p->x, true))
		preferred = DEVPROTO_SPEED_SUPER;
	else if (port_kind_free(&p->x, false))
		preferred = DEVPROTO_SPEED_HIGH;
	else {
		close(fd);
		return status(SVMM_E_NO_AVAILABLE_PORT);
	}
	dev = attach_table[a->kind](p->loop, fd, a, preferred);
	if (!dev) {
		close(fd);
		return status(SVMM_E_FAILED_TO_OPEN_DEVICE);
	}
	dev->kind = a->kind;
	dev->gone = on_device_gone;
	dev->gone_opaque = p;
	port = xhci_port_connect(&p->x, dev, a->port);
	if (port < 0) {
		dev->ops->destroy(dev);
		return status(SVMM_E_NO_AVAILABLE_PORT);
	}
	r.port = (uint32_t)port;
	return r;
}

static struct devproto_reply do_port_info(struct xhci_process *p, unsigned int port)
{
	struct xhci_port *xp = xhci_port_get(&p->x, port);
	struct devproto_reply r = status(SVMM_OK);

	if (!xp)
		return status(SVMM_E_NO_SUCH_PORT);
	if (!xp->dev)
		return status(SVMM_E_NO_SUCH_DEVICE);
	r.port = port;
	r.info.vendor = xp->dev->vendor;
	r.info.product = xp->dev->product;
	r.info.speed = (uint8_t)xp->dev->speed;
	r.info.kind = (uint8_t)xp->dev->kind;
	r.info.busnum = xp->dev->busnum;
	r.info.devnum = xp->dev->devnum;
	return r;
}

/*
 * A doorbell that comes as an ioeventfd overtakes the BAR writes the guest
 * made before it, which wait in the request socket (posted writes): those
 * run first, as they would on a bus. The VMM sent them before the vCPU went
 * on to the doorbell write, so they are all in the socket by now.
 */
static void on_doorbell(void *opaque, uint32_t events)
{
	struct doorbell_watch *w = opaque;
	uint64_t v;

	(void)events;
	serve_requests(w->p, REQUEST_DRAIN_MAX);
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	/* Several writes of one value between two reads count once, as they do on a bus. */
	xhci_doorbell(&w->p->x, w->index, w->value);
	w->p->mirror_fresh_at = UINT64_MAX;
}

static void unwatch_doorbell(struct xhci_process *p, struct doorbell_watch *w)
{
	if (w->fd < 0)
		return;
	event_loop_del_fd(p->loop, w->fd);
	close(w->fd);
	w->fd = -1;
}

/* The watch a DOORBELL_FD fills: the register's, or its value's (replaced, else a free one). */
static struct doorbell_watch *doorbell_watch_for(struct xhci_process *p,
						 const struct devproto_doorbell *db)
{
	struct doorbell_watch *free_one = NULL;

	if (!(db->flags & DEVPROTO_DOORBELL_VALUE))
		return &p->doorbells[db->index];
	for (unsigned int i = 0; i < DEVPROTO_MAX_VALUE_DOORBELLS; i++) {
		struct doorbell_watch *w = &p->value_doorbells[i];

		if (w->fd >= 0 && w->index == db->index && w->value == db->value)
			return w;
		if (w->fd < 0 && !free_one)
			free_one = w;
	}
	return free_one;
}

static struct devproto_reply do_doorbell_fd(struct xhci_process *p,
					    const struct devproto_doorbell *db, int fd)
{
	bool by_value = db->flags & DEVPROTO_DOORBELL_VALUE;
	struct doorbell_watch *w;

	/* As answer_hello declared: a bare eventfd for the command ring, value doorbells for slots. */
	if (db->index > XHCI_MAX_SLOTS || by_value != (db->index >= XHCI_DB_VALUE_FIRST)) {
		close(fd);
		return status(SVMM_E_INVALID);
	}
	w = doorbell_watch_for(p, db);
	if (!w) {
		log_warn("xhci: more than %u value doorbells; doorbell %u value 0x%x refused",
			 DEVPROTO_MAX_VALUE_DOORBELLS, db->index, db->value);
		close(fd);
		return status(SVMM_E_INVALID);
	}
	unwatch_doorbell(p, w);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (event_loop_add_fd(p->loop, fd, EPOLLIN, on_doorbell, w) < 0) {
		close(fd);
		return status(SVMM_E_INTERNAL);
	}
	w->index = db->index;
	w->value = db->value;
	w->fd = fd;
	return status(SVMM_OK);
}

static struct devproto_reply do_request(struct xhci_process *p, const struct devproto_msg *m,
					int fd)
{
	struct devproto_reply r = status(SVMM_OK);

	switch (m->type) {
	case DEVPROTO_HELLO:
		return r;
	case DEVPROTO_MEM_REGION: {
		int err = guest_memory_add(&p->x.mem, fd, m->u.mem.gpa, m->u.mem.size,
					   m->u.mem.offset);

		close(fd);
		return status(err < 0 ? SVMM_E_INVALID : SVMM_OK);
	}
	case DEVPROTO_CFG_READ:
		r.value = xhci_pci_read(&p->x, m->u.cfg.offset, m->u.cfg.size);
		return r;
	case DEVPROTO_CFG_WRITE:
		xhci_pci_write(&p->x, m->u.cfg.offset, m->u.cfg.size, (uint32_t)m->u.cfg.value);
		return r;
	case DEVPROTO_BAR_READ:
		r.value = xhci_bar_read(&p->x, m->u.bar.offset, m->u.bar.size);
		return r;
	case DEVPROTO_BAR_WRITE:
	case DEVPROTO_BAR_WRITE_POSTED:
		xhci_bar_write(&p->x, m->u.bar.offset, m->u.bar.size, m->u.bar.value);
		return r;
	case DEVPROTO_REG_MIRROR:
		return status(xhci_mirror_attach(&p->x, fd) < 0 ? SVMM_E_INTERNAL : SVMM_OK);
	case DEVPROTO_DOORBELL_FD:
		return do_doorbell_fd(p, &m->u.doorbell, fd);
	case DEVPROTO_IRQ_FD:
		if (m->u.irq.vector != DEVPROTO_IRQ_INTX && m->u.irq.vector >= XHCI_NUM_INTRS) {
			close(fd);
			return status(SVMM_E_INVALID);
		}
		xhci_irq_set_fd(&p->x, m->u.irq.vector, fd);
		return r;
	case DEVPROTO_USB_ATTACH:
		return do_attach(p, &m->u.attach, fd);
	case DEVPROTO_USB_DETACH:
		if (!xhci_port_get(&p->x, m->u.port.port))
			return status(SVMM_E_NO_SUCH_PORT);
		if (!xhci_port_get(&p->x, m->u.port.port)->dev)
			return status(SVMM_E_NO_SUCH_DEVICE);
		release_device(p, m->u.port.port);
		r.port = m->u.port.port;
		return r;
	case DEVPROTO_USB_PORT_INFO:
		return do_port_info(p, m->u.port.port);
	case DEVPROTO_SHUTDOWN:
		event_loop_stop(p->loop);
		return r;
	default:
		/* Events and replies are not requests. */
		if (fd >= 0)
			close(fd);
		return status(SVMM_E_INVALID);
	}
}

/*
 * The mirror refreshed and done_seq set: it now holds the effects of
 * everything that has run, which publish_registers need not redo unless
 * something runs after (a doorbell served in the same handler says so).
 */
static void mirror_done(struct xhci_process *p, uint32_t seq)
{
	xhci_mirror_done(&p->x, seq);
	p->mirror_fresh_at = event_loop_dispatches(p->loop);
}

/*
 * Serves one request; false when there is none (or the VMM is gone). A posted
 * write sets *posted_seq and *posted instead of touching the mirror: the
 * batch publishes once at its end (serve_requests), and a request the VMM
 * waits for publishes before its reply, covering the writes before it.
 */
static bool serve_one(struct xhci_process *p, uint32_t *posted_seq, bool *posted)
{
	struct devproto_reply r;
	struct devproto_msg m;
	const char *why = NULL;
	int fd = -1;
	int n;

	n = devproto_recv(p->request_sock, &m, &fd, &why);
	if (n == 0 || n == -ECONNRESET || n == -ENOTCONN) {
		event_loop_stop(p->loop);
		return false;
	}
	if (n == -EAGAIN || n == -EINTR)
		return false;
	if (n < 0) {
		/* A malformed message has no trustworthy seq to answer; it is dropped. */
		log_warn("xhci: bad request: %s", why ? why : "?");
		return true;
	}
	r = do_request(p, &m, fd);
	if (m.type == DEVPROTO_BAR_WRITE_POSTED) {
		*posted_seq = m.seq;
		*posted = true;
		return true;
	}
	/* Its effects are in the mirror before the VMM may rely on them. */
	mirror_done(p, m.seq);
	*posted = false;
	if (m.type == DEVPROTO_HELLO)
		answer_hello(p, &m);
	else
		reply(p, &m, r);
	return true;
}

static void serve_requests(struct xhci_process *p, unsigned int max)
{
	uint32_t posted_seq = 0;
	bool posted = false;

	for (unsigned int i = 0; i < max && serve_one(p, &posted_seq, &posted); i++)
		;
	if (posted)
		mirror_done(p, posted_seq);
}

static void on_request(void *opaque, uint32_t events)
{
	(void)events;
	serve_requests(opaque, REQUEST_BATCH);
}

/*
 * Before the loop sleeps, the mirror catches up with whatever ran (timers,
 * USB transfers, deferred calls). When the only thing that ran was serving
 * requests, it already has: serving refreshes it, and under TCG a refresh
 * is a good part of the device process's CPU time a TD.
 */
static void publish_registers(void *opaque)
{
	struct xhci_process *p = opaque;

	if (p->mirror_fresh_at == event_loop_dispatches(p->loop))
		return;
	xhci_mirror_publish(&p->x);
}

/*
 * How long the device process looks for the guest's next doorbell or
 * request without sleeping after it has served one. A wakeup on another CPU
 * costs tens of microseconds on a virtualised host (docs/performance.md);
 * SVMM_DEVICE_POLL_US sets it (0: never poll), for measurements.
 */
#define DEVICE_POLL_NS_DEFAULT 100000u
#define DEVICE_POLL_NS_MAX 10000000u

static uint64_t device_poll_ns(void)
{
	const char *s = getenv("SVMM_DEVICE_POLL_US");
	char *end;
	unsigned long us;

	if (!s || !*s)
		return DEVICE_POLL_NS_DEFAULT;
	errno = 0;
	us = strtoul(s, &end, 10);
	if (errno || *end || us > DEVICE_POLL_NS_MAX / 1000)
		return DEVICE_POLL_NS_DEFAULT;
	return (uint64_t)us * 1000u;
}

static void shutdown_all(struct xhci_process *p)
{
	for (unsigned int port = 1; port <= XHCI_NUM_PORTS; port++)
		release_device(p, port);
	/* Devices return cancelled transfers through deferred calls: let them run. */
	for (int i = 0; i < SHUTDOWN_DRAIN_ROUNDS; i++)
		event_loop_run_once(p->loop, 0);
	for (unsigned int i = 0; i < DEVPROTO_MAX_DOORBELLS; i++)
		unwatch_doorbell(p, &p->doorbells[i]);
	for (unsigned int i = 0; i < DEVPROTO_MAX_VALUE_DOORBELLS; i++)
		unwatch_doorbell(p, &p->value_doorbells[i]);
	event_loop_cancel_deferred(p->loop, &p->gone_later);
	xhci_release(&p->x);
}

int xhci_process_main(int request_sock, int event_sock)
{
	struct xhci_process *p;
	int ret = 0;

	log_set_role("xhci");
	p = calloc(1, sizeof(*p));
	if (!p)
		return 1;
	p->request_sock = request_sock;
	/* No dispatch has run yet, so the first wait refreshes the mirror. */
	p->mirror_fresh_at = UINT64_MAX;
	p->loop = event_loop_new();
	if (!p->loop) {
		free(p);
		return 1;
	}
	for (unsigned int i = 0; i < DEVPROTO_MAX_DOORBELLS; i++) {
		p->doorbells[i].p = p;
		p->doorbells[i].index = i;
		p->doorbells[i].fd = -1;
	}
	for (unsigned int i = 0; i < DEVPROTO_MAX_VALUE_DOORBELLS; i++) {
		p->value_doorbells[i].p = p;
		p->value_doorbells[i].fd = -1;
	}
	p->gone_later.fn = gone_deferred;
	p->gone_later.opaque = p;
	/* A VMM that does not read its events must not block the controller. */
	if (event_sock >= 0)
		fcntl(event_sock, F_SETFL, fcntl(event_sock, F_GETFL) | O_NONBLOCK);
	/*
	 * Requests are read until none is left (serve_requests); replies never
	 * block, since the VMM waits for each one before it sends the next
	 * request that needs one.
	 */
	fcntl(request_sock, F_SETFL, fcntl(request_sock, F_GETFL) | O_NONBLOCK);
	if (xhci_init(&p->x, p->loop, event_sock) < 0 ||
	    event_loop_add_fd(p->loop, request_sock, EPOLLIN, on_request, p) < 0) {
		ret = 1;
	} else {
		event_loop_set_before_wait(p->loop, publish_registers, p);
		event_loop_set_poll_ns(p->loop, device_poll_ns());
		if (event_loop_run(p->loop) < 0)
			ret = 1;
		event_loop_del_fd(p->loop, request_sock);
		shutdown_all(p);
	}
	event_loop_free(p->loop);
	free(p);
	return ret;
}

const char device_name[] = "xhci";

int device_main(int request_sock, int event_sock)
{
	return xhci_process_main(request_sock, event_sock);
}

int device_prepare(void)
{
	return xhci_process_prepare();
}

int xhci_process_prepare(void)
{
	int r = passthrough_host_init();

	if (r != 0) {
		log_err("cannot create the libusb context: %d", r);
		return -1;
	}
	return 0;
}
