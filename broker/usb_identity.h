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
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker_config.h"
#include "common/broker_protocol.h"

#define USB_CLASS_HUB 0x09
#define USB_CLASS_HID 0x03
#define USB_HID_SUBCLASS_BOOT 0x01
#define USB_HID_PROTOCOL_KEYBOARD 0x01
#define USB_HID_PROTOCOL_MOUSE 0x02

/* What the policy weighs besides what a reply carries. */
struct usb_traits {
	uint32_t hid_boot;	/* interfaces that are HID boot keyboards or mice (03/01/01, 03/01/02) */
	bool internal;		/* on a hard-wired port: "removable" says fixed, or the port's connect_type hardwired */
};

/*
 * Fills *d (and *t, when not NULL) for the device whose node has device
 * number rdev. Returns 0, or -ENODEV (no sysfs entry: unplugged, or not a USB
 * device), -EAGAIN (no configuration yet, or not all its interfaces: still
 * being enumerated, its classes cannot be judged) or -EINVAL (an attribute
 * missing or malformed, bus/device number not those of the node, an interface
 * number usbfs cannot mask) with a reason in why.
 */
int usb_identity_read(const struct broker_config *c, dev_t rdev, struct broker_device *d,
		      struct usb_traits *t, char *why, size_t whylen);

/* A hub, by its device class or any interface's class (09): never passed to a VM. */
bool usb_identity_is_hub(const struct broker_device *d);

/* A port path: "B-P[.P]...", bus and ports 1..255, one to six ports. */
bool usb_port_path_valid(const char *s);

#endif
