/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between a VMM and the USB broker (docs/protocol.md,
 * "Broker protocol").
 *
 * The VMM sends one broker_request, the broker answers with one broker_reply
 * carrying the request's id, in order; an OPEN that succeeds carries the
 * opened usbfs node as its only SCM_RIGHTS descriptor. Messages are fixed
 * size over SOCK_SEQPACKET, native byte order.
 *
 * The broker is the privileged end: anyone who can reach its socket (a local
 * user of the system broker, a compromised VMM) is a requester it does not
 * trust. So the request decoder refuses every malformed message, including
 * one that carries a descriptor: nothing is ever handed *to* the broker.
 */
#ifndef SVMM_BROKER_PROTOCOL_H
#define SVMM_BROKER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define BROKER_VERSION 1
#define BROKER_PATH_MAX 4096u		/* including the NUL; a control request's path always fits */
#define BROKER_REASON_MAX 256u		/* reply reason, including the NUL */
#define BROKER_SERIAL_MAX 256u		/* iSerialNumber as sysfs shows it (UTF-8), with the NUL */
#define BROKER_PORT_PATH_MAX 32u	/* "255-255.255.255.255.255.255" and the NUL */
#define BROKER_MAX_INTERFACES 32u	/* usbfs claims and masks interfaces 0..31 */
#define BROKER_VM_NAME_MAX 65u		/* a VM's name, with the NUL */

enum broker_type {
	BROKER_OPEN = 1,	/* open a device: reply carries the fd */
	BROKER_RELEASE,		/* the VM let go of a device it opened */
	BROKER_BACK,		/* broker to VMM only, id 0: a followed device is back (granted: fd) or refused */
	BROKER_NAME,		/* the VM's name (path), for the policy's `to` rules; once per connection */
	BROKER_GIVE,		/* broker to VMM only, id 0: a device a `to` rule gives this VM (fd) */
	BROKER_TYPE_END,
};

/* Request flags. */
#define BROKER_OPEN_FOLLOW 0x1u		/* OPEN by id: keep a lease that brings the device back */
#define BROKER_RELEASE_KEEP_LEASE 0x2u	/* RELEASE of a device that left: its lease stays */
#define BROKER_REQUEST_FLAGS_ALL (BROKER_OPEN_FOLLOW | BROKER_RELEASE_KEEP_LEASE)

/* What an OPEN's path names. */
enum broker_target {
	BROKER_TARGET_NODE = 1,	/* a usbfs node path, /dev/bus/usb/BBB/DDD */
	BROKER_TARGET_ID,	/* VID:PID[:SERIAL] (hex) or a port path such as 1-2.3 */
};

/* Reply flags of a successful OPEN. */
#define BROKER_FLAG_MAY_DETACH 0x1u	/* allow-detach: the broker detached the host drivers of its interfaces */
#define BROKER_FLAG_RESTRICTED 0x2u	/* USBDEVFS_DROP_PRIVILEGES was applied: only `interfaces` can be claimed */
#define BROKER_FLAGS_ALL (BROKER_FLAG_MAY_DETACH | BROKER_FLAG_RESTRICTED)

/* USB speeds: the values of enum devproto_usb_speed (xHCI PORTSC speed IDs). */
#define BROKER_SPEED_MAX 5u

struct broker_request {
	uint16_t version;	/* BROKER_VERSION */
	uint16_t type;		/* enum broker_type */
	uint32_t id;		/* chosen by the requester, echoed in the reply */
	uint32_t target;	/* OPEN: enum broker_target; RELEASE: 0 */
	uint32_t handle;	/* RELEASE: the handle OPEN returned; OPEN: 0 */
	uint32_t path_len;	/* OPEN: strlen(path) > 0; RELEASE: 0 */
	uint32_t flags;		/* BROKER_OPEN_FOLLOW on an OPEN by id, BROKER_RELEASE_KEEP_LEASE on a RELEASE */
	char path[BROKER_PATH_MAX];	/* NUL after path_len bytes, zero to the end */
};

/* A USB device as the broker found it in sysfs. */
struct broker_device {
	uint16_t vendor;		/* idVendor */
	uint16_t product;		/* idProduct */
	uint8_t device_class;		/* bDeviceClass */
	uint8_t speed;			/* enum devproto_usb_speed */
	uint8_t busnum;
	uint8_t devnum;
	uint32_t interfaces;		/* bit n: the active configuration has interface n */
	uint8_t interface_class[BROKER_MAX_INTERFACES];	/* bInterfaceClass by interface number */
	char serial[BROKER_SERIAL_MAX];	/* "" when the device has none */
	char port_path[BROKER_PORT_PATH_MAX];	/* "1-2.3" */
};

