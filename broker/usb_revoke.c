/* SPDX-License-Identifier: MIT */
#include "broker/usb_revoke.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/reason.h"
#include "broker/usbfs.h"

/* "usbB-portP" for a port of bus B's root hub, "B-H-portP" for one of hub B-H. */
static int port_name(const char *port_path, char *name, size_t size)
{
	const char *dash = strchr(port_path, '-'), *dot = strrchr(port_path, '.');
	int n;

	if (!dash)
		return -EINVAL;
	if (dot)
		n = snprintf(name, size, "%.*s-port%s", (int)(dot - port_path), port_path, dot + 1);
	else
		n = snprintf(name, size, "usb%.*s-port%s", (int)(dash - port_path), port_path, dash + 1);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int usb_revoke_open_port(const struct broker_config *c, dev_t rdev, const char *port_path,
			 int *port_fd, char *why, size_t whylen)
{
	char path[PATH_MAX], proc[64], real[PATH_MAX], want[64];
	const char *base;
	ssize_t n;
	int fd;

	*port_fd = -1;
	if (port_name(port_path, want, sizeof(want)))
		return reason_fail(why, whylen, -EINVAL, "no port name for port path %s", port_path);
	/* The kernel's links (dev/char, port) are followed: that is how sysfs is read. */
	snprintf(path, sizeof(path), "%s/dev/char/%u:%u/port", c->sys_root, major(rdev), minor(rdev));
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return reason_fail(why, whylen, errno == ENOENT ? -ENOENT : -errno,
				   "no port to revoke the device by (%s): %s", path, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, real, sizeof(real) - 1);
	if (n < 0) {
		close(fd);
		return reason_fail(why, whylen, -EINVAL, "cannot resolve the device's port: %s",
				   strerror(errno));
	}
	real[n] = '\0';
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (strcmp(base, want) != 0) {
		close(fd);
		return reason_fail(why, whylen, -EINVAL, "the device's port is %s, not %s", base, want);
	}
	*port_fd = fd;
	return 0;
}

/* One byte at offset 0: the only write the broker's filter allows (pwrite64, 1, 0). */
static int write_disable(int fd, char value)
{
	ssize_t n;

	do {
		n = pwrite(fd, &value, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

int usb_revoke(const struct usbfs_ops *usbfs, int port_fd, int keep_fd, char *why, size_t whylen)
{
	int fd, err;

	if (usbfs->connected(keep_fd) == -ENODEV)
		return USB_REVOKED;	/* unplugged: its fds are dead already */
	if (port_fd < 0)
		return reason_fail(why, whylen, -ENOENT, "no port to revoke the device by");
	fd = openat(port_fd, "disable", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return reason_fail(why, whylen, -errno, "cannot open the port's disable: %s",
				   strerror(errno));
	err = write_disable(fd, '1');
	if (err) {
		close(fd);
		return reason_fail(why, whylen, err, "cannot disable the port: %s", strerror(-err));
	}
	/* The disconnect is synchronous: by now the broker's own fd must be dead too. */
	err = usbfs->connected(keep_fd);
	if (err != -ENODEV) {
		write_disable(fd, '0');
		close(fd);
		return reason_fail(why, whylen, -EIO,
				   "the port was disabled but the device is still connected");
	}
	err = write_disable(fd, '0');
	close(fd);
	if (err) {
		reason_fail(why, whylen, err, "the port stays disabled: %s", strerror(-err));
		return USB_REVOKED_PORT_OFF;
	}
	return USB_REVOKED;
}
