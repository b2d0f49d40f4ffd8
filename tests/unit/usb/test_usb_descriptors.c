/* SPDX-License-Identifier: MIT */
/*
 * What a host sees on endpoint 0 of the emulated mass-storage device: the
 * descriptors at each speed (and when it reads only part of one), and the
 * standard requests of USB 2.0/3.x chapter 9.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"
#include "devices/event_loop.h"
#include "devices/usb/mass_storage.h"
#include "devices/usb/usb_descriptors.h"
#include "tests/unit/usb/usb_harness.h"
#include "devices/usb/usb_standard.h"

#define IMAGE_SIZE (1u << 20)

static enum usb_transfer_status get_desc(struct harness *h, uint8_t type, uint8_t index,
					 uint16_t length, uint8_t *buf, size_t *actual)
{
	return h_control(h, 0x80, USB_REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | index), 0,
			 length, buf, actual);
}

Test(usb_descriptors, device_descriptor_high_speed_and_partial_read)
{
	struct harness h;
	uint8_t d[64], head[8];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, false);
	/* Linux and Windows first read 8 bytes (or 64) to learn bMaxPacketSize0. */
	cr_assert_eq(get_desc(&h, USB_DT_DEVICE, 0, 8, head, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 8);
	cr_assert_eq(get_desc(&h, USB_DT_DEVICE, 0, 64, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 18);
	cr_assert_arr_eq(head, d, 8);
	cr_assert_eq(d[0], 18);
	cr_assert_eq(d[1], USB_DT_DEVICE);
	cr_assert_eq(get_le16(d + 2), 0x0200);
	cr_assert_eq(d[4], 0, "class is per interface");
	cr_assert_eq(d[7], 64);
	cr_assert_eq(get_le16(d + 8), h.dev->vendor);
	cr_assert_eq(get_le16(d + 10), h.dev->product);
	cr_assert_eq(d[14], USB_STR_MANUFACTURER);
	cr_assert_eq(d[15], USB_STR_PRODUCT);
	cr_assert_eq(d[16], USB_STR_SERIAL);
	cr_assert_eq(d[17], 1);
	h_teardown(&h);
}

static void check_endpoint(const uint8_t *e, uint8_t address, uint16_t mps)
{
	cr_assert_eq(e[0], 7);
	cr_assert_eq(e[1], USB_DT_ENDPOINT);
	cr_assert_eq(e[2], address);
	cr_assert_eq(e[3], USB_EP_ATTR_BULK);
	cr_assert_eq(get_le16(e + 4), mps);
}

static void check_interface(const uint8_t *i)
{
	cr_assert_eq(i[0], 9);
	cr_assert_eq(i[1], USB_DT_INTERFACE);
	cr_assert_eq(i[4], 2, "two endpoints");
	cr_assert_eq(i[5], 0x08, "mass storage");
	cr_assert_eq(i[6], 0x06, "SCSI transparent");
	cr_assert_eq(i[7], 0x50, "bulk-only");
}

Test(usb_descriptors, configuration_high_speed_header_then_whole)
{
	struct harness h;
	uint8_t c[255];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, false);
	/* The usual two steps: the 9-byte header for wTotalLength, then all of it. */
	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 0, 9, c, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 9);
	cr_assert_eq(get_le16(c + 2), 9 + 9 + 7 + 7);
	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 0, 255, c, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 32);
	cr_assert_eq(c[4], 1);
	cr_assert_eq(c[5], USB_CONFIG_VALUE);
	cr_assert(c[7] & 0x80);
	check_interface(c + 9);
	check_endpoint(c + 18, MASS_STORAGE_EP_IN, 512);
	check_endpoint(c + 25, MASS_STORAGE_EP_OUT, 512);
	/* An odd length in the middle of an endpoint descriptor. */
	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 0, 20, c, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 20);
	/* Only configuration index 0 exists. */
	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 1, 255, c, &n), USB_TRANSFER_STALL);
	h_teardown(&h);
}

