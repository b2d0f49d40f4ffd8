/* SPDX-License-Identifier: MIT */
#include "broker/broker_request.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/follow.h"
#include "broker/usb_identity.h"
#include "broker/usb_node.h"
#include "broker/usb_policy.h"
#include "broker/usb_resolve.h"
#include "broker/usb_revoke.h"
#include "broker/usbfs.h"

/* USBDEVFS_DROP_PRIVILEGES's mask when no interface rule applied: every interface. */
#define ALL_INTERFACES 0xffffffffu

/* Resolves an id to a node path; 0, or a refusal already in the reply. */
static int resolve(struct broker_server *s, const struct broker_request *r, struct usb_spec *spec,
		   char *path, size_t pathlen, struct broker_reply *p)
{
	char why[BROKER_REASON_MAX];
	int err;

	if (usb_spec_parse(r->path, spec) < 0) {
		broker_reply_error(p, SVMM_E_INVALID,
				   "'%.64s' is neither VID:PID[:SERIAL] nor a port path like 1-2.3",
				   r->path);
		return -EINVAL;
	}
	err = usb_resolve(&s->cfg, spec, path, pathlen, why, sizeof(why));
	if (err)
		broker_reply_error(p, err == -ENOENT ? SVMM_E_NO_SUCH_DEVICE :
				   err == -EEXIST ? SVMM_E_INVALID : SVMM_E_INTERNAL, "%s", why);
	return err;
}

/*
 * Applies the verdict to the two fresh opens. The VM's fd always loses its
 * privileges (USBDEVFS_DROP_PRIVILEGES, one way): it can claim only the
 * allowed interfaces (every one when no interface rule applied), and it can
 * never detach a host driver (USBDEVFS_IOCTL and DISCONNECT_CLAIM on a bound
 * interface: EACCES) nor reset the device while another holds an interface.
 * So with allow-detach the broker detaches the host drivers of the allowed
 * interfaces itself, on its own fd, first; they are re-attached at release.
 */
static int lock_down(const struct usbfs_ops *usbfs, const struct usb_verdict *v, int vm_fd,
		     int keep_fd, uint32_t *reattach, struct broker_reply *p)
{
	uint32_t detached = 0;
	int err;

	*reattach = 0;
	if (v->detach) {
		err = usbfs->detach_drivers(keep_fd, v->allowed, &detached);
		if (err) {
			usbfs->attach_drivers(keep_fd, detached);
			broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
					   "cannot detach the host drivers: %s", strerror(-err));
			return err;
		}
		p->flags |= BROKER_FLAG_MAY_DETACH;
	}
	err = usbfs->drop_privileges(vm_fd, v->restricted ? v->allowed : ALL_INTERFACES);
	if (err) {
		/* Fail closed: no fd leaves the broker with its privileges. */
		usbfs->attach_drivers(keep_fd, detached);
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "cannot lock the device down (USBDEVFS_DROP_PRIVILEGES needs Linux >= 4.17): %s",
				   strerror(-err));
		return err;
	}
	p->flags |= BROKER_FLAG_RESTRICTED;
	*reattach = detached;
	return 0;
}

static void refuse_held(const struct held_device *h, const struct broker_peer *peer,
			struct broker_reply *p)
{
	if (h->quarantined)
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "its last holder (pid %d) may still reach it (%s): unplug it and plug it in again",
				   (int)h->pid, h->why);
	else if (h->client == peer->id)
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "already attached to this VM (handle %u)", h->handle);
	else
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "already attached to another VM (pid %d)", (int)h->pid);
}

static void node_path_of(const struct broker_server *s, unsigned int busnum, unsigned int devnum,
			 char *path, size_t size)
{
	snprintf(path, size, "%s/%03u/%03u", s->cfg.dev_root, busnum, devnum);
}

/* The identity of the device at path, read as an OPEN reads it; false if it cannot be. */
static bool who_is(struct broker_server *s, const char *path, struct broker_device *d,
		   struct usb_traits *t)
{
	char why[BROKER_REASON_MAX];
	struct usb_node node = { .path_fd = -1 };
	int err;

