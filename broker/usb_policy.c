/* SPDX-License-Identifier: MIT */
#include "broker/usb_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/sysfs_attr.h"
#include "broker/usb_identity.h"

#define MAX_WORDS 16u

enum rule_action {
	ACT_ALLOW,
	ACT_ALLOW_DETACH,
	ACT_DENY,
	ACT_ALLOW_INTERFACE,
	ACT_DENY_INTERFACE,
};

/* Conditions a rule has; a rule applies when every one it has holds. */
enum {
	COND_ALL = 1u << 0,
	COND_ID = 1u << 1,
	COND_CLASS = 1u << 2,
	COND_INTERFACE_CLASS = 1u << 3,
	COND_PORT = 1u << 4,
	COND_SERIAL = 1u << 5,
	COND_FOLLOWS = 1u << 6,
	COND_TO = 1u << 7,
	COND_UID = 1u << 8,
};

/* An id as a rule writes it: VVVV:PPPP, PPPP may be '*'. */
struct rule_id {
	uint16_t vendor;
	uint16_t product;
	bool any_product;
};

struct usb_rule {
	enum rule_action action;
	unsigned int line;
	unsigned int conds;
	uint16_t vendor;
	uint16_t product;
	bool any_product;
	uint8_t device_class;
	uint8_t interface_class;
	struct rule_id follows;		/* COND_FOLLOWS: the device this one succeeds */
	char to[USB_POLICY_VM_NAME_MAX];	/* COND_TO: the VM the device is for, and given to */
	uint32_t uid;				/* COND_UID: the user the asking VM runs as */
	char port[BROKER_PORT_PATH_MAX];
	char serial[BROKER_SERIAL_MAX];
	char text[USB_POLICY_MAX_LINE + 1];	/* the rule as written, for verdicts */
};

struct usb_policy {
	char name[256];
	unsigned int count;
	struct usb_rule rules[USB_POLICY_MAX_RULES];
};

static const struct {
	const char *word;
	enum rule_action action;
} actions[] = {
	{ "allow", ACT_ALLOW },
	{ "allow-detach", ACT_ALLOW_DETACH },
	{ "deny", ACT_DENY },
	{ "allow-interface", ACT_ALLOW_INTERFACE },
	{ "deny-interface", ACT_DENY_INTERFACE },
};

static const struct {
	const char *word;
	unsigned int cond;
} conditions[] = {
	{ "all", COND_ALL },
	{ "id", COND_ID },
	{ "class", COND_CLASS },
	{ "interface-class", COND_INTERFACE_CLASS },
	{ "port", COND_PORT },
	{ "serial", COND_SERIAL },
	{ "follows", COND_FOLLOWS },
	{ "to", COND_TO },
	{ "uid", COND_UID },
};

