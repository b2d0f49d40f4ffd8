/* SPDX-License-Identifier: MIT */
/*
 * Taking a device back from every fd opened on it. usbfs has no revoke: an
 * open fd works until its device disconnects, and de-authorising the device
 * (authorized 0, then 1) leaves it working. Writing 1 to the `disable`
 * attribute of the port the device is on disconnects it before the write
 * returns (usb_disconnect): every fd of it, wherever it went, then answers
 * ENODEV. Writing 0 powers the port again and the device enumerates anew,
 * with a new device number and a new node, checked like any other.
 *
 * The port is the one of the parent hub (sysfs's "port" link of the device:
 * usbB-portP under a root hub, B-H-portP under an external hub H), opened
 * when the device is handed out, so that the port revoked is the one the
 * device held was on.
 */
#ifndef SVMM_USB_REVOKE_H
#define SVMM_USB_REVOKE_H

#include <stddef.h>
#include <sys/types.h>

#include "broker/broker_config.h"

struct usbfs_ops;

/*
 * Opens the directory of the port the device with node rdev and port path
 * port_path ("1-2.3") is on: 0 and *port_fd (O_PATH), or -errno with why:
 * -ENOENT no "port" link (a kernel without one), -EINVAL a link to anything
 * but that port.
 */
int usb_revoke_open_port(const struct broker_config *c, dev_t rdev, const char *port_path,
			 int *port_fd, char *why, size_t whylen);

enum usb_revoke_result {
	USB_REVOKED = 0,		/* every fd answers ENODEV; the device enumerates anew */
	USB_REVOKED_PORT_OFF = 1,	/* every fd answers ENODEV; the port stayed off (replug) */
};

/*
 * Disables the port, checks on the broker's own fd of the device (keep_fd)
 * that it is disconnected, and enables the port again. Returns a
 * usb_revoke_result, or -errno with why when the fds may still work.
 * A device already gone (keep_fd says ENODEV) needs nothing: USB_REVOKED,
 * and the port, where another device may be now, is left alone.
 */
int usb_revoke(const struct usbfs_ops *usbfs, int port_fd, int keep_fd, char *why, size_t whylen);

#endif
