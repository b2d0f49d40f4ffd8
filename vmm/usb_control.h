/* SPDX-License-Identifier: MIT */
/*
 * The control socket's requests carried out on the USB device process:
 * attach (a disk image the VMM opens; usbfs nodes wait for the broker),
 * detach, list, and stop.
 */
#ifndef SVMM_USB_CONTROL_H
#define SVMM_USB_CONTROL_H

#include "vmm/control_server.h"
#include "vmm/device_process.h"

/* What is on a port, as watchers are told. */
struct usb_port_record {
	struct control_port_entry device;	/* port 0: nothing recorded */
	char path[CONTROL_EVENT_PATH_MAX];
};

struct usb_control {
	struct device_process *dev;
	unsigned int nports;		/* ports 1..nports, as the device declared (struct devproto_desc) */
	int broker_sock;		/* the broker that opens usbfs nodes; -1: none */
	uint32_t broker_handle[DEVPROTO_MAX_PORTS + 1];	/* by port: the broker's handle, 0 if none */
	uint32_t lease[DEVPROTO_MAX_PORTS + 1];	/* by port: a follow lease (the device may be away), 0 if none */
	char follow_path[DEVPROTO_MAX_PORTS + 1][CONTROL_EVENT_PATH_MAX];	/* what each lease follows */
	void (*stop)(void *opaque);	/* ends the VM with status 0, after the reply */
	void *stop_opaque;
	struct usb_port_record ports[DEVPROTO_MAX_PORTS + 1];	/* by port */
	void (*event)(void *opaque, const struct control_event *e);	/* NULL: nobody listens */
	void *event_opaque;
};

extern const struct control_ops usb_control_ops;

/*
 * Carries out an attach request as if it came on the control socket (boot-time
 * attaches use it); rep says how it went.
 */
void usb_control_attach(struct usb_control *u, const struct control_request *req, int image_fd,
			struct control_reply *rep);

/* Whether the VM keeps a follow lease: then the broker may send a device back at any time. */
bool usb_control_has_leases(const struct usb_control *u);

/* Attaches the followed devices the broker sent back (broker_client_take_back), each on its old port. */
void usb_control_take_backs(struct usb_control *u);

/* A device left port on its own: the broker may give it to another VM. */
void usb_control_port_gone(void *opaque, unsigned int port);

#endif
