/* SPDX-License-Identifier: MIT */
/*
 * The interface between the xHCI controller and a USB device behind one of
 * its ports. The controller turns TDs into usb_transfers and submits them;
 * the device completes each one asynchronously by calling its done callback.
 * Implemented by the emulated mass-storage device (mass_storage.c) and by
 * the libusb passthrough (passthrough.c).
 *
 * Rules both sides rely on:
 *  - done() is never called from inside submit(), cancel() or reset(): a
 *    device that finishes at once defers the call through the event loop.
 *    This keeps the controller's ring walk free of re-entry.
 *  - Every submitted transfer gets exactly one done(), with status
 *    USB_TRANSFER_CANCELLED if cancel() or destroy() ended it.
 *  - Transfers on one endpoint complete in the order they were submitted;
 *    on a bulk endpoint with streams, in that order per stream (streams
 *    are independent: the device picks which one moves).
 *  - buffer and length come from the controller, already bounds-checked;
 *    the device never writes more than length bytes and sets actual.
 */
#ifndef SVMM_USB_DEVICE_H
#define SVMM_USB_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device_protocol.h"
#include "devices/event_loop.h"

#define USB_DIR_IN 0x80
#define USB_ENDPOINT_NUMBER(addr) ((addr) & 0x0f)
#define USB_MAX_ISO_PACKETS 128

enum usb_transfer_type {
	USB_TRANSFER_CONTROL,
	USB_TRANSFER_BULK,
	USB_TRANSFER_INTERRUPT,
	USB_TRANSFER_ISOCH,
};

enum usb_transfer_status {
	USB_TRANSFER_OK,		/* actual may be < length: a short packet */
	USB_TRANSFER_STALL,		/* endpoint halted (or control request refused) */
	USB_TRANSFER_BABBLE,		/* device sent more than asked */
	USB_TRANSFER_ERROR,		/* transaction error */
	USB_TRANSFER_CANCELLED,		/* cancel(), reset() or destroy() ended it */
	USB_TRANSFER_NO_DEVICE,		/* the device is gone */
};

/* A SETUP packet, fields in host byte order. */
struct usb_setup {
	uint8_t request_type;
	uint8_t request;
	uint16_t value;
	uint16_t index;
	uint16_t length;
};

struct usb_iso_packet {
	uint32_t length;	/* requested */
	uint32_t actual;
	enum usb_transfer_status status;
};

struct usb_transfer;
typedef void (*usb_transfer_done_fn)(struct usb_transfer *t);

struct usb_transfer {
	/* Set by the controller before submit(). */
	enum usb_transfer_type type;
	uint8_t endpoint;		/* address: number | USB_DIR_IN */
	uint16_t stream;		/* bulk streams: stream ID, else 0 */
	struct usb_setup setup;		/* control only */
	uint8_t *buffer;		/* data stage / payload */
	size_t length;
	unsigned int num_iso_packets;	/* isoch only, <= USB_MAX_ISO_PACKETS */
	struct usb_iso_packet *iso_packets;
	usb_transfer_done_fn done;
	void *opaque;			/* the controller's */

	/* Set by the device before done(). */
	size_t actual;
	enum usb_transfer_status status;

	void *device_priv;		/* the device's, while it holds the transfer */
};

struct usb_device;

struct usb_device_ops {
	/*
	 * Starts t; 0, or a negative errno if it could not start (then done() is
	 * not called). Control transfers include the standard requests: a device
	 * handles SET_ADDRESS by accepting it (the controller owns the address).
	 */
	int (*submit)(struct usb_device *dev, struct usb_transfer *t);
	/* Ends t early; its done() still follows, later, with CANCELLED (or its real result). */
	void (*cancel)(struct usb_device *dev, struct usb_transfer *t);
	/* Port reset: cancels everything, back to the default (unconfigured) state. */
	int (*reset)(struct usb_device *dev);
	/* Clears a halted endpoint on the device side (after the guest's CLEAR_FEATURE). */
	int (*clear_halt)(struct usb_device *dev, uint8_t endpoint);
	/* Cancels everything, releases every resource and frees dev. */
	void (*destroy)(struct usb_device *dev);
	/*
	 * USB 3 bulk streams, optional: NULL means the device has none, and the
	 * controller refuses a guest that asks for them. alloc_streams readies
	 * stream IDs 1..num_streams of bulk endpoint (address), 0 or -errno (a
	 * device may grant fewer: transfers on the others then fail);
	 * free_streams gives them back (after the controller cancelled the
	 * endpoint's transfers).
	 */
	int (*alloc_streams)(struct usb_device *dev, uint8_t endpoint, unsigned int num_streams);
	void (*free_streams)(struct usb_device *dev, uint8_t endpoint);
};

struct usb_device {
	const struct usb_device_ops *ops;
	struct event_loop *loop;
	enum devproto_usb_speed speed;
	enum devproto_attach_kind kind;
	uint16_t vendor;
	uint16_t product;
	uint8_t busnum;		/* usbfs node it came from, 0 for images */
	uint8_t devnum;
	/*
	 * Called by the device when it is gone on its own (host unplug); the
	 * controller disconnects the port. Set by the controller at attach.
	 */
	void (*gone)(struct usb_device *dev, void *opaque);
	void *gone_opaque;
	/*
	 * The device writes an IN transfer's buffer only while it works that
	 * transfer (never after cancel(), reset() or destroy() took it back)
	 * and never reads it: the controller may then give it the guest's own
	 * memory as buffer, sparing the copy out of a bounce buffer. A device
	 * that completes asynchronously (the kernel writing later) leaves it
	 * false.
	 */
	bool direct_in;
};

#endif
