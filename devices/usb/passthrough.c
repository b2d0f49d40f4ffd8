/* SPDX-License-Identifier: MIT */
/*
 * A host USB device behind a port: the usbfs node the broker opened,
 * wrapped by libusb. This file owns the device's life: attach (descriptors,
 * speed, host drivers detached, interfaces claimed), port reset, host
 * unplug, and destroy (transfers returned, interfaces released, the host
 * drivers it detached re-attached, the node closed).
 *
 * The host kernel configured the device when it was plugged in; the guest
 * will configure it again (SET_CONFIGURATION, passthrough_control.c). The
 * interfaces of whatever configuration is active are claimed at attach so
 * that no host driver touches the device while the guest has it.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/monotonic.h"
#include "devices/usb/passthrough_internal.h"

static struct pt_device *to_pt(struct usb_device *dev)
{
	return (struct pt_device *)dev;
}

int pt_errno(int libusb_error)
{
	switch (libusb_error) {
	case LIBUSB_SUCCESS: return 0;
	case LIBUSB_ERROR_IO: return -EIO;
	case LIBUSB_ERROR_INVALID_PARAM: return -EINVAL;
	case LIBUSB_ERROR_ACCESS: return -EACCES;
	case LIBUSB_ERROR_NO_DEVICE: return -ENODEV;
	case LIBUSB_ERROR_NOT_FOUND: return -ENOENT;
	case LIBUSB_ERROR_BUSY: return -EBUSY;
	case LIBUSB_ERROR_TIMEOUT: return -ETIMEDOUT;
	case LIBUSB_ERROR_OVERFLOW: return -EOVERFLOW;
	case LIBUSB_ERROR_PIPE: return -EPIPE;
	case LIBUSB_ERROR_INTERRUPTED: return -EINTR;
	case LIBUSB_ERROR_NO_MEM: return -ENOMEM;
	case LIBUSB_ERROR_NOT_SUPPORTED: return -EOPNOTSUPP;
	default: return -EIO;
	}
}

enum devproto_usb_speed pt_speed(int libusb_speed, uint16_t bcd_usb)
{
	switch (libusb_speed) {
	case LIBUSB_SPEED_LOW: return DEVPROTO_SPEED_LOW;
	case LIBUSB_SPEED_FULL: return DEVPROTO_SPEED_FULL;
	case LIBUSB_SPEED_HIGH: return DEVPROTO_SPEED_HIGH;
	/* The controller's USB 3 ports are Gen 1; a Gen 2 device works there at 5 Gb/s. */
	case LIBUSB_SPEED_SUPER:
	case LIBUSB_SPEED_SUPER_PLUS: return DEVPROTO_SPEED_SUPER;
	default:
		/* Kernels before USBDEVFS_GET_SPEED: the descriptor's USB version is the best guess. */
		return bcd_usb >= 0x0300 ? DEVPROTO_SPEED_SUPER : DEVPROTO_SPEED_HIGH;
	}
}

void pt_lost(struct pt_device *pt)
{
	if (pt->lost)
		return;
	pt->lost = true;
	pt_schedule(pt);
}

/* Takes interface number from the host kernel's driver, if one has it, and claims it. */
static int claim_interface(struct pt_device *pt, uint8_t number)
{
	uint32_t bit = 1u << number;
	int r;

	if (pt->claimed & bit)
		return 0;
	r = libusb_kernel_driver_active(pt->handle, number);
	if (r == 1) {
		r = libusb_detach_kernel_driver(pt->handle, number);
		if (r == 0)
			pt->detached |= bit;
		else if (r != LIBUSB_ERROR_NOT_FOUND)	/* NOT_FOUND: it let go by itself */
			return r;
	} else if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND) {
		return r;
	}
	r = libusb_claim_interface(pt->handle, number);
	if (r == 0)
		pt->claimed |= bit;
	return r;
}