	err = usb_node_lookup(&s->cfg, path, &node, why, sizeof(why));
	if (!err)
		err = usb_identity_read(&s->cfg, node.rdev, d, t, why, sizeof(why));
	usb_node_close(&node);
	return err == 0;
}

/* Who asks, as the policy sees it: its uid (SO_PEERCRED), its name, a lease's device. */
static void asker_of(const struct broker_peer *peer, const struct broker_device *pred,
		     struct usb_asker *a)
{
	a->has_uid = true;
	a->uid = (uint32_t)peer->uid;
	a->vm = peer->name[0] ? peer->name : NULL;
	a->pred = pred;
}

/*
 * Every check from the node on, and the grant. spec: the id the node was
 * resolved from (checked again against what was opened), or NULL. pred: the
 * lease's device when another identity comes back for it, or NULL.
 */
static void grant_node(struct broker_server *s, const struct broker_peer *peer, const char *path,
		       const struct usb_spec *spec, const struct broker_device *pred,
		       struct broker_reply *p, int *vm_fd, struct broker_decision *d)
{
	char why[BROKER_REASON_MAX];
	const struct held_device *holder;
	struct held_device hold;
	struct usb_traits traits;
	struct usb_node node = { .path_fd = -1 };
	struct usb_verdict v;
	struct usb_asker asker;
	uint32_t reattach, handle;
	int keep_fd = -1, port_fd = -1, err;

	err = usb_node_lookup(&s->cfg, path, &node, why, sizeof(why));
	if (err) {
		broker_reply_error(p, err == -ENOENT ? SVMM_E_NO_SUCH_DEVICE :
				   SVMM_E_FAILED_TO_OPEN_DEVICE, "%s", why);
		return;
	}
	err = usb_identity_read(&s->cfg, node.rdev, &p->device, &traits, why, sizeof(why));
	if (err) {
		memset(&p->device, 0, sizeof(p->device));
		broker_reply_error(p, err == -ENODEV ? SVMM_E_NO_SUCH_DEVICE :
				   SVMM_E_FAILED_TO_OPEN_DEVICE, "%s", why);
		goto out;
	}
	d->found = 1;
	if (spec && !usb_spec_matches(spec, &p->device)) {
		broker_reply_error(p, SVMM_E_NO_SUCH_DEVICE,
				   "the device changed while its name was resolved");
		goto out;
	}
	asker_of(peer, pred, &asker);
	usb_policy_evaluate_for(s->policy, &p->device, &traits, &asker, &v);
	snprintf(d->rule, sizeof(d->rule), "%s", v.rule);
	if (!v.allow) {
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE, "%s", v.reason);
		goto out;
	}
	holder = exclusive_holder(&s->held, node.rdev);
	if (holder) {
		snprintf(d->rule, sizeof(d->rule), "held");
		refuse_held(holder, peer, p);
		goto out;
	}
	if (exclusive_count(&s->held, peer->id) >= EXCLUSIVE_MAX_PER_CLIENT) {
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "this VM already holds %u devices, the most one may",
				   EXCLUSIVE_MAX_PER_CLIENT);
		goto out;
	}
	/* Without its port the device could not be taken back from the VM: not handed out. */
	err = usb_revoke_open_port(&s->cfg, node.rdev, p->device.port_path, &port_fd, why,
				   sizeof(why));
	if (err) {
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE, "cannot be revoked later: %s", why);
		goto out;
	}
	/* Two opens of the one checked inode: the VM's (locked down) and the broker's own. */
	err = usb_node_open(&node, vm_fd, why, sizeof(why));
	if (!err)
		err = usb_node_open(&node, &keep_fd, why, sizeof(why));
	if (err) {
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE, "%s", why);
		goto out;
	}
	if (lock_down(s->cfg.usbfs, &v, *vm_fd, keep_fd, &reattach, p))
		goto out;
	hold = (struct held_device){
		.client = peer->id, .pid = peer->pid, .rdev = node.rdev, .fd = keep_fd,
		.port_fd = port_fd, .reattach = reattach, .usbfs = s->cfg.usbfs, .device = p->device,
	};
	err = exclusive_hold(&s->held, &hold, &handle);
	if (err) {
		s->cfg.usbfs->attach_drivers(keep_fd, reattach);
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "the broker holds %u devices, the most it may", EXCLUSIVE_MAX_HELD);
		goto out;
	}
	keep_fd = -1;	/* the hold owns them now */
	port_fd = -1;
	p->handle = handle;
	p->allowed = v.allowed;
	snprintf(p->reason, sizeof(p->reason), "%s", v.reason);
	usb_node_close(&node);
	return;
