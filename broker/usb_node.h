/* SPDX-License-Identifier: MIT */
/*
 * A usbfs device node, found without trusting the path that named it.
 *
 * usb_node_lookup() walks the path one component at a time from the device
 * root with O_PATH|O_NOFOLLOW, so no symbolic link is ever followed, not even
 * one inside /dev/bus/usb that points at another node there: udev makes real
 * nodes, a link is something someone planted. The final handle must be a
 * character device with the usbfs major whose real path is below the root.
 * usb_node_open() then re-opens that very inode through /proc/self/fd, so a
 * rename or a link swapped in after the checks cannot redirect the open.
 */
#ifndef SVMM_USB_NODE_H
#define SVMM_USB_NODE_H

#include <stddef.h>
#include <sys/types.h>

#include "broker/broker_config.h"

struct usb_node {
	int path_fd;		/* O_PATH handle on the checked node, -1 when closed */
	dev_t rdev;		/* its device number: usbfs minor = (bus-1)*128 + (dev-1) */
	dev_t dev;		/* the inode the handle names, to check re-opens */
	ino_t ino;
};

/*
 * Checks path and fills *n. Returns 0, or a negative errno with a reason in
 * why: -ENOENT no such node (or no device root), -EPERM outside the root, a
 * '..' or '.' component, a symbolic link, not a character device, wrong
 * major; -EINVAL not absolute or an empty component; -ENAMETOOLONG.
 */
int usb_node_lookup(const struct broker_config *c, const char *path, struct usb_node *n,
		    char *why, size_t whylen);

/* Opens the checked node read-write, close-on-exec: 0 and *fd, or -errno with why. */
int usb_node_open(const struct usb_node *n, int *fd, char *why, size_t whylen);

/* Closes the handle (harmless on a closed node). */
void usb_node_close(struct usb_node *n);

#endif
