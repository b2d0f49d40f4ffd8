/* SPDX-License-Identifier: MIT */
#include "common/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83	/* Linux 6.16, include/uapi/asm-generic/socket.h */
#endif

#define FUSE_SUPER_MAGIC 0x65735546
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* Refused descriptors on a file whose close could block; see fdpass_drop(). */
static int parked[FDPASS_PARKED_MAX];
static unsigned int nparked;

void fdpass_close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int fdpass_refuse_all(int sock)
{
	int off = 0;

	return setsockopt(sock, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) < 0 ? -errno : 0;
}

bool fdpass_close_may_block(int fd)
{
	struct statfs sf;

	/* Unknown is treated as may-block: parking a descriptor costs a slot, a hang costs the process. */
	if (fstatfs(fd, &sf) < 0)
		return errno != EBADF;
	return sf.f_type == FUSE_SUPER_MAGIC || sf.f_type == OVERLAYFS_SUPER_MAGIC;
}

bool fdpass_park_full(void)
{
	return nparked >= FDPASS_PARKED_MAX;
}

int fdpass_drop(int fd)
{
	if (fd < 0)
		return 0;
	if (!fdpass_close_may_block(fd)) {
		close(fd);
		return 0;
	}
	if (fdpass_park_full())
		return -EMFILE;
	parked[nparked++] = fd;
	return 1;
}

int fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > FDPASS_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE;
	return 0;
}

/* Collects every SCM_RIGHTS fd of msg into fds; returns -EBADMSG on anything unexpected. */
static int collect_fds(struct msghdr *msg, int *fds, size_t max_fds, size_t *nfds)
{
	int err = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			err = -EBADMSG;
			continue;
		}
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max_fds) {
				fds[(*nfds)++] = fd;
			} else {
				/* The buffer only has room for max_fds: the kernel cannot have installed more. */
				fdpass_drop(fd);
				err = -EBADMSG;
			}
		}
	}
	return err;
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int err;

	*nfds = 0;
	if (max_fds > FDPASS_MAX_FDS)
		max_fds = FDPASS_MAX_FDS;
	/*
	 * Room for max_fds and not one more: the kernel drops (fput, no flush)
	 * what does not fit. CMSG_LEN, not CMSG_SPACE: the kernel fills all the
	 * room it is given, and CMSG_SPACE(one int) has room for two.
	 */
	if (max_fds > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_LEN(sizeof(int) * max_fds);
	}
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	err = collect_fds(&msg, fds, max_fds, nfds);
	if (!err && (msg.msg_flags & MSG_CTRUNC))
		err = -EBADF;
	if (!err && (msg.msg_flags & MSG_TRUNC))
		err = -EMSGSIZE;
	if (err) {
		for (size_t i = 0; i < *nfds; i++)
			fdpass_drop(fds[i]);
		*nfds = 0;
		return err;
	}
	return n;
}

ssize_t fdpass_peek(int sock, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/*
	 * No control buffer: the kernel hands out no descriptor on a peek either.
	 * recvmsg, not recv: recv is recvfrom, which the seccomp filters do not allow.
	 */
	do {
		n = recvmsg(sock, &msg, MSG_PEEK);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