Test(usb_descriptors, super_speed_device_config_companions_and_bos)
{
	struct harness h;
	uint8_t d[255];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_SUPER, false);
	cr_assert_eq(get_desc(&h, USB_DT_DEVICE, 0, 18, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(get_le16(d + 2), 0x0300);
	cr_assert_eq(d[7], 9, "2^9 = 512 bytes on endpoint 0");

	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 0, 255, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 9 + 9 + 2 * (7 + 6));
	cr_assert_eq(get_le16(d + 2), n);
	check_interface(d + 9);
	check_endpoint(d + 18, MASS_STORAGE_EP_IN, 1024);
	cr_assert_eq(d[25], 6);
	cr_assert_eq(d[26], USB_DT_SS_ENDPOINT_COMP);
	cr_assert_eq(d[29] & 0x1f, 0, "no streams");
	check_endpoint(d + 31, MASS_STORAGE_EP_OUT, 1024);
	cr_assert_eq(d[39], USB_DT_SS_ENDPOINT_COMP);

	cr_assert_eq(get_desc(&h, USB_DT_BOS, 0, 5, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 5);
	cr_assert_eq(d[1], USB_DT_BOS);
	cr_assert_eq(get_le16(d + 2), 22);
	cr_assert_eq(d[4], 2);
	cr_assert_eq(get_desc(&h, USB_DT_BOS, 0, 255, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 22);
	cr_assert_eq(d[5 + 2], 0x02, "USB 2.0 extension");
	cr_assert_eq(d[12 + 2], 0x03, "SuperSpeed capability");
	cr_assert_eq(get_le16(d + 16) & 0x08, 0x08, "SuperSpeed supported");

	/* No device qualifier at SuperSpeed. */
	cr_assert_eq(get_desc(&h, USB_DT_DEVICE_QUALIFIER, 0, 10, d, &n), USB_TRANSFER_STALL);
	h_teardown(&h);
}

Test(usb_descriptors, high_speed_qualifier_other_speed_and_no_bos)
{
	struct harness h;
	uint8_t d[255];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, false);
	cr_assert_eq(get_desc(&h, USB_DT_BOS, 0, 5, d, &n), USB_TRANSFER_STALL);
	cr_assert_eq(get_desc(&h, USB_DT_DEVICE_QUALIFIER, 0, 10, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 10);
	cr_assert_eq(d[1], USB_DT_DEVICE_QUALIFIER);
	cr_assert_eq(d[8], 1);
	cr_assert_eq(get_desc(&h, USB_DT_OTHER_SPEED_CONFIG, 0, 255, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 32);
	cr_assert_eq(d[1], USB_DT_OTHER_SPEED_CONFIG);
	check_endpoint(d + 18, MASS_STORAGE_EP_IN, 64);
	h_teardown(&h);
}

Test(usb_descriptors, full_speed_bulk_packets_are_64)
{
	struct harness h;
	uint8_t d[255];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_FULL, false);
	cr_assert_eq(get_desc(&h, USB_DT_CONFIG, 0, 255, d, &n), USB_TRANSFER_OK);
	check_endpoint(d + 18, MASS_STORAGE_EP_IN, 64);
	check_endpoint(d + 25, MASS_STORAGE_EP_OUT, 64);
	h_teardown(&h);
}

Test(usb_descriptors, strings_langids_partial_and_missing)
{
	struct harness h;
	uint8_t d[255];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, false);
	cr_assert_eq(get_desc(&h, USB_DT_STRING, 0, 255, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 4);
	cr_assert_eq(get_le16(d + 2), 0x0409);

	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_STRING << 8 | 1, 0x0409,
			       255, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 2 + 2 * 4);
	cr_assert_eq(d[0], n);
	cr_assert_eq(d[1], USB_DT_STRING);
	cr_assert_eq(d[2], 's');
	cr_assert_eq(d[3], 0);
	cr_assert_eq(d[8], 'm');

	/* Windows reads the first two bytes for bLength. */
	cr_assert_eq(get_desc(&h, USB_DT_STRING, USB_STR_SERIAL, 2, d, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 2);
	cr_assert_geq(d[0], 2 + 2 * 12, "BOT wants at least 12 serial digits");
	cr_assert_eq(get_desc(&h, USB_DT_STRING, USB_STR_SERIAL, 255, d, &n), USB_TRANSFER_OK);
	for (size_t i = 2; i < n; i += 2)
		cr_assert(strchr("0123456789ABCDEF", d[i]) && d[i], "serial digit %zu", i / 2);

	cr_assert_eq(get_desc(&h, USB_DT_STRING, 9, 255, d, &n), USB_TRANSFER_STALL);
	cr_assert_eq(get_desc(&h, 0x22, 0, 255, d, &n), USB_TRANSFER_STALL, "no HID report here");
	h_teardown(&h);
}

Test(usb_standard, address_and_configuration)
{
	struct harness h;
	uint8_t b[8], cbw[31] = { 0 };
	struct xfer x;
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, false);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_ADDRESS, 5, 0, 0, NULL, NULL), USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_ADDRESS, 200, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	/* Not configured: the bulk endpoints do not exist yet. */
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, cbw, 31), -ENOENT);
	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(b[0], 0);
	cr_assert_eq(h_control(&h, 0x81, USB_REQ_GET_INTERFACE, 0, 0, 1, b, &n), USB_TRANSFER_STALL);

	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_CONFIGURATION, 2, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_CONFIGURATION, 1, 0, 0, NULL, NULL),
		     USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(b[0], 1);
	cr_assert_eq(h_control(&h, 0x81, USB_REQ_GET_INTERFACE, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(b[0], 0);
	cr_assert_eq(h_control(&h, 0x01, USB_REQ_SET_INTERFACE, 0, 0, 0, NULL, NULL), USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x01, USB_REQ_SET_INTERFACE, 1, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x01, USB_REQ_SET_INTERFACE, 0, 1, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, cbw, 31), 0);
	cr_assert_eq(x.done_calls, 0);
	h_wait(&h, &x);
	/* An interrupt transfer, or an endpoint the device does not have, is refused. */
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_INTERRUPT, MASS_STORAGE_EP_IN, b, 8), -EINVAL);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, USB_DIR_IN | 3, b, 8), -ENOENT);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, NULL, 8), -EINVAL);

	/* Deconfigured: the endpoints are gone again. */
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_CONFIGURATION, 0, 0, 0, NULL, NULL),
		     USB_TRANSFER_OK);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 8), -ENOENT);
	h_teardown(&h);
}

