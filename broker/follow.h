/* SPDX-License-Identifier: MIT */
/*
 * Follow leases: a VM that attached a device by id or port with FOLLOW keeps
 * a lease on it. When the device leaves (unplugged, reset, re-enumerated) the
 * VM gives its grant back but keeps the lease; when a device binds on the
 * host that is the same device, or one a policy rule names as its successor
 * (`allow id NEW follows OLD`), the broker runs every check again and hands
 * it to the VM unasked (BROKER_BACK). A lease ends with a RELEASE without
 * BROKER_RELEASE_KEEP_LEASE (`usb detach`) or with the VM's connection.
 */
#ifndef SVMM_FOLLOW_H
#define SVMM_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "common/broker_protocol.h"
#include "broker/usb_resolve.h"

#define FOLLOW_MAX_LEASES 64u		/* leases at once, of every VM together */
#define FOLLOW_MAX_PER_CLIENT 16u	/* leases one VM may keep */

struct follow_lease {
	uint32_t id;			/* 0: a free entry */
	unsigned int client;		/* the holder's connection number */
	uint32_t handle;		/* the device granted now; 0 while it is away */
	struct usb_spec spec;		/* what the VM asked to follow */
	struct broker_device device;	/* the identity first granted: "the same device" */
	bool pending;			/* a bind came while the old grant was still held */
	unsigned int pending_bus, pending_dev;
};

struct follow_table {
	struct follow_lease leases[FOLLOW_MAX_LEASES];
	uint32_t last_id;
};

/* How a device that just bound relates to a lease. */
enum follow_relation {
	FOLLOW_SAME = 1,	/* the lease's device: its id (and serial), where its spec says */
	FOLLOW_OTHER_HERE,	/* another identity on the lease's port: a successor, or refused */
	FOLLOW_OTHER_ELSEWHERE,	/* another identity elsewhere: a successor only if a rule says so */
};

void follow_init(struct follow_table *t);

/* Leases client keeps. */
unsigned int follow_count(const struct follow_table *t, unsigned int client);

/*
 * A new lease for client on the device granted as handle; 0 with *id, or
 * -EUSERS (client has FOLLOW_MAX_PER_CLIENT) or -ENOSPC (the table is full).
 */
int follow_add(struct follow_table *t, unsigned int client, const struct usb_spec *spec,
	       const struct broker_device *device, uint32_t handle, uint32_t *id);

/* Whether follow_add would succeed for client now. */
bool follow_has_room(const struct follow_table *t, unsigned int client);

/* The lease of client's grant handle, or NULL. */
struct follow_lease *follow_by_handle(struct follow_table *t, unsigned int client, uint32_t handle);

void follow_end(struct follow_lease *l);

/* Ends every lease of client (its connection closed); returns how many. */
unsigned int follow_end_client(struct follow_table *t, unsigned int client);

enum follow_relation follow_relation(const struct follow_lease *l, const struct broker_device *d);

#endif
