/* SPDX-License-Identifier: MIT */
#include "broker/uevent.h"

#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


/* The kernel's uevents go to multicast group 1 (udev's to 2, not read). */
#define UEVENT_KERNEL_GROUP 1u
/* Larger than any uevent the kernel sends (UEVENT_BUFFER_SIZE is 2048). */
#define UEVENT_MAX 8192u

int uevent_open(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = UEVENT_KERNEL_GROUP };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The value of KEY= among the NUL-separated fields, or NULL. */
static const char *field(const char *buf, size_t len, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < len;) {
		const char *f = buf + i;
		size_t flen = strnlen(f, len - i);

		if (flen > klen && !memcmp(f, key, klen) && f[klen] == '=')
			return f + klen + 1;
		i += flen + 1;
	}
	return NULL;
}

/* BUSNUM and DEVNUM: three decimal digits, zero-padded ("001"), 1..max. */
static int number(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int v = 0;
	size_t len;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len > 3)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int uevent_parse_usb_bind(const char *buf, size_t len, unsigned int *busnum, unsigned int *devnum)
{
	const char *action, *subsystem, *devtype;

	/* "ACTION@DEVPATH\0KEY=VALUE\0...": the last field must end inside the message. */
	if (len == 0 || buf[len - 1] != '\0')
		return -EINVAL;
	action = field(buf, len, "ACTION");
	subsystem = field(buf, len, "SUBSYSTEM");
	devtype = field(buf, len, "DEVTYPE");
	if (!action || !subsystem || strcmp(action, "bind") || strcmp(subsystem, "usb") ||
	    !devtype || strcmp(devtype, "usb_device"))
		return 0;
	if (number(field(buf, len, "BUSNUM"), 255, busnum) ||
	    number(field(buf, len, "DEVNUM"), 127, devnum))
		return -EINVAL;
	return 1;
}

int uevent_read_usb_bind(int fd, unsigned int *busnum, unsigned int *devnum)
{
	static char buf[UEVENT_MAX];
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			      .msg_iovlen = 1 };
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (msg.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0 ||
	    (msg.msg_flags & MSG_TRUNC))
		return 0;
	return uevent_parse_usb_bind(buf, (size_t)n, busnum, devnum) == 1;
}
