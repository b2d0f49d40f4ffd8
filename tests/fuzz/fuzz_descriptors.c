/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the descriptors of a passed-through device, as the
 * device process takes them in. passthrough_new() wraps the usbfs node the
 * broker opened with libusb_wrap_sys_device(), which reads the node (the
 * device descriptor, then every configuration descriptor set, as the device
 * sent them to the host kernel) and parses it; pt_claim_config() then asks
 * libusb for the active configuration and walks its interfaces. A device is
 * a peer: it sends whatever bytes it likes.
 *
 * The node is a regular file in a private mount namespace, at the path a
 * usbfs node has (/dev/bus/usb/001/002): libusb takes the bus and device
 * number from that path, and every usbfs ioctl on the file fails as on a
 * device that refuses them (speed unknown, active configuration guessed,
 * no interface claimed).
 *
 * libusb is the system's, not instrumented: the fuzzer sees the coverage of
 * svmm's code and of this harness only, and ASan the bytes they read.
 *
 * Input: byte 0 is the mode, the rest depends on it:
 *   bit 0 clear  the rest is the node's content (descriptors as usbfs has
 *                them: the device descriptor, then the configurations)
 *   bit 0 set    the rest describes an emulated function (svmm's own
 *                descriptors, usb_descriptors.c) whose device and
 *                configuration descriptors at speed (bits 1-3) become the
 *                node's content: what svmm builds must parse as it meant it
 *
 * Invariants beyond "no crash":
 *   - a wrapped device's descriptor is the node's first 18 bytes;
 *   - every configuration libusb returns accounts for no more bytes than
 *     the node holds, every interface has an alternate setting (what
 *     pt_claim_config reads), and every endpoint and extra byte is read
 *     (ASan: nothing points outside its allocation);
 *   - pt_claim_config() claims only interfaces of the configuration;
 *   - an emulated function's descriptors parse as one configuration with
 *     one interface and exactly its endpoints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_ns.h"
#include "common/log.h"
#include "devices/usb/passthrough_internal.h"
#include "devices/usb/usb_descriptors.h"

#define NODE_DIR "/dev/bus/usb/001"
#define NODE NODE_DIR "/002"
/* More than a device could put in 8 configurations of 64 KiB is not needed to find bugs. */
#define NODE_MAX 65536

static libusb_context *ctx;
static int node = -1;

