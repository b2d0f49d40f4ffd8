/* SPDX-License-Identifier: MIT */
#include "broker/broker_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker_request.h"
#include "broker/uevent.h"
#include "common/log.h"
#include "common/monotonic.h"

void broker_server_init(struct broker_server *s, const struct broker_config *c,
			const struct usb_policy *policy, int listen_fd)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *c;
	s->policy = policy;
	s->listen_fd = listen_fd;
	s->uevent_fd = -1;
	exclusive_init(&s->held);
	follow_init(&s->follow);
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++)
		s->peers[i].fd = -1;
}

unsigned int broker_server_peers(const struct broker_server *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++)
		n += s->peers[i].fd >= 0;
	return n;
}

static void drop_peer(struct broker_server *s, struct broker_peer *p, const char *why)
{
	unsigned int n = exclusive_release_client(&s->held, p->id);

	follow_end_client(&s->follow, p->id);

	log_info("disconnect peer=%u pid=%d uid=%u released=%u reason=\"%s\"", p->id, (int)p->pid,
		 (unsigned int)p->uid, n, why);
	close(p->fd);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static unsigned int peers_of_uid(const struct broker_server *s, uid_t uid)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++)
		n += s->peers[i].fd >= 0 && s->peers[i].uid == uid;
	return n;
}

/* Whether a is a better one to close than b: holds no device where b does, else idle longer. */
static bool evict_before(const struct broker_server *s, const struct broker_peer *a,
			 const struct broker_peer *b)
{
	bool a_holds = exclusive_count(&s->held, a->id) > 0;
	bool b_holds = exclusive_count(&s->held, b->id) > 0;

	if (a_holds != b_holds)
		return !a_holds;
	return a->last_active < b->last_active;
}

/*
 * A full table and a newcomer of uid: closes one connection of the uid with the
 * most, if it has at least two more than uid has (so the newcomer's uid is not
 * the biggest once it is in). Returns the freed slot, or -1.
 */
static int evict_for(struct broker_server *s, uid_t uid)
{
	struct broker_peer *victim = NULL;
	unsigned int most = 0, mine = uid == 0 ? 0 : peers_of_uid(s, uid);
	uid_t hog = uid;

	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		unsigned int n = peers_of_uid(s, s->peers[i].uid);

		/* Root's connections are root's VMs: never the ones closed to make room. */
		if (s->peers[i].uid != 0 && n > most) {
			most = n;
			hog = s->peers[i].uid;
		}
	}
	if (most < mine + 2)
		return -1;
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		struct broker_peer *p = &s->peers[i];

		if (p->uid == hog && (!victim || evict_before(s, p, victim)))
			victim = p;
	}
	drop_peer(s, victim, "evicted: the broker is full and this uid has the most connections");
	return (int)(victim - s->peers);
}

int broker_server_add_peer(struct broker_server *s, int fd)
{
	struct broker_peer *p;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int slot = -1;

	/* Who asks is what the kernel says, read once at connect time; nothing the peer sends. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		int err = -errno;

		log_warn("connection refused: no peer credentials: %s", strerror(errno));
		close(fd);
		return err ? err : -EINVAL;
	}
	/* Root runs as many VMs as it likes; a local user gets a share. */
	if (cred.uid != 0 && peers_of_uid(s, cred.uid) >= BROKER_MAX_PEERS_PER_UID) {
		log_warn("connection refused: pid=%d uid=%u: that uid has %u connections already",
			 (int)cred.pid, (unsigned int)cred.uid, BROKER_MAX_PEERS_PER_UID);
		close(fd);
		return -EUSERS;
	}
	for (unsigned int i = 0; i < BROKER_MAX_PEERS && slot < 0; i++) {
		if (s->peers[i].fd < 0)
			slot = (int)i;
	}
	if (slot < 0)
		slot = evict_for(s, cred.uid);
	if (slot < 0) {
		log_warn("connection refused: pid=%d uid=%u: %u connections already", (int)cred.pid,
			 (unsigned int)cred.uid, BROKER_MAX_PEERS);
		close(fd);
		return -EMFILE;
	}
	p = &s->peers[slot];
	p->fd = fd;
	p->id = ++s->last_peer_id;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->last_active = ++s->activity;
	log_info("connect peer=%u pid=%d uid=%u gid=%u", p->id, (int)p->pid, (unsigned int)p->uid,
		 (unsigned int)p->gid);
	return slot;
}

/*
 * Copies s into out between double quotes, at most max input bytes. A quote,
 * a backslash and every byte outside printable ASCII is written as \xNN: the
 * path comes from a requester and the serial from a device, and neither may
 * forge a log line or a field.
 */