static int perr(char *err, size_t errlen, const char *name, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "NAME:LINE: reason" (or "NAME: reason" for line 0); always -EINVAL. */
static int perr(char *err, size_t errlen, const char *name, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line)
		n = snprintf(err, errlen, "%s:%u: ", name, line);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Splits line into words at spaces and tabs. A word may be "quoted" (no
 * escapes, no quote inside) so a serial can hold spaces; a '#' that starts a
 * word starts a comment. Returns the number of words or -1 with *why set.
 */
static int split_words(char *line, char **words, const char **why)
{
	unsigned int n = 0;
	char *p = line;

	for (;;) {
		char *start;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			return (int)n;
		if (n == MAX_WORDS) {
			*why = "too many words in a rule";
			return -1;
		}
		if (*p == '"') {
			start = ++p;
			p = strchr(p, '"');
			if (!p) {
				*why = "unterminated quote";
				return -1;
			}
			*p++ = '\0';
			if (*p != '\0' && *p != ' ' && *p != '\t') {
				*why = "text right after a closing quote";
				return -1;
			}
		} else {
			start = p;
			p += strcspn(p, " \t\"");
			if (*p == '"') {
				*why = "quote inside a word";
				return -1;
			}
		}
		words[n++] = start;
		if (*p)
			*p++ = '\0';
	}
}

/* "VVVV:PPPP" or "VVVV:*", hex. */
static int parse_rule_id(const char *s, struct rule_id *r)
{
	char v[5], p[5];
	uint32_t vendor, product = 0;

	if (strlen(s) < 6 || s[4] != ':')
		return -1;
	memcpy(v, s, 4);
	v[4] = '\0';
	if (sysfs_parse_hex(v, 4, &vendor))
		return -1;
	if (!strcmp(s + 5, "*")) {
		r->any_product = true;
	} else {
		if (strlen(s + 5) != 4)
			return -1;
		memcpy(p, s + 5, 4);
		p[4] = '\0';
		if (sysfs_parse_hex(p, 4, &product))
			return -1;
	}
	r->vendor = (uint16_t)vendor;
	r->product = (uint16_t)product;
	return 0;
}

static int parse_id(const char *s, struct usb_rule *r)
{
	struct rule_id id = { 0 };

	if (parse_rule_id(s, &id))
		return -1;
	r->vendor = id.vendor;
	r->product = id.product;
	r->any_product = id.any_product;
	return 0;
}

static int parse_port(const char *s, struct usb_rule *r)
{
	if (strlen(s) >= sizeof(r->port) || !usb_port_path_valid(s))
		return -1;
	strcpy(r->port, s);
	return 0;
}

static int parse_serial(const char *s, struct usb_rule *r)
{
	size_t len = strlen(s);

	if (len == 0 || len >= sizeof(r->serial))
		return -1;
	strcpy(r->serial, s);
	return 0;
}

static int parse_class(const char *s, uint8_t *out)
{
	uint32_t v;

	if (sysfs_parse_hex(s, 2, &v))
		return -1;
	*out = (uint8_t)v;
	return 0;
}

static int parse_condition(const char *name, unsigned int line, char **w, unsigned int nw,
			   unsigned int *i, struct usb_rule *r, char *err, size_t errlen)
{
	const char *word = w[*i], *value;
	unsigned int cond = 0;

	for (size_t k = 0; k < sizeof(conditions) / sizeof(conditions[0]); k++) {
		if (!strcmp(word, conditions[k].word))
			cond = conditions[k].cond;
	}
	if (!cond)
		return perr(err, errlen, name, line,
			    "unexpected '%s' (conditions: all, id, class, interface-class, port, serial, follows, to, uid)",
			    word);
	if (r->conds & cond)
		return perr(err, errlen, name, line, "'%s' given twice", word);
	r->conds |= cond;
	if (cond == COND_ALL)
		return 0;
	if (*i + 1 >= nw)
		return perr(err, errlen, name, line, "missing value after '%s'", word);
	value = w[++*i];
	switch (cond) {
	case COND_ID:
		if (parse_id(value, r))
			return perr(err, errlen, name, line,
				    "bad id '%s' (want VVVV:PPPP in hex; PPPP may be *)", value);
		return 0;
	case COND_CLASS:
		if (parse_class(value, &r->device_class))
			return perr(err, errlen, name, line, "bad class '%s' (want 2 hex digits)", value);
		return 0;
	case COND_INTERFACE_CLASS:
		if (parse_class(value, &r->interface_class))
			return perr(err, errlen, name, line,
				    "bad interface-class '%s' (want 2 hex digits)", value);
		return 0;
	case COND_FOLLOWS:
		if (parse_rule_id(value, &r->follows))
			return perr(err, errlen, name, line,
				    "bad follows '%s' (want VVVV:PPPP in hex; PPPP may be *)", value);
		return 0;
	case COND_TO:
		if (!broker_vm_name_ok(value))
			return perr(err, errlen, name, line,
				    "bad VM name '%.64s' (1 to %u of A-Z a-z 0-9 . _ -)", value,
				    USB_POLICY_VM_NAME_MAX - 1);
		snprintf(r->to, sizeof(r->to), "%s", value);
		return 0;
	case COND_UID:
		if (sysfs_parse_dec(value, 0, 0x7fffffffu, &r->uid))
			return perr(err, errlen, name, line, "bad uid '%.64s' (want a decimal user id)", value);
		return 0;
	case COND_PORT:
		if (parse_port(value, r))
			return perr(err, errlen, name, line, "bad port '%s' (want a port path like 1-2.3)",
				    value);
		return 0;
	default:
		if (parse_serial(value, r))
			return perr(err, errlen, name, line, "bad serial (empty or longer than %u bytes)",
				    BROKER_SERIAL_MAX - 1);
		return 0;
	}
}

static int parse_rule(const char *name, unsigned int line, char **w, unsigned int nw,
		      struct usb_rule *r, char *err, size_t errlen)
{
	bool found = false;

	memset(r, 0, sizeof(*r));
	r->line = line;
	for (size_t k = 0; k < sizeof(actions) / sizeof(actions[0]); k++) {
		if (!strcmp(w[0], actions[k].word)) {
			r->action = actions[k].action;
			found = true;
		}
	}
	if (!found)
		return perr(err, errlen, name, line,
			    "unknown action '%s' (actions: allow, allow-detach, deny, allow-interface, deny-interface)",
			    w[0]);
	for (unsigned int i = 1; i < nw; i++) {
		int e = parse_condition(name, line, w, nw, &i, r, err, errlen);

		if (e)
			return e;
	}
	if (!r->conds)
		return perr(err, errlen, name, line,
			    "rule without a condition (write 'all' to match every device)");
	if ((r->conds & COND_ALL) && r->conds != COND_ALL)
		return perr(err, errlen, name, line, "'all' cannot be combined with other conditions");
	if ((r->action == ACT_ALLOW_INTERFACE || r->action == ACT_DENY_INTERFACE) &&
	    !(r->conds & COND_INTERFACE_CLASS))
		return perr(err, errlen, name, line, "%s needs an interface-class", w[0]);
	/* A successor is a device the rule names: `allow id NEW follows OLD`. */
	if ((r->conds & COND_FOLLOWS) && r->action != ACT_ALLOW && r->action != ACT_ALLOW_DETACH)
		return perr(err, errlen, name, line, "follows is for allow and allow-detach rules");
	if ((r->conds & COND_FOLLOWS) && !(r->conds & COND_ID))
		return perr(err, errlen, name, line, "follows needs the successor's id (allow id VVVV:PPPP follows ...)");
	/* A device given unasked is one the rule names: never every device, nor a kind of them. */
	if ((r->conds & COND_TO) && r->action != ACT_ALLOW && r->action != ACT_ALLOW_DETACH)
		return perr(err, errlen, name, line, "to is for allow and allow-detach rules");
	if ((r->conds & COND_TO) && !(r->conds & (COND_ID | COND_SERIAL | COND_PORT)))
		return perr(err, errlen, name, line, "to needs a rule that names the device (id, serial or port)");
	return 0;
}

/* Checks one line's characters; text is the line without its newline. */
static int check_line(const char *name, unsigned int line, const char *text, size_t len,
		      char *err, size_t errlen)
{
	if (len > USB_POLICY_MAX_LINE)
		return perr(err, errlen, name, line, "line longer than %u characters",
			    USB_POLICY_MAX_LINE);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return perr(err, errlen, name, line, "control character 0x%02x", c);
		if (c == '\r' && i + 1 != len)
			return perr(err, errlen, name, line, "carriage return inside a line");
	}
	return 0;
}

