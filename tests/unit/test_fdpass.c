/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "tests/unit/lock_probe.h"

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

Test(fdpass, descriptors_beyond_what_the_receiver_takes_are_never_installed)
{
	int sv[2], probe = lock_probe_open(), got[FDPASS_MAX_FDS];
	size_t n = 99;
	char buf[8];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(fdpass_send(sv[0], "hi", 2, &probe, 1), 0);
	/* A peek, then a receive that takes none: the message is refused, the fd never entered. */
	cr_assert_eq(fdpass_peek(sv[1], buf, 1), 1);
	cr_assert_eq(buf[0], 'h');
	cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got, 0, &n), -EBADF);
	cr_assert_eq(n, 0);
	cr_assert(lock_probe_held(probe), "the receiver installed and closed the descriptor");
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

Test(fdpass, the_receiver_takes_what_it_has_room_for)
{
	int sv[2], fds[2], got[FDPASS_MAX_FDS];
	size_t n = 0;
	char buf[8];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(fdpass_send(sv[0], "hi", 2, fds, 1), 0);
	cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got, 1, &n), 2);
	cr_assert_eq(n, 1);
	/* Two where one is taken: refused whole. */
	cr_assert_eq(fdpass_send(sv[0], "hi", 2, fds, 2), 0);
	cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got + 1, 1, &n), -EBADF);
	cr_assert_eq(n, 0);
	close(got[0]);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	close(sv[1]);
}

Test(fdpass, dropping_a_refused_descriptor_closes_an_ordinary_file)
{
	int fds[2];
	char c;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_not(fdpass_close_may_block(fds[1]));
	cr_assert_eq(fdpass_drop(fds[1]), 0);
	cr_assert_eq(read(fds[0], &c, 1), 0);	/* the write end is gone */
	close(fds[0]);
}
