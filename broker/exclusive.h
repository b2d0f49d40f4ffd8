/* SPDX-License-Identifier: MIT */
/*
 * Which VM holds which device. A device the broker handed to a VM is that
 * VM's alone until it releases it or its connection closes (the VM died):
 * a second OPEN of the same device, from any VM, is refused meanwhile.
 *
 * For each held device the broker keeps an open of its own. It is what lets
 * the broker give the host its drivers back when the VM is done: the VM's fd
 * may have had its privileges dropped, and it may be gone with the VM.
 */
#ifndef SVMM_EXCLUSIVE_H
#define SVMM_EXCLUSIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker_protocol.h"

struct usbfs_ops;

#define EXCLUSIVE_MAX_HELD 64u		/* devices held at once, by every VM together */
#define EXCLUSIVE_MAX_PER_CLIENT 32u	/* devices one VM may hold */

struct held_device {
	bool used;
	unsigned int client;	/* the holder's connection number (never reused) */
	pid_t pid;		/* the holder's pid, for messages */
	uint32_t handle;	/* what RELEASE names; unique for the broker's lifetime */
	dev_t rdev;		/* the usbfs node's device number: what "the same device" means */
	int fd;			/* the broker's own open of the node */
	uint32_t reattach;	/* interfaces whose host drivers to re-attach at release */
	const struct usbfs_ops *usbfs;	/* how fd is spoken to */
	struct broker_device device;
};

struct exclusive {
	struct held_device held[EXCLUSIVE_MAX_HELD];
	uint32_t last_handle;
};

void exclusive_init(struct exclusive *x);

/*
 * The entry holding rdev, or NULL. An entry whose device was unplugged (its
 * fd reports ENODEV) is released first: a new device may reuse the number.
 */
const struct held_device *exclusive_holder(struct exclusive *x, dev_t rdev);

/* Devices client holds. */
unsigned int exclusive_count(const struct exclusive *x, unsigned int client);

/*
 * Records the hold h describes (client, pid, rdev, fd, reattach, usbfs,
 * device; used and handle are set here) and takes its fd, only on success.
 * Returns 0 with *handle set, or -ENOSPC when the table is full.
 */
int exclusive_hold(struct exclusive *x, const struct held_device *h, uint32_t *handle);

/*
 * Ends a hold: re-attaches the host drivers it records, closes the broker's
 * fd. -ENOENT if client holds no such handle (another VM's handle included).
 * *out, if not NULL, gets a copy of the entry for the log.
 */
int exclusive_release(struct exclusive *x, unsigned int client, uint32_t handle,
		      struct held_device *out);

/* Releases every device client holds (its connection closed); returns how many. */
unsigned int exclusive_release_client(struct exclusive *x, unsigned int client);

/* Releases everything (the broker is stopping). */
void exclusive_release_all(struct exclusive *x);

#endif