out:
	if (*vm_fd >= 0)
		close(*vm_fd);
	*vm_fd = -1;
	if (keep_fd >= 0)
		close(keep_fd);
	if (port_fd >= 0)
		close(port_fd);
	p->flags = 0;
	usb_node_close(&node);
}

static void handle_open(struct broker_server *s, const struct broker_peer *peer,
			const struct broker_request *r, struct broker_reply *p, int *vm_fd,
			struct broker_decision *d)
{
	char node_path[PATH_MAX];
	bool follow = r->flags & BROKER_OPEN_FOLLOW;
	struct usb_spec spec;
	uint32_t lease;

	if (r->target != BROKER_TARGET_ID) {
		grant_node(s, peer, r->path, NULL, NULL, p, vm_fd, d);
		return;
	}
	if (resolve(s, r, &spec, node_path, sizeof(node_path), p))
		return;
	snprintf(d->node, sizeof(d->node), "%.120s", node_path);
	if (follow && !follow_has_room(&s->follow, peer->id)) {
		broker_reply_error(p, SVMM_E_FAILED_TO_OPEN_DEVICE,
				   "no follow lease left (%u per VM, %u in all)", FOLLOW_MAX_PER_CLIENT,
				   FOLLOW_MAX_LEASES);
		return;
	}
	grant_node(s, peer, node_path, &spec, NULL, p, vm_fd, d);
	if (!follow || p->status != SVMM_OK)
		return;
	/* Room was checked above, with nothing in between. */
	if (follow_add(&s->follow, peer->id, &spec, &p->device, p->handle, &lease) == 0)
		p->lease = lease;
}

static void handle_release(struct broker_server *s, const struct broker_peer *peer,
			   const struct broker_request *r, struct broker_reply *p,
			   struct broker_decision *d)
{
	struct held_device h;

	struct follow_lease *l = follow_by_handle(&s->follow, peer->id, r->handle);

	p->handle = r->handle;
	if (exclusive_release(&s->held, peer->id, r->handle, &h)) {
		broker_reply_error(p, SVMM_E_INVALID, "handle %u is not held by this VM", r->handle);
		return;
	}
	/* The device left by itself: its lease waits for it; a detach ends the lease. */
	if (l && (r->flags & BROKER_RELEASE_KEEP_LEASE))
		l->handle = 0;
	else if (l)
		follow_end(l);
	p->device = h.device;
	d->found = 1;
	if (h.ending == HELD_REVOKED)
		snprintf(p->reason, sizeof(p->reason),
			 "released; revoked: every fd of it is dead, it enumerates again under a new node");
	else if (h.ending == HELD_REVOKED_PORT_OFF)
		snprintf(p->reason, sizeof(p->reason),
			 "released; revoked, but its port stays disabled: unplug it and plug it in again");
	else
		snprintf(p->reason, sizeof(p->reason),
			 "released; NOT revoked (%.100s): refused to every VM until unplugged%s", h.why,
			 h.reattach ? "; host drivers re-attached" : "");
}

/* A name is the connection's for its life, and no two connections share one. */
static void handle_name(struct broker_server *s, struct broker_peer *peer,
			const struct broker_request *r, struct broker_reply *p)
{
	if (peer->name[0]) {
		broker_reply_error(p, SVMM_E_INVALID, "this VM is named %s already", peer->name);
		return;
	}
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		const struct broker_peer *o = &s->peers[i];

		if (o->fd >= 0 && o != peer && !strcmp(o->name, r->path)) {
			broker_reply_error(p, SVMM_E_INVALID, "the name %s is taken by another VM (pid %d)",
					   r->path, (int)o->pid);
			return;
		}
	}
	/* The decoder checked it: 1 to 64 bytes. */
	memcpy(peer->name, r->path, r->path_len + 1);
	snprintf(p->reason, sizeof(p->reason), "named %s", peer->name);
}