Test(usb_standard, endpoint_halt_set_status_and_clear)
{
	struct harness h;
	uint8_t st[2], csw[13];
	struct xfer a, b;
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_STATUS, 0, 0, 2, st, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(st[0] & 0x01, 0x01, "self-powered");
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_GET_STATUS, 0, MASS_STORAGE_EP_IN, 2, st, &n),
		     USB_TRANSFER_OK);
	cr_assert_eq(st[0], 0);
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_GET_STATUS, 0, 0x85, 2, st, &n),
		     USB_TRANSFER_STALL);

	cr_assert_eq(h_control(&h, 0x02, USB_REQ_SET_FEATURE, USB_FEATURE_ENDPOINT_HALT,
			       MASS_STORAGE_EP_IN, 0, NULL, NULL), USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_GET_STATUS, 0, MASS_STORAGE_EP_IN, 2, st, &n),
		     USB_TRANSFER_OK);
	cr_assert_eq(st[0], 1);
	/* The first transfer meets the STALL; the one queued behind it waits. */
	cr_assert_eq(h_submit(&h, &a, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, csw, 13), 0);
	cr_assert_eq(h_submit(&h, &b, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, csw, 13), 0);
	h_wait(&h, &a);
	cr_assert_eq(a.t.status, USB_TRANSFER_STALL);
	h_run(&h);
	cr_assert_eq(b.done_calls, 0);
	h_clear_halt(&h, MASS_STORAGE_EP_IN);
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_GET_STATUS, 0, MASS_STORAGE_EP_IN, 2, st, &n),
		     USB_TRANSFER_OK);
	cr_assert_eq(st[0], 0);
	/* Un-halted, it waits for a CBW like any IN transfer: cancel it. */
	h_run(&h);
	cr_assert_eq(b.done_calls, 0);
	h.dev->ops->cancel(h.dev, &b.t);
	cr_assert_eq(b.done_calls, 0, "done() from inside cancel()");
	h_wait(&h, &b);
	cr_assert_eq(b.t.status, USB_TRANSFER_CANCELLED);

	/* Endpoint 0 cannot be halted; clearing it is harmless. */
	cr_assert_eq(h_control(&h, 0x02, USB_REQ_SET_FEATURE, 0, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x02, USB_REQ_CLEAR_FEATURE, 0, 0, 0, NULL, NULL),
		     USB_TRANSFER_OK);
	/* Remote wakeup is not advertised, so not accepted. */
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_FEATURE, USB_FEATURE_REMOTE_WAKEUP, 0, 0,
			       NULL, NULL), USB_TRANSFER_STALL);
	h_teardown(&h);
}

Test(usb_standard, clear_halt_op_is_the_same_as_clear_feature)
{
	struct harness h;
	uint8_t st[2];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_control(&h, 0x02, USB_REQ_SET_FEATURE, USB_FEATURE_ENDPOINT_HALT,
			       MASS_STORAGE_EP_OUT, 0, NULL, NULL), USB_TRANSFER_OK);
	cr_assert_eq(h.dev->ops->clear_halt(h.dev, MASS_STORAGE_EP_OUT), 0);
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_GET_STATUS, 0, MASS_STORAGE_EP_OUT, 2, st, &n),
		     USB_TRANSFER_OK);
	cr_assert_eq(st[0], 0);
	cr_assert_eq(h.dev->ops->clear_halt(h.dev, 0x83), -EINVAL);
	h_teardown(&h);
}

