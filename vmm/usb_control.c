/* SPDX-License-Identifier: MIT */
#include "usb_control.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_client.h"
#include "log.h"
#include "monotonic.h"

enum control_status usb_control_status(unsigned int s)
{
	switch (s) {
	case DEVPROTO_OK: return CONTROL_OK;
	case DEVPROTO_E_INVALID: return CONTROL_E_INVALID;
	case DEVPROTO_E_NO_AVAILABLE_PORT: return CONTROL_E_NO_AVAILABLE_PORT;
	case DEVPROTO_E_NO_SUCH_PORT: return CONTROL_E_NO_SUCH_PORT;
	case DEVPROTO_E_NO_SUCH_DEVICE: return CONTROL_E_NO_SUCH_DEVICE;
	case DEVPROTO_E_FAILED_TO_OPEN_DEVICE: return CONTROL_E_FAILED_TO_OPEN_DEVICE;
	case DEVPROTO_E_DEVICE_DEAD: return CONTROL_E_DEVICE_DEAD;
	default: return CONTROL_E_INTERNAL;
	}
}

/* Sends req; on failure fills rep and returns false. */
static bool usb_request(struct usb_control *u, struct devproto_msg *req, int fd,
			struct devproto_reply *reply, struct control_reply *rep)
{
	int r = device_process_request(u->dev, req, fd, reply);

	if (r == -ENODEV || (r < 0 && device_process_is_dead(u->dev))) {
		control_reply_error(rep, CONTROL_E_DEVICE_DEAD, "the USB controller's process is dead");
		return false;
	}
	if (r < 0) {
		control_reply_error(rep, CONTROL_E_INTERNAL, "%s", strerror(-r));
		return false;
	}
	if (reply->status != DEVPROTO_OK) {
		control_reply_error(rep, usb_control_status(reply->status), "the controller refused: %s",
				    devproto_status_name(reply->status));
		return false;
	}
	return true;
}

