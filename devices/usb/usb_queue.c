/* SPDX-License-Identifier: MIT */
#include "devices/usb/usb_queue.h"

#include <stddef.h>

void usb_queue_push(struct usb_queue *q, struct usb_transfer *t)
{
	t->device_priv = NULL;
	if (q->tail)
		q->tail->device_priv = t;
	else
		q->head = t;
	q->tail = t;
}

struct usb_transfer *usb_queue_peek(const struct usb_queue *q)
{
	return q->head;
}

struct usb_transfer *usb_queue_pop(struct usb_queue *q)
{
	struct usb_transfer *t = q->head;

	if (!t)
		return NULL;
	q->head = t->device_priv;
	if (!q->head)
		q->tail = NULL;
	t->device_priv = NULL;
	return t;
}

bool usb_queue_contains(const struct usb_queue *q, const struct usb_transfer *t)
{
	for (const struct usb_transfer *cur = q->head; cur; cur = cur->device_priv) {
		if (cur == t)
			return true;
	}
	return false;
}

void usb_queue_drain(struct usb_queue *dst, struct usb_queue *src, enum usb_transfer_status status)
{
	struct usb_transfer *t;

	while ((t = usb_queue_pop(src))) {
		t->status = status;
		t->actual = 0;
		usb_queue_push(dst, t);
	}
}
