/* SPDX-License-Identifier: MIT */
/*
 * Where the broker looks for devices. The defaults are the only values a
 * running svmm uses; tests point them at fake trees under /var/tmp, since a
 * machine without USB has neither usbfs nodes nor sysfs entries for them.
 */
#ifndef SVMM_BROKER_CONFIG_H
#define SVMM_BROKER_CONFIG_H

#define BROKER_DEV_ROOT "/dev/bus/usb"
#define BROKER_SYS_ROOT "/sys"
#define BROKER_USB_DEVICE_MAJOR 189u	/* Linux's USB_DEVICE_MAJOR: usbfs device nodes */

struct usbfs_ops;

struct broker_config {
	const char *dev_root;		/* usbfs nodes live below it */
	const char *sys_root;		/* sysfs mount: dev/char/MAJ:MIN, bus/usb/devices */
	unsigned int usb_major;		/* the character-device major a node must have */
	const struct usbfs_ops *usbfs;	/* the usbfs ioctls: usbfs_kernel (tests record them) */
};

/* The production values: /dev/bus/usb, /sys, major 189, the kernel's usbfs. */
void broker_config_init(struct broker_config *c);

#endif
