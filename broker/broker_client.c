/* SPDX-License-Identifier: MIT */
#include "broker_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "usb_policy.h"

/* Request ids only have to differ between consecutive requests on one socket. */
static uint32_t last_id;

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
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		e = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		usb_policy_free(policy);
		return e;
	}
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
	if (connect(fd, (const struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Sends r and waits for its reply. */
static int transact(int sock, const struct broker_request *r, struct broker_reply *reply, int *fd)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	const char *why = NULL;
	int n;

	*fd = -1;
	n = broker_request_send(sock, r);
	if (n < 0)
		return n == -EPIPE ? -ECONNRESET : n;
	do {
		n = poll(&p, 1, BROKER_CLIENT_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	n = broker_reply_recv(sock, r->type, r->id, reply, fd, &why);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0) {
		log_warn("malformed reply from the broker: %s", why ? why : "?");
		return n;
	}
	return 0;
}

int broker_open(int sock, enum broker_target target, const char *what, struct broker_reply *reply,
		int *fd)
{
	struct broker_request r;
	int err;

	*fd = -1;
	err = broker_request_open(&r, ++last_id, target, what);
	if (err)
		return err;
	return transact(sock, &r, reply, fd);
}

int broker_release(int sock, uint32_t handle, struct broker_reply *reply)
{
	struct broker_request r;
	int fd, err;

	err = broker_request_release(&r, ++last_id, handle);
	if (err)
		return err;
	err = transact(sock, &r, reply, &fd);
	if (fd >= 0)
		close(fd);	/* the decoder refuses one on a release reply; never reached */
	return err;
}

enum control_status broker_control_status(uint32_t status)
{
	switch (status) {
	case BROKER_OK: return CONTROL_OK;
	case BROKER_E_INVALID: return CONTROL_E_INVALID;
	case BROKER_E_NO_SUCH_DEVICE: return CONTROL_E_NO_SUCH_DEVICE;
	case BROKER_E_FAILED_TO_OPEN_DEVICE: return CONTROL_E_FAILED_TO_OPEN_DEVICE;
	default: return CONTROL_E_INTERNAL;
	}
}
