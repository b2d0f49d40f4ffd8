/* SPDX-License-Identifier: MIT */
/*
 * Chapter 9 for an emulated device: the standard requests on endpoint 0 and
 * the device state they change (address, configuration, features, endpoint
 * halt), shared by every emulated function. The function (mass storage,
 * HID) handles its class requests itself and is told, through hooks, when
 * the standard requests reset its endpoints.
 *
 * Endpoint halt is kept here as two bits per endpoint because the
 * controller pipelines transfers: when a halted endpoint meets its first
 * transfer that one completes with STALL (the xHC then halts its own
 * endpoint), and the transfers queued behind it wait, untouched, until the
 * halt is cleared or they are cancelled, exactly as on a real bus where the
 * host sends no more tokens to a halted pipe.
 */
#ifndef SVMM_USB_STANDARD_H
#define SVMM_USB_STANDARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/usb/usb_descriptors.h"
#include "devices/usb/usb_device.h"

/* bmRequestType fields. */
#define USB_RT_TYPE_MASK 0x60
#define USB_RT_TYPE_STANDARD 0x00
#define USB_RT_TYPE_CLASS 0x20
#define USB_RT_RECIP_MASK 0x1f
#define USB_RT_RECIP_DEVICE 0x00
#define USB_RT_RECIP_INTERFACE 0x01
#define USB_RT_RECIP_ENDPOINT 0x02

enum usb_request {
	USB_REQ_GET_STATUS = 0,
	USB_REQ_CLEAR_FEATURE = 1,
	USB_REQ_SET_FEATURE = 3,
	USB_REQ_SET_ADDRESS = 5,
	USB_REQ_GET_DESCRIPTOR = 6,
	USB_REQ_SET_DESCRIPTOR = 7,
	USB_REQ_GET_CONFIGURATION = 8,
	USB_REQ_SET_CONFIGURATION = 9,
	USB_REQ_GET_INTERFACE = 10,
	USB_REQ_SET_INTERFACE = 11,
	USB_REQ_SYNCH_FRAME = 12,
	USB_REQ_SET_SEL = 48,
	USB_REQ_SET_ISOCH_DELAY = 49,
};

enum usb_feature {
	USB_FEATURE_ENDPOINT_HALT = 0,		/* endpoint recipient */
	USB_FEATURE_FUNCTION_SUSPEND = 0,	/* interface recipient, USB 3 */
	USB_FEATURE_REMOTE_WAKEUP = 1,
	USB_FEATURE_TEST_MODE = 2,
	USB_FEATURE_U1_ENABLE = 48,
	USB_FEATURE_U2_ENABLE = 49,
};

/* What a transfer arriving on an endpoint meets. */
enum usb_ep_gate {
	USB_EP_OPEN,	/* not halted: the function handles the transfer */
	USB_EP_STALL,	/* halted: complete this transfer with STALL (reported now) */
	USB_EP_WAIT,	/* halted, STALL already reported: leave it queued */
};

struct usb_std_hooks {
	/* SET_CONFIGURATION or SET_INTERFACE reset the function's endpoints. */
	void (*endpoints_reset)(void *opaque);
	/* An endpoint's halt was cleared (CLEAR_FEATURE or clear_halt()). */
	void (*halt_cleared)(void *opaque, uint8_t endpoint);
};

struct usb_ep_halt {
	bool halted;
	bool stall_reported;
};

struct usb_std {
	const struct usb_function_info *info;
	enum devproto_usb_speed speed;
	const struct usb_std_hooks *hooks;
	void *opaque;

	uint8_t address;
	uint8_t configuration;	/* 0: not configured */
	bool u1_enabled, u2_enabled;
	bool function_suspend;
	uint8_t sel[6];		/* SET_SEL: U1/U2 system exit latencies */
	uint16_t isoch_delay;
	struct usb_ep_halt ep[32];	/* [number + 16 * IN] */
};

void usb_std_init(struct usb_std *s, const struct usb_function_info *info,
		  enum devproto_usb_speed speed, const struct usb_std_hooks *hooks, void *opaque);
/* Bus reset: default state, address 0, not configured, nothing halted. */
void usb_std_reset(struct usb_std *s);

/*
 * Handles a standard request (setup, data stage buf of len bytes). Returns
 * the data-stage bytes (IN: written to buf, OUT: consumed), -EPIPE to stall
 * the request, or -EOPNOTSUPP when it is not a standard request this layer
 * owns (class, vendor, or a class descriptor): the function decides.
 */
int usb_std_control(struct usb_std *s, const struct usb_setup *setup, uint8_t *buf, size_t len);

/*
 * Whether endpoint exists: endpoint 0 always (attributes 0), the others in
 * the current configuration with those attributes (0: of any type).
 */
bool usb_std_ep_exists(const struct usb_std *s, uint8_t endpoint, uint8_t attributes);

enum usb_ep_gate usb_std_ep_gate(struct usb_std *s, uint8_t endpoint);
/* Halts endpoint; stall_reported when the transfer completing now carries the STALL. */
void usb_std_ep_halt(struct usb_std *s, uint8_t endpoint, bool stall_reported);
/* Clears the halt (and tells the function through its hook). */
void usb_std_ep_clear_halt(struct usb_std *s, uint8_t endpoint);
bool usb_std_ep_halted(const struct usb_std *s, uint8_t endpoint);

#endif
