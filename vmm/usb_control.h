/* SPDX-License-Identifier: MIT */
/*
 * The control socket's requests carried out on the USB device process:
 * attach (a disk image the VMM opens; usbfs nodes wait for the broker),
 * detach, list, and stop.
 */
#ifndef SVMM_USB_CONTROL_H
#define SVMM_USB_CONTROL_H

#include "control_server.h"
#include "device_process.h"

struct usb_control {
	struct device_process *dev;
	unsigned int nports;		/* ports 1..nports, as the device declared (struct devproto_desc) */
	int broker_sock;		/* the broker that opens usbfs nodes; -1: none */
	uint32_t broker_handle[DEVPROTO_MAX_PORTS + 1];	/* by port: the broker's handle, 0 if none */
	void (*stop)(void *opaque);	/* ends the VM with status 0, after the reply */
	void *stop_opaque;
};

extern const struct control_ops usb_control_ops;

/* A device left port on its own: the broker may give it to another VM. */
void usb_control_port_gone(void *opaque, unsigned int port);

/* The control status for a device reply status. */
enum control_status usb_control_status(unsigned int devproto_status);

#endif
