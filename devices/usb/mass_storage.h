/* SPDX-License-Identifier: MIT */
/*
 * An emulated USB mass-storage device (class 08h, SCSI transparent command
 * set, Bulk-Only Transport) on a disk image: what `svmm usb attach --image`
 * puts behind a port. Bulk IN is endpoint 0x81, bulk OUT 0x02, one LUN.
 */
#ifndef SVMM_MASS_STORAGE_H
#define SVMM_MASS_STORAGE_H

#include <stdbool.h>

#include "common/device_protocol.h"
#include "devices/event_loop.h"
#include "devices/usb/usb_device.h"

#define MASS_STORAGE_EP_IN (USB_DIR_IN | 1)
#define MASS_STORAGE_EP_OUT 2

/*
 * A device on image_fd (a regular file or block device whose size is a
 * non-zero multiple of 512; opened O_RDWR unless read_only) at speed
 * (DEVPROTO_SPEED_FULL, _HIGH or _SUPER). Completions are deferred through
 * loop. On success the device owns image_fd and closes it in destroy(); on
 * failure it returns NULL with errno set and image_fd stays the caller's.
 */
struct usb_device *mass_storage_new(struct event_loop *loop, int image_fd, bool read_only,
				    enum devproto_usb_speed speed);

#endif
