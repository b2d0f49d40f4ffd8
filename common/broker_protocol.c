/* SPDX-License-Identifier: MIT */
#include "common/broker_protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fdpass.h"
#include "common/wire_check.h"

static const char *const type_names[BROKER_TYPE_END] = {
	[BROKER_OPEN] = "OPEN",
	[BROKER_RELEASE] = "RELEASE",
	[BROKER_BACK] = "BACK",
	[BROKER_NAME] = "NAME",
	[BROKER_GIVE] = "GIVE",
};

bool broker_vm_name_ok(const char *name)
{
	size_t len = strnlen(name, BROKER_VM_NAME_MAX);

	if (len == 0 || len == BROKER_VM_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

const char *broker_type_name(unsigned int type)
{
	if (type == 0 || type >= BROKER_TYPE_END)
		return "?";
	return type_names[type];
}



/* A string field: NUL-terminated inside its array, and zero after the NUL (no hidden bytes). */
static int string_ok(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);

	return nul && wire_all_zero(nul, size - (size_t)(nul - s));
}

static void request_init(struct broker_request *r, uint32_t id, enum broker_type type)
{
	memset(r, 0, sizeof(*r));
	r->version = BROKER_VERSION;
	r->type = type;
	r->id = id;
}

int broker_request_open(struct broker_request *r, uint32_t id, enum broker_target target,
			const char *path)
{
	size_t len = strlen(path);

	request_init(r, id, BROKER_OPEN);
	if (len == 0 || (target != BROKER_TARGET_NODE && target != BROKER_TARGET_ID))
		return -EINVAL;
	if (len >= BROKER_PATH_MAX)
		return -ENAMETOOLONG;
	r->target = target;
	r->path_len = (uint32_t)len;
	memcpy(r->path, path, len);
	return 0;
}

int broker_request_name(struct broker_request *r, uint32_t id, const char *name)
{
	request_init(r, id, BROKER_NAME);
	if (!broker_vm_name_ok(name))
		return -EINVAL;
	r->path_len = (uint32_t)strlen(name);
	memcpy(r->path, name, r->path_len);
	return 0;
}

int broker_request_release(struct broker_request *r, uint32_t id, uint32_t handle, uint32_t flags)
{
	request_init(r, id, BROKER_RELEASE);
	if (handle == 0 || (flags & ~BROKER_RELEASE_KEEP_LEASE))
		return -EINVAL;
	r->handle = handle;
	r->flags = flags;
	return 0;
}

void broker_reply_init(struct broker_reply *p, const struct broker_request *r)
{
	memset(p, 0, sizeof(*p));
	p->version = BROKER_VERSION;
	p->type = r->type;
	p->id = r->id;
	p->status = SVMM_OK;
}

void broker_reply_error(struct broker_reply *p, enum svmm_status status, const char *fmt, ...)
{
	va_list ap;

	p->status = status;
	memset(p->reason, 0, sizeof(p->reason));
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

int broker_request_decode(const void *buf, size_t len, size_t nfds, struct broker_request *out,
			  const char **why)
{
	const struct broker_request *r = buf;

	if (len != sizeof(*r))
		return wire_refuse(why, "request has the wrong size", -EMSGSIZE);
	/* Nothing is ever handed to the broker: a descriptor is refused before any field is read. */
	if (nfds)
		return wire_refuse(why, "a descriptor was sent to the broker", -EBADF);
	if (r->version != BROKER_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (r->type != BROKER_OPEN && r->type != BROKER_RELEASE && r->type != BROKER_NAME)
		return wire_refuse(why, "unknown request type", -EBADMSG);
	if (r->flags & ~BROKER_REQUEST_FLAGS_ALL)
		return wire_refuse(why, "unknown request flags", -EBADMSG);
	if (r->path_len >= BROKER_PATH_MAX)
		return wire_refuse(why, "path length out of range", -EBADMSG);
	if (!wire_all_zero(r->path + r->path_len, BROKER_PATH_MAX - r->path_len))
		return wire_refuse(why, "bytes after the path are not zero", -EBADMSG);
	if (memchr(r->path, '\0', r->path_len))
		return wire_refuse(why, "path contains a NUL byte", -EBADMSG);

	if (r->type == BROKER_OPEN) {
		if (r->target != BROKER_TARGET_NODE && r->target != BROKER_TARGET_ID)
			return wire_refuse(why, "unknown open target", -EBADMSG);
		if (r->path_len == 0)
			return wire_refuse(why, "open without a path", -EBADMSG);
		if (r->handle)
			return wire_refuse(why, "open carries a handle", -EBADMSG);
		if (r->flags & ~BROKER_OPEN_FOLLOW)
			return wire_refuse(why, "release flags on an open", -EBADMSG);
		if ((r->flags & BROKER_OPEN_FOLLOW) && r->target != BROKER_TARGET_ID)
			return wire_refuse(why, "follow needs an id or port path, not a node", -EBADMSG);
	} else if (r->type == BROKER_NAME) {
		if (r->target || r->handle || r->flags)
			return wire_refuse(why, "name carries a target, handle or flags", -EBADMSG);
		if (!broker_vm_name_ok(r->path))
			return wire_refuse(why, "a VM name is 1 to 64 of A-Z a-z 0-9 . _ -", -EBADMSG);
	} else {
		if (r->flags & ~BROKER_RELEASE_KEEP_LEASE)
			return wire_refuse(why, "open flags on a release", -EBADMSG);
		if (r->handle == 0)
			return wire_refuse(why, "release of handle 0", -EBADMSG);
		if (r->target || r->path_len)
			return wire_refuse(why, "release carries a target or path", -EBADMSG);
	}
	memcpy(out, r, sizeof(*r));
	return 0;
}

static int device_ok(const struct broker_device *d, const char **why)
{
	if (d->speed > BROKER_SPEED_MAX)
		return wire_refuse(why, "speed out of range", -EBADMSG);
	if (!string_ok(d->serial, sizeof(d->serial)))
		return wire_refuse(why, "serial not terminated or followed by bytes", -EBADMSG);
	if (!string_ok(d->port_path, sizeof(d->port_path)))
		return wire_refuse(why, "port path not terminated or followed by bytes", -EBADMSG);
	for (unsigned int i = 0; i < BROKER_MAX_INTERFACES; i++) {
		if (!(d->interfaces & (1u << i)) && d->interface_class[i])
			return wire_refuse(why, "class of an interface the device does not have", -EBADMSG);
	}
	return 0;
}

int broker_reply_decode(const void *buf, size_t len, size_t nfds, uint16_t expect_type,
			uint32_t expect_id, struct broker_reply *out, const char **why)
{
	const struct broker_reply *p = buf;
	int opened;
	int err;

	if (len != sizeof(*p))
		return wire_refuse(why, "reply has the wrong size", -EMSGSIZE);
	if (p->version != BROKER_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (p->type != expect_type || p->id != expect_id)
		return wire_refuse(why, "reply to another request", -EBADMSG);
	if (p->status >= SVMM_STATUS_END)
		return wire_refuse(why, "unknown status", -EBADMSG);
	if (p->reserved)
		return wire_refuse(why, "reserved field is not zero", -EBADMSG);
	if (p->type == BROKER_BACK && (p->id != 0 || p->lease == 0))
		return wire_refuse(why, "a device back without its lease", -EBADMSG);
	if (p->type == BROKER_GIVE && (p->id != 0 || p->lease || p->status != SVMM_OK))
		return wire_refuse(why, "a device given with an id, a lease or a refusal", -EBADMSG);
	if (p->type == BROKER_RELEASE && p->lease)
		return wire_refuse(why, "lease on a release reply", -EBADMSG);
	opened = (p->type == BROKER_OPEN || p->type == BROKER_BACK || p->type == BROKER_GIVE) &&
		 p->status == SVMM_OK;
	if (nfds != (opened ? 1u : 0u))
		return wire_refuse(why, opened ? "open reply without its descriptor" :
			   "descriptor on a reply that takes none", -EBADF);
	if (!string_ok(p->reason, sizeof(p->reason)))
		return wire_refuse(why, "reason not terminated or followed by bytes", -EBADMSG);
	if (p->flags & ~BROKER_FLAGS_ALL)
		return wire_refuse(why, "unknown reply flags", -EBADMSG);
	if (opened) {
		if (p->handle == 0)
			return wire_refuse(why, "open reply without a handle", -EBADMSG);
		if (p->allowed & ~p->device.interfaces)
			return wire_refuse(why, "allowed interfaces the device does not have", -EBADMSG);
	} else if (p->flags || p->allowed || (p->type != BROKER_RELEASE && p->handle) ||
		   (p->lease && p->type != BROKER_BACK)) {
		return wire_refuse(why, "grant fields on a reply that grants nothing", -EBADMSG);
	}
	err = device_ok(&p->device, why);
	if (err)
		return err;
	memcpy(out, p, sizeof(*p));
	return 0;
}

int broker_request_send(int sock, const struct broker_request *r)
{
	struct broker_request check;

	if (broker_request_decode(r, sizeof(*r), 0, &check, NULL) < 0)
		return -EINVAL;
	return fdpass_send(sock, r, sizeof(*r), NULL, 0);
}

/*
 * Receives one message into buf (one byte larger than the message, so a longer
 * one shows as the wrong size rather than cut to fit), taking at most max_fds
 * descriptors. Returns its length, 0 when the peer closed, or -errno with *why set.
 */
static ssize_t recv_message(int sock, void *buf, size_t size, int *fds, size_t max_fds,
			    size_t *nfds, const char **why)
{
	ssize_t n = fdpass_recv(sock, buf, size, fds, max_fds, nfds);

	if (n < 0)
		return wire_refuse(why, n == -EMSGSIZE ? "message larger than the protocol's" :
			   n == -EBADF ? (max_fds ? "more descriptors than a message carries" :
					  "a descriptor on a message that takes none") :
			   n == -EBADMSG ? "control data that is not a descriptor" :
			   "receive failed", (int)n);
	return n;
}

int broker_request_recv(int sock, struct broker_request *r, const char **why)
{
	unsigned char buf[sizeof(struct broker_request) + 1];
	size_t nfds = 0;
	/* No room for a descriptor: one sent to the broker is dropped by the kernel, never closed here. */
	ssize_t n = recv_message(sock, buf, sizeof(buf), NULL, 0, &nfds, why);

	if (n == -EBADF)
		return wire_refuse(why, "a descriptor was sent to the broker", -EBADF);
	if (n <= 0)
		return (int)n;
	return broker_request_decode(buf, (size_t)n, 0, r, why) ?: 1;
}

int broker_reply_send(int sock, const struct broker_reply *p, int fd)
{
	struct broker_reply check;
	size_t nfds = fd >= 0 ? 1 : 0;

	if (broker_reply_decode(p, sizeof(*p), nfds, p->type, p->id, &check, NULL) < 0)
		return -EINVAL;
	return fdpass_send(sock, p, sizeof(*p), &fd, nfds);
}

/* Only a successful OPEN carries a descriptor: the header says so before anything is received. */
static size_t reply_fds_expected(int sock)
{
	/* The reply's own layout, up to and with status: the fields that decide. */
	const size_t head = offsetof(struct broker_reply, status) + sizeof(uint32_t);
	struct broker_reply r;

	if (fdpass_peek(sock, &r, head) != (ssize_t)head)
		return 0;
	return r.version == BROKER_VERSION &&
	       (r.type == BROKER_OPEN || r.type == BROKER_BACK || r.type == BROKER_GIVE) &&
	       r.status == SVMM_OK;
}

int broker_reply_recv_any(int sock, struct broker_reply *p, int *fd, const char **why)
{
	unsigned char buf[sizeof(struct broker_reply) + 1];
	struct broker_reply head;
	struct stat st;
	int fds[1] = { -1 };
	size_t nfds = 0;
	ssize_t n;
	int err;

	*fd = -1;
	n = recv_message(sock, buf, sizeof(buf), fds, reply_fds_expected(sock), &nfds, why);
	if (n <= 0)
		return (int)n;
	if ((size_t)n != sizeof(head)) {
		err = wire_refuse(why, "reply has the wrong size", -EMSGSIZE);
		goto refuse;
	}
	memcpy(&head, buf, sizeof(head));
	err = broker_reply_decode(buf, (size_t)n, nfds, head.type, head.id, p, why);
	if (err)
		goto refuse;
	/* A usbfs node is a character device; anything else is not what OPEN grants. */
	if (nfds && (fstat(fds[0], &st) < 0 || !S_ISCHR(st.st_mode))) {
		err = wire_refuse(why, "open reply's descriptor is not a device node", -EBADF);
		goto refuse;
	}
	*fd = nfds ? fds[0] : -1;
	return 1;
refuse:
	if (nfds)
		fdpass_drop(fds[0]);
	return err;
}

int broker_reply_recv(int sock, uint16_t type, uint32_t id, struct broker_reply *p, int *fd,
		      const char **why)
{
	int r = broker_reply_recv_any(sock, p, fd, why);

	if (r <= 0)
		return r;
	if (p->type != type || p->id != id) {
		if (*fd >= 0)
			fdpass_drop(*fd);
		*fd = -1;
		return wire_refuse(why, "reply to another request", -EBADMSG);
	}
	return 1;
}
