/* SPDX-License-Identifier: MIT */
/* The USB policy: every rule kind, every refusal of the parser with its line, and the rule chain's verdicts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/usb_policy.h"

static struct usb_policy *parse_ok(const char *text)
{
	struct usb_policy *p = NULL;
	char err[USB_POLICY_ERR_MAX] = "";

	cr_assert_eq(usb_policy_parse("t.policy", text, strlen(text), &p, err, sizeof(err)), 0,
		     "%s", err);
	return p;
}

/* The parse fails and the message is exactly "t.policy:LINE: " followed by something containing what. */
static void parse_fails(const char *text, unsigned int line, const char *what)
{
	struct usb_policy *p = (struct usb_policy *)1;
	char err[USB_POLICY_ERR_MAX] = "", prefix[32];

	cr_assert_eq(usb_policy_parse("t.policy", text, strlen(text), &p, err, sizeof(err)), -EINVAL,
		     "accepted: %s", text);
	cr_assert_null(p);
	snprintf(prefix, sizeof(prefix), "t.policy:%u: ", line);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "want %s, got %s", prefix, err);
	cr_assert_not_null(strstr(err, what), "want '%s' in %s", what, err);
}

static struct broker_device storage(void)
{
	struct broker_device d;

	memset(&d, 0, sizeof(d));
	d.vendor = 0x0781;
	d.product = 0x5567;
	d.device_class = 0;
	d.interfaces = 0x1;
	d.interface_class[0] = 0x08;
	strcpy(d.serial, "SER 1");
	strcpy(d.port_path, "1-2.3");
	return d;
}

/* A keyboard-and-storage composite: interface 0 HID, 1 storage, 2 vendor. */
static struct broker_device composite(void)
{
	struct broker_device d = storage();

	d.vendor = 0x1050;
	d.product = 0x0407;
	d.interfaces = 0x7;
	d.interface_class[0] = 0x03;
	d.interface_class[1] = 0x08;
	d.interface_class[2] = 0xff;
	d.serial[0] = '\0';
	strcpy(d.port_path, "2-1");
	return d;
}

static const struct usb_traits plain;	/* no boot HID interface, not on an internal port */

static struct usb_verdict eval_traits(const char *text, const struct broker_device *d,
				      const struct usb_traits *t)
{
	struct usb_policy *p = parse_ok(text);
	struct usb_verdict v;

	usb_policy_evaluate(p, d, t, &v);
	usb_policy_free(p);
	return v;
}

static struct usb_verdict eval(const char *text, const struct broker_device *d)
{
	struct usb_policy *p = parse_ok(text);
	struct usb_verdict v;

	usb_policy_evaluate(p, d, &plain, &v);
	usb_policy_free(p);
	return v;
}

Test(usb_policy, every_rule_kind_parses)
{
	struct usb_policy *p = parse_ok(
		"# comment line\n"
		"\n"
		"   # indented comment\n"
		"allow id 0781:5567\n"
		"allow-detach id 1050:*   # trailing comment\n"
		"deny class e0\n"
		"deny interface-class 03\n"
		"allow port 1-2.3\n"
		"allow serial \"SER 1\"\n"
		"allow serial ABC123\n"
		"allow id 0781:5567 serial \"SER 1\" port 1-2.3 class 00 interface-class 08\n"
		"allow-interface interface-class 08\n"
		"deny-interface id 1050:0407 interface-class ff\n"
		"allow-detach all\r\n"
		"\tdeny\tid\tdead:beef\n");

	cr_assert_eq(usb_policy_count(p), 12);
	usb_policy_free(p);
}

