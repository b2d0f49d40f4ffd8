/* SPDX-License-Identifier: MIT */
/*
 * Which VM holds which device. A device the broker handed to a VM is that
 * VM's alone until it releases it or its connection closes (the VM died):
 * a second OPEN of the same device, from any VM, is refused meanwhile.
 *
 * A hold ends with the device revoked (usb_revoke.h): its port disabled and
 * enabled again, so that every fd the VM had, and any copy of it, answers
 * ENODEV, and the device enumerates anew under a new node for whoever asks
 * next, through every check again. A device that cannot be revoked stays
 * quarantined: refused to every VM until it is unplugged.
 *
 * For each held device the broker keeps an open of its own: it proves the
 * revocation (ENODEV on it), sees an unplug, and gives the host its drivers
 * back when the device cannot be revoked.
 */
#ifndef SVMM_EXCLUSIVE_H
#define SVMM_EXCLUSIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/broker_protocol.h"

struct usbfs_ops;

#define EXCLUSIVE_MAX_HELD 64u		/* devices held at once, by every VM together */
#define EXCLUSIVE_MAX_PER_CLIENT 32u	/* devices one VM may hold */

/* How a hold ended (exclusive_release's copy). */
enum held_ending {
	HELD_REVOKED = 1,	/* every fd answers ENODEV; the device enumerates anew */
	HELD_REVOKED_PORT_OFF,	/* every fd answers ENODEV; the port stayed off: replug */
	HELD_QUARANTINED,	/* not revoked: refused to everyone until unplugged */
};

struct held_device {
	bool used;
	bool quarantined;	/* no VM holds it, but its fds may work: refused until unplugged */
	unsigned int client;	/* the holder's connection number (never reused); 0 when quarantined */
	pid_t pid;		/* the holder's pid, for messages */
	uint32_t handle;	/* what RELEASE names; unique for the broker's lifetime */
	dev_t rdev;		/* the usbfs node's device number: what "the same device" means */
	int fd;			/* the broker's own open of the node */
	int port_fd;		/* O_PATH: the port it is revoked by, or -1 */
	enum held_ending ending;	/* exclusive_release's copy: how the hold ended */
	char why[BROKER_REASON_MAX];	/* why it was not revoked */
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
 * The entry holding rdev, a VM's or a quarantined one, or NULL. An entry
 * whose device was unplugged (its fd reports ENODEV) is released first: a new
 * device may reuse the number.
 */
const struct held_device *exclusive_holder(struct exclusive *x, dev_t rdev);

/* Devices client holds. */
unsigned int exclusive_count(const struct exclusive *x, unsigned int client);

/*
 * Records the hold h describes (client, pid, rdev, fd, port_fd, reattach,
 * usbfs, device; the rest is set here) and takes its fds, only on success.
 * Returns 0 with *handle set, or -ENOSPC when the table is full.
 */
int exclusive_hold(struct exclusive *x, const struct held_device *h, uint32_t *handle);

/*
 * Ends a hold: revokes the device, or quarantines it and re-attaches the host
 * drivers it records. -ENOENT if client holds no such handle (another VM's
 * handle included). *out, if not NULL, gets a copy of the entry, with how it
 * ended, for the log.
 */
int exclusive_release(struct exclusive *x, unsigned int client, uint32_t handle,
		      struct held_device *out);

/* Releases every device client holds (its connection closed); returns how many. */
unsigned int exclusive_release_client(struct exclusive *x, unsigned int client);

/* Releases everything, revoking each device (the broker is stopping: nobody would track them). */
void exclusive_release_all(struct exclusive *x);

#endif
