/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the broker's reading of a device's identity from sysfs
 * (usb_identity_read), the privileged process parsing what a device chose
 * (its ids, classes, serial string, interfaces), before the policy decides.
 * /sys is a private tmpfs (fuzz_ns.c) holding dev/char/189:3, the directory
 * of bus 1 device 4, whose attribute files the input writes; the broker's
 * configuration is the production one (broker_config_init).
 *
 * Input: fields separated by NUL bytes, in this order; an empty field
 * leaves its file out:
 *   idVendor idProduct bDeviceClass busnum devnum devpath serial speed
 *   bNumInterfaces removable
 *   then per interface (at most 40): a name suffix, bInterfaceNumber,
 *   bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol; the
 *   interface's directory is "BUSNUM-DEVPATH:SUFFIX"
 *   (the values, without a trailing newline), as the kernel names "1-2.3:1.0".
 *
 * Invariants beyond "no crash":
 *   - a refusal says why;
 *   - an identity read is the node's (bus and device number give minor 3),
 *     its port path is valid and starts with its bus, its serial is
 *     terminated and free of control characters, classes only of
 *     interfaces it has;
 *   - the broker can send it: a reply carrying it passes the reply decoder
 *     (a refusal, and a grant of every interface);
 *   - the built-in policy admits it exactly when it is not a hub, a boot
 *     keyboard or mouse, or on an internal port.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/broker_config.h"
#include "common/broker_protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_ns.h"
#include "broker/usb_identity.h"
#include "broker/usb_policy.h"

#define DEV_DIR "/sys/dev/char/189:3"
#define MINOR 3u	/* bus 1 device 4: (1 - 1) * 128 + (4 - 1) */
#define MAX_INTERFACES 40
#define NAME_MAX_LEN 200

enum {
	F_VENDOR, F_PRODUCT, F_CLASS, F_BUSNUM, F_DEVNUM, F_DEVPATH, F_SERIAL, F_SPEED,
	F_NUM_INTERFACES, F_REMOVABLE, F_DEVICE_END
};

static const char *const attr_names[F_DEVICE_END] = {
	"idVendor", "idProduct", "bDeviceClass", "busnum", "devnum", "devpath", "serial", "speed",
	"bNumInterfaces", "removable",
};

static const char *const interface_attrs[] = {
	"bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol",
};
#define N_INTERFACE_ATTRS (sizeof(interface_attrs) / sizeof(interface_attrs[0]))

static struct broker_config config;
static struct usb_policy *builtin;
static char made[MAX_INTERFACES][NAME_MAX_LEN + 1];	/* interface directories of the last input */
static unsigned int nmade;

struct field {
	const char *p;
	size_t len;
};

/* The next NUL-terminated field of the input; an input that ran out gives empty ones. */
static struct field next_field(const uint8_t **data, size_t *size)
{
	const uint8_t *end = memchr(*data, '\0', *size);
	struct field f = { (const char *)*data, end ? (size_t)(end - *data) : *size };

	*data += f.len + (end ? 1 : 0);
	*size -= f.len + (end ? 1 : 0);
	return f;
}

static void write_attr(int dirfd, const char *name, struct field f)
{
	int fd;

	if (f.len == 0) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			fuzz_ns_die(name);
		return;
	}
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, f.p, f.len) != (ssize_t)f.len)
		fuzz_ns_die(name);
	close(fd);
}

