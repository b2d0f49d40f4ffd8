/* SPDX-License-Identifier: MIT */
#include "devices/usb/usb_descriptors.h"

#include <errno.h>
#include <string.h>

#include "devices/usb/byteorder.h"

#define USB_LANGID_EN_US 0x0409
/* A string descriptor holds at most (255 - 2) / 2 UTF-16 code units. */
#define USB_STRING_MAX_CHARS 126

static bool is_super(enum devproto_usb_speed speed)
{
	return speed >= DEVPROTO_SPEED_SUPER;
}

uint16_t usb_bulk_max_packet(enum devproto_usb_speed speed)
{
	if (is_super(speed))
		return 1024;
	return speed == DEVPROTO_SPEED_HIGH ? 512 : 64;
}

static size_t device_desc(const struct usb_function_info *f, enum devproto_usb_speed speed,
			  uint8_t *p)
{
	p[0] = 18;
	p[1] = USB_DT_DEVICE;
	put_le16(p + 2, is_super(speed) ? 0x0300 : 0x0200);
	p[4] = 0;		/* class, subclass, protocol: per interface */
	p[5] = 0;
	p[6] = 0;
	p[7] = is_super(speed) ? 9 : 64;	/* SuperSpeed: 2^9 = 512 */
	put_le16(p + 8, f->vendor);
	put_le16(p + 10, f->product);
	put_le16(p + 12, f->bcd_device);
	p[14] = f->manufacturer ? USB_STR_MANUFACTURER : 0;
	p[15] = f->product_name ? USB_STR_PRODUCT : 0;
	p[16] = f->serial ? USB_STR_SERIAL : 0;
	p[17] = 1;		/* one configuration */
	return 18;
}

/* Interrupt bInterval: frames at full speed, 2^(b-1) microframes above. */
static uint8_t interval(const struct usb_endpoint_info *ep, enum devproto_usb_speed speed)
{
	unsigned int uframes, b = 1;

	if (ep->attributes != USB_EP_ATTR_INTERRUPT)
		return 0;
	if (speed == DEVPROTO_SPEED_FULL || speed == DEVPROTO_SPEED_LOW)
		return ep->interval_ms ? ep->interval_ms : 1;
	uframes = 8u * (ep->interval_ms ? ep->interval_ms : 1);
	while (b < 16 && (1u << b) <= uframes)
		b++;
	return (uint8_t)b;
}

static size_t config_desc(const struct usb_function_info *f, enum devproto_usb_speed speed,
			  uint8_t type, uint8_t *p)
{
	unsigned int power_unit = is_super(speed) ? 8 : 2;
	size_t n;

	p[0] = 9;
	p[1] = type;
	p[4] = 1;		/* one interface */
	p[5] = USB_CONFIG_VALUE;
	p[6] = 0;
	p[7] = 0x80 | (f->self_powered ? 0x40 : 0);
	p[8] = (uint8_t)((f->max_power_ma + power_unit - 1) / power_unit);

	p[9] = 9;
	p[10] = USB_DT_INTERFACE;
	p[11] = 0;		/* bInterfaceNumber */
	p[12] = 0;		/* bAlternateSetting */
	p[13] = (uint8_t)f->num_endpoints;
	p[14] = f->iface_class;
	p[15] = f->iface_subclass;
	p[16] = f->iface_protocol;
	p[17] = 0;
	n = 18;
	if (f->class_desc_len) {
		memcpy(p + n, f->class_desc, f->class_desc_len);
		n += f->class_desc_len;
	}
	for (unsigned int i = 0; i < f->num_endpoints; i++) {
		const struct usb_endpoint_info *ep = &f->endpoints[i];
		uint16_t mps = ep->max_packet ? ep->max_packet : usb_bulk_max_packet(speed);

		p[n] = 7;
		p[n + 1] = USB_DT_ENDPOINT;
		p[n + 2] = ep->address;
		p[n + 3] = ep->attributes;
		put_le16(p + n + 4, mps);
		p[n + 6] = interval(ep, speed);
		n += 7;
		if (is_super(speed)) {
			p[n] = 6;
			p[n + 1] = USB_DT_SS_ENDPOINT_COMP;
			p[n + 2] = ep->max_burst;
			p[n + 3] = 0;	/* no streams */
			/* Periodic endpoints reserve bandwidth per service interval. */
			put_le16(p + n + 4, ep->attributes == USB_EP_ATTR_INTERRUPT ?
				 (uint16_t)(mps * (ep->max_burst + 1u)) : 0);
			n += 6;
		}
	}
	put_le16(p + 2, (uint16_t)n);
	return n;
}