static void quote(char *out, size_t size, const char *s, size_t max)
{
	size_t o = 0, i;

	out[o++] = '"';
	for (i = 0; s[i] && i < max && o + 6 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (s[i] && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* The one line a decision gets: who asked, for what, what was found, the verdict and why. */
static void log_decision(const struct broker_peer *peer, const struct broker_request *r,
			 const struct broker_reply *p, const struct broker_decision *d)
{
	char path[200], node[160], serial[120], reason[300], device[256];

	quote(path, sizeof(path), r->path, 48);
	quote(node, sizeof(node), d->node, 40);
	quote(reason, sizeof(reason), p->reason, 72);
	if (d->found) {
		quote(serial, sizeof(serial), p->device.serial, 24);
		snprintf(device, sizeof(device), "device=%04x:%04x serial=%s port=%s bus=%u dev=%u",
			 p->device.vendor, p->device.product, serial, p->device.port_path,
			 p->device.busnum, p->device.devnum);
	} else {
		snprintf(device, sizeof(device), "device=-");
	}
	log_info("decision peer=%u pid=%d uid=%u op=%s id=%u target=%s path=%s node=%s %s "
		 "verdict=%s status=%s rule=%s handle=%u flags=0x%x allowed=0x%x reason=%s",
		 peer->id, (int)peer->pid, (unsigned int)peer->uid, broker_type_name(r->type), r->id,
		 r->type != BROKER_OPEN ? "-" : r->target == BROKER_TARGET_NODE ? "node" : "id",
		 path, node, device, p->status == SVMM_OK ? "allow" : "deny",
		 svmm_status_name(p->status), d->rule[0] ? d->rule : "-", p->handle, p->flags,
		 p->allowed, reason);
}

/* A message the decoder refused: answered, and logged as a decision like any other. */
static int refuse_malformed(struct broker_peer *peer, const char *why)
{
	struct broker_request none;
	struct broker_reply p;
	struct broker_decision d;

	memset(&none, 0, sizeof(none));
	memset(&d, 0, sizeof(d));
	broker_reply_init(&p, &none);
	/* Nothing of it can be trusted, not even its id: the reply is to OPEN 0. */
	p.type = BROKER_OPEN;
	broker_reply_error(&p, SVMM_E_INVALID, "malformed request: %s", why);
	log_decision(peer, &none, &p, &d);
	return broker_reply_send(peer->fd, &p, -1);
}

static struct broker_peer *peer_of(struct broker_server *s, unsigned int client)
{
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		if (s->peers[i].fd >= 0 && s->peers[i].id == client)
			return &s->peers[i];
	}
	return NULL;
}

/*
 * Sends p (with fd, the grant's node, or -1) to peer unasked, closing fd; a
 * grant that does not arrive is undone, so the device is free again.
 */
static int send_unasked(struct broker_server *s, struct broker_peer *peer, struct broker_reply *p,
			int fd)
{
	int err = broker_reply_send(peer->fd, p, fd);

	if (fd >= 0)
		close(fd);
	if (err < 0)
		broker_request_undo(s, peer, p);
	return err;
}

/* Offers the device at busnum/devnum to lease l's VM, unasked; logged as a decision. */
static void offer_back(struct broker_server *s, struct follow_lease *l, unsigned int busnum,
		       unsigned int devnum)
{
	struct broker_peer *peer = peer_of(s, l->client);
	struct broker_request r;
	struct broker_reply p;
	struct broker_decision d;
	int fd, err;

	if (!peer)
		return;
	memset(&r, 0, sizeof(r));
	r.type = BROKER_BACK;
	broker_reply_init(&p, &r);
	p.lease = l->id;
	if (!broker_request_back(s, peer, l, busnum, devnum, &p, &fd, &d))
		return;
	snprintf(r.path, sizeof(r.path), "lease %u", l->id);
	log_decision(peer, &r, &p, &d);
	err = send_unasked(s, peer, &p, fd);
	/* Not delivered: the lease waits for the next bind. */
	if (err < 0)
		log_warn("lease %u: the VM did not take its device back: %s", l->id, strerror(-err));
}

/* Gives the device at busnum/devnum to the first named VM a `to` rule gives it to. */
static void offer_given(struct broker_server *s, unsigned int busnum, unsigned int devnum)
{
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		struct broker_peer *peer = &s->peers[i];
		struct broker_request r;
		struct broker_reply p;
		struct broker_decision d;
		int fd, err;

		if (peer->fd < 0 || !peer->name[0])
			continue;
		memset(&r, 0, sizeof(r));
		r.type = BROKER_GIVE;
		broker_reply_init(&p, &r);
		if (!broker_request_give(s, peer, busnum, devnum, &p, &fd, &d))
			continue;
		snprintf(r.path, sizeof(r.path), "to %s", peer->name);
		log_decision(peer, &r, &p, &d);
		if (p.status != SVMM_OK)
			continue;	/* held by a lease or another VM, or a check failed: nothing to give */
		err = send_unasked(s, peer, &p, fd);
		if (err == 0)
			return;
		log_warn("%s did not take the device it was given: %s", peer->name, strerror(-err));
	}
}

static void act_on_bind(struct broker_server *s, unsigned int busnum, unsigned int devnum)
{
	for (unsigned int i = 0; i < FOLLOW_MAX_LEASES; i++) {
		struct follow_lease *l = &s->follow.leases[i];

		if (!l->id)
			continue;
		if (l->handle) {
			/* Its device back before the VM released the old grant: offered at the release. */
			if (!broker_request_back_relates(s, l, busnum, devnum))
				continue;
			l->pending = true;
			l->pending_bus = busnum;
			l->pending_dev = devnum;
			continue;
		}
		offer_back(s, l, busnum, devnum);
	}
	offer_given(s, busnum, devnum);
}

/* Whether the kernel has linked the device at busnum/devnum to its port yet. */
static bool port_linked(const struct broker_server *s, unsigned int busnum, unsigned int devnum)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/dev/char/%u:%u/port", s->cfg.sys_root, s->cfg.usb_major,
		 (busnum - 1) * 128 + (devnum - 1));
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void broker_server_device_bound(struct broker_server *s, unsigned int busnum, unsigned int devnum)
{
	struct broker_bind_wait *free_one = NULL;

	if (port_linked(s, busnum, devnum)) {
		act_on_bind(s, busnum, devnum);
		return;
	}
	for (unsigned int i = 0; i < BROKER_BINDS_WAITING; i++) {
		struct broker_bind_wait *w = &s->binds[i];

		if (w->busnum == busnum && w->devnum == devnum)
			return;		/* waiting already */
		if (!w->busnum && !free_one)
			free_one = w;
	}
	if (!free_one) {
		log_warn("bind of bus=%u dev=%u not followed up: %u binds wait already", busnum, devnum,
			 BROKER_BINDS_WAITING);
		return;
	}
	*free_one = (struct broker_bind_wait){ .busnum = busnum, .devnum = devnum,
					       .at_ms = monotonic_ms() + BROKER_BIND_RETRY_MS };
}

