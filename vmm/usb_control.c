/* SPDX-License-Identifier: MIT */
#include "vmm/usb_control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker_client.h"
#include "common/log.h"
#include "common/monotonic.h"

/* Sends req; on failure fills rep and returns false. */
static bool usb_request(struct usb_control *u, struct devproto_msg *req, int fd,
			struct devproto_reply *reply, struct control_reply *rep)
{
	int r = device_process_request(u->dev, req, fd, reply);

	if (r == -ENODEV || (r < 0 && device_process_is_dead(u->dev))) {
		control_reply_error(rep, SVMM_E_DEVICE_DEAD, "the USB controller's process is dead");
		return false;
	}
	if (r < 0) {
		control_reply_error(rep, SVMM_E_INTERNAL, "%s", strerror(-r));
		return false;
	}
	if (reply->status != SVMM_OK) {
		control_reply_error(rep, reply->status, "the controller refused: %s",
				    svmm_status_name(reply->status));
		return false;
	}
	return true;
}

static void emit(struct usb_control *u, struct control_event *e)
{
	if (u->event)
		u->event(u->event_opaque, e);
}

/* Asks the controller what is on port; 0, -ENOENT if nothing, or -errno. */
static int port_info(struct usb_control *u, unsigned int port, struct control_port_entry *e,
		     unsigned int *status)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_PORT_INFO, 0);
	struct devproto_reply reply;
	int r;

	m.u.port.port = port;
	r = device_process_request(u->dev, &m, -1, &reply);
	if (r < 0)
		return r;
	*status = reply.status;
	/* An empty port answers no_such_device, or ok with no speed. */
	if (reply.status == SVMM_E_NO_SUCH_DEVICE ||
	    (reply.status == SVMM_OK && reply.info.speed == DEVPROTO_SPEED_NONE))
		return -ENOENT;
	if (reply.status != SVMM_OK)
		return -EPROTO;
	memset(e, 0, sizeof(*e));
	e->port = port;
	e->vendor = reply.info.vendor;
	e->product = reply.info.product;
	e->speed = reply.info.speed;
	e->kind = reply.info.kind;
	e->busnum = (uint8_t)reply.info.busnum;
	e->devnum = (uint8_t)reply.info.devnum;
	return 0;
}

/* A device went on port: recorded, and the watchers told. */
static void record_attached(struct usb_control *u, unsigned int port, const char *path,
			    enum control_event_kind kind)
{
	struct usb_port_record *rec = &u->ports[port];
	struct control_event e;
	unsigned int status;

	memset(rec, 0, sizeof(*rec));
	if (port_info(u, port, &rec->device, &status) < 0) {
		rec->device.port = port;
		log_debug("port %u: no details for the watchers", port);
	}
	snprintf(rec->path, sizeof(rec->path), "%s", path);
	control_event_init(&e, kind, path);
	e.device = rec->device;
	emit(u, &e);
}

/* The device on port left (detached or gone): the watchers told, the record cleared. */
static void record_left(struct usb_control *u, unsigned int port, enum control_event_kind kind)
{
	struct usb_port_record *rec;
	struct control_event e;

	if (port == 0 || port > DEVPROTO_MAX_PORTS)
		return;
	rec = &u->ports[port];
	control_event_init(&e, kind, rec->path);
	e.device = rec->device;
	e.device.port = port;
	memset(rec, 0, sizeof(*rec));
	emit(u, &e);
}

static void emit_refused(struct usb_control *u, const struct control_request *req,
			 const struct control_reply *rep)
{
	struct control_event e;

	control_event_init(&e, CONTROL_EVENT_REFUSED, req->path);
	e.status = rep->status;
	memcpy(e.message, rep->message, sizeof(e.message));
	e.message[sizeof(e.message) - 1] = '\0';
	emit(u, &e);
}

/*
 * Tells the broker this VM no longer holds the device on port (detached,
 * gone, or refused). With keep_lease (the device left by itself) a follow
 * lease stays, and the broker sends the device back when it returns.
 */
static void release_port(struct usb_control *u, unsigned int port, bool keep_lease)
{
	struct broker_reply reply;
	uint32_t handle;
	int r;

	if (port == 0 || port > DEVPROTO_MAX_PORTS || !u->broker_handle[port])
		return;
	handle = u->broker_handle[port];
	u->broker_handle[port] = 0;
	keep_lease = keep_lease && u->lease[port];
	if (!keep_lease)
		u->lease[port] = 0;
	r = broker_release_flags(u->broker_sock, handle, keep_lease ? BROKER_RELEASE_KEEP_LEASE : 0,
				 &reply);
	if (r < 0 || reply.status != SVMM_OK)
		log_warn("the broker did not release port %u's device: %s", port,
			 r < 0 ? strerror(-r) : reply.reason);
}

