/* SPDX-License-Identifier: MIT */
/*
 * The control socket protocol between `svmm usb|stop` (the client) and a
 * running `svmm run` (docs/protocol.md). One request, one reply, each a fixed
 * size SOCK_SEQPACKET message. Exactly one descriptor crosses it: the disk
 * image of an image attach, opened by the client with the user's own rights,
 * so that the VMM never opens a path on someone's behalf.
 */
#ifndef SVMM_CONTROL_PROTOCOL_H
#define SVMM_CONTROL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define CONTROL_VERSION 1
#define CONTROL_PATH_MAX 4096u		/* including the terminating NUL */
#define CONTROL_MESSAGE_MAX 256u	/* reply reason, including the NUL */
#define CONTROL_LIST_MAX 64u		/* ports a list reply can describe */

enum control_type {
	CONTROL_USB_ATTACH = 1,
	CONTROL_USB_DETACH,
	CONTROL_USB_LIST,
	CONTROL_STOP,
	CONTROL_USB_WATCH,	/* the reply lists the ports; events follow on the connection */
	CONTROL_TYPE_END,
};

/* What the attach request's path names. */
enum control_target {
	CONTROL_TARGET_NODE = 1,	/* a usbfs node, /dev/bus/usb/BBB/DDD */
	CONTROL_TARGET_IMAGE,		/* a disk image, as emulated mass storage */
	CONTROL_TARGET_ID,		/* VID:PID[:SERIAL] or a port path like 1-2.3 */
};

#define CONTROL_ATTACH_READONLY 0x1u	/* images: the guest cannot write */
#define CONTROL_ATTACH_FOLLOW 0x2u	/* ids: re-attached when the device comes back (a lease) */

struct control_request {
	uint16_t version;
	uint16_t type;		/* enum control_type */
	uint32_t port;		/* detach: 1-based port */
	uint32_t target;	/* attach: enum control_target */
	uint32_t flags;		/* attach: CONTROL_ATTACH_* */
	uint32_t path_len;	/* attach: strlen(path), path[path_len] == 0 */
	uint32_t reserved;
	char path[CONTROL_PATH_MAX];
};

struct control_port_entry {
	uint32_t port;
	uint16_t vendor;
	uint16_t product;
	uint8_t speed;		/* enum devproto_usb_speed */
	uint8_t kind;		/* enum devproto_attach_kind */
	uint16_t reserved;
	uint8_t busnum;
	uint8_t devnum;
	uint16_t reserved2;
};

struct control_reply {
	uint16_t version;
	uint16_t type;		/* the request's type */
	uint32_t status;	/* enum svmm_status */
	uint32_t port;		/* attach/detach: the port */
	uint32_t count;		/* list: entries used, <= CONTROL_LIST_MAX */
	uint32_t ports_total;	/* list: root ports the controller has */
	uint32_t reserved;
	char message[CONTROL_MESSAGE_MAX];	/* error: the reason, NUL-terminated */
	struct control_port_entry ports[CONTROL_LIST_MAX];
};

/*
 * What a watcher is told, one message per event, after the reply to its
 * CONTROL_USB_WATCH. The VMM never waits for a watcher: one that does not
 * read its events loses its connection.
 */
enum control_event_kind {
	CONTROL_EVENT_ATTACHED = 1,	/* a device went on port */
	CONTROL_EVENT_DETACHED,		/* `usb detach` took it off */
	CONTROL_EVENT_GONE,		/* the host device left by itself */
	CONTROL_EVENT_REFUSED,		/* an attach failed; status and message say why */
	CONTROL_EVENT_STOPPED,		/* the VM ends: nothing follows */
	CONTROL_EVENT_BACK,		/* a followed device came back and went on port */
	CONTROL_EVENT_END,
};

#define CONTROL_EVENT_PATH_MAX 256u	/* what was attached, truncated, with its NUL */

struct control_event {
	uint16_t version;
	uint16_t type;		/* CONTROL_USB_WATCH */
	uint32_t event;		/* enum control_event_kind */
	uint64_t time_ms;	/* wall clock, ms since the epoch */
	uint32_t status;	/* refused: enum svmm_status; else SVMM_OK */
	uint32_t reserved;
	struct control_port_entry device;	/* attached, detached, gone: the port and device */
	char path[CONTROL_EVENT_PATH_MAX];	/* the node, image or id attached; NUL-terminated */
	char message[CONTROL_MESSAGE_MAX];	/* refused: the reason; NUL-terminated */
};

const char *control_event_name(unsigned int event);

/* Builds a request; returns -ENAMETOOLONG if path does not fit, -EINVAL if it is empty. */
int control_request_attach(struct control_request *r, enum control_target target,
			   uint32_t flags, const char *path);
void control_request_simple(struct control_request *r, enum control_type type, uint32_t port);

/* Descriptors a request must carry: 1 for an image attach, else 0. */
unsigned int control_request_fds_expected(const struct control_request *r);

/* Validates len bytes, that arrived with nfds descriptors, as a request (0, or -errno with *why). */
int control_request_decode(const void *buf, size_t len, size_t nfds, struct control_request *out,
			   const char **why);
/* Validates len bytes as a reply to a request of type expect_type. */
int control_reply_decode(const void *buf, size_t len, enum control_type expect_type,
			 struct control_reply *out, const char **why);

/* Builds an event of kind (its time now); path may be NULL. */
void control_event_init(struct control_event *e, enum control_event_kind kind, const char *path);
/* Validates len bytes as an event. */
int control_event_decode(const void *buf, size_t len, struct control_event *out, const char **why);

/* Sets a reply's status and printf-formatted reason. */
void control_reply_init(struct control_reply *r, enum control_type type);
void control_reply_error(struct control_reply *r, enum svmm_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
