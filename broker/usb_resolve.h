/* SPDX-License-Identifier: MIT */
/*
 * Naming a device by what it is rather than where its node is: VID:PID,
 * VID:PID:SERIAL, or the port path it is plugged into (1-2.3). The broker
 * resolves the name to a node path through sysfs, then checks that path like
 * any other and compares the identity of the node it opened with the name,
 * so a device swapped in between resolution and open is not handed out.
 */
#ifndef SVMM_USB_RESOLVE_H
#define SVMM_USB_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker_config.h"
#include "common/broker_protocol.h"

/* Devices looked at when resolving, at most: a bound on a strange sysfs. */
#define USB_RESOLVE_MAX_DEVICES 1024u

struct usb_spec {
	bool by_port;
	uint16_t vendor;
	uint16_t product;
	char serial[BROKER_SERIAL_MAX];	/* "" matches any serial */
	char port[BROKER_PORT_PATH_MAX];
};

/* Parses "VVVV:PPPP[:SERIAL]" (hex) or a port path; -EINVAL when it is neither. */
int usb_spec_parse(const char *s, struct usb_spec *out);

/* Whether device d is the one spec names. */
bool usb_spec_matches(const struct usb_spec *spec, const struct broker_device *d);

/*
 * Finds the one device spec names under SYS/bus/usb/devices and writes its
 * node path (DEV_ROOT/BBB/DDD) to path. Returns 0, or with a reason in why:
 * -ENOENT nothing matches, -EEXIST more than one does (name the serial or
 * the port), -ENAMETOOLONG, or the error of listing sysfs.
 */
int usb_resolve(const struct broker_config *c, const struct usb_spec *spec, char *path,
		size_t pathlen, char *why, size_t whylen);

#endif
