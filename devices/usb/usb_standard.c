/* SPDX-License-Identifier: MIT */
#include "devices/usb/usb_standard.h"

#include <errno.h>
#include <string.h>

#include "devices/usb/byteorder.h"

static bool is_super(const struct usb_std *s)
{
	return s->speed >= DEVPROTO_SPEED_SUPER;
}

/* Index of an endpoint address in usb_std.ep: OUT 0..15, IN 16..31. */
static unsigned int ep_index(uint8_t endpoint)
{
	return USB_ENDPOINT_NUMBER(endpoint) + ((endpoint & USB_DIR_IN) ? 16 : 0);
}

static struct usb_ep_halt *ep_halt(struct usb_std *s, uint8_t endpoint)
{
	return &s->ep[ep_index(endpoint)];
}

void usb_std_init(struct usb_std *s, const struct usb_function_info *info,
		  enum devproto_usb_speed speed, const struct usb_std_hooks *hooks, void *opaque)
{
	memset(s, 0, sizeof(*s));
	s->info = info;
	s->speed = speed;
	s->hooks = hooks;
	s->opaque = opaque;
}

void usb_std_reset(struct usb_std *s)
{
	usb_std_init(s, s->info, s->speed, s->hooks, s->opaque);
}

bool usb_std_ep_exists(const struct usb_std *s, uint8_t endpoint, uint8_t attributes)
{
	if (endpoint & 0x70)
		return false;	/* reserved bits of an endpoint address */
	if (USB_ENDPOINT_NUMBER(endpoint) == 0)
		return attributes == 0;
	if (!s->configuration)
		return false;
	for (unsigned int i = 0; i < s->info->num_endpoints; i++) {
		const struct usb_endpoint_info *ep = &s->info->endpoints[i];

		if (ep->address == endpoint && (!attributes || ep->attributes == attributes))
			return true;
	}
	return false;
}

enum usb_ep_gate usb_std_ep_gate(struct usb_std *s, uint8_t endpoint)
{
	struct usb_ep_halt *h = ep_halt(s, endpoint);

	if (!h->halted)
		return USB_EP_OPEN;
	if (h->stall_reported)
		return USB_EP_WAIT;
	h->stall_reported = true;
	return USB_EP_STALL;
}

void usb_std_ep_halt(struct usb_std *s, uint8_t endpoint, bool stall_reported)
{
	struct usb_ep_halt *h = ep_halt(s, endpoint);

	h->halted = true;
	h->stall_reported = stall_reported;
}

void usb_std_ep_clear_halt(struct usb_std *s, uint8_t endpoint)
{
	*ep_halt(s, endpoint) = (struct usb_ep_halt){ 0 };
	if (s->hooks && s->hooks->halt_cleared)
		s->hooks->halt_cleared(s->opaque, endpoint);
}

bool usb_std_ep_halted(const struct usb_std *s, uint8_t endpoint)
{
	return s->ep[ep_index(endpoint)].halted;
}

/* SET_CONFIGURATION and SET_INTERFACE put every endpoint back to un-halted. */
static void reset_endpoints(struct usb_std *s)
{
	for (unsigned int i = 0; i < 32; i++) {
		if (i != 0 && i != 16)
			s->ep[i] = (struct usb_ep_halt){ 0 };
	}
	if (s->hooks && s->hooks->endpoints_reset)
		s->hooks->endpoints_reset(s->opaque);
}

static int reply(uint8_t *buf, size_t len, const uint8_t *data, size_t n)
{
	if (n > len)
		n = len;
	memcpy(buf, data, n);
	return (int)n;
}

static int get_status(struct usb_std *s, const struct usb_setup *setup, uint8_t *buf, size_t len)
{
	uint8_t status[2] = { 0, 0 };

	if (setup->value || setup->length != 2)
		return -EPIPE;
	switch (setup->request_type & USB_RT_RECIP_MASK) {
	case USB_RT_RECIP_DEVICE:
		if (setup->index)
			return -EPIPE;
		/* Remote wakeup is never advertised, so bit 1 stays 0. */
		status[0] = (s->info->self_powered ? 0x01 : 0) | (s->u1_enabled ? 0x04 : 0) |
			    (s->u2_enabled ? 0x08 : 0);
		break;
	case USB_RT_RECIP_INTERFACE:
		if (!s->configuration || setup->index)
			return -EPIPE;
		break;
	case USB_RT_RECIP_ENDPOINT:
		if (setup->index > 0xff || !usb_std_ep_exists(s, (uint8_t)setup->index, 0))
			return -EPIPE;
		status[0] = usb_std_ep_halted(s, (uint8_t)setup->index) ? 0x01 : 0;
		break;
	default:
		return -EPIPE;
	}
	return reply(buf, len, status, sizeof(status));
}

static bool function_endpoint(const struct usb_std *s, uint16_t index)
{
	return index <= 0xff && USB_ENDPOINT_NUMBER(index) != 0 &&
	       usb_std_ep_exists(s, (uint8_t)index, 0);
}

