/* SPDX-License-Identifier: MIT */
/*
 * Node checks, sysfs identity and name resolution on fake trees: what passes
 * is a usbfs character device below the root, reached without any link;
 * everything else is refused with a reason that says which check failed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tests/unit/broker/fake_usb.h"
#include "broker/usb_identity.h"
#include "broker/usb_node.h"
#include "broker/usb_resolve.h"
#include "broker/usb_revoke.h"

static struct fake_usb f;

static void setup_usbfs(void)
{
	fake_usb_setup(&f, BROKER_USB_DEVICE_MAJOR);
}

static void setup_standin(void)
{
	fake_usb_setup(&f, 1);
}

static void teardown(void)
{
	fake_usb_teardown(&f);
}

/* Looks rel (under ROOT) up; returns the error and leaves the reason in why. */
static int lookup(const char *rel, char *why, size_t whylen)
{
	struct usb_node n;
	char path[512];
	int r;

	fake_usb_path(&f, rel, path, sizeof(path));
	r = usb_node_lookup(&f.cfg, path, &n, why, whylen);
	if (r == 0)
		usb_node_close(&n);
	return r;
}

static void refused(const char *rel, int err, const char *what)
{
	char why[256] = "";

	cr_assert_eq(lookup(rel, why, sizeof(why)), err, "%s: %s", rel, why);
	cr_assert_not_null(strstr(why, what), "%s: want '%s' in '%s'", rel, what, why);
}

Test(usb_node, a_usbfs_node_under_the_root_passes, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);
	struct usb_node n;
	char path[512], why[256] = "";

	fake_usb_add(&f, &d);
	fake_usb_path(&f, "dev/001/002", path, sizeof(path));
	cr_assert_eq(usb_node_lookup(&f.cfg, path, &n, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(major(n.rdev), 189);
	cr_assert_eq(minor(n.rdev), 1);
	/* No usbfs driver on this machine: the checks pass, the open itself cannot. */
	{
		int fd;

		cr_assert_eq(usb_node_open(&n, &fd, why, sizeof(why)), -ENXIO);
		cr_assert_eq(fd, -1);
	}
	usb_node_close(&n);
	usb_node_close(&n);	/* harmless twice */
}

Test(usb_node, escapes_and_links_are_refused, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);
	char p[512], target[512];

	fake_usb_add(&f, &d);
	refused("dev/001/../001/002", -EPERM, "'..' component");
	refused("dev/001/../../sys/dev", -EPERM, "'..' component");
	refused("dev/./001/002", -EPERM, "'.' component");
	/* A link out of the tree, to /dev/null. */
	fake_usb_path(&f, "dev/001/005", p, sizeof(p));
	cr_assert_eq(symlink("/dev/null", p), 0);
	refused("dev/001/005", -EPERM, "symbolic link");
	/* A link inside the tree to a good node: refused too (docs/policy.md says why). */
	fake_usb_path(&f, "dev/001/006", p, sizeof(p));
	cr_assert_eq(symlink("002", p), 0);
	refused("dev/001/006", -EPERM, "symbolic link");
	/* A linked directory inside the tree. */
	fake_usb_path(&f, "dev/002", p, sizeof(p));
	cr_assert_eq(symlink("001", p), 0);
	refused("dev/002/002", -EPERM, "symbolic link");
	/* A directory link out of the tree. */
	fake_usb_path(&f, "dev/003", p, sizeof(p));
	fake_usb_path(&f, "sys", target, sizeof(target));
	cr_assert_eq(symlink(target, p), 0);
	refused("dev/003/dev", -EPERM, "symbolic link");
}

Test(usb_node, paths_outside_the_root_are_refused, .init = setup_usbfs, .fini = teardown)
{
	struct usb_node n;
	char why[256] = "", p[512];

	cr_assert_eq(usb_node_lookup(&f.cfg, "/dev/null", &n, why, sizeof(why)), -EPERM);
	cr_assert_not_null(strstr(why, "not a device node under"), "%s", why);
	cr_assert_eq(usb_node_lookup(&f.cfg, "/dev/kvm", &n, why, sizeof(why)), -EPERM);
	cr_assert_eq(usb_node_lookup(&f.cfg, "dev/001/002", &n, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, "not an absolute path"), "%s", why);
	/* A sibling whose name starts like the root is not under it. */
	snprintf(p, sizeof(p), "%sx/001/002", f.dev);
	cr_assert_eq(usb_node_lookup(&f.cfg, p, &n, why, sizeof(why)), -EPERM);
	/* The root itself, and an empty component. */
	snprintf(p, sizeof(p), "%s/", f.dev);
	cr_assert_eq(usb_node_lookup(&f.cfg, p, &n, why, sizeof(why)), -EPERM);
	snprintf(p, sizeof(p), "%s/001//002", f.dev);
	cr_assert_eq(usb_node_lookup(&f.cfg, p, &n, why, sizeof(why)), -EINVAL);
}