static void copy_rule_text(struct usb_rule *r, const char *text, size_t len)
{
	while (len && (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	while (len && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	memcpy(r->text, text, len);
	r->text[len] = '\0';
}

int usb_policy_parse(const char *name, const char *text, size_t len, struct usb_policy **out,
		     char *err, size_t errlen)
{
	struct usb_policy *p;
	unsigned int line = 0;
	size_t pos = 0;

	*out = NULL;
	if (len > USB_POLICY_MAX_SIZE)
		return perr(err, errlen, name, 0, "larger than %u bytes", USB_POLICY_MAX_SIZE);
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - start) : len - pos;
		char buf[USB_POLICY_MAX_LINE + 1];
		char *words[MAX_WORDS];
		const char *why = NULL;
		int nw, e;

		line++;
		pos += ll + (nl ? 1 : 0);
		if (memchr(start, '\0', ll)) {
			e = perr(err, errlen, name, line, "NUL byte");
			goto fail;
		}
		e = check_line(name, line, start, ll, err, errlen);
		if (e)
			goto fail;
		memcpy(buf, start, ll);
		buf[ll] = '\0';
		if (ll && buf[ll - 1] == '\r')
			buf[ll - 1] = '\0';
		nw = split_words(buf, words, &why);
		if (nw < 0) {
			e = perr(err, errlen, name, line, "%s", why);
			goto fail;
		}
		if (nw == 0)
			continue;
		if (p->count == USB_POLICY_MAX_RULES) {
			e = perr(err, errlen, name, line, "more than %u rules", USB_POLICY_MAX_RULES);
			goto fail;
		}
		e = parse_rule(name, line, words, (unsigned int)nw, &p->rules[p->count], err, errlen);
		if (e)
			goto fail;
		copy_rule_text(&p->rules[p->count], start, ll);
		p->count++;
	}
	*out = p;
	return 0;
fail:
	free(p);
	return -EINVAL;
}

int usb_policy_load(const char *path, struct usb_policy **out, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	size_t len = 0;
	int fd, e;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	if (fstat(fd, &st) < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return perr(err, errlen, path, 0, "not a regular file");
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return perr(err, errlen, path, 0, "owned by uid %u, neither root nor us",
			    (unsigned int)st.st_uid);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return perr(err, errlen, path, 0, "writable by group or others");
	}
	if (st.st_size > (off_t)USB_POLICY_MAX_SIZE) {
		close(fd);
		return perr(err, errlen, path, 0, "larger than %u bytes", USB_POLICY_MAX_SIZE);
	}
	/* One byte more than allowed, so a file that grew after fstat is still caught. */
	text = malloc(USB_POLICY_MAX_SIZE + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, USB_POLICY_MAX_SIZE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
			goto out;
		}
		if (n == 0 || len + (size_t)n > USB_POLICY_MAX_SIZE) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	e = usb_policy_parse(path, text, len, out, err, errlen);
out:
	free(text);
	close(fd);
	return e;
}

struct usb_policy *usb_policy_builtin(void)
{
	struct usb_policy *p;
	char err[USB_POLICY_ERR_MAX];

	if (usb_policy_parse(USB_POLICY_BUILTIN_NAME, USB_POLICY_BUILTIN_TEXT,
			     strlen(USB_POLICY_BUILTIN_TEXT), &p, err, sizeof(err)))
		return NULL;
	return p;
}

void usb_policy_free(struct usb_policy *p)
{
	free(p);
}

const char *usb_policy_keyword(unsigned int i)
{
	const size_t nactions = sizeof(actions) / sizeof(actions[0]);
	const size_t nconditions = sizeof(conditions) / sizeof(conditions[0]);

	if (i < nactions)
		return actions[i].word;
	if (i < nactions + nconditions)
		return conditions[i - nactions].word;
	return NULL;
}

unsigned int usb_policy_count(const struct usb_policy *p)
{
	return p->count;
}

/* Interfaces of d whose class is cls. */
static uint32_t interfaces_of_class(const struct broker_device *d, uint8_t cls)
{
	uint32_t mask = 0;

	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++) {
		if ((d->interfaces & (1u << i)) && d->interface_class[i] == cls)
			mask |= 1u << i;
	}
	return mask;
}

