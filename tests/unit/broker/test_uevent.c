/* SPDX-License-Identifier: MIT */
/* The kernel's uevents as the broker reads them: only a USB device's bind, from the kernel, counts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/uevent.h"

/* A uevent as the kernel writes it: "ACTION@DEVPATH\0" then "KEY=VALUE\0" fields. */
static size_t build(char *buf, size_t size, const char *const *fields)
{
	size_t n = 0;

	for (unsigned int i = 0; fields[i]; i++) {
		size_t len = strlen(fields[i]) + 1;

		cr_assert_lt(n + len, size);
		memcpy(buf + n, fields[i], len);
		n += len;
	}
	return n;
}

Test(uevent, a_usb_device_bind_gives_its_numbers)
{
	const char *const bind[] = { "bind@/devices/pci0000:00/0000:00:14.0/usb1/1-2", "ACTION=bind",
		"DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-2", "SUBSYSTEM=usb",
		"DEVNAME=bus/usb/001/022", "DEVTYPE=usb_device", "DRIVER=usb", "PRODUCT=525/a4a5/510",
		"TYPE=0/0/0", "BUSNUM=001", "DEVNUM=022", "SEQNUM=4711", "MAJOR=189", "MINOR=21", NULL };
	char buf[1024];
	unsigned int bus = 0, dev = 0;
	size_t n = build(buf, sizeof(buf), bind);

	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), 1);
	cr_assert_eq(bus, 1);
	cr_assert_eq(dev, 22);
}

Test(uevent, other_events_and_bad_ones_give_nothing)
{
	const char *const add[] = { "add@/x", "ACTION=add", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=001", "DEVNUM=002", NULL };
	const char *const intf[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_interface",
		NULL };
	const char *const block[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=block", NULL };
	const char *const no_num[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=001", NULL };
	const char *const big[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=001", "DEVNUM=128", NULL };
	const char *const zero[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=000", "DEVNUM=002", NULL };
	const char *const word[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=0x1", "DEVNUM=002", NULL };
	char buf[512];
	unsigned int bus, dev;
	size_t n;

	n = build(buf, sizeof(buf), add);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), 0);
	n = build(buf, sizeof(buf), intf);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), 0);
	n = build(buf, sizeof(buf), block);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), 0);
	n = build(buf, sizeof(buf), no_num);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), -EINVAL);
	n = build(buf, sizeof(buf), big);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), -EINVAL);
	n = build(buf, sizeof(buf), zero);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), -EINVAL);
	n = build(buf, sizeof(buf), word);
	cr_assert_eq(uevent_parse_usb_bind(buf, n, &bus, &dev), -EINVAL);
	/* A field cut off at the end of the message is not read past it. */
	n = build(buf, sizeof(buf), add);
	cr_assert_eq(uevent_parse_usb_bind(buf, n - 1, &bus, &dev), -EINVAL);
	cr_assert_eq(uevent_parse_usb_bind(buf, 0, &bus, &dev), -EINVAL);
}

Test(uevent, a_bind_forged_by_a_process_is_not_read)
{
	const char *const bind[] = { "bind@/x", "ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device",
		"BUSNUM=001", "DEVNUM=002", NULL };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	char buf[512];
	unsigned int bus, dev;
	int fd = uevent_open(), tx;
	size_t n = build(buf, sizeof(buf), bind);
	int r;

	cr_assert_geq(fd, 0, "uevent_open: %s", strerror(-fd));
	/* Root may send to the group, as udev does; the broker reads the kernel's messages only. */
	tx = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	cr_assert_geq(tx, 0);
	if (sendto(tx, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		cr_skip_test("this host lets no process send to the uevent group (%s)", strerror(errno));
	usleep(100000);
	for (unsigned int i = 0; i < 64; i++) {
		r = uevent_read_usb_bind(fd, &bus, &dev);
		if (r == -EAGAIN)
			break;
		cr_assert_eq(r, 0, "a forged bind was taken for the kernel's");
	}
	close(tx);
	close(fd);
}