static void remove_interfaces(int dirfd)
{
	for (unsigned int i = 0; i < nmade; i++) {
		int fd = openat(dirfd, made[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			for (unsigned int a = 0; a < N_INTERFACE_ATTRS; a++)
				unlinkat(fd, interface_attrs[a], 0);
			close(fd);
		}
		if (unlinkat(dirfd, made[i], AT_REMOVEDIR) < 0)
			fuzz_ns_die(made[i]);
	}
	nmade = 0;
}

/* The attribute's value as sysfs_read gives it: without one trailing newline. */
static struct field value_of(struct field f)
{
	if (f.len && f.p[f.len - 1] == '\n')
		f.len--;
	return f;
}

/* "BUSNUM-DEVPATH:SUFFIX", if it is a name a directory can have and not made already. */
static bool interface_name(char *out, struct field bus, struct field devpath, struct field suffix)
{
	int n;

	bus = value_of(bus);
	devpath = value_of(devpath);
	n = snprintf(out, NAME_MAX_LEN + 1, "%.*s-%.*s:%.*s", (int)bus.len, bus.p, (int)devpath.len,
			 devpath.p, (int)suffix.len, suffix.p);

	if (n < 0 || n > NAME_MAX_LEN || strchr(out, '/') || strlen(out) != (size_t)n)
		return false;
	for (unsigned int i = 0; i < nmade; i++) {
		if (!strcmp(made[i], out))
			return false;
	}
	return true;
}

static void write_tree(const uint8_t *data, size_t size)
{
	struct field f[F_DEVICE_END];
	int dirfd = open(DEV_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		fuzz_ns_die(DEV_DIR);
	remove_interfaces(dirfd);
	for (unsigned int i = 0; i < F_DEVICE_END; i++) {
		f[i] = next_field(&data, &size);
		write_attr(dirfd, attr_names[i], f[i]);
	}
	while (size && nmade < MAX_INTERFACES) {
		struct field suffix = next_field(&data, &size);
		struct field attrs[N_INTERFACE_ATTRS];
		int fd;

		for (unsigned int a = 0; a < N_INTERFACE_ATTRS; a++)
			attrs[a] = next_field(&data, &size);

		if (!interface_name(made[nmade], f[F_BUSNUM], f[F_DEVPATH], suffix))
			continue;
		if (mkdirat(dirfd, made[nmade], 0755) < 0)
			fuzz_ns_die(made[nmade]);
		fd = openat(dirfd, made[nmade], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fuzz_ns_die(made[nmade]);
		nmade++;
		for (unsigned int a = 0; a < N_INTERFACE_ATTRS; a++)
			write_attr(fd, interface_attrs[a], attrs[a]);
		close(fd);
	}
	close(dirfd);
}

static void check_identity(const struct broker_device *d, const struct usb_traits *t)
{
	static struct broker_request open_req;
	static struct broker_reply p, out;
	struct usb_verdict v;
	char bus[8];
	const char *why = NULL;

	FUZZ_CHECK(d->busnum >= 1 && d->devnum >= 1 && d->devnum <= 127);
	FUZZ_CHECK((d->busnum - 1u) * 128u + (d->devnum - 1u) == MINOR);
	FUZZ_CHECK(usb_port_path_valid(d->port_path));
	snprintf(bus, sizeof(bus), "%u-", d->busnum);
	FUZZ_CHECK(strncmp(d->port_path, bus, strlen(bus)) == 0);
	FUZZ_CHECK(memchr(d->serial, '\0', sizeof(d->serial)) != NULL);
	for (const char *c = d->serial; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++)
		FUZZ_CHECK((d->interfaces & (1u << i)) || d->interface_class[i] == 0);

	/* What the broker sends with a refusal, and with a grant of every interface. */
	FUZZ_CHECK(broker_request_open(&open_req, 7, BROKER_TARGET_NODE, "/dev/bus/usb/001/004") == 0);
	broker_reply_init(&p, &open_req);
	broker_reply_error(&p, SVMM_E_FAILED_TO_OPEN_DEVICE, "refused");
	p.device = *d;
	FUZZ_CHECK(broker_reply_decode(&p, sizeof(p), 0, BROKER_OPEN, 7, &out, &why) == 0);
	broker_reply_init(&p, &open_req);
	p.handle = 1;
	p.flags = BROKER_FLAG_MAY_DETACH;
	p.allowed = d->interfaces;
	p.device = *d;
	FUZZ_CHECK(broker_reply_decode(&p, sizeof(p), 1, BROKER_OPEN, 7, &out, &why) == 0);

	/* The built-in policy names no device: a hub, a boot keyboard or mouse, an internal device are refused. */
	FUZZ_CHECK((t->hid_boot & ~d->interfaces) == 0);
	usb_policy_evaluate(builtin, d, t, &v);
	FUZZ_CHECK(v.allow == (!usb_identity_is_hub(d) && !t->internal && !(t->hid_boot & d->interfaces)));
	FUZZ_CHECK(!v.allow || v.allowed == d->interfaces);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_ns_tmpfs("/sys");
	if (mkdir("/sys/dev", 0755) < 0 || mkdir("/sys/dev/char", 0755) < 0 || mkdir(DEV_DIR, 0755) < 0)
		fuzz_ns_die(DEV_DIR);
	broker_config_init(&config);
	builtin = usb_policy_builtin();
	FUZZ_CHECK(builtin != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker_device d;
	struct usb_traits t;
	char why[256] = "";
	int err;

	write_tree(data, size);
	err = usb_identity_read(&config, makedev(BROKER_USB_DEVICE_MAJOR, MINOR), &d, &t, why, sizeof(why));
	if (err) {
		FUZZ_CHECK(err < 0 && why[0] != '\0');
		return 0;
	}
	check_identity(&d, &t);
	return 0;
}
