/* SPDX-License-Identifier: MIT */
#include "usb_queue.h"

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

bool usb_queue_remove(struct usb_queue *q, struct usb_transfer *t)
{
	struct usb_transfer *prev = NULL;

	for (struct usb_transfer *cur = q->head; cur; prev = cur, cur = cur->device_priv) {
		if (cur != t)
			continue;
		if (prev)
			prev->device_priv = cur->device_priv;
		else
			q->head = cur->device_priv;
		if (q->tail == cur)
			q->tail = prev;
		cur->device_priv = NULL;
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