static int feature(struct usb_std *s, const struct usb_setup *setup, bool set)
{
	if (setup->length)
		return -EPIPE;
	switch (setup->request_type & USB_RT_RECIP_MASK) {
	case USB_RT_RECIP_DEVICE:
		/* U1/U2 link states: a SuperSpeed device in the configured state. */
		if (is_super(s) && s->configuration && !setup->index &&
		    (setup->value == USB_FEATURE_U1_ENABLE || setup->value == USB_FEATURE_U2_ENABLE)) {
			if (setup->value == USB_FEATURE_U1_ENABLE)
				s->u1_enabled = set;
			else
				s->u2_enabled = set;
			return 0;
		}
		/* No remote wakeup (not advertised) and no electrical test modes. */
		return -EPIPE;
	case USB_RT_RECIP_INTERFACE:
		if (!is_super(s) || !s->configuration || (setup->index & 0xff) ||
		    setup->value != USB_FEATURE_FUNCTION_SUSPEND)
			return -EPIPE;
		/* The high byte of wIndex carries the suspend options. */
		s->function_suspend = set && (setup->index & 0x100);
		return 0;
	case USB_RT_RECIP_ENDPOINT:
		if (setup->value != USB_FEATURE_ENDPOINT_HALT)
			return -EPIPE;
		/* Endpoint 0 is never halted for good: clearing it is a no-op. */
		if (setup->index == 0 || setup->index == USB_DIR_IN)
			return set ? -EPIPE : 0;
		if (!function_endpoint(s, setup->index))
			return -EPIPE;
		if (set)
			usb_std_ep_halt(s, (uint8_t)setup->index, false);
		else
			usb_std_ep_clear_halt(s, (uint8_t)setup->index);
		return 0;
	default:
		return -EPIPE;
	}
}

static int set_configuration(struct usb_std *s, const struct usb_setup *setup)
{
	if (setup->index || setup->length || setup->value > USB_CONFIG_VALUE)
		return -EPIPE;
	s->configuration = (uint8_t)setup->value;
	if (!s->configuration) {
		s->u1_enabled = false;
		s->u2_enabled = false;
		s->function_suspend = false;
	}
	reset_endpoints(s);
	return 0;
}

int usb_std_control(struct usb_std *s, const struct usb_setup *setup, uint8_t *buf, size_t len)
{
	uint8_t type = setup->request_type, byte;
	int r;

	if ((type & USB_RT_TYPE_MASK) != USB_RT_TYPE_STANDARD)
		return -EOPNOTSUPP;
	if (len > setup->length)
		len = setup->length;

	switch (setup->request) {
	case USB_REQ_GET_STATUS:
		if (!(type & USB_DIR_IN))
			return -EPIPE;
		return get_status(s, setup, buf, len);
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE:
		if (type & USB_DIR_IN)
			return -EPIPE;
		return feature(s, setup, setup->request == USB_REQ_SET_FEATURE);
	case USB_REQ_SET_ADDRESS:
		/* The controller owns the address; remembering it is all there is. */
		if (type != 0x00 || setup->value > 127 || setup->index || setup->length)
			return -EPIPE;
		s->address = (uint8_t)setup->value;
		return 0;
	case USB_REQ_GET_DESCRIPTOR:
		/* Interface-recipient descriptors (HID report) belong to the class. */
		if (type != (USB_DIR_IN | USB_RT_RECIP_DEVICE))
			return -EOPNOTSUPP;
		r = usb_desc_get(s->info, s->speed, (uint8_t)(setup->value >> 8),
				 (uint8_t)setup->value, buf, len);
		return r < 0 ? -EPIPE : r;
	case USB_REQ_GET_CONFIGURATION:
		if (type != (USB_DIR_IN | USB_RT_RECIP_DEVICE) || setup->value || setup->index ||
		    setup->length != 1)
			return -EPIPE;
		return reply(buf, len, &s->configuration, 1);
	case USB_REQ_SET_CONFIGURATION:
		if (type != 0x00)
			return -EPIPE;
		return set_configuration(s, setup);
	case USB_REQ_GET_INTERFACE:
		if (type != (USB_DIR_IN | USB_RT_RECIP_INTERFACE) || !s->configuration ||
		    setup->value || setup->index || setup->length != 1)
			return -EPIPE;
		byte = 0;	/* the only alternate setting */
		return reply(buf, len, &byte, 1);
	case USB_REQ_SET_INTERFACE:
		if (type != USB_RT_RECIP_INTERFACE || !s->configuration || setup->value ||
		    setup->index || setup->length)
			return -EPIPE;
		reset_endpoints(s);
		return 0;
	case USB_REQ_SET_SEL:
		if (!is_super(s) || type != 0x00 || setup->value || setup->index ||
		    setup->length != sizeof(s->sel) || len < sizeof(s->sel))
			return -EPIPE;
		memcpy(s->sel, buf, sizeof(s->sel));
		return (int)sizeof(s->sel);
	case USB_REQ_SET_ISOCH_DELAY:
		if (!is_super(s) || type != 0x00 || setup->index || setup->length)
			return -EPIPE;
		s->isoch_delay = setup->value;
		return 0;
	default:
		/* SET_DESCRIPTOR, SYNCH_FRAME (no isochronous endpoints), unknown. */
		return -EPIPE;
	}
}