Test(usb_policy, malformed_files_are_refused_with_their_line)
{
	char longline[700], many[(USB_POLICY_MAX_RULES + 1) * 16];
	size_t n = 0;

	parse_fails("allow all\npermit all\n", 2, "unknown action 'permit'");
	parse_fails("allow vendor 1050\n", 1, "unexpected 'vendor'");
	parse_fails("# x\nallow id 12g4:0001\n", 2, "bad id '12g4:0001'");
	parse_fails("allow id 1050\n", 1, "bad id");
	parse_fails("allow id 1050:04070\n", 1, "bad id");
	parse_fails("allow id 1050:0407x\n", 1, "bad id");
	parse_fails("allow id 0x1050:0407\n", 1, "bad id");
	parse_fails("deny class 3\n", 1, "bad class '3'");
	parse_fails("deny class zz\n", 1, "bad class");
	parse_fails("deny interface-class 0x3\n", 1, "bad interface-class");
	parse_fails("allow port 1-0\n", 1, "bad port");
	parse_fails("allow port 1-2.3.4.5.6.7.8\n", 1, "bad port");
	parse_fails("allow port ../1\n", 1, "bad port");
	parse_fails("\n\nallow id\n", 3, "missing value after 'id'");
	parse_fails("allow serial\n", 1, "missing value after 'serial'");
	parse_fails("allow\n", 1, "rule without a condition");
	parse_fails("allow all junk\n", 1, "unexpected 'junk'");
	parse_fails("allow id 1050:0407 trailing\n", 1, "unexpected 'trailing'");
	parse_fails("allow all id 1050:0407\n", 1, "'all' cannot be combined");
	parse_fails("allow class 08 class 09\n", 1, "'class' given twice");
	parse_fails("deny-interface id 1050:*\n", 1, "needs an interface-class");
	parse_fails("allow serial \"abc\n", 1, "unterminated quote");
	parse_fails("allow serial \"abc\"def\n", 1, "after a closing quote");
	parse_fails("allow serial ab\"c\n", 1, "quote inside a word");
	parse_fails("allow serial \"\"\n", 1, "bad serial");
	parse_fails("allow all\nallow\x01 all\n", 2, "control character 0x01");
	parse_fails("allow all\r junk\n", 1, "carriage return");

	memset(longline, 'x', sizeof(longline) - 1);
	longline[0] = '#';
	longline[sizeof(longline) - 1] = '\0';
	{
		char text[800];

		snprintf(text, sizeof(text), "allow all\n%s\n", longline);
		parse_fails(text, 2, "line longer than 511");
	}
	for (unsigned int i = 0; i <= USB_POLICY_MAX_RULES; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "deny class %02x\n", i & 0xff);
	parse_fails(many, USB_POLICY_MAX_RULES + 1, "more than 256 rules");
}

Test(usb_policy, the_size_and_nul_bytes_are_bounded)
{
	struct usb_policy *p = NULL;
	char err[USB_POLICY_ERR_MAX];
	char *big = calloc(1, USB_POLICY_MAX_SIZE + 2);

	memset(big, '\n', USB_POLICY_MAX_SIZE + 1);
	cr_assert_eq(usb_policy_parse("t.policy", big, USB_POLICY_MAX_SIZE + 1, &p, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "t.policy: larger than 65536 bytes");
	free(big);
	cr_assert_eq(usb_policy_parse("t.policy", "allow all\n\0x\n", 13, &p, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "t.policy:2: NUL byte");
}

Test(usb_policy, hubs_are_refused_whatever_the_rules)
{
	struct broker_device hub = storage(), hubif = storage();
	struct usb_verdict v;

	hub.device_class = 0x09;
	v = eval("allow-detach all\nallow class 09\n", &hub);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "hub");
	cr_assert_not_null(strstr(v.reason, "hub"));
	/* A hub interface in a device that says class 0 is still a hub. */
	hubif.interfaces = 0x3;
	hubif.interface_class[1] = 0x09;
	v = eval("allow-detach all\n", &hubif);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "hub");
}

Test(usb_policy, the_first_deny_wins)
{
	struct broker_device d = storage();
	struct usb_verdict v;

	/* A deny after an allow still refuses; the reason names the first deny that applies. */
	v = eval("allow all\ndeny id 0781:*\ndeny interface-class 08\n", &d);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "t.policy:2");
	cr_assert_str_eq(v.reason, "refused by t.policy:2 (deny id 0781:*)");
	/* A deny that does not apply changes nothing. */
	v = eval("deny id 0781:0001\nallow all\n", &d);
	cr_assert(v.allow);
	cr_assert_str_eq(v.rule, "t.policy:2");
	/* No rule that applies: refused by default. */
	v = eval("allow id 1234:5678\n", &d);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "default");
}