/*
 * For device rules interface-class holds when any interface has the class;
 * for interface rules it picks the interfaces instead, so it is not a device
 * condition there.
 */
static bool id_matches(const struct rule_id *id, uint16_t vendor, uint16_t product)
{
	return id->vendor == vendor && (id->any_product || id->product == product);
}

/*
 * Whether a rule applies to the device, for asker a. A follows rule applies
 * only to a device that comes back for a lease on a->pred; a to rule only
 * for the VM it names.
 */
static bool applies(const struct usb_rule *r, const struct broker_device *d,
		    const struct usb_asker *a)
{
	bool interface_rule = r->action == ACT_ALLOW_INTERFACE || r->action == ACT_DENY_INTERFACE;

	if ((r->conds & COND_FOLLOWS) &&
	    (!a || !a->pred || !id_matches(&r->follows, a->pred->vendor, a->pred->product)))
		return false;
	if ((r->conds & COND_UID) && (!a || !a->has_uid || a->uid != r->uid))
		return false;
	/*
	 * Whoever can reach the broker can call its VM anything: a name alone is
	 * root's VM unless the rule says which user's.
	 */
	if ((r->conds & COND_TO) && (!a || !a->vm || strcmp(r->to, a->vm) != 0 ||
				     (!(r->conds & COND_UID) && (!a->has_uid || a->uid != 0))))
		return false;
	if (r->conds & COND_ALL)
		return true;
	if ((r->conds & COND_ID) &&
	    (r->vendor != d->vendor || (!r->any_product && r->product != d->product)))
		return false;
	if ((r->conds & COND_CLASS) && r->device_class != d->device_class)
		return false;
	if ((r->conds & COND_PORT) && strcmp(r->port, d->port_path) != 0)
		return false;
	/* A device without a serial never matches a serial condition. */
	if ((r->conds & COND_SERIAL) && (!d->serial[0] || strcmp(r->serial, d->serial) != 0))
		return false;
	if (!interface_rule && (r->conds & COND_INTERFACE_CLASS) &&
	    !interfaces_of_class(d, r->interface_class))
		return false;
	return true;
}

/* "WORD by FILE:LINE (RULE TEXT)TAIL": the reason a reply and the log line carry. */
static void verdict(struct usb_verdict *v, const struct usb_policy *p, const struct usb_rule *r,
		    const char *word, const char *tail)
{
	snprintf(v->rule, sizeof(v->rule), "%.50s:%u", p->name, r->line);
	snprintf(v->reason, sizeof(v->reason), "%s by %s (%.120s)%s", word, v->rule, r->text, tail);
}

