/* SPDX-License-Identifier: MIT */
/*
 * Passthrough of a real host USB device with libusb-1.0: what
 * `svmm usb attach /dev/bus/usb/BBB/DDD` puts behind a port. The device
 * process never opens a path: the broker opened the usbfs node and the VMM
 * passed the descriptor in, which libusb wraps (libusb_wrap_sys_device).
 *
 * One libusb context serves the whole process. libusb_init() looks for usbfs
 * and sysfs (uname, statfs, openat of /dev/bus/usb and /dev) even with device
 * discovery off, and the device policy does not allow, and must never allow,
 * openat. So the context is made by passthrough_host_init() before the
 * seccomp filter is loaded, and the jail keeps its descriptors
 * (passthrough_host_fds()). A process that was not prepared this way gets
 * the context on its first attach, which works outside a jail only.
 */
#ifndef SVMM_PASSTHROUGH_H
#define SVMM_PASSTHROUGH_H

#include <stddef.h>

#include "common/device_protocol.h"
#include "devices/event_loop.h"
#include "devices/usb/usb_device.h"

/* Descriptors of the libusb context: an eventfd and a timerfd. */
#define PASSTHROUGH_HOST_MAX_FDS 4

/* Creates the process's libusb context (device discovery off); 0 or a LIBUSB_ERROR code. */
int passthrough_host_init(void);
/*
 * Stores the context's descriptors, at most max, in fds; returns how many
 * there are (0 without a context). A jail must keep all of them.
 */
size_t passthrough_host_fds(int *fds, size_t max);
/* Ends the context once no device uses it (tests, and a clean exit). */
void passthrough_host_exit(void);

/*
 * The DEVPROTO_ATTACH_USBFS constructor (xhci_attach_fn): wraps fd, an
 * opened usbfs node, detaches the host kernel drivers from the interfaces
 * of its active configuration and claims them. The device keeps its own
 * speed (preferred is ignored: a SuperSpeed device goes on a USB 3 port).
 * On success the device owns fd and closes it in destroy(); on failure it
 * returns NULL and fd stays the caller's.
 */
struct usb_device *passthrough_new(struct event_loop *loop, int fd, const struct devproto_attach *a,
				   enum devproto_usb_speed preferred);

#endif
