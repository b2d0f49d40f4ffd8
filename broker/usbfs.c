/* SPDX-License-Identifier: MIT */
#include "broker/usbfs.h"

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/broker_protocol.h"
#include "common/log.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int usbfs_drop_privileges(int fd, uint32_t allowed)
{
	__u32 mask = allowed;
	int r = xioctl(fd, USBDEVFS_DROP_PRIVILEGES, &mask);

	return r < 0 ? r : 0;
}

static int interface_ioctl(int fd, unsigned int ifno, int code)
{
	struct usbdevfs_ioctl io = { .ifno = (int)ifno, .ioctl_code = code, .data = NULL };

	return xioctl(fd, USBDEVFS_IOCTL, &io);
}

int usbfs_detach_drivers(int fd, uint32_t mask, uint32_t *detached)
{
	*detached = 0;
	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++) {
		struct usbdevfs_getdriver gd;
		int r;

		if (!(mask & (1u << i)))
			continue;
		memset(&gd, 0, sizeof(gd));
		gd.interface = i;
		r = xioctl(fd, USBDEVFS_GETDRIVER, &gd);
		if (r == -ENODATA)
			continue;	/* no driver bound: nothing to detach */
		if (r < 0)
			return r;
		gd.driver[sizeof(gd.driver) - 1] = '\0';
		/* DISCONNECT would also evict another program's usbfs claim: never do that. */
		if (!strcmp(gd.driver, "usbfs"))
			return -EBUSY;
		r = interface_ioctl(fd, i, USBDEVFS_DISCONNECT);
		if (r < 0 && r != -ENODATA)
			return r;
		if (r >= 0)
			*detached |= 1u << i;
	}
	return 0;
}

unsigned int usbfs_attach_drivers(int fd, uint32_t mask)
{
	unsigned int failed = 0;

	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++) {
		int r;

		if (!(mask & (1u << i)))
			continue;
		r = interface_ioctl(fd, i, USBDEVFS_CONNECT);
		/* EBUSY: a driver (or a claim) is there already; ENODEV: unplugged. Both are fine. */
		if (r < 0 && r != -EBUSY && r != -ENODEV) {
			log_warn("cannot re-attach host driver to interface %u: %s", i, strerror(-r));
			failed++;
		}
	}
	return failed;
}

int usbfs_connected(int fd)
{
	struct usbdevfs_connectinfo ci;
	int r = xioctl(fd, USBDEVFS_CONNECTINFO, &ci);

	return r < 0 ? r : 0;
}

const struct usbfs_ops usbfs_kernel = {
	.drop_privileges = usbfs_drop_privileges,
	.detach_drivers = usbfs_detach_drivers,
	.attach_drivers = usbfs_attach_drivers,
	.connected = usbfs_connected,
};
