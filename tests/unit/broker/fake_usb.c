/* SPDX-License-Identifier: MIT */
#define _XOPEN_SOURCE 700
#include "tests/unit/broker/fake_usb.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/usbfs.h"

struct fake_usbfs fake_usbfs;

/* Each fake device's node number and its port's disable: disabled, the device is disconnected. */
#define FAKE_MAX_PORTS 32
static struct {
	dev_t rdev;
	char disable[600];
} fake_ports[FAKE_MAX_PORTS];
static unsigned int fake_nports;

static void record(enum fake_usbfs_op op, int fd, uint32_t mask)
{
	struct stat st;

	cr_assert_lt(fake_usbfs.ncalls, FAKE_USBFS_MAX_CALLS, "more usbfs calls than the fake records");
	cr_assert_eq(fstat(fd, &st), 0, "a usbfs call on fd %d, which is not open", fd);
	fake_usbfs.calls[fake_usbfs.ncalls++] = (struct fake_usbfs_call){
		.op = op, .rdev = st.st_rdev, .fd = fd, .mask = mask,
	};
}

static int fake_drop_privileges(int fd, uint32_t allowed)
{
	record(FAKE_USBFS_DROP, fd, allowed);
	return fake_usbfs.drop_error;
}

static int fake_detach_drivers(int fd, uint32_t mask, uint32_t *detached)
{
	record(FAKE_USBFS_DETACH, fd, mask);
	*detached = fake_usbfs.drivers & mask;
	fake_usbfs.drivers &= ~mask;
	return 0;
}

static unsigned int fake_attach_drivers(int fd, uint32_t mask)
{
	record(FAKE_USBFS_ATTACH, fd, mask);
	fake_usbfs.drivers |= mask;
	return 0;
}

/* ENODEV once the port of the device fd names has "1" in its disable, as usbfs after the kernel's disconnect. */
static int fake_connected(int fd)
{
	struct stat st;
	char value[8] = "";

	if (fstat(fd, &st) < 0)
		return -errno;
	for (unsigned int i = 0; i < fake_nports; i++) {
		int dfd;
		ssize_t n;

		if (fake_ports[i].rdev != st.st_rdev)
			continue;
		dfd = open(fake_ports[i].disable, O_RDONLY | O_CLOEXEC);
		if (dfd < 0)
			return 0;
		n = read(dfd, value, sizeof(value) - 1);
		close(dfd);
		return n > 0 && value[0] == '1' ? -ENODEV : 0;
	}
	return 0;
}

static const struct usbfs_ops fake_usbfs_ops = {
	.drop_privileges = fake_drop_privileges,
	.detach_drivers = fake_detach_drivers,
	.attach_drivers = fake_attach_drivers,
	.connected = fake_connected,
};

unsigned int fake_usbfs_count(enum fake_usbfs_op op, dev_t rdev, uint32_t *last)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fake_usbfs.ncalls; i++) {
		if (fake_usbfs.calls[i].op != op || fake_usbfs.calls[i].rdev != rdev)
			continue;
		n++;
		if (last)
			*last = fake_usbfs.calls[i].mask;
	}
	return n;
}