Test(usb_policy, each_condition_matches_what_it_says)
{
	struct broker_device d = storage(), c = composite();

	cr_assert(eval("allow id 0781:5567\n", &d).allow);
	cr_assert(eval("allow id 0781:*\n", &d).allow);
	cr_assert_not(eval("allow id 0781:5568\n", &d).allow);
	cr_assert(eval("allow class 00\n", &d).allow);
	cr_assert_not(eval("allow class 08\n", &d).allow);	/* the device class, not an interface's */
	cr_assert(eval("allow interface-class 08\n", &d).allow);
	cr_assert(eval("allow interface-class 03\n", &c).allow);	/* any interface */
	cr_assert_not(eval("allow interface-class 03\n", &d).allow);
	cr_assert(eval("allow port 1-2.3\n", &d).allow);
	cr_assert_not(eval("allow port 1-2\n", &d).allow);
	cr_assert(eval("allow serial \"SER 1\"\n", &d).allow);
	cr_assert_not(eval("allow serial SER\n", &d).allow);
	/* A device with no serial never matches one, not even an empty-looking rule. */
	cr_assert_not(eval("allow serial X\n", &c).allow);
	/* Every condition of a rule must hold. */
	cr_assert(eval("allow id 0781:5567 port 1-2.3 serial \"SER 1\"\n", &d).allow);
	cr_assert_not(eval("allow id 0781:5567 port 1-2.4\n", &d).allow);
	cr_assert(eval("deny interface-class 03\nallow all\n", &d).allow);
	cr_assert_not(eval("deny interface-class 03\nallow all\n", &c).allow);
}

Test(usb_policy, detach_is_decided_by_the_first_allow)
{
	struct broker_device d = storage();
	struct usb_verdict v;

	v = eval("allow-detach all\n", &d);
	cr_assert(v.allow);
	cr_assert(v.detach);
	cr_assert_not(v.restricted);
	cr_assert_eq(v.allowed, 0x1);
	v = eval("allow id 0781:5567\nallow-detach all\n", &d);
	cr_assert(v.allow);
	cr_assert_not(v.detach);
	cr_assert_str_eq(v.reason, "allowed by t.policy:1 (allow id 0781:5567)");
	v = eval("allow-detach id 0781:5567\nallow all\n", &d);
	cr_assert(v.detach);
}

Test(usb_policy, interface_rules_narrow_what_the_vm_may_claim)
{
	struct broker_device c = composite();
	struct usb_verdict v;

	v = eval("deny-interface interface-class 03\nallow-detach all\n", &c);
	cr_assert(v.allow);
	cr_assert(v.restricted);
	cr_assert_eq(v.allowed, 0x6);
	v = eval("allow-interface interface-class 08\nallow all\n", &c);
	cr_assert(v.allow);
	cr_assert(v.restricted);
	cr_assert_eq(v.allowed, 0x2);
	v = eval("allow-interface interface-class 08\nallow-interface interface-class ff\n"
		 "deny-interface interface-class ff\nallow all\n", &c);
	cr_assert_eq(v.allowed, 0x2);
	/* Interface rules apply only to the devices their other conditions name. */
	v = eval("deny-interface id 0781:* interface-class 03\nallow all\n", &c);
	cr_assert_not(v.restricted);
	cr_assert_eq(v.allowed, 0x7);
	/* Nothing left to claim: refused, naming the interface rule. */
	v = eval("allow-interface interface-class 07\nallow all\n", &c);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "t.policy:1");
	cr_assert_not_null(strstr(v.reason, "no interface left"));
	/* Interface rules never admit a device on their own. */
	v = eval("allow-interface interface-class 08\n", &c);
	cr_assert_not(v.allow);
}

Test(usb_policy, the_builtin_policy_allows_any_non_hub_with_detach)
{
	struct usb_policy *p = usb_policy_builtin();
	struct broker_device d = composite(), hub = storage();
	struct usb_verdict v;

	cr_assert_not_null(p);
	usb_policy_evaluate(p, &d, &plain, &v);
	cr_assert(v.allow);
	cr_assert(v.detach);
	cr_assert_not(v.restricted);
	cr_assert_str_eq(v.rule, "built-in:1");
	hub.device_class = 0x09;
	usb_policy_evaluate(p, &hub, &plain, &v);
	cr_assert_not(v.allow);
	usb_policy_free(p);
}

Test(usb_policy, the_shipped_policy_file_loads_and_matches_the_builtin)
{
	struct usb_policy *p = NULL, *b = usb_policy_builtin();
	struct broker_device devs[3] = { storage(), composite(), storage() };
	char err[USB_POLICY_ERR_MAX] = "";

	devs[2].device_class = 0x09;
	cr_assert_eq(usb_policy_load(SHIPPED_POLICY, &p, err, sizeof(err)), 0, "%s", err);
	for (unsigned int i = 0; i < 3; i++) {
		struct usb_verdict a, w;

		usb_policy_evaluate(p, &devs[i], &plain, &a);
		usb_policy_evaluate(b, &devs[i], &plain, &w);
		cr_assert_eq(a.allow, w.allow);
		cr_assert_eq(a.detach, w.detach);
		cr_assert_eq(a.allowed, w.allowed);
	}
	usb_policy_free(p);
	usb_policy_free(b);
}

