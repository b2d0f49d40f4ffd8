/* SPDX-License-Identifier: MIT */
/*
 * The standard requests a passthrough device does not send on as they are,
 * as QEMU's host-libusb and crosvm's host backend do:
 *  - SET_ADDRESS is swallowed: the host kernel gave the device its address
 *    and the controller gives the guest its own;
 *  - SET_CONFIGURATION goes through usbfs (libusb_set_configuration), which
 *    refuses while interfaces are claimed: release them, set it, then detach
 *    the host drivers the kernel bound to the new interfaces and claim them;
 *  - SET_INTERFACE goes through libusb_set_interface_alt_setting, so the
 *    kernel's endpoint state follows the alternate setting;
 *  - CLEAR_FEATURE(ENDPOINT_HALT) goes through libusb_clear_halt, which also
 *    resets the host side's data toggle.
 * Everything else, GET_DESCRIPTOR included, reaches the device unchanged.
 * They run when they reach the head of endpoint 0's queue, so they keep
 * their place among the control transfers around them.
 */
#include "common/log.h"
#include "devices/usb/passthrough_internal.h"
#include "devices/usb/usb_standard.h"

#define RT_STANDARD_OUT(recipient) (USB_RT_TYPE_STANDARD | (recipient))

enum pt_setup_kind pt_setup_classify(const struct usb_setup *s)
{
	switch (s->request) {
	case USB_REQ_SET_ADDRESS:
		if (s->request_type == RT_STANDARD_OUT(USB_RT_RECIP_DEVICE))
			return PT_SETUP_SET_ADDRESS;
		break;
	case USB_REQ_SET_CONFIGURATION:
		if (s->request_type == RT_STANDARD_OUT(USB_RT_RECIP_DEVICE))
			return PT_SETUP_SET_CONFIGURATION;
		break;
	case USB_REQ_SET_INTERFACE:
		if (s->request_type == RT_STANDARD_OUT(USB_RT_RECIP_INTERFACE))
			return PT_SETUP_SET_INTERFACE;
		break;
	case USB_REQ_CLEAR_FEATURE:
		if (s->request_type == RT_STANDARD_OUT(USB_RT_RECIP_ENDPOINT) &&
		    s->value == USB_FEATURE_ENDPOINT_HALT)
			return PT_SETUP_CLEAR_HALT;
		break;
	}
	return PT_SETUP_PASS;
}

/* A libusb result as the status of the request that caused it. */
static enum usb_transfer_status request_status(struct pt_device *pt, int r)
{
	if (r == 0)
		return USB_TRANSFER_OK;
	if (r == LIBUSB_ERROR_NO_DEVICE) {
		pt_lost(pt);
		return USB_TRANSFER_NO_DEVICE;
	}
	/* The device refused, or usbfs did: the guest sees a request error. */
	return USB_TRANSFER_STALL;
}

static int set_configuration(struct pt_device *pt, uint8_t value)
{
	int r;

	pt_release_all(pt);
	/* libusb's -1 is "unconfigured"; 0 would look for a configuration numbered 0. */
	r = libusb_set_configuration(pt->handle, value ? value : -1);
	if (r < 0) {
		log_warn("passthrough %u-%u: SET_CONFIGURATION %u: %s", pt->dev.busnum,
			 pt->dev.devnum, value, libusb_error_name(r));
		/* Whatever the device is in now, keep what it has claimed. */
		if (r != LIBUSB_ERROR_NO_DEVICE && libusb_get_configuration(pt->handle, &pt->config) == 0)
			pt_claim_config(pt, pt->config);
		return r;
	}
	pt->config = value;
	return pt_claim_config(pt, value);
}

static int set_interface(struct pt_device *pt, uint16_t interface, uint16_t alt)
{
	if (interface >= PT_MAX_INTERFACES || alt > 0xff || !(pt->claimed & (1u << interface)))
		return LIBUSB_ERROR_NOT_FOUND;
	return libusb_set_interface_alt_setting(pt->handle, interface, alt);
}

void pt_control_local(struct pt_device *pt, struct pt_xfer *x)
{
	const struct usb_setup *s = &x->t->setup;
	int r = 0;

	x->t->actual = 0;
	x->state = PT_XFER_FINISHED;
	if (pt->lost) {
		x->t->status = USB_TRANSFER_NO_DEVICE;
		return;
	}
	switch (x->local) {
	case PT_SETUP_SET_ADDRESS:
		pt->addressed = true;
		break;
	case PT_SETUP_SET_CONFIGURATION:
		r = s->value > 0xff ? LIBUSB_ERROR_INVALID_PARAM : set_configuration(pt, (uint8_t)s->value);
		break;
	case PT_SETUP_SET_INTERFACE:
		r = set_interface(pt, s->index, s->value);
		break;
	case PT_SETUP_CLEAR_HALT:
		r = s->index > 0xff ? LIBUSB_ERROR_INVALID_PARAM :
		    libusb_clear_halt(pt->handle, (unsigned char)s->index);
		break;
	case PT_SETUP_PASS:
		r = LIBUSB_ERROR_OTHER;	/* never queued as local */
		break;
	}
	x->t->status = request_status(pt, r);
}
