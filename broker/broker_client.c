/* SPDX-License-Identifier: MIT */
#include "broker/broker_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "broker/usb_policy.h"

/*
 * A VMM has one broker socket. Requests get ids from one counter, so a reply
 * is matched to its request by id; replies to requests the VMM gave up on (it
 * timed out) arrive later and are discarded, and a device such a reply
 * granted goes straight back (RELEASE) instead of staying held by nobody.
 */
static uint32_t last_id;
static unsigned int replies_owed;	/* requests sent whose replies have not been read */
static int timeout_ms = BROKER_CLIENT_TIMEOUT_MS;

/* Followed devices the broker sent back, until the VMM takes them (BROKER_BACK, not replies). */
static struct {
	struct broker_reply reply;
	int fd;
} backs[BROKER_CLIENT_MAX_BACKS];
static unsigned int nbacks;

static uint32_t next_id(void)
{
	if (++last_id == 0)
		last_id = 1;	/* 0 is the id of the broker's answer to a malformed request */
	return last_id;
}

/* In the child: only the broker's end of the socketpair and stdio stay open. */
static void close_inherited(int keep)
{
	for (int fd = 3; fd < 1024; fd++) {
		if (fd != keep)
			close(fd);
	}
	/* Beyond 1024: close_range where the kernel has it (5.9); the loop above covers the rest. */
	close_range(1024, ~0u, 0);
}

int broker_spawn(const char *policy_path, const struct broker_config *config,
		 struct broker_child *child, char *err, size_t errlen)
{
	struct broker_config cfg;
	struct usb_policy *policy;
	int sv[2], e;
	pid_t pid;

	child->pid = -1;
	child->sock = -1;
	if (config)
		cfg = *config;
	else
		broker_config_init(&cfg);
	if (policy_path) {
		e = usb_policy_load(policy_path, &policy, err, errlen);
		if (e)
			return e;
	} else {
		policy = usb_policy_builtin();
		if (!policy) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		e = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		usb_policy_free(policy);
		return e;
	}
	/* Nothing is sent to the broker with a descriptor: where the kernel can, it refuses them at the sender. */
	fdpass_refuse_all(sv[1]);
	pid = fork();
	if (pid < 0) {
		e = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		usb_policy_free(policy);
		return e;
	}
	if (pid == 0) {
		log_set_role("broker");
		/* A name an administrator (and a test) can tell apart from the VMM's. */
		prctl(PR_SET_NAME, "svmm-broker", 0, 0, 0);
		close_inherited(sv[1]);
		_exit(broker_serve(&cfg, policy, NULL, sv[1]) ? 1 : 0);
	}
	close(sv[1]);
	usb_policy_free(policy);
	child->pid = pid;
	child->sock = sv[0];
	return 0;
}

