/* SPDX-License-Identifier: MIT */
/*
 * What one decoded request does. OPEN runs every check, in this order, and
 * stops at the first that fails:
 *   resolve a VID:PID[:SERIAL] or port path to a node (usb_resolve.c);
 *   look the node up without following links and check it is usbfs (usb_node.c);
 *   read its identity from sysfs, for the node's own device number (usb_identity.c);
 *   refuse hubs and apply the policy (usb_policy.c);
 *   refuse a device another (or the same) VM holds (exclusive.c);
 *   open it twice through the checked handle: one fd for the VM, one kept;
 *   detach host drivers if the verdict allows it, drop the privileges of the
 *   VM's fd whatever it says (usbfs.c), and record the hold.
 * RELEASE ends a hold of the requesting VM.
 */
#ifndef SVMM_BROKER_REQUEST_H
#define SVMM_BROKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/broker_server.h"

/* What the log line says besides the reply: the deciding rule, whether the device was found. */
struct broker_decision {
	char rule[64];		/* "FILE:LINE", "hub", "default", "held", or "" before the policy */
	char node[128];		/* the node path an id resolved to, or "" */
	int found;		/* reply->device describes the device */
};

/* Fills *p (initialised by the caller) and *fd (-1 unless an OPEN succeeded). */
void broker_request_handle(struct broker_server *s, struct broker_peer *peer,
			   const struct broker_request *r, struct broker_reply *p, int *fd,
			   struct broker_decision *d);

/*
 * A USB device bound on the host at busnum/devnum: if it is the device of
 * lease l (or a successor a policy rule names), runs every check of an OPEN
 * for it and fills *p (a BROKER_BACK the caller initialised: a grant with *fd,
 * or a refusal) and returns true; false when the device is not the lease's
 * business (nothing to send).
 */
bool broker_request_back(struct broker_server *s, const struct broker_peer *peer,
			 struct follow_lease *l, unsigned int busnum, unsigned int devnum,
			 struct broker_reply *p, int *fd, struct broker_decision *d);

/*
 * A device bound at busnum/devnum that a `to` rule gives to peer (by its
 * name): runs every check of an OPEN and fills *p (a BROKER_GIVE the caller
 * initialised) and *fd, returning true; false when no such rule decides it.
 */
bool broker_request_give(struct broker_server *s, const struct broker_peer *peer,
			 unsigned int busnum, unsigned int devnum, struct broker_reply *p, int *fd,
			 struct broker_decision *d);

/* Whether the device bound at busnum/devnum is lease l's (or its successor's): no grant made. */
bool broker_request_back_relates(struct broker_server *s, const struct follow_lease *l,
				 unsigned int busnum, unsigned int devnum);

/* A reply that will not reach the peer: gives back the hold an OPEN (or BACK) just made. */
void broker_request_undo(struct broker_server *s, const struct broker_peer *peer,
			 const struct broker_reply *p);

#endif
