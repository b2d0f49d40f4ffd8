/* SPDX-License-Identifier: MIT */
/*
 * The USB access policy (docs/policy.md): a chain of rules in the style of
 * ChromeOS permission_broker. Each rule either applies to a device or not;
 * one that applies says allow, allow-detach, deny, allow-interface or
 * deny-interface. Hubs are refused before any rule is read. The first deny
 * that applies refuses the device; otherwise the first allow or allow-detach
 * that applies admits it (and says whether host drivers may be detached);
 * with none the device is refused. Interface rules narrow what the VM may
 * claim. A device the host may depend on (a HID boot keyboard or mouse the VM
 * could claim, a device on a hard-wired port) is admitted only by a rule
 * that names it: by id, serial or port. Every verdict names the rule
 * (FILE:LINE) that made it.
 *
 * The parser is strict and bounded: a malformed file is refused whole with
 * "FILE:LINE: reason", never half-applied.
 */
#ifndef SVMM_USB_POLICY_H
#define SVMM_USB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/broker_protocol.h"
#include "broker/usb_identity.h"

#define USB_POLICY_MAX_SIZE 65536u	/* bytes in a policy file */
#define USB_POLICY_MAX_LINE 511u	/* characters in a line, without the newline */
#define USB_POLICY_MAX_RULES 256u
#define USB_POLICY_ERR_MAX 512u		/* room for "FILE:LINE: reason" */
#define USB_POLICY_VM_NAME_MAX BROKER_VM_NAME_MAX	/* svmm run --name, with its NUL */

/*
 * The policy used when no file is given: any device that is not a hub, host
 * drivers detachable; as in every policy, keyboards, mice and internal
 * devices only when a rule names them.
 */
#define USB_POLICY_BUILTIN_NAME "built-in"
#define USB_POLICY_BUILTIN_TEXT "allow-detach all\n"

struct usb_policy;

struct usb_verdict {
	bool allow;
	bool detach;			/* the VM may detach host kernel drivers */
	bool restricted;		/* an interface rule applied: limit the fd to `allowed` */
	bool gives;			/* the deciding rule has `to`: the VM gets the device unasked */
	uint32_t allowed;		/* interfaces the VM may claim */
	char rule[64];			/* "FILE:LINE" of the deciding rule, or "hub" / "default" / "hid-boot" / "internal" */
	char reason[BROKER_REASON_MAX];	/* one line for the reply and the log */
};

/*
 * Parses len bytes of text; name is what errors and verdicts call the file.
 * Returns 0 and a policy to free with usb_policy_free(), or -EINVAL (-ENOMEM)
 * with "NAME:LINE: reason" in err.
 */
int usb_policy_parse(const char *name, const char *text, size_t len, struct usb_policy **out,
		     char *err, size_t errlen);

/*
 * Loads a policy file: a regular file, at most USB_POLICY_MAX_SIZE bytes,
 * owned by root or by us and writable by nobody else (whoever can write the
 * policy owns the broker). -errno with "FILE: reason" or "FILE:LINE: reason".
 */
int usb_policy_load(const char *path, struct usb_policy **out, char *err, size_t errlen);

/* The built-in policy (USB_POLICY_BUILTIN_TEXT); NULL only when out of memory. */
struct usb_policy *usb_policy_builtin(void);

void usb_policy_free(struct usb_policy *p);

/*
 * The words the parser accepts as actions, then as conditions: index 0 on,
 * NULL past the last. The man page's test reads them from here.
 */
const char *usb_policy_keyword(unsigned int i);

/* Number of rules, for logs and tests. */
unsigned int usb_policy_count(const struct usb_policy *p);

/* Applies the chain to device d, whose traits sysfs gave as t. */
void usb_policy_evaluate(const struct usb_policy *p, const struct broker_device *d,
			 const struct usb_traits *t, struct usb_verdict *v);

/* Who asks, for the rules that depend on it. */
struct usb_asker {
	bool has_uid;			/* uid is known (SO_PEERCRED): `uid` rules may apply */
	uint32_t uid;			/* the user the VM runs as */
	const char *vm;			/* the VM's name (svmm run --name), or NULL: `to` rules are its */
	const struct broker_device *pred;	/* a lease's device that d comes back for as another
						 * identity, or NULL: then only an allow rule with
						 * `follows` naming it admits d (denies and the hub
						 * check as ever) */
};

/* usb_policy_evaluate for asker a (NULL: as usb_policy_evaluate). */
void usb_policy_evaluate_for(const struct usb_policy *p, const struct broker_device *d,
			     const struct usb_traits *t, const struct usb_asker *a,
			     struct usb_verdict *v);


#endif
