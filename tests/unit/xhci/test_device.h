/* SPDX-License-Identifier: MIT */
/*
 * A tiny USB device for the controller tests: GET_DESCRIPTOR(DEVICE) answers
 * an 18-byte descriptor, request 0xff stalls, other control requests succeed
 * with no data; bulk OUT (endpoint 2) stores what it gets, bulk IN (0x81)
 * returns it. Completions are deferred through the event loop, as the
 * interface demands. The image's first byte picks the speed ('S' SuperSpeed,
 * else high speed); a second byte 'H' holds bulk IN transfers until cancelled,
 * 'E' fails the first bulk IN transfer with a transaction error, 'G' is a
 * device gone from the host (every bulk IN transfer ends in NO_DEVICE, and
 * cancelling one takes 50 ms), 'R' holds stream 1's transfers until a
 * transfer on a higher stream is done, 'U' is unplugged on the host in use
 * (every bulk IN transfer ends in NO_DEVICE, then the device reports itself
 * gone, and its destroy takes 300 ms). Bulk
 * streams: any number is granted; a stream transfer beyond them fails, and
 * stream IN data is the stream ID in every byte.
 */
#ifndef SVMM_TEST_XHCI_DEVICE_H
#define SVMM_TEST_XHCI_DEVICE_H

#include "devices/xhci/xhci_process.h"

#define TEST_DEV_VENDOR 0x1234
#define TEST_DEV_PRODUCT 0x5678
#define TEST_REQ_STALL 0xff

struct usb_device *test_device_attach(struct event_loop *loop, int fd,
				      const struct devproto_attach *a,
				      enum devproto_usb_speed preferred);
/* An image fd (memfd) for test_device_attach. */
int test_device_image(char speed, char mode);

#endif