/*
 * A disk image: the client opened it with its user's rights and passed the fd,
 * so the VMM resolves no path on anyone's behalf. It must be a regular file or
 * a block device, open for writing unless the attach is read-only.
 */
static void attach_image(struct usb_control *u, const struct control_request *req, int fd,
			 struct control_reply *rep)
{
	bool ro = req->flags & CONTROL_ATTACH_READONLY;
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);
	struct devproto_reply reply;
	struct stat st;
	int mode;

	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		control_reply_error(rep, SVMM_E_FAILED_TO_OPEN_DEVICE,
				    "%s: not a regular file or block device", req->path);
		return;
	}
	mode = fcntl(fd, F_GETFL);
	if (mode < 0 || (!ro && (mode & O_ACCMODE) != O_RDWR) || (mode & O_ACCMODE) == O_WRONLY) {
		control_reply_error(rep, SVMM_E_FAILED_TO_OPEN_DEVICE, "%s: not open for %s", req->path,
				    ro ? "reading" : "reading and writing");
		return;
	}
	m.u.attach.kind = DEVPROTO_ATTACH_IMAGE;
	m.u.attach.flags = ro ? DEVPROTO_ATTACH_READONLY : 0;
	if (usb_request(u, &m, fd, &reply, rep)) {
		rep->port = reply.port;
		log_info("attached image %s%s on port %u", req->path, ro ? " (read-only)" : "",
			 reply.port);
	}
}

/* The device process's attach of a usbfs node the broker granted (port 0: any free one). */
static void usbfs_attach_msg(struct devproto_msg *m, const struct broker_reply *br,
			     unsigned int port)
{
	*m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);
	m->u.attach.kind = DEVPROTO_ATTACH_USBFS;
	m->u.attach.busnum = br->device.busnum;
	m->u.attach.devnum = br->device.devnum;
	m->u.attach.port = port;
	if (br->flags & BROKER_FLAG_MAY_DETACH)
		m->u.attach.flags |= DEVPROTO_ATTACH_MAY_DETACH;
	if (br->flags & BROKER_FLAG_RESTRICTED) {
		m->u.attach.flags |= DEVPROTO_ATTACH_RESTRICTED;
		m->u.attach.allowed_interfaces = br->allowed;
	}
}

/* A host device: the broker checks it against the policy and opens it; the VMM only relays the fd. */
static void attach_host_device(struct usb_control *u, const struct control_request *req,
			       struct control_reply *rep)
{
	enum broker_target target = req->target == CONTROL_TARGET_ID ? BROKER_TARGET_ID : BROKER_TARGET_NODE;
	struct devproto_msg m;
	struct devproto_reply reply;
	struct broker_reply br;
	int fd = -1, r;

	if (u->broker_sock < 0) {
		control_reply_error(rep, SVMM_E_FAILED_TO_OPEN_DEVICE, "no broker to open %s", req->path);
		return;
	}
	r = broker_open_flags(u->broker_sock, target, req->path,
			      req->flags & CONTROL_ATTACH_FOLLOW ? BROKER_OPEN_FOLLOW : 0, &br, &fd);
	if (r < 0) {
		control_reply_error(rep, SVMM_E_FAILED_TO_OPEN_DEVICE, "the broker did not answer: %s",
				    strerror(-r));
		return;
	}
	if (br.status != SVMM_OK) {
		control_reply_error(rep, br.status, "%s", br.reason);
		return;
	}
	usbfs_attach_msg(&m, &br, 0);
	if (usb_request(u, &m, fd, &reply, rep) && reply.port >= 1 && reply.port <= DEVPROTO_MAX_PORTS) {
		rep->port = reply.port;
		u->broker_handle[reply.port] = br.handle;
		u->lease[reply.port] = br.lease;
		if (br.lease)
			snprintf(u->follow_path[reply.port], sizeof(u->follow_path[0]), "%.*s",
				 (int)sizeof(u->follow_path[0]) - 1, req->path);
		log_info("attached %s (%04x:%04x, bus %u device %u) on port %u%s", req->path,
			 br.device.vendor, br.device.product, br.device.busnum, br.device.devnum,
			 reply.port, br.lease ? ", followed" : "");
	} else {
		struct broker_reply rr;

		/* Not attached after all: the device is free again for this or another VM. */
		if (rep->status == SVMM_OK)
			control_reply_error(rep, SVMM_E_INTERNAL, "the controller gave port %u", reply.port);
		if (broker_release(u->broker_sock, br.handle, &rr) < 0)
			log_warn("the broker did not take %s back", req->path);
	}
	close(fd);	/* the device process holds its own copy */
}

