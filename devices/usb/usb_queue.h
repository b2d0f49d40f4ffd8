/* SPDX-License-Identifier: MIT */
/*
 * A FIFO of transfers an emulated device holds, one per endpoint: transfers
 * complete in submission order per endpoint, so each endpoint's queue is
 * worked from its head. Linked through usb_transfer.device_priv, which the
 * device owns while it holds the transfer: no allocation per transfer.
 */
#ifndef SVMM_USB_QUEUE_H
#define SVMM_USB_QUEUE_H

#include <stdbool.h>

#include "devices/usb/usb_device.h"

struct usb_queue {
	struct usb_transfer *head, *tail;
};

void usb_queue_push(struct usb_queue *q, struct usb_transfer *t);
/* The head, still queued, or NULL. */
struct usb_transfer *usb_queue_peek(const struct usb_queue *q);
/* Takes the head off, or NULL. */
struct usb_transfer *usb_queue_pop(struct usb_queue *q);
/* Whether t waits in q. */
bool usb_queue_contains(const struct usb_queue *q, const struct usb_transfer *t);
/* Appends every transfer of src to dst, in order, with status set; src ends empty. */
void usb_queue_drain(struct usb_queue *dst, struct usb_queue *src, enum usb_transfer_status status);

#endif
