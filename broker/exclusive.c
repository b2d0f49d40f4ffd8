/* SPDX-License-Identifier: MIT */
#include "broker/exclusive.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "broker/usb_revoke.h"
#include "broker/usbfs.h"

void exclusive_init(struct exclusive *x)
{
	memset(x, 0, sizeof(*x));
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		x->held[i].fd = -1;
		x->held[i].port_fd = -1;
	}
}

static void clear(struct held_device *h)
{
	if (h->fd >= 0)
		close(h->fd);
	if (h->port_fd >= 0)
		close(h->port_fd);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->port_fd = -1;
}

/*
 * Ends a VM's hold. Revoked, the entry is gone. Not revoked, the VM's fds
 * may still work: the host gets its drivers back, and the entry stays,
 * holder-less, so that no other VM gets the device until it is unplugged
 * (h->why says why).
 */
static enum held_ending end(struct held_device *h, const char *cause)
{
	int r = usb_revoke(h->usbfs, h->port_fd, h->fd, h->why, sizeof(h->why));

	if (r >= 0) {
		log_info("release handle=%u pid=%d device=%04x:%04x bus=%u dev=%u port=%s reason=\"%s\" revoked=%s%s",
			 h->handle, (int)h->pid, h->device.vendor, h->device.product, h->device.busnum,
			 h->device.devnum, h->device.port_path, cause,
			 r == USB_REVOKED ? "yes" : "yes, but ", r == USB_REVOKED ? "" : h->why);
		clear(h);
		return r == USB_REVOKED ? HELD_REVOKED : HELD_REVOKED_PORT_OFF;
	}
	log_warn("release handle=%u pid=%d device=%04x:%04x bus=%u dev=%u port=%s reason=\"%s\" revoked=no: %s; refused to every VM until unplugged",
		 h->handle, (int)h->pid, h->device.vendor, h->device.product, h->device.busnum,
		 h->device.devnum, h->device.port_path, cause, h->why);
	if (h->reattach) {
		unsigned int failed = h->usbfs->attach_drivers(h->fd, h->reattach);

		if (failed)
			log_warn("release handle=%u device=%04x:%04x: %u interface(s) left without a host driver",
				 h->handle, h->device.vendor, h->device.product, failed);
	}
	h->quarantined = true;
	h->client = 0;
	h->reattach = 0;
	return HELD_QUARANTINED;
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
			clear(h);
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
		e->quarantined = false;
		e->ending = 0;
		e->why[0] = '\0';
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
		struct held_device copy;

		/* A handle names a device only for the VM that opened it. */
		if (!h->used || h->quarantined || h->handle != handle || h->client != client)
			continue;
		copy = *h;
		copy.ending = end(h, "released");
		if (out) {
			*out = copy;
			out->fd = -1;
			out->port_fd = -1;
			snprintf(out->why, sizeof(out->why), "%s", h->used ? h->why : "");
		}
		return 0;
	}
	return -ENOENT;
}

unsigned int exclusive_release_client(struct exclusive *x, unsigned int client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *h = &x->held[i];

		if (h->used && !h->quarantined && h->client == client) {
			end(h, "connection closed");
			n++;
		}
	}
	return n;
}

void exclusive_release_all(struct exclusive *x)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		struct held_device *h = &x->held[i];

		if (h->used && !h->quarantined)
			end(h, "broker stopping");
		if (h->used)
			clear(h);
	}
}