Test(usb_node, the_real_dev_null_and_kvm_fail_the_usbfs_checks)
{
	struct broker_config c;
	struct usb_node n;
	char why[256] = "";

	/* Even with the root widened to /dev, they are not usbfs nodes. */
	broker_config_init(&c);
	c.dev_root = "/dev";
	cr_assert_eq(usb_node_lookup(&c, "/dev/null", &n, why, sizeof(why)), -EPERM);
	cr_assert_str_eq(why, "character device 1:3 is not a usbfs node (major 189)");
	if (access("/dev/kvm", F_OK) == 0) {
		cr_assert_eq(usb_node_lookup(&c, "/dev/kvm", &n, why, sizeof(why)), -EPERM);
		cr_assert_not_null(strstr(why, "is not a usbfs node"), "%s", why);
	}
	/* With the real root, which this machine does not have: no such node. */
	broker_config_init(&c);
	cr_assert_eq(usb_node_lookup(&c, "/dev/bus/usb/001/002", &n, why, sizeof(why)), -ENOENT);
}

Test(usb_node, other_file_types_are_refused, .init = setup_usbfs, .fini = teardown)
{
	char p[512];
	FILE *file;

	fake_usb_path(&f, "dev/001", p, sizeof(p));
	mkdir(p, 0755);
	fake_usb_path(&f, "dev/001/003", p, sizeof(p));
	file = fopen(p, "w");
	cr_assert_not_null(file);
	fclose(file);
	refused("dev/001/003", -EPERM, "not a character device (a regular file)");
	refused("dev/001", -EPERM, "not a character device (a directory)");
	fake_usb_path(&f, "dev/001/004", p, sizeof(p));
	cr_assert_eq(mknod(p, S_IFCHR | 0600, makedev(1, 3)), 0);
	refused("dev/001/004", -EPERM, "character device 1:3 is not a usbfs node");
	fake_usb_path(&f, "dev/001/009", p, sizeof(p));
	cr_assert_eq(mknod(p, S_IFBLK | 0600, makedev(189, 8)), 0);
	refused("dev/001/009", -EPERM, "a block device");
	fake_usb_path(&f, "dev/001/010", p, sizeof(p));
	cr_assert_eq(mkfifo(p, 0600), 0);
	refused("dev/001/010", -EPERM, "a special file");
	refused("dev/001/077", -ENOENT, "no such device node");
	refused("dev/009/001", -ENOENT, "no such device node");
	/* A file used as a directory. */
	refused("dev/001/003/x", -ENOTDIR, "is not a directory");
}

Test(usb_node, the_open_follows_the_checked_inode_not_the_name, .init = setup_standin,
     .fini = teardown)
{
	struct fake_dev a = fake_usb_plain(4), b = fake_usb_plain(6);	/* 1:3 null, 1:5 zero */
	struct usb_node n;
	struct stat st;
	char pa[512], pb[512], why[256] = "";
	int fd, flags;

	fake_usb_add(&f, &a);
	fake_usb_add(&f, &b);
	fake_usb_path(&f, "dev/001/004", pa, sizeof(pa));
	fake_usb_path(&f, "dev/001/006", pb, sizeof(pb));
	cr_assert_eq(usb_node_lookup(&f.cfg, pa, &n, why, sizeof(why)), 0, "%s", why);
	/* Between check and open, another node is renamed over the checked name. */
	cr_assert_eq(rename(pb, pa), 0);
	cr_assert_eq(usb_node_open(&n, &fd, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_rdev, makedev(1, 3), "the open went to the renamed node");
	flags = fcntl(fd, F_GETFL);
	cr_assert_eq(flags & O_ACCMODE, O_RDWR);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	usb_node_close(&n);
}

Test(usb_identity, sysfs_gives_the_whole_identity, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev d = {
		.bus = 3, .dev = 7, .vendor = 0x0781, .product = 0x5567, .device_class = 0,
		.serial = "4C53 0001", .devpath = "2.4", .nif = 2, .if_class = { 0x08, 0xff },
		.speed = "5000",
	};
	struct broker_device id;
	char why[256] = "";

	fake_usb_add(&f, &d);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 2 * 128 + 6), &id, NULL, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(id.vendor, 0x0781);
	cr_assert_eq(id.product, 0x5567);
	cr_assert_eq(id.busnum, 3);
	cr_assert_eq(id.devnum, 7);
	cr_assert_eq(id.speed, 4);	/* SuperSpeed */
	cr_assert_str_eq(id.serial, "4C53 0001");
	cr_assert_str_eq(id.port_path, "3-2.4");
	cr_assert_eq(id.interfaces, 0x3);
	cr_assert_eq(id.interface_class[0], 0x08);
	cr_assert_eq(id.interface_class[1], 0xff);
	cr_assert_not(usb_identity_is_hub(&id));
}