int pt_claim_config(struct pt_device *pt, int value)
{
	struct libusb_config_descriptor *cfg;
	int r;

	if (value <= 0)
		return 0;	/* unconfigured: no interfaces */
	r = libusb_get_config_descriptor_by_value(libusb_get_device(pt->handle), (uint8_t)value, &cfg);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < cfg->bNumInterfaces && r == 0; i++) {
		uint8_t number = cfg->interface[i].altsetting[0].bInterfaceNumber;

		if (number >= PT_MAX_INTERFACES) {
			log_warn("passthrough %u-%u: interface %u cannot be claimed", pt->dev.busnum,
				 pt->dev.devnum, number);
			continue;
		}
		r = claim_interface(pt, number);
		if (r < 0)
			log_warn("passthrough %u-%u: claiming interface %u: %s", pt->dev.busnum,
				 pt->dev.devnum, number, libusb_error_name(r));
	}
	libusb_free_config_descriptor(cfg);
	return r;
}

void pt_release_all(struct pt_device *pt)
{
	for (unsigned int i = 0; i < PT_MAX_INTERFACES; i++) {
		if (!(pt->claimed & (1u << i)))
			continue;
		if (!pt->lost)
			libusb_release_interface(pt->handle, (int)i);
		pt->claimed &= ~(1u << i);
	}
}

/* Gives the host kernel back the interfaces we took from its drivers (after release). */
static void reattach_drivers(struct pt_device *pt)
{
	for (unsigned int i = 0; i < PT_MAX_INTERFACES; i++) {
		int r;

		if (!(pt->detached & (1u << i)))
			continue;
		pt->detached &= ~(1u << i);
		if (pt->lost)
			continue;
		r = libusb_attach_kernel_driver(pt->handle, (int)i);
		/* NOT_FOUND: the interface is not in the configuration the guest left. */
		if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND)
			log_warn("passthrough %u-%u: re-attaching the host driver of interface %u: %s",
				 pt->dev.busnum, pt->dev.devnum, i, libusb_error_name(r));
	}
}

static int pt_reset(struct usb_device *dev)
{
	struct pt_device *pt = to_pt(dev);
	int r;

	pt_cancel_all(pt);
	if (pt->lost)
		return -ENODEV;
	/*
	 * The port reset that starts every enumeration finds the device as the
	 * host left it, which serves; only a reset after the guest has used the
	 * device (error recovery, a guest reboot) reaches the real one, as in
	 * QEMU. The guest then sees it unaddressed and configures it again.
	 */
	if (!pt->addressed)
		return 0;
	pt->addressed = false;
	r = libusb_reset_device(pt->handle);
	if (r == LIBUSB_ERROR_NOT_FOUND || r == LIBUSB_ERROR_NO_DEVICE) {
		/* Gone, or came back as another device (new descriptors): a disconnect. */
		pt_lost(pt);
		return -ENODEV;
	}
	if (r < 0) {
		log_warn("passthrough %u-%u: reset: %s", pt->dev.busnum, pt->dev.devnum,
			 libusb_error_name(r));
		return pt_errno(r);
	}
	/* libusb re-claims what it released for the reset; a host driver may have won one. */
	return pt_errno(pt_claim_config(pt, pt->config));
}

static int pt_clear_halt(struct usb_device *dev, uint8_t endpoint)
{
	struct pt_device *pt = to_pt(dev);
	int r;

	if (pt->lost)
		return -ENODEV;
	r = libusb_clear_halt(pt->handle, endpoint);
	if (r == LIBUSB_ERROR_NO_DEVICE)
		pt_lost(pt);
	return pt_errno(r);
}

/* Runs libusb until the kernel has returned every URB of pt, for at most PT_DRAIN_MS. */
static void drain(struct pt_device *pt)
{
	int64_t deadline = monotonic_ms() + PT_DRAIN_MS;

	while (pt_inflight(pt)) {
		int64_t left = deadline - monotonic_ms();

		if (left <= 0) {
			log_warn("passthrough %u-%u: %u transfers not returned after %d ms",
				 pt->dev.busnum, pt->dev.devnum, pt_inflight(pt), PT_DRAIN_MS);
			return;
		}
		pt_host_run(left < 100 ? (int)left : 100);
	}
}

void pt_free(struct pt_device *pt)
{
	free(pt);
}

