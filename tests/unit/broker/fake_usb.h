/* SPDX-License-Identifier: MIT */
/*
 * Fake usbfs and sysfs trees under /var/tmp for broker tests: this machine
 * has no USB core, so the broker's roots point here instead (struct
 * broker_config). Nodes are real character devices made with mknod (the
 * tests run as root). With major 189 they pass every check but cannot be
 * opened (no usbfs driver); with the stand-in major 1 (memory devices) they
 * open, so a whole OPEN can run: minors 3, 5, 7, 8, 9 (null, zero, full,
 * random, urandom), i.e. bus 1 devices 4, 6, 8, 9, 10.
 */
#ifndef SVMM_TEST_FAKE_USB_H
#define SVMM_TEST_FAKE_USB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker_config.h"

struct fake_usb {
	char root[128];
	char dev[160];
	char sys[160];
	unsigned int major;
	struct broker_config cfg;
};

struct fake_dev {
	unsigned int bus, dev;
	uint16_t vendor, product;
	uint8_t device_class;
	const char *serial;	/* NULL: no serial attribute */
	const char *devpath;	/* "2", "2.3" */
	unsigned int nif;
	uint8_t if_class[4];
	uint8_t if_subclass[4];
	uint8_t if_protocol[4];
	uint8_t if_num[4];	/* interface numbers; 0,1,2,3 when all zero */
	const char *speed;	/* "480" when NULL */
	const char *removable;	/* the device's "removable"; NULL: none */
	const char *connect_type;	/* its port's; "hotplug" when NULL */
};

/*
 * usbfs as the broker speaks it, recorded: the stand-in nodes have no usbfs
 * driver. fake_usb_setup() points cfg.usbfs here and clears it; tests read
 * the calls and may make drop_privileges fail.
 */
#define FAKE_USBFS_MAX_CALLS 64

enum fake_usbfs_op { FAKE_USBFS_DROP, FAKE_USBFS_DETACH, FAKE_USBFS_ATTACH };

struct fake_usbfs_call {
	enum fake_usbfs_op op;
	dev_t rdev;		/* of the fd it was made on */
	int fd;
	uint32_t mask;
};

struct fake_usbfs {
	unsigned int ncalls;
	struct fake_usbfs_call calls[FAKE_USBFS_MAX_CALLS];
	int drop_error;		/* what drop_privileges returns (0: it works) */
	uint32_t drivers;	/* interfaces with a host driver: detach takes them, attach gives back */
};

extern struct fake_usbfs fake_usbfs;

/* Calls of op on device rdev; *last (if not NULL) the last one's mask. */
unsigned int fake_usbfs_count(enum fake_usbfs_op op, dev_t rdev, uint32_t *last);

/* Makes ROOT/dev and ROOT/sys; nodes get this major (189 or the stand-in 1). */
void fake_usb_setup(struct fake_usb *f, unsigned int major);
/*
 * Adds a node DEV/BBB/DDD and its sysfs entry (devices/, dev/char/,
 * bus/usb/devices/), and the port of its parent hub as the kernel shows it:
 * devices/HUBIF/PORTNAME (usbB-portP under the root hub's interface B-0:1.0,
 * B-H-portP under an external hub's B-H:1.0) with connect_type and disable,
 * linked from the device's "port".
 */
void fake_usb_add(struct fake_usb *f, const struct fake_dev *d);
/* Takes the device away (node, sysfs entry and links), as an unplug does; its hub's port stays. */
void fake_usb_remove(struct fake_usb *f, const struct fake_dev *d);
/* Writes (or with value NULL removes) one attribute of the device on that port path. */
void fake_usb_attr(struct fake_usb *f, const char *port, const char *name, const char *value);
/* ROOT/rel into out. */
void fake_usb_path(const struct fake_usb *f, const char *rel, char *out, size_t size);
/* Removes the whole tree. */
void fake_usb_teardown(struct fake_usb *f);

/* A plain non-hub device, bus 1 device `dev`, port 1-<dev>, one mass-storage interface. */
struct fake_dev fake_usb_plain(unsigned int dev);

#endif