static void write_policy(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(usb_policy, load_refuses_files_others_could_change)
{
	char dir[] = "/var/tmp/svmm-policy-test.XXXXXX", path[128], err[USB_POLICY_ERR_MAX];
	struct usb_policy *p = NULL;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/usb.policy", dir);
	write_policy(path, "allow all\n", 0644);
	cr_assert_eq(usb_policy_load(path, &p, err, sizeof(err)), 0, "%s", err);
	usb_policy_free(p);
	write_policy(path, "allow all\n", 0664);
	cr_assert_eq(usb_policy_load(path, &p, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "writable by group or others"), "%s", err);
	write_policy(path, "allow all\nallow nothing\n", 0600);
	cr_assert_eq(usb_policy_load(path, &p, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "usb.policy:2: unexpected 'nothing'"), "%s", err);
	unlink(path);
	cr_assert_eq(usb_policy_load(path, &p, err, sizeof(err)), -ENOENT);
	cr_assert_eq(usb_policy_load(dir, &p, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
	rmdir(dir);
}

/*
 * The defaults every policy keeps: a HID boot keyboard or mouse the VM could
 * claim, and a device on a hard-wired port, pass only by an allow rule that
 * names the device (id, serial or port); `all`, a class or a later rule is
 * not enough. The built-in policy (allow-detach all) thus refuses them.
 */
Test(usb_policy, keyboards_mice_and_internal_devices_need_a_rule_naming_them)
{
	struct usb_policy *builtin = usb_policy_builtin();
	struct broker_device kbd = composite(), disk = storage();
	struct usb_traits boot = { .hid_boot = 0x1 }, internal = { .internal = true };
	struct usb_verdict v;

	/* Interface 0 of the composite is HID; as a boot keyboard it is refused by default. */
	usb_policy_evaluate(builtin, &kbd, &boot, &v);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "hid-boot");
	cr_assert_str_eq(v.reason, "a HID boot keyboard or mouse: passed to a VM only by an allow rule naming it (id, serial or port)");
	cr_assert_eq(v.allowed, 0);
	usb_policy_evaluate(builtin, &disk, &internal, &v);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "internal");
	/* The same device, not a boot device and on a hotplug port, passes. */
	usb_policy_evaluate(builtin, &kbd, &plain, &v);
	cr_assert(v.allow);
	usb_policy_free(builtin);

	cr_assert_not(eval_traits("allow-detach interface-class 03\n", &kbd, &boot).allow);
	cr_assert_not(eval_traits("allow class 00\n", &disk, &internal).allow);
	/* Named: by id, by serial, by port; the naming rule decides, wherever it stands. */
	v = eval_traits("allow-detach all\nallow id 1050:0407\n", &kbd, &boot);
	cr_assert(v.allow);
	cr_assert_not(v.detach);
	cr_assert_str_eq(v.rule, "t.policy:2");
	cr_assert(eval_traits("allow-detach serial \"SER 1\"\n", &disk, &internal).allow);
	cr_assert(eval_traits("allow port 1-2.3\n", &disk, &internal).allow);
	cr_assert(eval_traits("allow-detach id 1050:*\n", &kbd, &boot).allow);
	/* A deny still wins over a naming allow. */
	cr_assert_not(eval_traits("allow id 1050:0407\ndeny all\n", &kbd, &boot).allow);
	/* Interface rules that keep the boot interface from the VM need no naming: the host keeps it. */
	v = eval_traits("deny-interface interface-class 03\nallow-detach all\n", &kbd, &boot);
	cr_assert(v.allow);
	cr_assert(v.restricted);
	cr_assert_eq(v.allowed, 0x6);
	/* ... but an internal device is refused whatever its interfaces. */
	cr_assert_not(eval_traits("deny-interface interface-class 03\nallow-detach all\n", &disk,
				  &internal).allow);
}

Test(usb_policy, follows_names_a_successor_and_is_checked_when_parsed)
{
	usb_policy_free(parse_ok("allow id 18d1:4ee0 follows 18d1:4ee7\nallow-detach id 18d1:* follows 18d1:*\n"));
	parse_fails("allow all follows 18d1:4ee7\n", 1, "'all' cannot be combined");
	parse_fails("allow class 08 follows 18d1:4ee7\n", 1, "follows needs the successor's id");
	parse_fails("deny id 18d1:4ee0 follows 18d1:4ee7\n", 1, "follows is for allow");
	parse_fails("allow id 18d1:4ee0 follows 18d1\n", 1, "bad follows '18d1'");
	parse_fails("allow id 18d1:4ee0 follows\n", 1, "missing value after 'follows'");
	parse_fails("allow id 18d1:4ee0 follows 1:2 follows 3:4\n", 1, "bad follows");
}

Test(usb_policy, a_successor_is_admitted_only_by_a_follows_rule_for_its_predecessor)
{
	const char *text = "allow id 0781:5567 follows 1050:0407\nallow-detach all\n";
	struct usb_policy *p = parse_ok(text);
	struct broker_device d = storage(), pred = composite(), other = storage();
	struct usb_verdict v;

	/* An ordinary request: the follows rule is not read, `all` decides. */
	usb_policy_evaluate(p, &d, &plain, &v);
	cr_assert(v.allow);
	cr_assert_str_eq(v.rule, "t.policy:2");
	/* Coming back for 1050:0407: only the follows rule admits it, and says so. */
	usb_policy_evaluate_for(p, &d, &plain, &(struct usb_asker){ .pred = &pred }, &v);
	cr_assert(v.allow, "%s", v.reason);
	cr_assert_str_eq(v.rule, "t.policy:1");
	cr_assert_not(v.detach);
	/* For another predecessor `all` does not count: refused, with both ids named. */
	other.vendor = 0x1234;
	usb_policy_evaluate_for(p, &d, &plain, &(struct usb_asker){ .pred = &other }, &v);
	cr_assert_not(v.allow);
	cr_assert(strstr(v.reason, "came back as 0781:5567") && strstr(v.reason, "follows 1234:5567"),
		  "%s", v.reason);
	usb_policy_free(p);
	/* A deny still wins, and a hub is never a successor. */
	p = parse_ok("deny serial \"SER 1\"\nallow id 0781:5567 follows 1050:0407\n");
	usb_policy_evaluate_for(p, &d, &plain, &(struct usb_asker){ .pred = &pred }, &v);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "t.policy:1");
	usb_policy_free(p);
	p = parse_ok("allow id 0781:5567 follows 1050:0407\n");
	d.device_class = 0x09;
	usb_policy_evaluate_for(p, &d, &plain, &(struct usb_asker){ .pred = &pred }, &v);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.rule, "hub");
	usb_policy_free(p);
}