/* What the function would look like at the other of full and high speed. */
static size_t device_qualifier(uint8_t *p)
{
	p[0] = 10;
	p[1] = USB_DT_DEVICE_QUALIFIER;
	put_le16(p + 2, 0x0200);
	p[4] = 0;
	p[5] = 0;
	p[6] = 0;
	p[7] = 64;
	p[8] = 1;
	p[9] = 0;
	return 10;
}

static size_t bos_desc(uint8_t *p)
{
	p[0] = 5;
	p[1] = USB_DT_BOS;
	put_le16(p + 2, 5 + 7 + 10);
	p[4] = 2;		/* capabilities */

	p[5] = 7;		/* USB 2.0 extension */
	p[6] = USB_DT_DEVICE_CAPABILITY;
	p[7] = 0x02;
	/* LPM: USB 3 requires it of a device that may also run at high speed. */
	put_le32(p + 8, 0x00000002);

	p[12] = 10;		/* SuperSpeed USB device capability */
	p[13] = USB_DT_DEVICE_CAPABILITY;
	p[14] = 0x03;
	p[15] = 0;		/* no LTM */
	put_le16(p + 16, 0x000e);	/* full, high and super speed */
	p[18] = 1;		/* fully functional from full speed up */
	p[19] = 0x0a;		/* U1 exit latency < 10 us */
	put_le16(p + 20, 0x0020);	/* U2 exit latency < 32 us */
	return 22;
}

static size_t string_desc(const char *s, uint8_t *p)
{
	size_t n = 0;

	for (; s[n] && n < USB_STRING_MAX_CHARS; n++)
		put_le16(p + 2 + 2 * n, (unsigned char)s[n] < 0x80 ? (uint16_t)s[n] : '?');
	p[0] = (uint8_t)(2 + 2 * n);
	p[1] = USB_DT_STRING;
	return 2 + 2 * n;
}

static const char *string_at(const struct usb_function_info *f, uint8_t index)
{
	switch (index) {
	case USB_STR_MANUFACTURER:
		return f->manufacturer;
	case USB_STR_PRODUCT:
		return f->product_name;
	case USB_STR_SERIAL:
		return f->serial;
	default:
		return NULL;
	}
}

int usb_desc_get(const struct usb_function_info *f, enum devproto_usb_speed speed, uint8_t type,
		 uint8_t index, uint8_t *buf, size_t len)
{
	uint8_t d[USB_DESC_MAX];
	const char *s;
	size_t n;

	/* The configuration is the largest: refuse a function that cannot fit. */
	if (f->num_endpoints > 30 || 18 + f->class_desc_len + 13u * f->num_endpoints > sizeof(d))
		return -E2BIG;

	switch (type) {
	case USB_DT_DEVICE:
		n = device_desc(f, speed, d);
		break;
	case USB_DT_CONFIG:
		if (index != 0)
			return -ENOENT;
		n = config_desc(f, speed, USB_DT_CONFIG, d);
		break;
	case USB_DT_OTHER_SPEED_CONFIG:
		if (index != 0 || (speed != DEVPROTO_SPEED_HIGH && speed != DEVPROTO_SPEED_FULL))
			return -ENOENT;
		n = config_desc(f, speed == DEVPROTO_SPEED_HIGH ? DEVPROTO_SPEED_FULL :
				DEVPROTO_SPEED_HIGH, USB_DT_OTHER_SPEED_CONFIG, d);
		break;
	case USB_DT_DEVICE_QUALIFIER:
		/* Only a high-speed capable device at full or high speed has one. */
		if (speed != DEVPROTO_SPEED_HIGH && speed != DEVPROTO_SPEED_FULL)
			return -ENOENT;
		n = device_qualifier(d);
		break;
	case USB_DT_BOS:
		/* bcdUSB 0x0200 below SuperSpeed: no BOS to ask for. */
		if (!is_super(speed))
			return -ENOENT;
		n = bos_desc(d);
		break;
	case USB_DT_STRING:
		if (index == USB_STR_LANGIDS) {
			d[0] = 4;
			d[1] = USB_DT_STRING;
			put_le16(d + 2, USB_LANGID_EN_US);
			n = 4;
			break;
		}
		s = string_at(f, index);
		if (!s)
			return -ENOENT;
		n = string_desc(s, d);
		break;
	default:
		return -ENOENT;
	}
	if (n > len)
		n = len;
	memcpy(buf, d, n);
	return (int)n;
}
