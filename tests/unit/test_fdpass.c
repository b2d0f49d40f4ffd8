/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

Test(fdpass, several_fds_arrive_close_on_exec)
{
	int sv[2], fds[2], got[FDPASS_MAX_FDS];
	size_t n = 0;
	char buf[8];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(fdpass_send(sv[0], "hi", 2, fds, 2), 0);
	cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got, FDPASS_MAX_FDS, &n), 2);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		cr_assert(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
	fdpass_close_all(got, n);
	cr_assert_eq(got[0], -1);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	close(sv[1]);
}

Test(fdpass, too_many_fds_to_send_is_refused)
{
	int fds[FDPASS_MAX_FDS + 1] = { 0 };

	cr_assert_eq(fdpass_send(-1, "x", 1, fds, FDPASS_MAX_FDS + 1), -EINVAL);
}

Test(fdpass, send_on_a_closed_peer_fails_without_sigpipe)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	close(sv[1]);
	cr_assert_eq(fdpass_send(sv[0], "x", 1, NULL, 0), -EPIPE);
	close(sv[0]);
}
