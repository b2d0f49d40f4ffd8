/* SPDX-License-Identifier: MIT */
#include "broker/usb_identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/device_protocol.h"
#include "broker/reason.h"
#include "broker/sysfs_attr.h"

/* sysfs "speed" (Mb/s) to xHCI speed IDs; an unknown speed stays NONE and the device decides. */
static uint8_t parse_speed(const char *s)
{
	static const struct { const char *mbps; uint8_t id; } speeds[] = {
		{ "1.5", DEVPROTO_SPEED_LOW },
		{ "12", DEVPROTO_SPEED_FULL },
		{ "480", DEVPROTO_SPEED_HIGH },
		{ "5000", DEVPROTO_SPEED_SUPER },
		{ "10000", DEVPROTO_SPEED_SUPER_PLUS },
		{ "20000", DEVPROTO_SPEED_SUPER_PLUS },
	};

	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
		if (!strcmp(s, speeds[i].mbps))
			return speeds[i].id;
	}
	return DEVPROTO_SPEED_NONE;
}

/* Numbers 1..255 of at most 3 digits, separated by sep, n of them in [min, max]; returns the rest. */
static const char *numbers(const char *s, char sep, unsigned int min, unsigned int max)
{
	unsigned int n = 0;

	for (;;) {
		size_t len = strspn(s, "0123456789");
		uint32_t v;
		char num[4];

		if (len == 0 || len > 3)
			return NULL;
		memcpy(num, s, len);
		num[len] = '\0';
		if (sysfs_parse_dec(num, 1, 255, &v))
			return NULL;
		s += len;
		if (++n == max || *s != sep)
			break;
		s++;
	}
	return n >= min ? s : NULL;
}

bool usb_port_path_valid(const char *s)
{
	/* Bus, '-', then the ports from the root hub down: USB allows five hubs, so six ports. */
	s = numbers(s, '-', 1, 1);
	if (!s || *s++ != '-')
		return false;
	s = numbers(s, '.', 1, 6);
	return s && *s == '\0';
}

/* One interface directory, "1-2.3:1.0": its number, class, and whether it is a HID boot device. */
static int read_interface(int devfd, const char *name, struct broker_device *d,
			  struct usb_traits *t, char *why, size_t whylen)
{
	uint32_t num, cls, sub, proto;
	int fd, err;

