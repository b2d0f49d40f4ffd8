/* SPDX-License-Identifier: MIT */
#include "broker/broker_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "broker/reason.h"
#include "broker/socket_activation.h"

static int fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

/* A socket file nobody listens on is what a dead broker leaves; anything else stays. */
static int remove_stale(const struct sockaddr_un *a, char *why, size_t whylen)
{
	struct stat st;
	int fd, r;

	if (lstat(a->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", a->sun_path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "%s exists and is not a socket", a->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -errno;
	}
	r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	close(fd);
	if (r == 0) {
		snprintf(why, whylen, "%s: another broker is listening there", a->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED) {
		snprintf(why, whylen, "%s: cannot tell whether it is stale: %s", a->sun_path,
			 strerror(errno));
		return -errno;
	}
	if (unlink(a->sun_path) < 0 && errno != ENOENT) {
		snprintf(why, whylen, "cannot remove stale %s: %s", a->sun_path, strerror(errno));
		return -errno;
	}
	return 0;
}

int broker_socket_listen(const char *path, struct broker_socket *s, char *why, size_t whylen)
{
	struct sockaddr_un a;
	mode_t old;
	int r, err;

	s->fd = -1;
	socket_file_init(&s->file);
	if (fill_addr(&a, path)) {
		snprintf(why, whylen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	err = remove_stale(&a, why, whylen);
	if (err)
		return err;
	s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		err = -errno;
		snprintf(why, whylen, "socket: %s", strerror(-err));
		return err;
	}
	old = umask(0777 & ~BROKER_SOCKET_MODE);
	r = bind(s->fd, (const struct sockaddr *)&a, sizeof(a));
	err = -errno;
	umask(old);
	if (r < 0) {
		snprintf(why, whylen, "bind %s: %s", a.sun_path, strerror(-err));
		close(s->fd);
		s->fd = -1;
		return err;
	}
	err = socket_file_open(&s->file, a.sun_path);
	if (err) {
		snprintf(why, whylen, "cannot open the directory of %s: %s", a.sun_path, strerror(-err));
		unlink(a.sun_path);
		close(s->fd);
		s->fd = -1;
		return err;
	}
	/* Nothing is sent to the broker with a descriptor: where the kernel can, it refuses them at the sender. */
	fdpass_refuse_all(s->fd);
	if (listen(s->fd, 16) < 0) {
		err = -errno;
		snprintf(why, whylen, "listen %s: %s", a.sun_path, strerror(-err));
		broker_socket_close(s);
		return err;
	}
	return 0;
}

int broker_socket_activated(const char *listen_pid, const char *listen_fds, pid_t self,
			    int first_fd, struct broker_socket *s, char *why, size_t whylen)
{
	int count, flags, err;

	s->fd = -1;
	socket_file_init(&s->file);
	count = socket_activation_count(listen_pid, listen_fds, self, why, whylen);
	if (count <= 0)
		return count;
	if (count != 1)
		return reason_fail(why, whylen, -EINVAL,
				   "systemd passed %d sockets; the broker listens on one (ListenSequentialPacket=)",
				   count);
	err = socket_activation_check(first_fd, SOCK_SEQPACKET, why, whylen);
	if (err)
		return err;
	flags = fcntl(first_fd, F_GETFL);
	if (flags < 0 || fcntl(first_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(first_fd, F_SETFD, FD_CLOEXEC) < 0)
		return reason_fail(why, whylen, -errno, "fd %d: fcntl: %s", first_fd, strerror(errno));
	fdpass_refuse_all(first_fd);
	s->fd = first_fd;
	return 1;
}

void broker_socket_close(struct broker_socket *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	socket_file_remove(&s->file);
}