/* Whether rule r picks out particular devices rather than kinds of them. */
static bool names_a_device(const struct usb_rule *r)
{
	return r->conds & (COND_ID | COND_SERIAL | COND_PORT);
}

/*
 * A device the host may depend on, that a rule must name to pass: a HID boot
 * keyboard or mouse among the interfaces the VM could claim (the host's
 * keyboard, a BadUSB stick), or anything on a hard-wired port (a laptop's
 * keyboard, camera, fingerprint reader). Returns the reason, or NULL.
 */
static const char *needs_naming(const struct broker_device *d, const struct usb_traits *t,
				uint32_t claimable, char *rule, size_t rulelen)
{
	if (t->hid_boot & claimable & d->interfaces) {
		snprintf(rule, rulelen, "hid-boot");
		return "a HID boot keyboard or mouse";
	}
	if (t->internal) {
		snprintf(rule, rulelen, "internal");
		return "a device on an internal (hard-wired) port";
	}
	return NULL;
}

void usb_policy_evaluate(const struct usb_policy *p, const struct broker_device *d,
			 const struct usb_traits *t, struct usb_verdict *v)
{
	usb_policy_evaluate_for(p, d, t, NULL, v);
}

void usb_policy_evaluate_for(const struct usb_policy *p, const struct broker_device *d,
			     const struct usb_traits *t, const struct usb_asker *a,
			     struct usb_verdict *v)
{
	const struct broker_device *pred = a ? a->pred : NULL;
	const struct usb_rule *allow = NULL, *named = NULL, *deny = NULL, *narrowed = NULL;
	uint32_t allow_if = 0, deny_if = 0;
	bool allow_if_applied = false;
	const char *sensitive;

	memset(v, 0, sizeof(*v));
	/* Not a rule anyone can write away: a hub would hand the VM every device behind it. */
	if (usb_identity_is_hub(d)) {
		snprintf(v->rule, sizeof(v->rule), "hub");
		snprintf(v->reason, sizeof(v->reason),
			 "a hub (class 09) is never passed to a VM");
		return;
	}
	for (unsigned int i = 0; i < p->count && !deny; i++) {
		const struct usb_rule *r = &p->rules[i];

		if (!applies(r, d, a))
			continue;
		switch (r->action) {
		case ACT_DENY:
			deny = r;	/* the first deny that applies wins; nothing after it is read */
			break;
		case ACT_ALLOW:
		case ACT_ALLOW_DETACH:
			/* Another identity than the one followed comes in only by a rule naming it so. */
			if (pred && !(r->conds & COND_FOLLOWS))
				break;
			if (!allow)
				allow = r;
			if (!named && names_a_device(r))
				named = r;
			break;
		case ACT_ALLOW_INTERFACE:
			allow_if_applied = true;
			allow_if |= interfaces_of_class(d, r->interface_class);
			if (!narrowed)
				narrowed = r;
			break;
		case ACT_DENY_INTERFACE:
			deny_if |= interfaces_of_class(d, r->interface_class);
			if (!narrowed)
				narrowed = r;
			break;
		}
	}
	if (deny) {
		verdict(v, p, deny, "refused", "");
		return;
	}
	if (!allow) {
		snprintf(v->rule, sizeof(v->rule), "default");
		if (pred)
			snprintf(v->reason, sizeof(v->reason),
				 "came back as %04x:%04x, and no rule of %.150s follows %04x:%04x to it",
				 d->vendor, d->product, p->name, pred->vendor, pred->product);
		else
			snprintf(v->reason, sizeof(v->reason), "no rule of %.200s allows this device", p->name);
		return;
	}
	v->allowed = (allow_if_applied ? allow_if : d->interfaces) & ~deny_if & d->interfaces;
	v->restricted = narrowed != NULL;
	if (v->restricted && d->interfaces && !v->allowed) {
		verdict(v, p, narrowed, "refused", ": no interface left");
		v->allowed = 0;
		v->restricted = false;
		return;
	}
	/* An unrestricted fd may claim any interface number, of any configuration. */
	sensitive = needs_naming(d, t, v->restricted ? v->allowed : 0xffffffffu, v->rule,
				 sizeof(v->rule));
	if (sensitive) {
		if (!named) {
			snprintf(v->reason, sizeof(v->reason),
				 "%s: passed to a VM only by an allow rule naming it (id, serial or port)",
				 sensitive);
			v->allowed = 0;
			v->restricted = false;
			return;
		}
		allow = named;
	}
	v->allow = true;
	v->detach = allow->action == ACT_ALLOW_DETACH;
	v->gives = allow->conds & COND_TO;
	verdict(v, p, allow, "allowed", "");
}