int broker_stop(struct broker_child *child)
{
	int status;
	pid_t r;

	if (child->sock >= 0)
		close(child->sock);
	child->sock = -1;
	if (child->pid <= 0)
		return -ECHILD;
	do {
		r = waitpid(child->pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	child->pid = -1;
	if (r < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int broker_connect(const char *path)
{
	struct sockaddr_un a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a, sizeof(a)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void broker_client_set_timeout(int ms)
{
	timeout_ms = ms > 0 ? ms : BROKER_CLIENT_TIMEOUT_MS;
}

unsigned int broker_client_replies_owed(void)
{
	return replies_owed;
}

/* Waits until sock is ready for events or the deadline passes; 0, -ETIMEDOUT or -errno. */
static int wait_for(int sock, short events, int64_t deadline)
{
	struct pollfd p = { .fd = sock, .events = events };
	int n;

	do {
		int64_t left = deadline - monotonic_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
	} while ((n < 0 && errno == EINTR) || (n == 0 && monotonic_ms() < deadline));
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Sends r on the (non-blocking) socket, waiting for room until the deadline. */
static int send_request(int sock, const struct broker_request *r, int64_t deadline)
{
	int err;

	for (;;) {
		err = broker_request_send(sock, r);
		if (err != -EAGAIN)
			break;
		err = wait_for(sock, POLLOUT, deadline);
		if (err)
			return err;
	}
	if (err == 0)
		replies_owed++;
	return err == -EPIPE ? -ECONNRESET : err;
}

/*
 * A reply nobody waits for any more. A device it granted is given back at
 * once: the VMM never passed it on, and the broker would otherwise count it
 * as this VM's until the VM exits.
 */
static void discard_late_reply(int sock, const struct broker_reply *p, int fd)
{
	struct broker_request r;
	int err;

	if (fd >= 0)
		fdpass_drop(fd);
	if (p->type != BROKER_OPEN || p->status != SVMM_OK) {
		log_debug("discarded a late broker reply: %s id %u %s", broker_type_name(p->type), p->id,
			  svmm_status_name(p->status));
		return;
	}
	log_warn("the broker granted %04x:%04x (handle %u) after the VMM gave up on it: giving it back",
		 p->device.vendor, p->device.product, p->handle);
	err = broker_request_release(&r, next_id(), p->handle, 0);
	if (!err) {
		/* No wait for room: a broker that does not read keeps the device until its connection closes. */
		err = broker_request_send(sock, &r);
		if (!err)
			replies_owed++;
	}
	if (err)
		log_warn("cannot give handle %u back to the broker: %s", p->handle, strerror(-err));
}

/*
 * A followed device back: kept for the VMM. With the queue full the VMM is
 * not keeping up; the grant goes back with its lease kept, so the broker
 * offers it again when the device next comes back.
 */
static void queue_back(int sock, const struct broker_reply *p, int fd)
{
	struct broker_request r;

	if (nbacks < BROKER_CLIENT_MAX_BACKS) {
		backs[nbacks].reply = *p;
		backs[nbacks].fd = fd;
		nbacks++;
		return;
	}
	if (fd >= 0)
		fdpass_drop(fd);
	if (p->status != SVMM_OK)
		return;
	log_warn("a device came %s while %u others wait: giving it back",
		 p->type == BROKER_BACK ? "back" : "unasked", nbacks);
	if (broker_request_release(&r, next_id(), p->handle,
				   p->type == BROKER_BACK ? BROKER_RELEASE_KEEP_LEASE : 0) == 0 &&
	    broker_request_send(sock, &r) == 0)
		replies_owed++;
}

int broker_client_take_back(struct broker_reply *p, int *fd)
{
	if (nbacks == 0)
		return 0;
	*p = backs[0].reply;
	*fd = backs[0].fd;
	nbacks--;
	memmove(backs, backs + 1, nbacks * sizeof(backs[0]));
	return 1;
}

/*
 * Reads one message that is ready: a reply (1 with *p and *fd), a followed
 * device back (queued; 2), 0 or -ECONNRESET, or -errno.
 */
static int read_reply(int sock, struct broker_reply *p, int *fd)
{
	const char *why = NULL;
	int n = broker_reply_recv_any(sock, p, fd, &why);

	if (n == -EAGAIN)
		return n;
	if (n == 0) {
		replies_owed = 0;
		return -ECONNRESET;
	}
	if (n == 1 && (p->type == BROKER_BACK || p->type == BROKER_GIVE)) {
		queue_back(sock, p, *fd);
		*fd = -1;
		return 2;
	}
	if (replies_owed)
		replies_owed--;
	if (n < 0)
		log_warn("malformed reply from the broker: %s", why ? why : "?");
	return n;
}

int broker_client_drain(int sock)
{
	/* Bounded: each late reply read may send one RELEASE, whose reply is owed in turn. */
	for (unsigned int i = 0; i < 2 * BROKER_CLIENT_MAX_LATE + BROKER_CLIENT_MAX_BACKS; i++) {
		struct pollfd ready = { .fd = sock, .events = POLLIN };
		struct broker_reply p;
		int fd, n;

		/* Only what is there: never a wait, whatever the socket's mode. */
		if (poll(&ready, 1, 0) <= 0)
			return 0;
		n = read_reply(sock, &p, &fd);
		if (n == -EAGAIN)
			return 0;
		if (n < 0 && n != -EBADMSG && n != -EPROTO && n != -EMSGSIZE && n != -EBADF)
			return n;
		if (n == 1)
			discard_late_reply(sock, &p, fd);
	}
	return 0;
}

/*
 * Sends r and waits for its reply, discarding the late replies to earlier
 * requests that come first. The broker answers in order, so every reply before
 * r's is to an earlier request.
 */
static int transact(int sock, const struct broker_request *r, struct broker_reply *reply, int *fd)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	int err;

	*fd = -1;
	err = broker_client_drain(sock);
	if (err)
		return err;
	if (replies_owed > BROKER_CLIENT_MAX_LATE)
		return -EBUSY;	/* the broker has not answered that many: asking more only queues more */
	err = send_request(sock, r, deadline);
	if (err)
		return err;
	for (unsigned int i = 0; i <= 2 * BROKER_CLIENT_MAX_LATE; i++) {
		err = wait_for(sock, POLLIN, deadline);
		if (err)
			return err;
		err = read_reply(sock, reply, fd);
		if (err == -EAGAIN || err == 2)
			continue;
		if (err < 0)
			return err;
		if (reply->id == r->id && reply->type == r->type)
			return 0;
		discard_late_reply(sock, reply, *fd);
		*fd = -1;
	}
	return -EPROTO;
}

int broker_open_flags(int sock, enum broker_target target, const char *what, uint32_t flags,
		      struct broker_reply *reply, int *fd)
{
	struct broker_request r;
	int err;

	*fd = -1;
	err = broker_request_open(&r, next_id(), target, what);
	if (err)
		return err;
	r.flags = flags;
	return transact(sock, &r, reply, fd);
}

int broker_open(int sock, enum broker_target target, const char *what, struct broker_reply *reply,
		int *fd)
{
	return broker_open_flags(sock, target, what, 0, reply, fd);
}

int broker_name(int sock, const char *name, struct broker_reply *reply)
{
	struct broker_request r;
	int fd, err;

	err = broker_request_name(&r, next_id(), name);
	if (err)
		return err;
	err = transact(sock, &r, reply, &fd);
	if (fd >= 0)
		close(fd);	/* the decoder refuses one on a name reply; never reached */
	return err;
}

int broker_release(int sock, uint32_t handle, struct broker_reply *reply)
{
	return broker_release_flags(sock, handle, 0, reply);
}

int broker_release_flags(int sock, uint32_t handle, uint32_t flags, struct broker_reply *reply)
{
	struct broker_request r;
	int fd, err;

	err = broker_request_release(&r, next_id(), handle, flags);
	if (err)
		return err;
	err = transact(sock, &r, reply, &fd);
	if (fd >= 0)
		close(fd);	/* the decoder refuses one on a release reply; never reached */
	return err;
}