int broker_server_retry_binds(struct broker_server *s, int64_t now_ms)
{
	int64_t next = -1;

	for (unsigned int i = 0; i < BROKER_BINDS_WAITING; i++) {
		struct broker_bind_wait *w = &s->binds[i];
		unsigned int busnum = w->busnum, devnum = w->devnum;

		if (!busnum)
			continue;
		if (w->at_ms > now_ms) {
			if (next < 0 || w->at_ms < next)
				next = w->at_ms;
			continue;
		}
		if (port_linked(s, busnum, devnum)) {
			memset(w, 0, sizeof(*w));
			act_on_bind(s, busnum, devnum);
			continue;
		}
		if (++w->tries >= BROKER_BIND_RETRIES) {
			log_debug("bind of bus=%u dev=%u: no port link after %u looks", busnum, devnum,
				  w->tries);
			memset(w, 0, sizeof(*w));
			continue;
		}
		w->at_ms = now_ms + BROKER_BIND_RETRY_MS;
		if (next < 0 || w->at_ms < next)
			next = w->at_ms;
	}
	return next < 0 ? -1 : (int)(next > now_ms ? next - now_ms : 0);
}

/* Leases whose grant was released since a bind came for them: that bind now. */
static void offer_pending(struct broker_server *s)
{
	for (unsigned int i = 0; i < FOLLOW_MAX_LEASES; i++) {
		struct follow_lease *l = &s->follow.leases[i];

		if (!l->id || l->handle || !l->pending)
			continue;
		l->pending = false;
		offer_back(s, l, l->pending_bus, l->pending_dev);
	}
}

