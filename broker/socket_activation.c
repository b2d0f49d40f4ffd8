/* SPDX-License-Identifier: MIT */
#include "broker/socket_activation.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "broker/reason.h"

/* A positive decimal that fits an int, nothing before or after it. */
static int parse_positive(const char *s, int *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '1' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

int socket_activation_count(const char *listen_pid, const char *listen_fds, pid_t self,
			    char *why, size_t whylen)
{
	int pid, count;

	if (!listen_pid || !listen_fds)
		return 0;
	if (parse_positive(listen_pid, &pid))
		return reason_fail(why, whylen, -EINVAL, "LISTEN_PID '%.32s' is not a process id",
				   listen_pid);
	if ((pid_t)pid != self)
		return 0;
	if (parse_positive(listen_fds, &count) || count > INT_MAX - SOCKET_ACTIVATION_FIRST_FD)
		return reason_fail(why, whylen, -EINVAL,
				   "LISTEN_FDS '%.32s' is not a positive number of descriptors",
				   listen_fds);
	return count;
}

static const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM: return "SOCK_STREAM";
	case SOCK_DGRAM: return "SOCK_DGRAM";
	case SOCK_SEQPACKET: return "SOCK_SEQPACKET";
	default: return "another type";
	}
}

static int get_int_option(int fd, int name, int *value)
{
	socklen_t len = sizeof(*value);

	if (getsockopt(fd, SOL_SOCKET, name, value, &len) < 0)
		return -errno;
	return len == sizeof(*value) ? 0 : -EINVAL;
}

int socket_activation_check(int fd, int type, char *why, size_t whylen)
{
	int domain, got_type, listening, err;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return reason_fail(why, whylen, -errno, "fd %d: %s", fd, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return reason_fail(why, whylen, -ENOTSOCK, "fd %d is not a socket", fd);
	err = get_int_option(fd, SO_DOMAIN, &domain);
	if (!err)
		err = get_int_option(fd, SO_TYPE, &got_type);
	if (!err)
		err = get_int_option(fd, SO_ACCEPTCONN, &listening);
	if (err)
		return reason_fail(why, whylen, err, "fd %d: getsockopt: %s", fd, strerror(-err));
	if (domain != AF_UNIX)
		return reason_fail(why, whylen, -EAFNOSUPPORT, "fd %d is not an AF_UNIX socket", fd);
	if (got_type != type)
		return reason_fail(why, whylen, -EPROTOTYPE, "fd %d is a %s socket, not %s", fd,
				   type_name(got_type), type_name(type));
	if (!listening)
		return reason_fail(why, whylen, -EINVAL, "fd %d is not listening", fd);
	return 0;
}