void broker_request_handle(struct broker_server *s, struct broker_peer *peer,
			   const struct broker_request *r, struct broker_reply *p, int *fd,
			   struct broker_decision *d)
{
	memset(d, 0, sizeof(*d));
	*fd = -1;
	if (r->type == BROKER_OPEN)
		handle_open(s, peer, r, p, fd, d);
	else if (r->type == BROKER_NAME)
		handle_name(s, peer, r, p);
	else
		handle_release(s, peer, r, p, d);
}

bool broker_request_give(struct broker_server *s, const struct broker_peer *peer,
			 unsigned int busnum, unsigned int devnum, struct broker_reply *p, int *fd,
			 struct broker_decision *d)
{
	char path[PATH_MAX];
	struct broker_device found;
	struct usb_traits traits;
	struct usb_asker asker;
	struct usb_verdict v;

	memset(d, 0, sizeof(*d));
	*fd = -1;
	node_path_of(s, busnum, devnum, path, sizeof(path));
	if (!who_is(s, path, &found, &traits))
		return false;
	asker_of(peer, NULL, &asker);
	usb_policy_evaluate_for(s->policy, &found, &traits, &asker, &v);
	if (!v.allow || !v.gives)
		return false;
	snprintf(d->node, sizeof(d->node), "%.120s", path);
	grant_node(s, peer, path, NULL, NULL, p, fd, d);
	return true;
}

void broker_request_undo(struct broker_server *s, const struct broker_peer *peer,
			 const struct broker_reply *p)
{
	struct follow_lease *l;

	if ((p->type != BROKER_OPEN && p->type != BROKER_BACK && p->type != BROKER_GIVE) ||
	    p->status != SVMM_OK)
		return;
	l = follow_by_handle(&s->follow, peer->id, p->handle);
	if (l && p->type == BROKER_OPEN)
		follow_end(l);
	else if (l)
		l->handle = 0;
	exclusive_release(&s->held, peer->id, p->handle, NULL);
}

/* Whether the device at path is lease l's business: *rel says how. */
static bool relates(struct broker_server *s, const struct follow_lease *l, const char *path,
		    enum follow_relation *rel)
{
	struct broker_device found;
	struct usb_traits traits;
	struct usb_verdict v;

	if (!who_is(s, path, &found, &traits))
		return false;
	*rel = follow_relation(l, &found);
	if (*rel != FOLLOW_OTHER_ELSEWHERE)
		return true;
	/* Another device elsewhere is only a successor if a rule says so. */
	usb_policy_evaluate_for(s->policy, &found, &traits,
				&(struct usb_asker){ .pred = &l->device }, &v);
	return v.allow;
}


bool broker_request_back_relates(struct broker_server *s, const struct follow_lease *l,
				 unsigned int busnum, unsigned int devnum)
{
	char path[PATH_MAX];
	enum follow_relation rel;

	node_path_of(s, busnum, devnum, path, sizeof(path));
	return relates(s, l, path, &rel);
}

bool broker_request_back(struct broker_server *s, const struct broker_peer *peer,
			 struct follow_lease *l, unsigned int busnum, unsigned int devnum,
			 struct broker_reply *p, int *fd, struct broker_decision *d)
{
	char path[PATH_MAX];
	enum follow_relation rel;

	memset(d, 0, sizeof(*d));
	*fd = -1;
	node_path_of(s, busnum, devnum, path, sizeof(path));
	snprintf(d->node, sizeof(d->node), "%.120s", path);
	/* Who it is decides whether it is this lease's business at all; then every check runs. */
	if (!relates(s, l, path, &rel))
		return false;
	grant_node(s, peer, path, NULL, rel == FOLLOW_SAME ? NULL : &l->device, p, fd, d);
	if (p->status == SVMM_OK)
		l->handle = p->handle;
	return true;
}
