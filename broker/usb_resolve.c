/* SPDX-License-Identifier: MIT */
#include "broker/usb_resolve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/sysfs_attr.h"
#include "broker/usb_identity.h"

int usb_spec_parse(const char *s, struct usb_spec *out)
{
	char v[5], p[5];
	uint32_t vendor, product;
	size_t len = strlen(s);

	memset(out, 0, sizeof(*out));
	if (usb_port_path_valid(s)) {
		out->by_port = true;
		memcpy(out->port, s, len + 1);	/* valid port paths are shorter than port[] */
		return 0;
	}
	if (len < 9 || s[4] != ':' || (s[9] != '\0' && s[9] != ':'))
		return -EINVAL;
	memcpy(v, s, 4);
	v[4] = '\0';
	memcpy(p, s + 5, 4);
	p[4] = '\0';
	if (sysfs_parse_hex(v, 4, &vendor) || sysfs_parse_hex(p, 4, &product))
		return -EINVAL;
	if (s[9] == ':') {
		const char *serial = s + 10;

		if (serial[0] == '\0' || strlen(serial) >= sizeof(out->serial))
			return -EINVAL;
		strcpy(out->serial, serial);
	}
	out->vendor = (uint16_t)vendor;
	out->product = (uint16_t)product;
	return 0;
}

bool usb_spec_matches(const struct usb_spec *spec, const struct broker_device *d)
{
	if (spec->by_port)
		return !strcmp(spec->port, d->port_path);
	if (spec->vendor != d->vendor || spec->product != d->product)
		return false;
	return !spec->serial[0] || !strcmp(spec->serial, d->serial);
}

/* SYS/bus/usb/devices/NAME/dev, "MAJ:MIN". */
static int read_devnum(int dirfd, const char *name, dev_t *rdev)
{
	char buf[32], *colon;
	uint32_t maj, min;
	int fd, n;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = sysfs_read(fd, "dev", buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return n;
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (sysfs_parse_dec(buf, 0, 4095, &maj) || sysfs_parse_dec(colon + 1, 0, 1048575, &min))
		return -EINVAL;
	*rdev = makedev(maj, min);
	return 0;
}

int usb_resolve(const struct broker_config *c, const struct usb_spec *spec, char *path,
		size_t pathlen, char *why, size_t whylen)
{
	char devices[4096];
	struct broker_device d, found;
	unsigned int matches = 0, seen = 0;
	struct dirent *e;
	DIR *dir;
	int fd;

	snprintf(devices, sizeof(devices), "%s/bus/usb/devices", c->sys_root);
	fd = open(devices, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(why, whylen, "cannot list USB devices: %s", strerror(-err));
		return err == -ENOENT ? -ENOENT : err;
	}
	while ((e = readdir(dir)) && seen < USB_RESOLVE_MAX_DEVICES) {
		char ignored[BROKER_REASON_MAX];
		dev_t rdev = 0;

		/* Interfaces ("1-2:1.0") and dot entries are not devices. */
		if (e->d_name[0] == '.' || strchr(e->d_name, ':'))
			continue;
		seen++;
		if (read_devnum(fd, e->d_name, &rdev) < 0)
			continue;
		if (usb_identity_read(c, rdev, &d, NULL, ignored, sizeof(ignored)) < 0)
			continue;
		if (!usb_spec_matches(spec, &d))
			continue;
		if (matches++ == 0)
			found = d;
	}
	closedir(dir);
	if (matches == 0) {
		snprintf(why, whylen, "no USB device is %s", spec->by_port ? "on that port" :
			 "that VID:PID[:SERIAL]");
		return -ENOENT;
	}
	if (matches > 1) {
		snprintf(why, whylen, "%u devices match; name the serial or the port", matches);
		return -EEXIST;
	}
	if ((size_t)snprintf(path, pathlen, "%s/%03u/%03u", c->dev_root, found.busnum,
			     found.devnum) >= pathlen) {
		snprintf(why, whylen, "device path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}