Test(usb_policy, to_gives_a_named_device_to_the_vm_it_names_and_uid_says_whose)
{
	struct usb_policy *p = parse_ok("allow-detach id 0781:5567 to build\n"
					"allow id 0781:* to lab uid 1000\n"
					"allow serial \"SER 1\" uid 1001\n");
	struct broker_device d = storage();
	struct usb_asker root_build = { .has_uid = true, .uid = 0, .vm = "build" };
	struct usb_asker user_build = { .has_uid = true, .uid = 1000, .vm = "build" };
	struct usb_asker user_lab = { .has_uid = true, .uid = 1000, .vm = "lab" };
	struct usb_asker other = { .has_uid = true, .uid = 1001, .vm = NULL };
	struct usb_verdict v;

	usb_policy_evaluate_for(p, &d, &plain, &root_build, &v);
	cr_assert(v.allow && v.gives && v.detach, "%s", v.reason);
	/* The same name from another user is not root's VM: the rule is not its. */
	usb_policy_evaluate_for(p, &d, &plain, &user_build, &v);
	cr_assert_not(v.allow, "%s", v.reason);
	usb_policy_evaluate_for(p, &d, &plain, &user_lab, &v);
	cr_assert(v.allow && v.gives && !v.detach, "%s", v.reason);
	cr_assert_str_eq(v.rule, "t.policy:2");
	/* uid alone: allowed when it asks, never given unasked. */
	usb_policy_evaluate_for(p, &d, &plain, &other, &v);
	cr_assert(v.allow && !v.gives, "%s", v.reason);
	usb_policy_evaluate(p, &d, &plain, &v);
	cr_assert_not(v.allow, "%s", v.reason);
	usb_policy_free(p);
	parse_fails("allow all to build\n", 1, "'all' cannot be combined");
	parse_fails("allow class 08 to build\n", 1, "to needs a rule that names the device");
	parse_fails("deny id 0781:5567 to build\n", 1, "to is for allow");
	parse_fails("allow id 0781:5567 to ../x\n", 1, "bad VM name");
	parse_fails("allow id 0781:5567 uid -1\n", 1, "bad uid");
}