struct broker_reply {
	uint16_t version;
	uint16_t type;		/* the request's type */
	uint32_t id;		/* the request's id */
	uint32_t status;	/* enum svmm_status */
	uint32_t handle;	/* OPEN ok: names the device for RELEASE (non-zero); RELEASE: its handle */
	uint32_t flags;		/* OPEN ok: BROKER_FLAG_* */
	uint32_t allowed;	/* OPEN ok: interfaces the VM may claim (subset of device.interfaces) */
	uint32_t lease;		/* OPEN ok with FOLLOW, and BACK: the lease (non-zero); else 0 */
	uint32_t reserved;
	struct broker_device device;	/* OPEN: what was found, also on most refusals */
	char reason[BROKER_REASON_MAX];	/* why: the policy rule, the failed check; NUL-terminated */
};

_Static_assert(sizeof(struct broker_request) == 24 + BROKER_PATH_MAX, "broker request layout");
_Static_assert(sizeof(struct broker_device) == 12 + BROKER_MAX_INTERFACES + BROKER_SERIAL_MAX +
	       BROKER_PORT_PATH_MAX, "broker device layout");

/* "OPEN", "RELEASE", "BACK", "NAME", "GIVE" or "?". */
const char *broker_type_name(unsigned int type);

/* A VM name: 1 to 64 of A-Z a-z 0-9 . _ - (nothing a log line or a path could misread). */
bool broker_vm_name_ok(const char *name);

/* Builds a NAME; -EINVAL for a name broker_vm_name_ok refuses. */
int broker_request_name(struct broker_request *r, uint32_t id, const char *name);

/* Builds an OPEN; -EINVAL for an empty path or unknown target, -ENAMETOOLONG if it does not fit. */
int broker_request_open(struct broker_request *r, uint32_t id, enum broker_target target,
			const char *path);
/* Builds a RELEASE; -EINVAL for handle 0. flags: 0 or BROKER_RELEASE_KEEP_LEASE. */
int broker_request_release(struct broker_request *r, uint32_t id, uint32_t handle, uint32_t flags);

/* A reply to r with status ok and everything else zero. */
void broker_reply_init(struct broker_reply *p, const struct broker_request *r);
/* Sets a reply's status and printf-formatted reason (truncated to fit). */
void broker_reply_error(struct broker_reply *p, enum svmm_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Checks len bytes that arrived with nfds descriptors as a request. Returns 0,
 * or a negative errno with *why (if not NULL) set to a static reason:
 *   -EMSGSIZE wrong size, -EPROTO wrong version, -EBADF any descriptor,
 *   -EBADMSG unknown type or target, a field out of range, non-zero padding.
 */
int broker_request_decode(const void *buf, size_t len, size_t nfds, struct broker_request *out,
			  const char **why);

/*
 * Checks a reply to a request of type expect_type and id expect_id: the same
 * errors, and -EBADMSG for a reply to another request; exactly one fd must come
 * with a successful OPEN and none with anything else (-EBADF).
 */
int broker_reply_decode(const void *buf, size_t len, size_t nfds, uint16_t expect_type,
			uint32_t expect_id, struct broker_reply *out, const char **why);

/* Sends a request (no descriptor); -EINVAL if its own decoder refuses it. */
int broker_request_send(int sock, const struct broker_request *r);

/*
 * Receives one request. Returns 1 with *r set, 0 when the peer closed, or a
 * negative errno with *why set for a malformed message (-EBADF: it came with
 * a descriptor). It receives with no room for a descriptor, so one sent to
 * the broker is dropped by the kernel and never installed, let alone closed:
 * closing a peer's file can block (fdpass.h).
 */
int broker_request_recv(int sock, struct broker_request *r, const char **why);

/* Sends a reply with fd (or -1); -EINVAL if it is not well formed for type. */
int broker_reply_send(int sock, const struct broker_reply *p, int fd);

/*
 * Receives the next reply, to whichever request. Returns 1 with *p and *fd
 * (the opened node, or -1) set, 0 if the broker closed, or a negative errno
 * with *why set. Room for a descriptor is given only when the reply's header
 * says it is a successful OPEN, and that descriptor must be a character
 * device; a refused one is dropped (fdpass_drop()).
 */
int broker_reply_recv_any(int sock, struct broker_reply *p, int *fd, const char **why);

/* broker_reply_recv_any(), and -EBADMSG for a reply to another request than (type, id). */
int broker_reply_recv(int sock, uint16_t type, uint32_t id, struct broker_reply *p, int *fd,
		      const char **why);

#endif