Test(usb_identity, bad_sysfs_is_refused, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);
	struct broker_device id;
	dev_t rdev = makedev(189, 1);
	char why[256] = "";

	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -ENODEV);
	cr_assert_not_null(strstr(why, "no sysfs entry for 189:1"), "%s", why);
	fake_usb_add(&f, &d);
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), 0, "%s", why);

	fake_usb_attr(&f, "1-2", "idVendor", "10g0\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	fake_usb_attr(&f, "1-2", "idVendor", NULL);
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	fake_usb_attr(&f, "1-2", "idVendor", "1050\n");
	/* sysfs describing another node than the one held. */
	fake_usb_attr(&f, "1-2", "devnum", "3\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, "which is not node 189:1"), "%s", why);
	fake_usb_attr(&f, "1-2", "devnum", "2\n");
	/* A device's serial with a control character (it could forge a log line). */
	fake_usb_attr(&f, "1-2", "serial", "abc\ndef\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, "serial"), "%s", why);
	fake_usb_attr(&f, "1-2", "serial", NULL);
	fake_usb_attr(&f, "1-2", "devpath", "2.0\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	/* devpath 0 is a bus's root hub: refused as the hub it is, not as a bad path. */
	fake_usb_attr(&f, "1-2", "devpath", "0\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "bus 1's root hub: hubs are never passed through");
	fake_usb_attr(&f, "1-2", "devpath", "2\n");
	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(id.serial, "");
}

Test(usb_identity, interface_numbers_usbfs_cannot_mask_are_refused, .init = setup_usbfs,
     .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);
	struct broker_device id;
	char why[256] = "";

	d.nif = 2;
	d.if_num[0] = 0;
	d.if_num[1] = 32;
	d.if_class[1] = 0xff;
	fake_usb_add(&f, &d);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 1), &id, NULL, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, "interface number 32"), "%s", why);
}

Test(usb_identity, hubs_are_recognised_by_class, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);
	struct broker_device id;
	char why[256] = "";

	d.device_class = 0x09;
	d.if_class[0] = 0x09;
	fake_usb_add(&f, &d);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 1), &id, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert(usb_identity_is_hub(&id));
}

Test(usb_resolve, names_resolve_to_one_node, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev a = fake_usb_plain(2), b = fake_usb_plain(3), c = fake_usb_plain(4);
	struct usb_spec s;
	char path[512], want[512], why[256] = "";

	a.serial = "AAA";
	b.serial = "BBB";
	c.vendor = 0x0781;
	fake_usb_add(&f, &a);
	fake_usb_add(&f, &b);
	fake_usb_add(&f, &c);

	cr_assert_eq(usb_spec_parse("0781:5567", &s), 0);
	cr_assert_eq(usb_spec_parse("0781:0407", &s), 0);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), 0, "%s", why);
	snprintf(want, sizeof(want), "%s/001/004", f.dev);
	cr_assert_str_eq(path, want);

	cr_assert_eq(usb_spec_parse("1050:0407", &s), 0);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), -EEXIST);
	cr_assert_not_null(strstr(why, "2 devices match"), "%s", why);
	cr_assert_eq(usb_spec_parse("1050:0407:BBB", &s), 0);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), 0, "%s", why);
	snprintf(want, sizeof(want), "%s/001/003", f.dev);
	cr_assert_str_eq(path, want);
	cr_assert_eq(usb_spec_parse("1-2", &s), 0);
	cr_assert(s.by_port);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), 0, "%s", why);
	snprintf(want, sizeof(want), "%s/001/002", f.dev);
	cr_assert_str_eq(path, want);
	cr_assert_eq(usb_spec_parse("1-9", &s), 0);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), -ENOENT);
	cr_assert_eq(usb_spec_parse("1050:0407:CCC", &s), 0);
	cr_assert_eq(usb_resolve(&f.cfg, &s, path, sizeof(path), why, sizeof(why)), -ENOENT);
}