/* Reads the kernel's events that are ready (a bounded batch). */
static void read_uevents(struct broker_server *s)
{
	for (unsigned int i = 0; i < 64; i++) {
		unsigned int busnum, devnum;
		int r = uevent_read_usb_bind(s->uevent_fd, &busnum, &devnum);

		if (r == -EAGAIN)
			return;
		if (r == -ENOBUFS) {
			/* The kernel dropped events: nothing to do but read on. */
			log_warn("uevents were lost (the broker read too slowly)");
			continue;
		}
		if (r < 0) {
			log_warn("uevent socket: %s; followed devices no longer come back", strerror(-r));
			close(s->uevent_fd);
			s->uevent_fd = -1;
			return;
		}
		if (r == 1) {
			log_debug("uevent: bind of usb device bus=%u dev=%u", busnum, devnum);
			broker_server_device_bound(s, busnum, devnum);
		}
	}
}

int broker_server_handle(struct broker_server *s, unsigned int slot)
{
	struct broker_peer *peer = &s->peers[slot];
	struct broker_request r;
	struct broker_reply p;
	struct broker_decision d;
	const char *why = "?";
	int fd, err;

	err = broker_request_recv(peer->fd, &r, &why);
	if (err == -EAGAIN)
		return 1;
	peer->last_active = ++s->activity;
	if (err == 0) {
		drop_peer(s, peer, "closed");
		return 0;
	}
	if (err < 0) {
		/* A transport failure ends the connection; a malformed message only gets refused. */
		if (err != -EMSGSIZE && err != -EPROTO && err != -EBADMSG && err != -EBADF) {
			drop_peer(s, peer, "receive failed");
			return 0;
		}
		if (refuse_malformed(peer, why) < 0) {
			drop_peer(s, peer, "reply failed");
			return 0;
		}
		return 1;
	}
	broker_reply_init(&p, &r);
	broker_request_handle(s, peer, &r, &p, &fd, &d);
	log_decision(peer, &r, &p, &d);
	err = broker_reply_send(peer->fd, &p, fd);
	if (fd >= 0)
		close(fd);	/* passed (the peer has its own copy) or not: the broker keeps none */
	if (err < 0) {
		/* The fd never arrived: the hold it made is undone before anything else. */
		broker_request_undo(s, peer, &p);
		drop_peer(s, peer, "reply failed");
		return 0;
	}
	if (r.type == BROKER_RELEASE)
		offer_pending(s);
	return 1;
}

/* Empties the backlog (up to a batch): refused connections go at once, so a flood cannot keep a VM waiting. */
static void accept_peers(struct broker_server *s)
{
	for (unsigned int i = 0; i < BROKER_ACCEPT_BATCH; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		/*
		 * Non-blocking: a peer that never reads its replies makes a send fail
		 * (and loses its connection) instead of stalling the broker for everyone.
		 */
		broker_server_add_peer(s, fd);
	}
}

int broker_server_run(struct broker_server *s, const sigset_t *wait_mask)
{
	for (;;) {
		struct pollfd pfd[BROKER_MAX_PEERS + 2];
		unsigned int slot[BROKER_MAX_PEERS + 2];
		struct timespec wait;
		nfds_t n = 0;
		int r, wait_ms;

		if (s->exit_when_alone && broker_server_peers(s) == 0)
			return 0;
		if (s->listen_fd >= 0) {
			pfd[n].fd = s->listen_fd;
			pfd[n].events = POLLIN;
			slot[n++] = BROKER_MAX_PEERS;
		}
		if (s->uevent_fd >= 0) {
			pfd[n].fd = s->uevent_fd;
			pfd[n].events = POLLIN;
			slot[n++] = BROKER_MAX_PEERS + 1;
		}
		for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
			if (s->peers[i].fd < 0)
				continue;
			pfd[n].fd = s->peers[i].fd;
			pfd[n].events = POLLIN;
			slot[n++] = i;
		}
		wait_ms = broker_server_retry_binds(s, monotonic_ms());
		if (wait_ms >= 0) {
			wait = (struct timespec){ .tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000L };
		}
		r = ppoll(pfd, n, wait_ms >= 0 ? &wait : NULL, wait_mask);
		if (r < 0) {
			if (errno == EINTR)
				return 0;	/* the signal that stops the broker */
			return -errno;
		}
		/* One request at a time: each is answered before the next is read. */
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (slot[i] == BROKER_MAX_PEERS)
				accept_peers(s);
			else if (slot[i] == BROKER_MAX_PEERS + 1)
				read_uevents(s);
			else if (s->peers[slot[i]].fd == pfd[i].fd)
				broker_server_handle(s, slot[i]);
		}
	}
}

void broker_server_shutdown(struct broker_server *s)
{
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++) {
		if (s->peers[i].fd >= 0)
			drop_peer(s, &s->peers[i], "broker stopping");
	}
	exclusive_release_all(&s->held);
	if (s->uevent_fd >= 0)
		close(s->uevent_fd);
	s->uevent_fd = -1;
}