/* Tells the broker this VM no longer holds the device on port (detached, gone, or refused). */
static void release_port(struct usb_control *u, unsigned int port)
{
	struct broker_reply reply;
	uint32_t handle;
	int r;

	if (port == 0 || port > DEVPROTO_MAX_PORTS || !u->broker_handle[port])
		return;
	handle = u->broker_handle[port];
	u->broker_handle[port] = 0;
	r = broker_release(u->broker_sock, handle, &reply);
	if (r < 0 || reply.status != BROKER_OK)
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
		control_reply_error(rep, CONTROL_E_FAILED_TO_OPEN_DEVICE,
				    "%s: not a regular file or block device", req->path);
		return;
	}
	mode = fcntl(fd, F_GETFL);
	if (mode < 0 || (!ro && (mode & O_ACCMODE) != O_RDWR) || (mode & O_ACCMODE) == O_WRONLY) {
		control_reply_error(rep, CONTROL_E_FAILED_TO_OPEN_DEVICE, "%s: not open for %s", req->path,
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

/* A host device: the broker checks it against the policy and opens it; the VMM only relays the fd. */
static void attach_host_device(struct usb_control *u, const struct control_request *req,
			       struct control_reply *rep)
{
	enum broker_target target = req->target == CONTROL_TARGET_ID ? BROKER_TARGET_ID : BROKER_TARGET_NODE;
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);
	struct devproto_reply reply;
	struct broker_reply br;
	int fd = -1, r;

	if (u->broker_sock < 0) {
		control_reply_error(rep, CONTROL_E_FAILED_TO_OPEN_DEVICE, "no broker to open %s", req->path);
		return;
	}
	r = broker_open(u->broker_sock, target, req->path, &br, &fd);
	if (r < 0) {
		control_reply_error(rep, CONTROL_E_FAILED_TO_OPEN_DEVICE, "the broker did not answer: %s",
				    strerror(-r));
		return;
	}
	if (br.status != BROKER_OK) {
		control_reply_error(rep, broker_control_status(br.status), "%s", br.reason);
		return;
	}
	m.u.attach.kind = DEVPROTO_ATTACH_USBFS;
	m.u.attach.busnum = br.device.busnum;
	m.u.attach.devnum = br.device.devnum;
	if (br.flags & BROKER_FLAG_MAY_DETACH)
		m.u.attach.flags |= DEVPROTO_ATTACH_MAY_DETACH;
	if (br.flags & BROKER_FLAG_RESTRICTED) {
		m.u.attach.flags |= DEVPROTO_ATTACH_RESTRICTED;
		m.u.attach.allowed_interfaces = br.allowed;
	}
	if (usb_request(u, &m, fd, &reply, rep) && reply.port >= 1 && reply.port <= DEVPROTO_MAX_PORTS) {
		rep->port = reply.port;
		u->broker_handle[reply.port] = br.handle;
		log_info("attached %s (%04x:%04x, bus %u device %u) on port %u", req->path,
			 br.device.vendor, br.device.product, br.device.busnum, br.device.devnum,
			 reply.port);
	} else {
		struct broker_reply rr;

		/* Not attached after all: the device is free again for this or another VM. */
		if (rep->status == CONTROL_OK)
			control_reply_error(rep, CONTROL_E_INTERNAL, "the controller gave port %u", reply.port);
		if (broker_release(u->broker_sock, br.handle, &rr) < 0)
			log_warn("the broker did not take %s back", req->path);
	}
	close(fd);	/* the device process holds its own copy */
}

static void usb_attach(void *opaque, const struct control_request *req, int image_fd,
		       struct control_reply *rep)
{
	struct usb_control *u = opaque;

	if (req->target == CONTROL_TARGET_IMAGE)
		attach_image(u, req, image_fd, rep);
	else
		attach_host_device(u, req, rep);
}

static void usb_detach(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	struct usb_control *u = opaque;
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_DETACH, 0);
	struct devproto_reply reply;
	int64_t t0 = monotonic_ms(), t1;

	if (req->port > DEVPROTO_MAX_PORTS || (u->nports && req->port > u->nports)) {
		control_reply_error(rep, CONTROL_E_NO_SUCH_PORT, "port %u does not exist (%u ports)",
				    req->port, u->nports);
		return;
	}
	m.u.port.port = req->port;
	if (usb_request(u, &m, -1, &reply, rep)) {
		t1 = monotonic_ms();
		rep->port = req->port;
		release_port(u, req->port);
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
	release_port(u, port);
}

static void usb_list(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	struct usb_control *u = opaque;

	(void)req;
	/* A controller that died before it said how many ports it has has none to list. */
	if (device_process_is_dead(u->dev)) {
		control_reply_error(rep, CONTROL_E_DEVICE_DEAD, "the USB controller's process is dead");
		return;
	}
	rep->ports_total = u->nports;
	for (unsigned int port = 1; port <= u->nports && port <= DEVPROTO_MAX_PORTS; port++) {
		struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_PORT_INFO, 0);
		struct devproto_reply reply;
		struct control_port_entry *e;
		int r;

		m.u.port.port = port;
		r = device_process_request(u->dev, &m, -1, &reply);
		if (r < 0) {
			control_reply_error(rep, device_process_is_dead(u->dev) ? CONTROL_E_DEVICE_DEAD
										   : CONTROL_E_INTERNAL,
					    "cannot query port %u", port);
			rep->count = 0;
			return;
		}
		/* An empty port answers no_such_device, or ok with no speed. */
		if (reply.status == DEVPROTO_E_NO_SUCH_DEVICE ||
		    (reply.status == DEVPROTO_OK && reply.info.speed == DEVPROTO_SPEED_NONE))
			continue;
		if (reply.status != DEVPROTO_OK) {
			control_reply_error(rep, usb_control_status(reply.status), "port %u: %s", port,
					    devproto_status_name(reply.status));
			rep->count = 0;
			return;
		}
		if (rep->count == CONTROL_LIST_MAX)
			break;
		e = &rep->ports[rep->count++];
		e->port = port;
		e->vendor = reply.info.vendor;
		e->product = reply.info.product;
		e->speed = reply.info.speed;
		e->kind = reply.info.kind;
		e->busnum = (uint8_t)reply.info.busnum;
		e->devnum = (uint8_t)reply.info.devnum;
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