void usb_control_attach(struct usb_control *u, const struct control_request *req, int image_fd,
			struct control_reply *rep)
{
	if (req->target == CONTROL_TARGET_IMAGE)
		attach_image(u, req, image_fd, rep);
	else
		attach_host_device(u, req, rep);
	if (rep->status != SVMM_OK)
		emit_refused(u, req, rep);
	else if (rep->port >= 1 && rep->port <= DEVPROTO_MAX_PORTS)
		record_attached(u, rep->port, req->path, CONTROL_EVENT_ATTACHED);
}

static void usb_attach(void *opaque, const struct control_request *req, int image_fd,
		       struct control_reply *rep)
{
	usb_control_attach(opaque, req, image_fd, rep);
}

static void usb_detach(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	struct usb_control *u = opaque;
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_DETACH, 0);
	struct devproto_reply reply;
	int64_t t0 = monotonic_ms(), t1;

	if (req->port > DEVPROTO_MAX_PORTS || (u->nports && req->port > u->nports)) {
		control_reply_error(rep, SVMM_E_NO_SUCH_PORT, "port %u does not exist (%u ports)",
				    req->port, u->nports);
		return;
	}
	m.u.port.port = req->port;
	if (usb_request(u, &m, -1, &reply, rep)) {
		t1 = monotonic_ms();
		rep->port = req->port;
		release_port(u, req->port, false);
		record_left(u, req->port, CONTROL_EVENT_DETACHED);
		log_info("detached port %u (the controller took %lld ms, the broker %lld ms)", req->port,
			 (long long)(t1 - t0), (long long)(monotonic_ms() - t1));
	}
}

void usb_control_port_gone(void *opaque, unsigned int port)
{
	struct usb_control *u = opaque;

	/* The decoder kept port within 1..DEVPROTO_MAX_PORTS; the device declared how many it has. */
	if (port > u->nports) {
		log_warn("the device process says a device left port %u, which it does not have", port);
		return;
	}
	log_info("USB device on port %u left", port);
	release_port(u, port, true);
	record_left(u, port, CONTROL_EVENT_GONE);
}

bool usb_control_has_leases(const struct usb_control *u)
{
	for (unsigned int port = 1; port <= DEVPROTO_MAX_PORTS; port++) {
		if (u->lease[port])
			return true;
	}
	return false;
}

static unsigned int port_of_lease(const struct usb_control *u, uint32_t lease)
{
	for (unsigned int port = 1; port <= DEVPROTO_MAX_PORTS && lease; port++) {
		if (u->lease[port] == lease)
			return port;
	}
	return 0;
}

/* A grant the VMM does not use: back to the broker, the lease kept (or ended, if unknown here). */
static void give_back(struct usb_control *u, uint32_t handle, bool keep_lease)
{
	struct broker_reply rr;

	if (broker_release_flags(u->broker_sock, handle, keep_lease ? BROKER_RELEASE_KEEP_LEASE : 0,
				 &rr) < 0)
		log_warn("the broker did not take handle %u back", handle);
}

static void emit_back_refused(struct usb_control *u, const char *path, enum svmm_status status,
			      const char *reason)
{
	struct control_event e;

	control_event_init(&e, CONTROL_EVENT_REFUSED, path);
	e.status = status;
	snprintf(e.message, sizeof(e.message), "%s", reason);
	emit(u, &e);
}

/*
 * Attaches a device the broker sent unasked, on port if that is free (0:
 * any free one), else on any; the device process holds its own copy of fd.
 * Returns the port, or 0 when it could not be attached: then the grant went
 * back to the broker (keep_lease: its lease waits on) and the watchers know.
 */
static unsigned int attach_sent(struct usb_control *u, const struct broker_reply *br, int fd,
				unsigned int port, const char *what, bool keep_lease)
{
	struct devproto_msg m;
	struct devproto_reply reply;
	struct control_reply rep;

	usbfs_attach_msg(&m, br, port);
	control_reply_init(&rep, CONTROL_USB_ATTACH);
	if (!usb_request(u, &m, fd, &reply, &rep) && port && rep.status == SVMM_E_NO_AVAILABLE_PORT) {
		/* Its port was taken while it was away. */
		usbfs_attach_msg(&m, br, 0);
		control_reply_init(&rep, CONTROL_USB_ATTACH);
		usb_request(u, &m, fd, &reply, &rep);
	}
	close(fd);
	if (rep.status != SVMM_OK || reply.port < 1 || reply.port > DEVPROTO_MAX_PORTS) {
		log_warn("%s (%04x:%04x) came from the broker but cannot be attached: %s", what,
			 br->device.vendor, br->device.product, rep.message);
		give_back(u, br->handle, keep_lease);
		emit_back_refused(u, what, (enum svmm_status)rep.status, rep.message);
		return 0;
	}
	u->broker_handle[reply.port] = br->handle;
	return reply.port;
}

