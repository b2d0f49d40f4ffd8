/* SPDX-License-Identifier: MIT */
/*
 * The xHCI device process: the VMM forks it and runs device_main
 * (common/device_main.h), which is xhci_process_main here, with its request
 * and event sockets; the child owns nothing else of the VMM's. What the two
 * ends say to each other, what this device declares of itself in its HELLO
 * (process.c, answer_hello), and how doorbells, posted writes, the register
 * mirror and events work, is docs/protocol.md, "Device protocol".
 */
#ifndef SVMM_XHCI_PROCESS_H
#define SVMM_XHCI_PROCESS_H

#include <stdint.h>

#include "common/device_protocol.h"
#include "devices/usb/usb_device.h"

/* Serves the VMM until SHUTDOWN or EOF; returns 0, or 1 on a setup failure. */
int xhci_process_main(int request_sock, int event_sock);

/*
 * What the process must do before its seccomp filter is loaded: the libusb
 * context for passthrough (libusb_init needs syscalls the filter forbids).
 * Called in the jailed child, in the empty root, without privileges; 0 or -1.
 */
int xhci_process_prepare(void);

/*
 * Creates the USB device for one attach kind from the fd the VMM sent; on
 * success the device owns fd. preferred is the speed of the free port kind
 * the controller would like (SuperSpeed if a USB 3 port is free); a device
 * may choose another. NULL on failure (the caller closes fd).
 */
typedef struct usb_device *(*xhci_attach_fn)(struct event_loop *loop, int fd,
					      const struct devproto_attach *a,
					      enum devproto_usb_speed preferred);

/*
 * Installs the constructor for an attach kind (the seam for usbfs
 * passthrough, and for tests); call before xhci_process_main. The image kind
 * defaults to the emulated mass-storage device when it is built.
 */
void xhci_process_set_attach(enum devproto_attach_kind kind, xhci_attach_fn fn);

#endif