	fd = openat(devfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return reason_fail(why, whylen, -EINVAL, "cannot open interface %s: %s", name, strerror(errno));
	err = sysfs_read_hex(fd, "bInterfaceNumber", 2, &num);
	if (!err)
		err = sysfs_read_hex(fd, "bInterfaceClass", 2, &cls);
	if (!err)
		err = sysfs_read_hex(fd, "bInterfaceSubClass", 2, &sub);
	if (!err)
		err = sysfs_read_hex(fd, "bInterfaceProtocol", 2, &proto);
	close(fd);
	if (err)
		return reason_fail(why, whylen, -EINVAL, "interface %s: malformed or missing attributes", name);
	/* usbfs's claim bitmap and USBDEVFS_DROP_PRIVILEGES's mask stop at 31. */
	if (num >= BROKER_MAX_INTERFACES)
		return reason_fail(why, whylen, -EINVAL, "interface number %u: usbfs cannot restrict it", num);
	if (d->interfaces & (1u << num))
		return reason_fail(why, whylen, -EINVAL, "interface %u appears twice", num);
	d->interfaces |= 1u << num;
	d->interface_class[num] = (uint8_t)cls;
	if (cls == USB_CLASS_HID && sub == USB_HID_SUBCLASS_BOOT &&
	    (proto == USB_HID_PROTOCOL_KEYBOARD || proto == USB_HID_PROTOCOL_MOUSE))
		t->hid_boot |= 1u << num;
	return 0;
}

/*
 * Interfaces of the active configuration are the subdirectories named
 * "PORTPATH:CFG.IF"; all bNumInterfaces of them, or the device is still being
 * configured (the kernel adds them one by one after the node appears).
 */
static int read_interfaces(int devfd, struct broker_device *d, struct usb_traits *t, char *why,
			   size_t whylen)
{
	size_t pl = strlen(d->port_path);
	unsigned int seen = 0;
	uint32_t want;
	struct dirent *e;
	DIR *dir;
	int fd, err = 0;

	/* Empty while the device has no configuration. */
	if (sysfs_read_dec(devfd, "bNumInterfaces", 0, 255, &want))
		return reason_fail(why, whylen, -EAGAIN,
				   "the device has no configuration yet (still enumerating?)");
	fd = openat(devfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return reason_fail(why, whylen, -EINVAL, "cannot list the device's interfaces");
	}
	while (!err && (e = readdir(dir))) {
		if (strncmp(e->d_name, d->port_path, pl) != 0 || e->d_name[pl] != ':')
			continue;
		/* Bounded, so a strange tree cannot keep the broker busy. */
		if (++seen > BROKER_MAX_INTERFACES)
			err = reason_fail(why, whylen, -EINVAL, "more than %u interfaces", BROKER_MAX_INTERFACES);
		else
			err = read_interface(devfd, e->d_name, d, t, why, whylen);
	}
	closedir(dir);
	if (!err && seen != want)
		err = reason_fail(why, whylen, -EAGAIN,
				  "%u of the configuration's %u interfaces are there (still enumerating?)",
				  seen, want);
	return err;
}

/*
 * Whether the device sits on a hard-wired port: its "removable" (from the
 * platform's description of the port) or its port's "connect_type". Either
 * may be missing or "unknown": only what the platform states counts.
 */
static bool on_internal_port(int devfd)
{
	char value[32];
	int portfd;
	bool internal = false;

	if (sysfs_read(devfd, "removable", value, sizeof(value)) >= 0 && !strcmp(value, "fixed"))
		return true;
	/* "port" is the kernel's link to the port of the parent hub the device is on. */
	portfd = openat(devfd, "port", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (portfd < 0)
		return false;
	if (sysfs_read(portfd, "connect_type", value, sizeof(value)) >= 0)
		internal = !strcmp(value, "hardwired");
	close(portfd);
	return internal;
}

int usb_identity_read(const struct broker_config *c, dev_t rdev, struct broker_device *d,
		      struct usb_traits *t, char *why, size_t whylen)
{
	struct usb_traits ignored;
	char path[4096], devpath[64];
	uint32_t vendor, product, cls, busnum, devnum;
	char speed[16];
	int fd, err;

	memset(d, 0, sizeof(*d));
	if (!t)
		t = &ignored;
	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/dev/char/%u:%u", c->sys_root, major(rdev), minor(rdev));
	/* The dev/char link is the kernel's: following it into /sys/devices is how sysfs is read. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return reason_fail(why, whylen, -ENODEV, "no sysfs entry for %u:%u (unplugged?)",
				    major(rdev), minor(rdev));
		return reason_fail(why, whylen, -errno, "cannot open %s: %s", path, strerror(errno));
	}
	err = -EINVAL;
	if (sysfs_read_hex(fd, "idVendor", 4, &vendor) || sysfs_read_hex(fd, "idProduct", 4, &product)) {
		reason_fail(why, whylen, err, "malformed or missing idVendor/idProduct");
		goto out;
	}
	if (sysfs_read_hex(fd, "bDeviceClass", 2, &cls)) {
		reason_fail(why, whylen, err, "malformed or missing bDeviceClass");
		goto out;
	}
	if (sysfs_read_dec(fd, "busnum", 1, 255, &busnum) ||
	    sysfs_read_dec(fd, "devnum", 1, 127, &devnum)) {
		reason_fail(why, whylen, err, "malformed or missing busnum/devnum");
		goto out;
	}
	/* usbfs numbers its nodes (bus-1)*128 + (dev-1): sysfs must describe this very node. */
	if (minor(rdev) != (busnum - 1) * 128 + (devnum - 1)) {
		reason_fail(why, whylen, err, "sysfs says bus %u device %u, which is not node %u:%u", busnum,
		     devnum, major(rdev), minor(rdev));
		goto out;
	}
	if (sysfs_read(fd, "devpath", devpath, sizeof(devpath)) < 0) {
		reason_fail(why, whylen, err, "missing devpath");
		goto out;
	}
	/* devpath 0 is the bus's root hub, which has no port path: say what it is. */
	if (!strcmp(devpath, "0")) {
		reason_fail(why, whylen, err, "bus %u's root hub: hubs are never passed through", busnum);
		goto out;
	}
	if ((size_t)snprintf(d->port_path, sizeof(d->port_path), "%u-%s", busnum, devpath) >=
	    sizeof(d->port_path) || !usb_port_path_valid(d->port_path)) {
		reason_fail(why, whylen, err, "malformed devpath");
		goto out;
	}
	err = sysfs_read(fd, "serial", d->serial, sizeof(d->serial));
	if (err == -ENOENT) {
		d->serial[0] = '\0';
	} else if (err < 0) {
		reason_fail(why, whylen, -EINVAL, "unreadable serial: %s", strerror(-err));
		err = -EINVAL;
		goto out;
	}
	if (sysfs_read(fd, "speed", speed, sizeof(speed)) >= 0)
		d->speed = parse_speed(speed);
	d->vendor = (uint16_t)vendor;
	d->product = (uint16_t)product;
	d->device_class = (uint8_t)cls;
	d->busnum = (uint8_t)busnum;
	d->devnum = (uint8_t)devnum;
	t->internal = on_internal_port(fd);
	err = read_interfaces(fd, d, t, why, whylen);
out:
	close(fd);
	return err;
}

bool usb_identity_is_hub(const struct broker_device *d)
{
	if (d->device_class == USB_CLASS_HUB)
		return true;
	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++) {
		if ((d->interfaces & (1u << i)) && d->interface_class[i] == USB_CLASS_HUB)
			return true;
	}
	return false;
}