/* A regular file at the node's path, in a tmpfs on /dev that also keeps /dev/null. */
static void make_node(void)
{
	char path[64];
	int devfd, fd;

	fuzz_ns_enter();
	devfd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		fuzz_ns_die("/dev");
	fuzz_ns_tmpfs("/dev");
	fd = open("/dev/null", O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
	if (fd < 0)
		fuzz_ns_die("/dev/null");
	close(fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d/null", devfd);
	if (mount(path, "/dev/null", NULL, MS_BIND, NULL) < 0)
		fuzz_ns_die("binding /dev/null");
	close(devfd);
	if (mkdir("/dev/bus", 0755) < 0 || mkdir("/dev/bus/usb", 0755) < 0 || mkdir(NODE_DIR, 0755) < 0)
		fuzz_ns_die(NODE_DIR);
	node = open(NODE, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (node < 0)
		fuzz_ns_die(NODE);
}

/* Makes data the node's content; returns how much of it is there. */
static size_t set_node(const uint8_t *data, size_t size)
{
	if (size > NODE_MAX)
		size = NODE_MAX;
	if (ftruncate(node, 0) < 0 || (size && pwrite(node, data, size, 0) != (ssize_t)size))
		fuzz_ns_die("writing the node");
	return size;
}

/* Reads every byte (ASan checks the allocation) and returns how many there are. */
static size_t touch(const unsigned char *extra, int len)
{
	volatile unsigned char sink = 0;

	FUZZ_CHECK(len >= 0);
	FUZZ_CHECK(len == 0 || extra != NULL);
	for (int i = 0; i < len; i++)
		sink ^= extra[i];
	(void)sink;
	return (size_t)len;
}

/* Bytes of the node the parsed configuration stands for, at least. */
static size_t walk_config(const struct libusb_config_descriptor *cfg)
{
	size_t bytes = LIBUSB_DT_CONFIG_SIZE + touch(cfg->extra, cfg->extra_length);

	FUZZ_CHECK(cfg->bNumInterfaces == 0 || cfg->interface != NULL);
	for (unsigned int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *ifc = &cfg->interface[i];

		FUZZ_CHECK(ifc->num_altsetting >= 1 && ifc->altsetting != NULL);
		for (int a = 0; a < ifc->num_altsetting; a++) {
			const struct libusb_interface_descriptor *alt = &ifc->altsetting[a];

			bytes += LIBUSB_DT_INTERFACE_SIZE + touch(alt->extra, alt->extra_length);
			/*
			 * libusb 1.0.26 can leave endpoint NULL with bNumEndpoints
			 * set (an interface cut short by a truncated class descriptor,
			 * libusb issue #1813): code that walks endpoints must check
			 * the pointer, not the count. svmm reads none.
			 */
			if (!alt->endpoint)
				continue;
			for (unsigned int e = 0; e < alt->bNumEndpoints; e++) {
				const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];

				FUZZ_CHECK(ep->bDescriptorType == LIBUSB_DT_ENDPOINT);
				bytes += LIBUSB_DT_ENDPOINT_SIZE + touch(ep->extra, ep->extra_length);
			}
		}
	}
	return bytes;
}

/* The interfaces (numbers below 32) of configuration value, as pt_claim_config reads them. */
static uint32_t interfaces_of(libusb_device *dev, int value)
{
	struct libusb_config_descriptor *cfg;
	uint32_t set = 0;

	if (value <= 0 || libusb_get_config_descriptor_by_value(dev, (uint8_t)value, &cfg) < 0)
		return 0;
	for (unsigned int i = 0; i < cfg->bNumInterfaces; i++) {
		uint8_t number = cfg->interface[i].altsetting[0].bInterfaceNumber;

		if (number < PT_MAX_INTERFACES)
			set |= 1u << number;
	}
	libusb_free_config_descriptor(cfg);
	return set;
}

/* Wraps the node as passthrough_new() does and checks what libusb made of it. */
static libusb_device_handle *wrap_and_walk(const uint8_t *data, size_t size)
{
	static struct pt_device pt;
	struct libusb_device_descriptor dd;
	libusb_device_handle *handle;
	libusb_device *dev;
	int r, config = 0;

	r = libusb_wrap_sys_device(ctx, node, &handle);
	if (r < 0)
		return NULL;
	dev = libusb_get_device(handle);
	FUZZ_CHECK(libusb_get_device_descriptor(dev, &dd) == 0);
	FUZZ_CHECK(size >= LIBUSB_DT_DEVICE_SIZE);
	FUZZ_CHECK(dd.bNumConfigurations == data[17]);
	FUZZ_CHECK(memcmp(&dd.idVendor, data + 8, 2) == 0 && memcmp(&dd.idProduct, data + 10, 2) == 0);
	r = pt_speed(libusb_get_device_speed(dev), dd.bcdUSB);
	FUZZ_CHECK(r >= DEVPROTO_SPEED_FULL && r <= DEVPROTO_SPEED_SUPER);
	for (uint8_t i = 0; i < dd.bNumConfigurations; i++) {
		struct libusb_config_descriptor *cfg;

		if (libusb_get_config_descriptor(dev, i, &cfg) < 0)
			continue;
		FUZZ_CHECK(walk_config(cfg) <= size - LIBUSB_DT_DEVICE_SIZE);
		libusb_free_config_descriptor(cfg);
	}
	/* The attach path: the active configuration's interfaces (none can be claimed from a file). */
	if (libusb_get_configuration(handle, &config) == 0) {
		memset(&pt, 0, sizeof(pt));
		pt.handle = handle;
		pt.fd = node;
		pt_claim_config(&pt, config);
		FUZZ_CHECK((pt.claimed & ~interfaces_of(dev, config)) == 0);
		FUZZ_CHECK((pt.detached & ~pt.claimed) == 0);
		pt_release_all(&pt);
	}
	return handle;
}

/*
 * Mode 1: a function from the input. Layout: vendor:u16 product:u16
 * class subclass protocol self_powered:u8 power:u16 nclass:u8
 * class_desc[nclass] nep:u8 then per endpoint address attributes
 * max_packet:u16 interval burst:u8.
 */
struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t u8(struct input *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static uint16_t u16(struct input *in)
{
	uint16_t lo = u8(in);

	return (uint16_t)(lo | u8(in) << 8);
}

static void fuzz_function(const uint8_t *data, size_t size, enum devproto_usb_speed speed)
{
	struct input in = { data, size };
	struct usb_endpoint_info eps[30];
	uint8_t class_desc[64];
	uint8_t blob[18 + USB_DESC_MAX];
	struct usb_function_info f = {
		.manufacturer = "svmm", .product_name = "fuzz", .serial = NULL,
		.endpoints = eps, .class_desc = class_desc,
	};
	struct libusb_config_descriptor *cfg;
	libusb_device_handle *handle;
	int dn, cn;

	f.vendor = u16(&in);
	f.product = u16(&in);
	f.iface_class = u8(&in);
	f.iface_subclass = u8(&in);
	f.iface_protocol = u8(&in);
	f.self_powered = u8(&in) & 1;
	f.max_power_ma = u16(&in) % 1000;
	/* A class descriptor is one whole descriptor (HID's), as a function author writes it. */
	f.class_desc_len = u8(&in) % sizeof(class_desc);
	if (f.class_desc_len == 1)
		f.class_desc_len = 2;
	for (size_t i = 0; i < f.class_desc_len; i++)
		class_desc[i] = u8(&in);
	if (f.class_desc_len) {
		class_desc[0] = (uint8_t)f.class_desc_len;
		class_desc[1] = 0x21;
	}
	f.num_endpoints = u8(&in) % 31;
	for (unsigned int i = 0; i < f.num_endpoints; i++) {
		/* Endpoint 0 is the control pipe: a function's endpoints are 1..15, each once. */
		eps[i].address = (uint8_t)((i / 2 + 1) | (i % 2 ? 0x80 : 0));
		eps[i].attributes = u8(&in) & 1 ? USB_EP_ATTR_INTERRUPT : USB_EP_ATTR_BULK;
		eps[i].max_packet = eps[i].attributes == USB_EP_ATTR_INTERRUPT ? u16(&in) % 1025 : 0;
		eps[i].interval_ms = u8(&in);
		eps[i].max_burst = u8(&in) % 16;
	}
	dn = usb_desc_get(&f, speed, USB_DT_DEVICE, 0, blob, 18);
	cn = usb_desc_get(&f, speed, USB_DT_CONFIG, 0, blob + 18, USB_DESC_MAX);
	if (dn == -E2BIG || cn == -E2BIG)
		return;	/* refused a function that does not fit: that is the contract */
	FUZZ_CHECK(dn == 18 && cn >= 9);
	FUZZ_CHECK(blob[18 + 2] + (blob[18 + 3] << 8) == cn);
	set_node(blob, 18 + (size_t)cn);
	handle = wrap_and_walk(blob, 18 + (size_t)cn);
	FUZZ_CHECK(handle != NULL);
	FUZZ_CHECK(libusb_get_config_descriptor(libusb_get_device(handle), 0, &cfg) == 0);
	FUZZ_CHECK(cfg->bNumInterfaces == 1 && cfg->interface[0].num_altsetting == 1);
	FUZZ_CHECK(cfg->interface[0].altsetting[0].bNumEndpoints == f.num_endpoints);
	FUZZ_CHECK(cfg->interface[0].altsetting[0].bInterfaceClass == f.iface_class);
	for (unsigned int i = 0; i < f.num_endpoints; i++)
		FUZZ_CHECK(cfg->interface[0].altsetting[0].endpoint[i].bEndpointAddress == eps[i].address);
	libusb_free_config_descriptor(cfg);
	libusb_close(handle);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	make_node();
	/* The process's context, made as the device process makes it (no loop: nothing is watched). */
	if (pt_host_acquire(NULL, &ctx) < 0)
		fuzz_ns_die("libusb context");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	libusb_device_handle *handle;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 1) {
		fuzz_function(data, size, (enum devproto_usb_speed)(1 + (mode >> 1) % 4));
		return 0;
	}
	size = set_node(data, size);
	handle = wrap_and_walk(data, size);
	if (handle)
		libusb_close(handle);
	return 0;
}