static void mkdirs(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	cr_assert(mkdir(tmp, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", tmp, strerror(errno));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

void fake_usb_path(const struct fake_usb *f, const char *rel, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->root, rel);
}

void fake_usb_setup(struct fake_usb *f, unsigned int major)
{
	char p[256];

	memset(f, 0, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/var/tmp/svmm-broker-test.XXXXXX");
	cr_assert_not_null(mkdtemp(f->root));
	snprintf(f->dev, sizeof(f->dev), "%s/dev", f->root);
	snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root);
	mkdirs(f->dev);
	fake_usb_path(f, "sys/dev/char", p, sizeof(p));
	mkdirs(p);
	fake_usb_path(f, "sys/bus/usb/devices", p, sizeof(p));
	mkdirs(p);
	fake_usb_path(f, "sys/devices", p, sizeof(p));
	mkdirs(p);
	f->major = major;
	f->cfg.dev_root = f->dev;
	f->cfg.sys_root = f->sys;
	f->cfg.usb_major = major;
	f->cfg.usbfs = &fake_usbfs_ops;
	memset(&fake_usbfs, 0, sizeof(fake_usbfs));
	fake_nports = 0;
}

static void attr(const char *dir, const char *name, const char *value)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	write_file(p, value);
}

/* The parent hub's port of the device on port path "B-P[.P]...", and the device's link to it. */
static void add_port(struct fake_usb *f, const struct fake_dev *d, const char *devdir)
{
	const char *dot = strrchr(d->devpath, '.');
	char hubif[96], name[128], dir[512], link[256], p[768];

	if (dot) {
		snprintf(hubif, sizeof(hubif), "%u-%.*s:1.0", d->bus, (int)(dot - d->devpath), d->devpath);
		snprintf(name, sizeof(name), "%u-%.*s-port%s", d->bus, (int)(dot - d->devpath),
			 d->devpath, dot + 1);
	} else {
		snprintf(hubif, sizeof(hubif), "%u-0:1.0", d->bus);
		snprintf(name, sizeof(name), "usb%u-port%s", d->bus, d->devpath);
	}
	snprintf(dir, sizeof(dir), "%s/devices/%s/%s", f->sys, hubif, name);
	mkdirs(dir);
	snprintf(p, sizeof(p), "%s\n", d->connect_type ? d->connect_type : "hotplug");
	attr(dir, "connect_type", p);
	attr(dir, "disable", "0\n");
	cr_assert_lt(fake_nports, FAKE_MAX_PORTS);
	fake_ports[fake_nports].rdev = makedev(f->major, (d->bus - 1) * 128 + (d->dev - 1));
	cr_assert_lt((size_t)snprintf(fake_ports[fake_nports].disable, sizeof(fake_ports[0].disable),
				      "%.500s/disable", dir), sizeof(fake_ports[0].disable));
	fake_nports++;
	snprintf(link, sizeof(link), "../%s/%s", hubif, name);
	snprintf(p, sizeof(p), "%s/port", devdir);
	cr_assert_eq(symlink(link, p), 0, "%s: %s", p, strerror(errno));
}

void fake_usb_add(struct fake_usb *f, const struct fake_dev *d)
{
	unsigned int minor = (d->bus - 1) * 128 + (d->dev - 1);
	char port[64], devdir[512], p[1024], v[300], link[1024];

	snprintf(port, sizeof(port), "%u-%s", d->bus, d->devpath);
	snprintf(devdir, sizeof(devdir), "%s/devices/%s", f->sys, port);
	mkdirs(devdir);
	snprintf(v, sizeof(v), "%04x\n", d->vendor);
	attr(devdir, "idVendor", v);
	snprintf(v, sizeof(v), "%04x\n", d->product);
	attr(devdir, "idProduct", v);
	snprintf(v, sizeof(v), "%02x\n", d->device_class);
	attr(devdir, "bDeviceClass", v);
	snprintf(v, sizeof(v), "%u\n", d->bus);
	attr(devdir, "busnum", v);
	snprintf(v, sizeof(v), "%u\n", d->dev);
	attr(devdir, "devnum", v);
	snprintf(v, sizeof(v), "%s\n", d->devpath);
	attr(devdir, "devpath", v);
	snprintf(v, sizeof(v), "%s\n", d->speed ? d->speed : "480");
	attr(devdir, "speed", v);
	snprintf(v, sizeof(v), "%u:%u\n", f->major, minor);
	attr(devdir, "dev", v);
	if (d->serial) {
		snprintf(v, sizeof(v), "%s\n", d->serial);
		attr(devdir, "serial", v);
	}
	if (d->removable) {
		snprintf(v, sizeof(v), "%s\n", d->removable);
		attr(devdir, "removable", v);
	}
	snprintf(v, sizeof(v), "%2u\n", d->nif);	/* the kernel pads it to two */
	attr(devdir, "bNumInterfaces", v);
	add_port(f, d, devdir);
	for (unsigned int i = 0; i < d->nif; i++) {
		unsigned int num = d->if_num[0] || d->if_num[1] ? d->if_num[i] : i;
		char ifdir[768];

		snprintf(ifdir, sizeof(ifdir), "%s/%s:1.%u", devdir, port, num);
		mkdirs(ifdir);
		snprintf(v, sizeof(v), "%02x\n", num);
		attr(ifdir, "bInterfaceNumber", v);
		snprintf(v, sizeof(v), "%02x\n", d->if_class[i]);
		attr(ifdir, "bInterfaceClass", v);
		snprintf(v, sizeof(v), "%02x\n", d->if_subclass[i]);
		attr(ifdir, "bInterfaceSubClass", v);
		snprintf(v, sizeof(v), "%02x\n", d->if_protocol[i]);
		attr(ifdir, "bInterfaceProtocol", v);
	}
	/* The links the kernel makes: dev/char/MAJ:MIN and bus/usb/devices/PORT to the device. */
	snprintf(p, sizeof(p), "%s/dev/char/%u:%u", f->sys, f->major, minor);
	snprintf(link, sizeof(link), "../../devices/%s", port);
	cr_assert_eq(symlink(link, p), 0, "%s: %s", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/bus/usb/devices/%s", f->sys, port);
	snprintf(link, sizeof(link), "../../../devices/%s", port);
	cr_assert_eq(symlink(link, p), 0, "%s: %s", p, strerror(errno));

	snprintf(p, sizeof(p), "%s/%03u", f->dev, d->bus);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/%03u/%03u", f->dev, d->bus, d->dev);
	cr_assert_eq(mknod(p, S_IFCHR | 0664, makedev(f->major, minor)), 0, "mknod %s: %s", p,
		     strerror(errno));
}

void fake_usb_attr(struct fake_usb *f, const char *port, const char *name, const char *value)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/devices/%s/%s", f->sys, port, name);
	if (value)
		write_file(p, value);
	else
		unlink(p);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fake_usb_remove(struct fake_usb *f, const struct fake_dev *d)
{
	unsigned int minor = (d->bus - 1) * 128 + (d->dev - 1);
	char p[1024];

	snprintf(p, sizeof(p), "%s/%03u/%03u", f->dev, d->bus, d->dev);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dev/char/%u:%u", f->sys, f->major, minor);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bus/usb/devices/%u-%s", f->sys, d->bus, d->devpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s/devices/%u-%s", f->sys, d->bus, d->devpath);
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fake_usb_teardown(struct fake_usb *f)
{
	if (f->root[0])
		nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	f->root[0] = '\0';
}

struct fake_dev fake_usb_plain(unsigned int dev)
{
	static char devpaths[128][4];
	struct fake_dev d = {
		.bus = 1, .dev = dev, .vendor = 0x1050, .product = 0x0407, .device_class = 0,
		.serial = NULL, .nif = 1, .if_class = { 0x08 },
	};

	snprintf(devpaths[dev % 128], sizeof(devpaths[0]), "%u", dev);
	d.devpath = devpaths[dev % 128];
	return d;
}
