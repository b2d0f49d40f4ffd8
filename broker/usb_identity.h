/* SPDX-License-Identifier: MIT */
/*
 * What a usbfs node is: vendor, product, classes, serial, bus, device number,
 * speed and port path, read from sysfs (SYS/dev/char/MAJ:MIN/) for the device
 * number of the node the broker holds, never for a name the requester gave.
 */
#ifndef SVMM_USB_IDENTITY_H
#define SVMM_USB_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "broker_config.h"
#include "broker_protocol.h"

#define USB_CLASS_HUB 0x09

/*
 * Fills *d for the device whose node has device number rdev. Returns 0, or
 * -ENODEV (no sysfs entry: unplugged, or not a USB device) or -EINVAL (an
 * attribute missing or malformed, bus/device number not those of the node,
 * an interface number usbfs cannot mask) with a reason in why.
 */
int usb_identity_read(const struct broker_config *c, dev_t rdev, struct broker_device *d,
		      char *why, size_t whylen);

/* A hub, by its device class or any interface's class (09): never passed to a VM. */
bool usb_identity_is_hub(const struct broker_device *d);

/* A port path: "B-P[.P]...", bus and ports 1..255, one to six ports. */
bool usb_port_path_valid(const char *s);

#endif
