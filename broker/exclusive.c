/* SPDX-License-Identifier: MIT */
#include "exclusive.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "usbfs.h"

void exclusive_init(struct exclusive *x)
{
	memset(x, 0, sizeof(*x));
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++)
		x->held[i].fd = -1;
}

static void drop(struct held_device *h)
{
	if (h->reattach) {
		unsigned int failed = h->usbfs->attach_drivers(h->fd, h->reattach);

		if (failed)
			log_warn("release handle=%u device=%04x:%04x: %u interface(s) left without a host driver",
				 h->handle, h->device.vendor, h->device.product, failed);
	}
	close(h->fd);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

const struct held_device *exclusive_holder(struct exclusive *x, dev_t rdev)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *h = &x->held[i];

		if (!h->used || h->rdev != rdev)
			continue;
		if (h->usbfs->connected(h->fd) == -ENODEV) {
			log_info("release handle=%u pid=%d device=%04x:%04x reason=\"unplugged\"",
				 h->handle, (int)h->pid, h->device.vendor, h->device.product);
			drop(h);
			return NULL;
		}
		return h;
	}
	return NULL;
}

unsigned int exclusive_count(const struct exclusive *x, unsigned int client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++)
		n += x->held[i].used && x->held[i].client == client;
	return n;
}

int exclusive_hold(struct exclusive *x, const struct held_device *h, uint32_t *handle)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *e = &x->held[i];

		if (e->used)
			continue;
		/* 0 is never a handle; wrapping after 2^32 opens is beyond any broker's life. */
		if (++x->last_handle == 0)
			x->last_handle = 1;
		*e = *h;
		e->used = true;
		e->handle = x->last_handle;
		*handle = e->handle;
		return 0;
	}
	return -ENOSPC;
}

int exclusive_release(struct exclusive *x, unsigned int client, uint32_t handle,
		      struct held_device *out)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *h = &x->held[i];

		/* A handle names a device only for the VM that opened it. */
		if (!h->used || h->handle != handle || h->client != client)
			continue;
		if (out)
			*out = *h;
		drop(h);
		return 0;
	}
	return -ENOENT;
}

unsigned int exclusive_release_client(struct exclusive *x, unsigned int client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *h = &x->held[i];

		if (h->used && h->client == client) {
			log_info("release handle=%u pid=%d device=%04x:%04x bus=%u dev=%u reason=\"connection closed\"",
				 h->handle, (int)h->pid, h->device.vendor, h->device.product,
				 h->device.busnum, h->device.devnum);
			drop(h);
			n++;
		}
	}
	return n;
}

void exclusive_release_all(struct exclusive *x)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		if (x->held[i].used)
			drop(&x->held[i]);
	}
}