Test(usb_resolve, malformed_names_are_refused)
{
	struct usb_spec s;

	cr_assert_eq(usb_spec_parse("1050", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("1050:04070", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("105g:0407", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("1050:0407:", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("../1-2", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("1-2/..", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("/dev/bus/usb/001/002", &s), -EINVAL);
	cr_assert_eq(usb_spec_parse("1-2.3", &s), 0);
	cr_assert_str_eq(s.port, "1-2.3");
}

/* What the defaults weigh: boot keyboards and mice among the interfaces, a hard-wired port. */
Test(usb_identity, boot_hid_interfaces_and_internal_ports_are_read, .init = setup_usbfs,
     .fini = teardown)
{
	struct fake_dev kbd = fake_usb_plain(2), cam = fake_usb_plain(3), hub_side = fake_usb_plain(4);
	struct broker_device id;
	struct usb_traits t;
	char why[256] = "";

	/* Interface 0 a boot keyboard, 1 a boot mouse, 2 HID but not boot, 3 boot subclass with protocol 0. */
	kbd.nif = 4;
	memcpy(kbd.if_class, (uint8_t[]){ 0x03, 0x03, 0x03, 0x03 }, 4);
	memcpy(kbd.if_subclass, (uint8_t[]){ 0x01, 0x01, 0x00, 0x01 }, 4);
	memcpy(kbd.if_protocol, (uint8_t[]){ 0x01, 0x02, 0x01, 0x00 }, 4);
	fake_usb_add(&f, &kbd);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 1), &id, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(t.hid_boot, 0x3);
	cr_assert_not(t.internal);

	cam.removable = "fixed";
	fake_usb_add(&f, &cam);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 2), &id, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert(t.internal);
	fake_usb_attr(&f, "1-3", "removable", "removable\n");
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 2), &id, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert_not(t.internal);

	/* Behind an external hub: its port is the hub's (1-4 in 1-4.2), hard-wired there. */
	hub_side.dev = 5;
	hub_side.devpath = "4.2";
	hub_side.connect_type = "hardwired";
	fake_usb_add(&f, &hub_side);
	cr_assert_eq(usb_identity_read(&f.cfg, makedev(189, 4), &id, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(id.port_path, "1-4.2");
	cr_assert(t.internal);
}

/* usb_identity_read of rdev fails with err and exactly the reason want. */
static void identity_refused(dev_t rdev, int err, const char *want)
{
	struct broker_device id;
	char why[256] = "";

	cr_assert_eq(usb_identity_read(&f.cfg, rdev, &id, NULL, why, sizeof(why)), err, "%s", why);
	cr_assert_str_eq(why, want);
}

/* A node whose configuration is not all there yet cannot be judged: refused, try again. */
Test(usb_identity, a_device_still_being_configured_is_refused, .init = setup_usbfs,
     .fini = teardown)
{
	struct fake_dev d = fake_usb_plain(2);

	d.nif = 2;
	d.if_class[1] = 0x03;
	fake_usb_add(&f, &d);
	fake_usb_attr(&f, "1-2", "bNumInterfaces", " 3\n");
	identity_refused(makedev(189, 1), -EAGAIN,
			 "2 of the configuration's 3 interfaces are there (still enumerating?)");
	fake_usb_attr(&f, "1-2", "bNumInterfaces", "\n");
	identity_refused(makedev(189, 1), -EAGAIN,
			 "the device has no configuration yet (still enumerating?)");
}

/* The port a device is revoked by is its own: the "port" link must name the port its path says. */
Test(usb_revoke, the_port_is_the_one_the_device_is_on, .init = setup_usbfs, .fini = teardown)
{
	struct fake_dev a = fake_usb_plain(2), b = fake_usb_plain(3), c = fake_usb_plain(4);
	char why[256] = "", link[512];
	int port_fd;

	c.devpath = "2.3";
	fake_usb_add(&f, &a);
	fake_usb_add(&f, &b);
	fake_usb_add(&f, &c);
	cr_assert_eq(usb_revoke_open_port(&f.cfg, makedev(189, 1), "1-2", &port_fd, why, sizeof(why)), 0,
		     "%s", why);
	close(port_fd);
	cr_assert_eq(usb_revoke_open_port(&f.cfg, makedev(189, 3), "1-2.3", &port_fd, why, sizeof(why)),
		     0, "%s", why);
	close(port_fd);
	/* A link to another port (device 1-2's pointing at 1-3's) is refused. */
	fake_usb_path(&f, "sys/devices/1-2/port", link, sizeof(link));
	cr_assert_eq(unlink(link), 0);
	cr_assert_eq(symlink("../1-0:1.0/usb1-port3", link), 0);
	cr_assert_eq(usb_revoke_open_port(&f.cfg, makedev(189, 1), "1-2", &port_fd, why, sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "the device's port is usb1-port3, not usb1-port2");
	cr_assert_eq(port_fd, -1);
	cr_assert_eq(unlink(link), 0);
	cr_assert_eq(usb_revoke_open_port(&f.cfg, makedev(189, 1), "1-2", &port_fd, why, sizeof(why)),
		     -ENOENT);
}
