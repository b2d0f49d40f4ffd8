/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of the broker (docs/protocol.md, "Broker protocol").
 *
 * A VMM gets its broker one of two ways:
 *   - broker_spawn(): forks the VM's own broker, joined by a socketpair. Call
 *     it early in `svmm run`: before any thread exists (the child runs on
 *     after fork) and before the VMM drops its privileges (the broker keeps
 *     the uid it is forked with, to open /dev/bus/usb nodes, and drops every
 *     capability itself). It exits when the VMM's end closes, releasing and
 *     revoking the VM's devices.
 *   - broker_connect(): a system broker (`svmm broker --socket PATH`).
 * Either way the VMM then calls, one at a time:
 *   - broker_open() for each `usb attach`: on SVMM_OK it gets the opened
 *     usbfs node, which it passes to the device process (DEVPROTO_USB_ATTACH)
 *     and then closes; reply.handle names the device for broker_release(),
 *     reply.device gives vendor, product, speed, bus and device numbers,
 *     reply.flags says whether the device process may detach host drivers
 *     (BROKER_FLAG_MAY_DETACH) or can claim only reply.allowed interfaces
 *     (BROKER_FLAG_RESTRICTED). On a refusal, reply.status and reply.reason
 *     are what the control client should print (()).
 *   - broker_release() after the device process detached the device and
 *     closed its fd, so the device may go to another VM and the host gets its
 *     drivers back.
 */
#ifndef SVMM_BROKER_CLIENT_H
#define SVMM_BROKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker_config.h"
#include "common/broker_protocol.h"
#include "common/control_protocol.h"

/* How long broker_open/broker_release wait for the reply. */
#define BROKER_CLIENT_TIMEOUT_MS 10000
/* Unanswered requests after which broker_open/broker_release refuse to ask more (-EBUSY). */
#define BROKER_CLIENT_MAX_LATE 16u
/* Followed devices back (BROKER_BACK) kept until the VMM takes them. */
#define BROKER_CLIENT_MAX_BACKS 8u

struct broker_child {
	pid_t pid;	/* the broker process, to reap */
	int sock;	/* the VMM's end (SOCK_SEQPACKET, close-on-exec) */
};

/*
 * Loads the policy (policy_path, or the built-in one when NULL) and forks the
 * broker. config NULL means the real /dev/bus/usb and /sys (tests pass fake
 * trees). The policy is parsed before the fork, so a malformed one is
 * reported here: -EINVAL with "FILE:LINE: reason" in err. Returns 0 and
 * fills *child, or -errno with err set.
 */
int broker_spawn(const char *policy_path, const struct broker_config *config,
		 struct broker_child *child, char *err, size_t errlen);

/* Closes child->sock and reaps the broker; returns its exit status, or -errno. */
int broker_stop(struct broker_child *child);

/* Connects to a system broker; the socket fd (non-blocking), or -errno. */
int broker_connect(const char *path);

/*
 * Asks for a device: target BROKER_TARGET_NODE with a node path, or
 * BROKER_TARGET_ID with VID:PID[:SERIAL] (hex) or a port path like 1-2.3.
 * Returns 0 when the broker answered: then *fd is the opened node if
 * reply->status is SVMM_OK, else -1 and reply->reason says why. Returns
 * -errno when it did not answer well (-ETIMEDOUT, -ECONNRESET: the broker is
 * gone, -EBADMSG/-EPROTO/-EMSGSIZE: a malformed reply, -EINVAL/-ENAMETOOLONG:
 * a path that cannot be sent); *fd is -1.
 */
int broker_open(int sock, enum broker_target target, const char *what, struct broker_reply *reply,
		int *fd);

/* broker_open with request flags: BROKER_OPEN_FOLLOW (target id only) keeps a lease, reply->lease. */
int broker_open_flags(int sock, enum broker_target target, const char *what, uint32_t flags,
		      struct broker_reply *reply, int *fd);

/* Names this VM for the policy's `to` rules (once); 0 with *reply (refused: name taken), or -errno. */
int broker_name(int sock, const char *name, struct broker_reply *reply);

/* Gives back the device the broker called handle; 0 with *reply, or -errno as above. */
int broker_release(int sock, uint32_t handle, struct broker_reply *reply);
/* ... with BROKER_RELEASE_KEEP_LEASE: the device left by itself, its lease stays. */
int broker_release_flags(int sock, uint32_t handle, uint32_t flags, struct broker_reply *reply);

/*
 * A device the broker sent unasked, read by broker_client_drain or while
 * waiting for a reply: a followed device back (BROKER_BACK) or one a `to`
 * rule gives (BROKER_GIVE). 1 with *p and *fd (the node when p->status is
 * SVMM_OK, else -1), or 0 when none waits. The VMM attaches it, or
 * releases p->handle (BROKER_RELEASE_KEEP_LEASE for a BACK).
 */
int broker_client_take_back(struct broker_reply *p, int *fd);

/*
 * Replies are matched to requests by id. One that comes after its request
 * timed out is discarded when it is read, and a device it granted is given
 * back with a RELEASE (whose reply is discarded in turn), by the next
 * broker_open/broker_release or by broker_client_drain().
 */

/* Requests sent on the broker socket whose replies have not been read yet. */
unsigned int broker_client_replies_owed(void);

/*
 * Reads the late replies that are ready, without waiting, and discards them
 * as above; queues followed devices that are back. The VMM calls it when the
 * socket is readable while no request waits (poll it while
 * broker_client_replies_owed() > 0 or it holds a lease). Returns 0, or
 * -ECONNRESET when the broker closed, or -errno.
 */
int broker_client_drain(int sock);

/* How long a request waits for its reply (ms; 0: BROKER_CLIENT_TIMEOUT_MS). For tests. */
void broker_client_set_timeout(int ms);

#endif