static void pt_destroy(struct usb_device *dev)
{
	struct pt_device *pt = to_pt(dev);
	int64_t t0 = monotonic_ms(), drained, released;

	if (pt->dying)
		return;
	pt_cancel_all(pt);
	drain(pt);
	drained = monotonic_ms();
	pt->dying = true;
	event_loop_cancel_deferred(pt->dev.loop, &pt->pump);
	pt_release_all(pt);
	reattach_drivers(pt);
	released = monotonic_ms();
	/* A detach keeps the guest waiting for its port change until here. */
	log_info("passthrough %u-%u: destroyed: transfers back in %lld ms, interfaces and host drivers in %lld ms",
		 pt->dev.busnum, pt->dev.devnum, (long long)(drained - t0), (long long)(released - drained));
	pt_host_remove_device(pt);
	/* Drops what libusb still holds of pt's transfers; the wrapped fd stays open. */
	libusb_close(pt->handle);
	close(pt->fd);
	/* The device is going away: no later turn of the loop to defer to. */
	pt_finish_all(pt);
	pt_host_release();
	if (!pt->pumping)
		pt_free(pt);
}

static const struct usb_device_ops pt_ops = {
	.submit = pt_submit,
	.cancel = pt_cancel,
	.reset = pt_reset,
	.clear_halt = pt_clear_halt,
	.destroy = pt_destroy,
	.alloc_streams = pt_alloc_streams,
	.free_streams = pt_free_streams,
};

struct usb_device *passthrough_new(struct event_loop *loop, int fd, const struct devproto_attach *a,
				   enum devproto_usb_speed preferred)
{
	struct libusb_device_descriptor dd;
	struct pt_device *pt;
	libusb_context *ctx;
	int r;

	(void)preferred;
	pt = calloc(1, sizeof(*pt));
	if (!pt) {
		errno = ENOMEM;
		return NULL;
	}
	pt->fd = fd;
	pt->dev.ops = &pt_ops;
	pt->dev.loop = loop;
	pt->dev.kind = DEVPROTO_ATTACH_USBFS;
	pt->dev.busnum = (uint8_t)a->busnum;
	pt->dev.devnum = (uint8_t)a->devnum;
	pt->pump.fn = pt_pump;
	pt->pump.opaque = pt;
	r = pt_host_acquire(loop, &ctx);
	if (r < 0) {
		free(pt);
		errno = -pt_errno(r);
		return NULL;
	}
	/* Reads the descriptors through fd (lseek, read) and its speed (USBDEVFS_GET_SPEED). */
	r = libusb_wrap_sys_device(ctx, fd, &pt->handle);
	if (r < 0) {
		log_warn("passthrough %u-%u: not a usable usbfs node: %s", pt->dev.busnum,
			 pt->dev.devnum, libusb_error_name(r));
		goto fail_host;
	}
	if (pt_host_watch_failed()) {
		r = LIBUSB_ERROR_NO_MEM;
		goto fail_close;
	}
	libusb_get_device_descriptor(libusb_get_device(pt->handle), &dd);
	pt->dev.vendor = dd.idVendor;
	pt->dev.product = dd.idProduct;
	pt->dev.speed = pt_speed(libusb_get_device_speed(libusb_get_device(pt->handle)), dd.bcdUSB);
	/* The active configuration, asked of the device (GET_CONFIGURATION through usbfs). */
	r = libusb_get_configuration(pt->handle, &pt->config);
	if (r == 0)
		r = pt_claim_config(pt, pt->config);
	if (r < 0) {
		log_warn("passthrough %u-%u: cannot take the device from the host: %s",
			 pt->dev.busnum, pt->dev.devnum, libusb_error_name(r));
		pt_release_all(pt);
		reattach_drivers(pt);
		goto fail_close;
	}
	pt_host_add_device(pt);
	log_info("passthrough %u-%u: %04x:%04x, speed %d, configuration %d, interfaces %#x claimed",
		 pt->dev.busnum, pt->dev.devnum, pt->dev.vendor, pt->dev.product, pt->dev.speed,
		 pt->config, pt->claimed);
	return &pt->dev;

fail_close:
	libusb_close(pt->handle);
fail_host:
	pt_host_release();
	free(pt);
	errno = -pt_errno(r);
	return NULL;
}
