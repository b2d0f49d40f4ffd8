/* SPDX-License-Identifier: MIT */
/*
 * The kernel's device events (NETLINK_KOBJECT_UEVENT), read by the broker to
 * see a followed device come back. Only a USB device's `bind` counts: it
 * comes once the device is enumerated and configured (its node and sysfs
 * entry are complete), where `add` comes before. Only messages from the
 * kernel itself (sender port 0) are read: another process on the host could
 * otherwise forge an event and make the broker look at a device of its
 * choosing (which would still go through every check).
 */
#ifndef SVMM_UEVENT_H
#define SVMM_UEVENT_H

#include <stddef.h>

/* A netlink socket on the kernel's uevent group, non-blocking; fd or -errno. */
int uevent_open(void);

/*
 * Whether the len bytes of one uevent are the bind of a USB device; then
 * *busnum and *devnum are its numbers (1-255, 1-127 as usbfs names them).
 * Returns 1, 0 for any other event, or -EINVAL for a malformed one.
 */
int uevent_parse_usb_bind(const char *buf, size_t len, unsigned int *busnum, unsigned int *devnum);

/*
 * Receives one uevent without waiting, from the kernel only. Returns 1 and the
 * bus and device numbers of a USB device's bind, 0 for any other message
 * (another event, another sender, a malformed one), -EAGAIN when none is
 * left, or -errno.
 */
int uevent_read_usb_bind(int fd, unsigned int *busnum, unsigned int *devnum);

#endif
