/* SPDX-License-Identifier: MIT */
/*
 * Drives an emulated USB device the way the xHCI controller does: transfers
 * submitted through usb_device_ops, completions collected from done() while
 * the event loop runs. Images live in memfds (no files on disk).
 */
#ifndef SVMM_TEST_USB_HARNESS_H
#define SVMM_TEST_USB_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/usb/usb_device.h"

struct xfer {
	struct usb_transfer t;
	int done_calls;
};

struct harness {
	struct event_loop *loop;
	struct usb_device *dev;
	int image;		/* our own fd on the image, to check what the device did */
	size_t image_size;
	uint32_t tag;
};

struct csw {
	uint32_t signature;
	uint32_t tag;
	uint32_t residue;
	uint8_t status;
};

/* A memfd of size bytes filled with a pattern derived from seed. */
int h_make_image(size_t size, unsigned int seed);
/* A read-only fd on the same image. */
int h_reopen_ro(int fd);

/* Image of size bytes, device at speed; configured unless told otherwise. */
void h_setup(struct harness *h, size_t size, bool read_only, enum devproto_usb_speed speed,
	     bool configure);
void h_teardown(struct harness *h);

/* Runs the loop until nothing is pending (bounded). */
void h_run(struct harness *h);
/* Fills x (no setup) without submitting it. */
void h_prepare(struct xfer *x, enum usb_transfer_type type, uint8_t ep, void *buf, size_t len);
/* Fills x and submits it; returns submit()'s result. */
int h_submit(struct harness *h, struct xfer *x, enum usb_transfer_type type, uint8_t ep,
	     void *buf, size_t len);
/* Runs the loop until x is done; asserts exactly one done(). */
void h_wait(struct harness *h, struct xfer *x);

/* A control transfer; returns its status, *actual the data-stage bytes. */
enum usb_transfer_status h_control(struct harness *h, uint8_t type, uint8_t request,
				   uint16_t value, uint16_t index, uint16_t length, void *buf,
				   size_t *actual);
/* CLEAR_FEATURE(ENDPOINT_HALT) for ep, asserting it is accepted. */
void h_clear_halt(struct harness *h, uint8_t ep);
/* Bulk-Only Mass Storage Reset followed by clearing both halts: Reset Recovery. */
void h_reset_recovery(struct harness *h);

/* Builds a CBW into buf[31]. */
void h_cbw(uint8_t *buf, uint32_t tag, uint32_t host_len, bool in, uint8_t lun,
	   const uint8_t *cdb, uint8_t cdb_len);
/* One bulk transfer; returns its status and sets *actual. */
enum usb_transfer_status h_bulk(struct harness *h, uint8_t ep, void *buf, size_t len,
				size_t *actual);
/* Reads the CSW (13 bytes); returns the transfer status. */
enum usb_transfer_status h_read_csw(struct harness *h, struct csw *csw);

/*
 * A whole SCSI command over BOT as Linux usb-storage runs it: CBW, data
 * phase of host_len bytes in chunks of at most chunk bytes (0: one
 * transfer), a stall on the data pipe cleared with CLEAR_FEATURE, then the
 * CSW (retried once after a stall). *data_actual gets the data bytes moved.
 * Asserts the CSW's signature and tag; returns the CSW.
 */
struct csw h_command(struct harness *h, const uint8_t *cdb, uint8_t cdb_len, bool in,
		     uint32_t host_len, void *buf, size_t chunk, size_t *data_actual,
		     bool *data_stalled);

/* REQUEST SENSE: returns key << 16 | asc << 8 | ascq. */
uint32_t h_sense(struct harness *h);

#endif
