/* SPDX-License-Identifier: MIT */
/*
 * The descriptors of an emulated USB function with one configuration and
 * one interface (mass storage, later HID), built for the speed it is
 * attached at: device, configuration (with interface, class-specific and
 * endpoint descriptors, plus SuperSpeed endpoint companions), strings,
 * device qualifier / other-speed configuration at full and high speed, and
 * BOS at SuperSpeed. The function is described once, by data; the bytes are
 * generated on demand for GET_DESCRIPTOR.
 */
#ifndef SVMM_USB_DESCRIPTORS_H
#define SVMM_USB_DESCRIPTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device_protocol.h"

enum usb_descriptor_type {
	USB_DT_DEVICE = 1,
	USB_DT_CONFIG = 2,
	USB_DT_STRING = 3,
	USB_DT_INTERFACE = 4,
	USB_DT_ENDPOINT = 5,
	USB_DT_DEVICE_QUALIFIER = 6,
	USB_DT_OTHER_SPEED_CONFIG = 7,
	USB_DT_BOS = 15,
	USB_DT_DEVICE_CAPABILITY = 16,
	USB_DT_SS_ENDPOINT_COMP = 48,
};

/* bmAttributes transfer types of an endpoint descriptor. */
enum usb_endpoint_attr {
	USB_EP_ATTR_BULK = 2,
	USB_EP_ATTR_INTERRUPT = 3,
};

/* String descriptor indexes every function uses. */
enum usb_string_index {
	USB_STR_LANGIDS = 0,
	USB_STR_MANUFACTURER = 1,
	USB_STR_PRODUCT = 2,
	USB_STR_SERIAL = 3,
};

/* The only configuration's bConfigurationValue. */
#define USB_CONFIG_VALUE 1
/* The largest descriptor built here (a configuration with every endpoint). */
#define USB_DESC_MAX 512u

struct usb_endpoint_info {
	uint8_t address;	/* number | USB_DIR_IN */
	uint8_t attributes;	/* enum usb_endpoint_attr */
	uint16_t max_packet;	/* interrupt: bytes per packet; bulk: 0, the speed's maximum */
	uint8_t interval_ms;	/* interrupt: polling period, converted for high/super speed */
	uint8_t max_burst;	/* SuperSpeed companion bMaxBurst: packets per burst - 1 */
};

struct usb_function_info {
	uint16_t vendor;
	uint16_t product;
	uint16_t bcd_device;
	uint8_t iface_class;
	uint8_t iface_subclass;
	uint8_t iface_protocol;
	/* Class-specific descriptors placed after the interface's (HID), or NULL. */
	const uint8_t *class_desc;
	size_t class_desc_len;
	const struct usb_endpoint_info *endpoints;
	unsigned int num_endpoints;	/* at most 30 */
	unsigned int max_power_ma;
	bool self_powered;
	const char *manufacturer;
	const char *product_name;
	const char *serial;	/* may be NULL: no serial string */
};

/* wMaxPacketSize of a bulk endpoint at speed (64, 512 or 1024). */
uint16_t usb_bulk_max_packet(enum devproto_usb_speed speed);

/*
 * Writes the descriptor (type, index) as the function presents it at speed,
 * truncated to len bytes (GET_DESCRIPTOR's wLength may be shorter than the
 * descriptor: the host reads 8 bytes of the device descriptor, or the
 * 9-byte configuration header, first). Returns the bytes written, or
 * -ENOENT when the function has no such descriptor at this speed (the
 * request is then stalled).
 */
int usb_desc_get(const struct usb_function_info *f, enum devproto_usb_speed speed, uint8_t type,
		 uint8_t index, uint8_t *buf, size_t len);

#endif