/* A device a policy `to` rule gives this VM: on any free port, as if attached by a request. */
static void take_given(struct usb_control *u, const struct broker_reply *br, int fd)
{
	char node[CONTROL_EVENT_PATH_MAX];
	unsigned int port;

	snprintf(node, sizeof(node), "/dev/bus/usb/%03u/%03u", br->device.busnum, br->device.devnum);
	port = attach_sent(u, br, fd, 0, node, false);
	if (!port)
		return;
	log_info("attached %s (%04x:%04x), given by the broker (%s), on port %u", node,
		 br->device.vendor, br->device.product, br->reason, port);
	record_attached(u, port, node, CONTROL_EVENT_ATTACHED);
}

/*
 * A followed device is back: on its old port if that is free (the guest
 * sees the same port come back), else on any. A refusal (the policy, or a
 * successor no rule names) is told to the watchers; the lease waits on.
 */
static void take_back(struct usb_control *u, const struct broker_reply *br, int fd)
{
	unsigned int port = port_of_lease(u, br->lease), now;
	const char *what;

	if (!port) {
		/* A lease this VMM ended meanwhile: the device is not wanted. */
		if (br->status == SVMM_OK)
			give_back(u, br->handle, false);
		if (fd >= 0)
			close(fd);
		return;
	}
	what = u->follow_path[port];
	if (br->status != SVMM_OK) {
		log_info("followed device %s came back and was refused: %s", what, br->reason);
		emit_back_refused(u, what, br->status, br->reason);
		return;
	}
	now = attach_sent(u, br, fd, u->broker_handle[port] ? 0 : port, what, true);
	if (!now)
		return;
	if (now != port) {
		u->lease[now] = br->lease;
		memcpy(u->follow_path[now], u->follow_path[port], sizeof(u->follow_path[0]));
		u->lease[port] = 0;
	}
	log_info("followed device %s is back (%04x:%04x, bus %u device %u) on port %u",
		 u->follow_path[now], br->device.vendor, br->device.product, br->device.busnum,
		 br->device.devnum, now);
	record_attached(u, now, u->follow_path[now], CONTROL_EVENT_BACK);
}

void usb_control_take_backs(struct usb_control *u)
{
	struct broker_reply br;
	int fd;

	for (unsigned int i = 0; i < BROKER_CLIENT_MAX_BACKS && broker_client_take_back(&br, &fd); i++) {
		if (br.type == BROKER_BACK)
			take_back(u, &br, fd);
		else
			take_given(u, &br, fd);
	}
}

static void usb_list(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	struct usb_control *u = opaque;

	(void)req;
	/* A controller that died before it said how many ports it has has none to list. */
	if (device_process_is_dead(u->dev)) {
		control_reply_error(rep, SVMM_E_DEVICE_DEAD, "the USB controller's process is dead");
		return;
	}
	rep->ports_total = u->nports;
	for (unsigned int port = 1; port <= u->nports && port <= DEVPROTO_MAX_PORTS; port++) {
		struct control_port_entry e;
		unsigned int status = SVMM_OK;
		int r = port_info(u, port, &e, &status);

		if (r == -ENOENT)
			continue;
		if (r == -EPROTO) {
			control_reply_error(rep, status, "port %u: %s", port,
					    svmm_status_name(status));
			rep->count = 0;
			return;
		}
		if (r < 0) {
			control_reply_error(rep, device_process_is_dead(u->dev) ? SVMM_E_DEVICE_DEAD
										   : SVMM_E_INTERNAL,
					    "cannot query port %u", port);
			rep->count = 0;
			return;
		}
		if (rep->count == CONTROL_LIST_MAX)
			break;
		rep->ports[rep->count++] = e;
	}
}

static void usb_stop(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	struct usb_control *u = opaque;

	(void)req;
	(void)rep;
	log_info("stop requested on the control socket");
	u->stop(u->stop_opaque);
}

const struct control_ops usb_control_ops = {
	.attach = usb_attach,
	.detach = usb_detach,
	.list = usb_list,
	.stop = usb_stop,
};
