/* SPDX-License-Identifier: MIT */
/*
 * The broker's service loop: connections, one request at a time, and one log
 * line per decision.
 *
 * Each connection is a requester the broker does not trust. It is known by
 * what the kernel says of it (SO_PEERCRED, read when it connected), by a
 * connection number that is never reused, and by the devices it holds. When
 * it closes, the VM behind it is gone: its devices are released and
 * revoked.
 */
#ifndef SVMM_BROKER_SERVER_H
#define SVMM_BROKER_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker_config.h"
#include "common/broker_protocol.h"
#include "broker/exclusive.h"
#include "broker/follow.h"

struct usb_policy;

#define BROKER_MAX_PEERS 64u		/* connections at once */
#define BROKER_MAX_PEERS_PER_UID 8u	/* connections one uid but root may have at once; more are closed at accept */
#define BROKER_ACCEPT_BATCH 32u		/* connections accepted per wakeup, so a flood cannot fill the backlog */
#define BROKER_BINDS_WAITING 16u	/* binds waiting for the kernel to finish their device */
#define BROKER_BIND_RETRY_MS 50		/* how often such a bind is looked at again */
#define BROKER_BIND_RETRIES 40u		/* and for how long: 2 s */

/* A device that bound before the kernel linked its port (usb_new_device links it after). */
struct broker_bind_wait {
	unsigned int busnum, devnum;	/* 0: a free entry */
	unsigned int tries;
	int64_t at_ms;			/* monotonic time of the next look */
};

struct broker_peer {
	int fd;			/* -1: free slot */
	unsigned int id;	/* connection number, from 1, never reused */
	pid_t pid;		/* SO_PEERCRED at connect time */
	uid_t uid;
	gid_t gid;
	uint64_t last_active;	/* s->activity when it connected or last sent a message */
	char name[BROKER_VM_NAME_MAX];	/* NAME: what the policy's `to` rules call it; "" if none */
};

struct broker_server {
	struct broker_config cfg;
	const struct usb_policy *policy;
	struct exclusive held;
	struct follow_table follow;	/* leases that bring followed devices back */
	int listen_fd;			/* the system broker's socket, or -1 */
	int uevent_fd;			/* the kernel's device events (uevent.h), or -1: nothing comes back */
	struct broker_bind_wait binds[BROKER_BINDS_WAITING];
	bool exit_when_alone;		/* a VM's own broker: stop when its VMM has gone */
	unsigned int last_peer_id;
	uint64_t activity;		/* counts connections and messages: orders peers by idleness */
	struct broker_peer peers[BROKER_MAX_PEERS];
};

/* A server with no peers; policy must outlive it. */
void broker_server_init(struct broker_server *s, const struct broker_config *c,
			const struct usb_policy *policy, int listen_fd);

/*
 * Adds a connected socket as a peer (takes fd). Returns the slot, or -errno
 * (fd closed): -EUSERS when its uid (not root) already has
 * BROKER_MAX_PEERS_PER_UID connections, -EMFILE when the table is full and
 * nobody can make room. A full table makes room by closing the longest-idle
 * connection of the non-root uid with the most connections, preferring one
 * that holds no device, when that uid has at least two more than the
 * newcomer's (root counts as none): a few users cannot keep a VM of another
 * user, or of root, out.
 */
int broker_server_add_peer(struct broker_server *s, int fd);

/*
 * Reads and answers one message of the peer in slot. Returns 1, or 0 when the
 * peer closed (or broke the protocol's transport), in which case its devices
 * have been released and its slot freed.
 */
int broker_server_handle(struct broker_server *s, unsigned int slot);

/*
 * A USB device bound on the host (a kernel uevent): each lease waiting for a
 * device that is this one, or a successor a rule names, gets it (or the
 * reason it is refused) as a BROKER_BACK. A lease whose grant is still held
 * (its device gone, the VM not yet told) keeps the event until it is released.
 * A device no lease took goes, as a BROKER_GIVE, to the named VM a `to` rule
 * gives it to, if every check passes.
 */
void broker_server_device_bound(struct broker_server *s, unsigned int busnum, unsigned int devnum);

/*
 * The kernel sends a device's bind before it links the device to its port,
 * which the broker needs to revoke it: a bind whose device has no port link
 * yet waits, and is acted on once it has (looked at every
 * BROKER_BIND_RETRY_MS, for BROKER_BIND_RETRIES looks). Acts on those due at
 * now_ms; returns the ms until the next is due, or -1 if none waits.
 */
int broker_server_retry_binds(struct broker_server *s, int64_t now_ms);

/* Number of connected peers. */
unsigned int broker_server_peers(const struct broker_server *s);

/*
 * Serves until a signal blocked in the caller's mask and unblocked in
 * wait_mask arrives (ppoll), or, with exit_when_alone, until no peer is left.
 * Returns 0, or -errno if polling fails.
 */
int broker_server_run(struct broker_server *s, const sigset_t *wait_mask);

/* Closes every peer, releases every device. */
void broker_server_shutdown(struct broker_server *s);

#endif