Test(usb_standard, super_speed_sel_isoch_delay_and_link_states)
{
	struct harness h;
	uint8_t sel[6] = { 1, 2, 3, 4, 5, 6 }, st[2];
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_SUPER, true);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_SEL, 0, 0, 6, sel, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 6);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_SEL, 0, 0, 4, sel, &n), USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_ISOCH_DELAY, 40, 0, 0, NULL, NULL),
		     USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_FEATURE, USB_FEATURE_U1_ENABLE, 0, 0, NULL,
			       NULL), USB_TRANSFER_OK);
	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_STATUS, 0, 0, 2, st, &n), USB_TRANSFER_OK);
	cr_assert_eq(st[0] & 0x0c, 0x04);
	cr_assert_eq(h_control(&h, 0x01, USB_REQ_SET_FEATURE, USB_FEATURE_FUNCTION_SUSPEND, 0, 0,
			       NULL, NULL), USB_TRANSFER_OK);
	h_teardown(&h);

	/* None of these exist below SuperSpeed. */
	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_SEL, 0, 0, 6, sel, &n), USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_ISOCH_DELAY, 40, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_FEATURE, USB_FEATURE_U1_ENABLE, 0, 0, NULL,
			       NULL), USB_TRANSFER_STALL);
	h_teardown(&h);
}

Test(usb_standard, unknown_and_class_requests)
{
	struct harness h;
	uint8_t b[4] = { 0xaa };
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_control(&h, 0x82, USB_REQ_SYNCH_FRAME, 0, MASS_STORAGE_EP_IN, 2, b, &n),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0x00, USB_REQ_SET_DESCRIPTOR, 0x0100, 0, 0, NULL, NULL),
		     USB_TRANSFER_STALL);
	cr_assert_eq(h_control(&h, 0xc0, 0x01, 0, 0, 4, b, &n), USB_TRANSFER_STALL, "vendor");
	/* Get Max LUN: a single LUN. */
	cr_assert_eq(h_control(&h, 0xa1, 0xfe, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(b[0], 0);
	cr_assert_eq(h_control(&h, 0xa1, 0xfe, 0, 1, 1, b, &n), USB_TRANSFER_STALL, "interface 1");
	cr_assert_eq(h_control(&h, 0x21, 0xfe, 0, 0, 0, NULL, NULL), USB_TRANSFER_STALL, "OUT");
	cr_assert_eq(h_control(&h, 0x21, 0xff, 1, 0, 0, NULL, NULL), USB_TRANSFER_STALL, "wValue");
	cr_assert_eq(h_control(&h, 0x21, 0xff, 0, 0, 0, NULL, NULL), USB_TRANSFER_OK);
	h_teardown(&h);
}

Test(usb_standard, port_reset_unconfigures_and_cancels)
{
	struct harness h;
	uint8_t b[13];
	struct xfer x;
	size_t n;

	h_setup(&h, IMAGE_SIZE, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	cr_assert_eq(h.dev->ops->reset(h.dev), 0);
	cr_assert_eq(x.done_calls, 0, "done() from inside reset()");
	h_wait(&h, &x);
	cr_assert_eq(x.t.status, USB_TRANSFER_CANCELLED);
	cr_assert_eq(h_control(&h, 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(b[0], 0);
	h_teardown(&h);
}

Test(mass_storage_new, refuses_bad_images_and_speeds)
{
	struct event_loop *loop = event_loop_new();
	int fd, p[2];

	fd = h_make_image(0, 1);
	errno = 0;
	cr_assert_null(mass_storage_new(loop, fd, false, DEVPROTO_SPEED_HIGH));
	cr_assert_eq(errno, EINVAL, "empty image");
	close(fd);

	fd = h_make_image(1000, 1);
	cr_assert_null(mass_storage_new(loop, fd, false, DEVPROTO_SPEED_HIGH));
	cr_assert_eq(errno, EINVAL, "not a multiple of 512");
	/* On failure the fd is still the caller's. */
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	close(fd);

	fd = h_make_image(4096, 1);
	cr_assert_null(mass_storage_new(loop, fd, false, DEVPROTO_SPEED_LOW));
	cr_assert_eq(errno, EINVAL, "no bulk endpoints at low speed");
	cr_assert_null(mass_storage_new(loop, -1, false, DEVPROTO_SPEED_HIGH));
	cr_assert_eq(errno, EBADF);
	int ro = h_reopen_ro(fd);
	cr_assert_null(mass_storage_new(loop, ro, false, DEVPROTO_SPEED_HIGH));
	cr_assert_eq(errno, EBADF, "writable device on a read-only fd");
	close(ro);
	close(fd);

	cr_assert_eq(pipe(p), 0);
	cr_assert_null(mass_storage_new(loop, p[0], true, DEVPROTO_SPEED_HIGH));
	cr_assert_eq(errno, EINVAL, "not a file or block device");
	close(p[0]);
	close(p[1]);
	event_loop_free(loop);
}
