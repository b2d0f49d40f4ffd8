/* SPDX-License-Identifier: MIT */
#include "common/control_protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/wire_check.h"

static const char *const event_names[CONTROL_EVENT_END] = {
	[CONTROL_EVENT_ATTACHED] = "attached",
	[CONTROL_EVENT_DETACHED] = "detached",
	[CONTROL_EVENT_GONE] = "gone",
	[CONTROL_EVENT_REFUSED] = "refused",
	[CONTROL_EVENT_STOPPED] = "stopped",
	[CONTROL_EVENT_BACK] = "back",
};

const char *control_event_name(unsigned int event)
{
	if (event == 0 || event >= CONTROL_EVENT_END)
		return "?";
	return event_names[event];
}

void control_request_simple(struct control_request *r, enum control_type type, uint32_t port)
{
	memset(r, 0, sizeof(*r));
	r->version = CONTROL_VERSION;
	r->type = type;
	r->port = port;
}

int control_request_attach(struct control_request *r, enum control_target target,
			   uint32_t flags, const char *path)
{
	size_t len = strlen(path);

	control_request_simple(r, CONTROL_USB_ATTACH, 0);
	if (len == 0)
		return -EINVAL;
	if (len >= CONTROL_PATH_MAX)
		return -ENAMETOOLONG;
	r->target = target;
	r->flags = flags;
	r->path_len = (uint32_t)len;
	memcpy(r->path, path, len);
	return 0;
}

unsigned int control_request_fds_expected(const struct control_request *r)
{
	return r->type == CONTROL_USB_ATTACH && r->target == CONTROL_TARGET_IMAGE ? 1 : 0;
}

int control_request_decode(const void *buf, size_t len, size_t nfds, struct control_request *out,
			   const char **why)
{
	const struct control_request *r = buf;

	if (len != sizeof(*r))
		return wire_refuse(why, "request has the wrong size", -EMSGSIZE);
	if (r->version != CONTROL_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (r->type == 0 || r->type >= CONTROL_TYPE_END)
		return wire_refuse(why, "unknown request type", -EBADMSG);
	if (r->reserved)
		return wire_refuse(why, "reserved field is not zero", -EBADMSG);
	if (r->path_len >= CONTROL_PATH_MAX)
		return wire_refuse(why, "path length out of range", -EBADMSG);
	/* Bytes past the path, the NUL included, must be zero: no hidden payload. */
	if (!wire_all_zero(r->path + r->path_len, CONTROL_PATH_MAX - r->path_len))
		return wire_refuse(why, "bytes after the path are not zero", -EBADMSG);
	if (memchr(r->path, '\0', r->path_len))
		return wire_refuse(why, "path contains a NUL byte", -EBADMSG);

	if (r->type == CONTROL_USB_ATTACH) {
		if (r->path_len == 0)
			return wire_refuse(why, "attach without a path", -EBADMSG);
		if (r->target < CONTROL_TARGET_NODE || r->target > CONTROL_TARGET_ID)
			return wire_refuse(why, "unknown attach target", -EBADMSG);
		if (r->flags & ~(CONTROL_ATTACH_READONLY | CONTROL_ATTACH_FOLLOW))
			return wire_refuse(why, "unknown attach flags", -EBADMSG);
		if (r->port)
			return wire_refuse(why, "attach carries a port", -EBADMSG);
		if ((r->flags & CONTROL_ATTACH_READONLY) && r->target != CONTROL_TARGET_IMAGE)
			return wire_refuse(why, "read-only applies to images only", -EBADMSG);
		if ((r->flags & CONTROL_ATTACH_FOLLOW) && r->target != CONTROL_TARGET_ID)
			return wire_refuse(why, "follow applies to an id or port path only", -EBADMSG);
	} else {
		if (r->path_len || r->target || r->flags)
			return wire_refuse(why, "path or attach fields on a request that takes none", -EBADMSG);
		if (r->type == CONTROL_USB_DETACH && r->port == 0)
			return wire_refuse(why, "detach of port 0", -EBADMSG);
		if (r->type != CONTROL_USB_DETACH && r->port)
			return wire_refuse(why, "port on a request that takes none", -EBADMSG);
	}
	if (nfds != control_request_fds_expected(r))
		return wire_refuse(why, nfds ? "a descriptor on a request that takes none" :
			   "an image attach without the image's descriptor", -EBADF);
	memcpy(out, r, sizeof(*r));
	return 0;
}

void control_event_init(struct control_event *e, enum control_event_kind kind, const char *path)
{
	struct timespec ts;

	memset(e, 0, sizeof(*e));
	e->version = CONTROL_VERSION;
	e->type = CONTROL_USB_WATCH;
	e->event = kind;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		e->time_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	/* Truncated to what the event holds: it names, it does not open. */
	if (path)
		snprintf(e->path, sizeof(e->path), "%s", path);
}

int control_event_decode(const void *buf, size_t len, struct control_event *out, const char **why)
{
	const struct control_event *e = buf;

	if (len != sizeof(*e))
		return wire_refuse(why, "event has the wrong size", -EMSGSIZE);
	if (e->version != CONTROL_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (e->type != CONTROL_USB_WATCH)
		return wire_refuse(why, "not an event", -EBADMSG);
	if (e->event == 0 || e->event >= CONTROL_EVENT_END)
		return wire_refuse(why, "unknown event", -EBADMSG);
	if (e->status >= SVMM_STATUS_END)
		return wire_refuse(why, "unknown status", -EBADMSG);
	if (!memchr(e->path, '\0', sizeof(e->path)) || !memchr(e->message, '\0', sizeof(e->message)))
		return wire_refuse(why, "text not terminated", -EBADMSG);
	memcpy(out, e, sizeof(*e));
	return 0;
}

void control_reply_init(struct control_reply *r, enum control_type type)
{
	memset(r, 0, sizeof(*r));
	r->version = CONTROL_VERSION;
	r->type = type;
	r->status = SVMM_OK;
}

void control_reply_error(struct control_reply *r, enum svmm_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	memset(r->message, 0, sizeof(r->message));
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

int control_reply_decode(const void *buf, size_t len, enum control_type expect_type,
			 struct control_reply *out, const char **why)
{
	const struct control_reply *r = buf;

	if (len != sizeof(*r))
		return wire_refuse(why, "reply has the wrong size", -EMSGSIZE);
	if (r->version != CONTROL_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (r->type != expect_type)
		return wire_refuse(why, "reply to another request", -EBADMSG);
	if (r->status >= SVMM_STATUS_END)
		return wire_refuse(why, "unknown status", -EBADMSG);
	if (!memchr(r->message, '\0', sizeof(r->message)))
		return wire_refuse(why, "message not terminated", -EBADMSG);
	if (r->count > CONTROL_LIST_MAX)
		return wire_refuse(why, "more list entries than a reply holds", -EBADMSG);
	memcpy(out, r, sizeof(*r));
	return 0;
}
