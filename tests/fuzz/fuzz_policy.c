/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the USB policy parser (usb_policy_parse, what
 * usb_policy_load runs on a file's bytes) and the evaluator, on a device
 * identity as the broker builds it from sysfs, which the device controls.
 *
 * Input (a short input gives a zero device and an empty policy):
 *   44 bytes   the device: vendor:u16 product:u16 class:u8 speed:u8 bus:u8
 *              dev:u8 interfaces:u32 interface_class[32] (classes of
 *              interfaces the device does not have are zeroed, as sysfs
 *              gives none)
 *   len:u8 + bytes   serial (at most 255)
 *   len:u8 + bytes   port path (at most 31)
 *   the rest   the policy text
 *
 * Invariants beyond "no crash":
 *   - a parsed policy has at most USB_POLICY_MAX_RULES rules, no more than
 *     it has lines; a refused one says "NAME:..." why;
 *   - a verdict names its rule, grants only interfaces the device has,
 *     never admits a hub, and grants nothing when it refuses;
 *   - a policy that parsed still parses with "deny all" after it, and then
 *     refuses every device; with "deny all" before it, the refusal names
 *     line 1 (nothing after a deny that applies is read).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_check.h"
#include "broker/usb_identity.h"
#include "broker/usb_policy.h"

#define NAME "fuzz.policy"
#define DENY_ALL "deny all\n"

struct input {
	const uint8_t *p;
	size_t left;
};

static void take(struct input *in, void *out, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memset(out, 0, n);
	memcpy(out, in->p, k);
	in->p += k;
	in->left -= k;
}

static void take_string(struct input *in, char *out, size_t size)
{
	uint8_t len = 0;

	take(in, &len, 1);
	if (len >= size)
		len = (uint8_t)(size - 1);
	take(in, out, len);
	out[len] = '\0';
}

static void read_device(struct input *in, struct broker_device *d)
{
	uint8_t raw[44];

	memset(d, 0, sizeof(*d));
	take(in, raw, sizeof(raw));
	memcpy(&d->vendor, raw, 2);
	memcpy(&d->product, raw + 2, 2);
	d->device_class = raw[4];
	d->speed = raw[5] % (BROKER_SPEED_MAX + 1);
	d->busnum = raw[6];
	d->devnum = raw[7];
	memcpy(&d->interfaces, raw + 8, 4);
	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++)
		d->interface_class[i] = d->interfaces & (1u << i) ? raw[12 + i] : 0;
	take_string(in, d->serial, sizeof(d->serial));
	take_string(in, d->port_path, sizeof(d->port_path));
}

/* What sysfs says of the device beside its identity: boot HID interfaces (among its own), an internal port. */
static void read_traits(struct input *in, const struct broker_device *d, struct usb_traits *t)
{
	uint8_t raw[5];

	take(in, raw, sizeof(raw));
	memcpy(&t->hid_boot, raw, 4);
	t->hid_boot &= d->interfaces;
	t->internal = raw[4] & 1;
}

static void check_verdict(const struct usb_verdict *v, const struct broker_device *d)
{
	FUZZ_CHECK(memchr(v->rule, '\0', sizeof(v->rule)) != NULL && v->rule[0] != '\0');
	FUZZ_CHECK(memchr(v->reason, '\0', sizeof(v->reason)) != NULL && v->reason[0] != '\0');
	FUZZ_CHECK((v->allowed & ~d->interfaces) == 0);
	if (v->allow) {
		FUZZ_CHECK(!usb_identity_is_hub(d));
	} else {
		FUZZ_CHECK(!v->detach && !v->restricted && v->allowed == 0);
	}
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n + 1;
}

/* Parses head + text + tail; 0 and *out, or the parser's error. */
static int parse_with(const char *head, const char *text, size_t len, const char *tail,
		      struct usb_policy **out)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char err[USB_POLICY_ERR_MAX];
	char *buf = malloc(hl + len + tl + 1);
	int e;

	FUZZ_CHECK(buf != NULL);
	memcpy(buf, head, hl);
	memcpy(buf + hl, text, len);
	memcpy(buf + hl + len, tail, tl);
	e = usb_policy_parse(NAME, buf, hl + len + tl, out, err, sizeof(err));
	free(buf);
	return e;
}

/* The same policy with "deny all" around it refuses every device. */
static void check_deny_all(const char *text, size_t len, const struct broker_device *d,
			   const struct usb_traits *t)
{
	struct usb_policy *p;
	struct usb_verdict v;

	FUZZ_CHECK(parse_with("", text, len, "\n" DENY_ALL, &p) == 0);
	usb_policy_evaluate(p, d, t, &v);
	check_verdict(&v, d);
	FUZZ_CHECK(!v.allow);
	usb_policy_free(p);

	FUZZ_CHECK(parse_with(DENY_ALL, text, len, "", &p) == 0);
	usb_policy_evaluate(p, d, t, &v);
	check_verdict(&v, d);
	FUZZ_CHECK(!v.allow);
	FUZZ_CHECK(usb_identity_is_hub(d) || strcmp(v.rule, NAME ":1") == 0);
	usb_policy_free(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct broker_device d;
	struct usb_traits t;
	struct usb_policy *p;
	struct usb_verdict v;
	char err[USB_POLICY_ERR_MAX];
	const char *text;
	int e;

	read_device(&in, &d);
	read_traits(&in, &d, &t);
	text = (const char *)in.p;
	e = usb_policy_parse(NAME, text, in.left, &p, err, sizeof(err));
	if (e) {
		FUZZ_CHECK(p == NULL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		return 0;
	}
	FUZZ_CHECK(usb_policy_count(p) <= USB_POLICY_MAX_RULES);
	FUZZ_CHECK(usb_policy_count(p) <= count_lines(text, in.left));
	usb_policy_evaluate(p, &d, &t, &v);
	check_verdict(&v, &d);
	if (usb_policy_count(p) < USB_POLICY_MAX_RULES &&
	    in.left + 2 * sizeof(DENY_ALL) <= USB_POLICY_MAX_SIZE)
		check_deny_all(text, in.left, &d, &t);
	usb_policy_free(p);
	return 0;
}
