/* SPDX-License-Identifier: MIT */
/*
 * The socket systemd passes the broker (LISTEN_PID, LISTEN_FDS): taken only
 * when the variables are for this process and name exactly one listening
 * AF_UNIX SOCK_SEQPACKET socket; anything else is refused with a reason that
 * says what is wrong, or (variables for another process) ignored.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker_socket.h"
#include "broker/socket_activation.h"

static char why[256];
static char dir[] = "/var/tmp/svmm-activation.XXXXXX";
static char path[sizeof(dir) + 16];

static void make_dir(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/b.sock", dir);
}

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

/* A socket of type bound at path; listening when listen_too. */
static int unix_socket(int type, bool listen_too)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	cr_assert_geq(fd, 0);
	strcpy(a.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	if (listen_too)
		cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

static int take(const char *pid, const char *fds, int fd, struct broker_socket *s)
{
	why[0] = '\0';
	return broker_socket_activated(pid, fds, 4242, fd, s, why, sizeof(why));
}

Test(socket_activation, no_variables_no_socket)
{
	cr_assert_eq(socket_activation_count(NULL, NULL, 4242, why, sizeof(why)), 0);
	cr_assert_eq(socket_activation_count("4242", NULL, 4242, why, sizeof(why)), 0);
	cr_assert_eq(socket_activation_count(NULL, "1", 4242, why, sizeof(why)), 0);
}

Test(socket_activation, variables_for_another_process_are_not_ours)
{
	struct broker_socket s;

	/* Even a count that would be refused: the variables are someone else's business. */
	cr_assert_eq(socket_activation_count("4241", "1", 4242, why, sizeof(why)), 0);
	cr_assert_eq(take("4241", "2", 3, &s), 0);
	cr_assert_eq(s.fd, -1);
}

Test(socket_activation, malformed_variables_are_refused)
{
	static const char *const bad_pids[] = { "", "0", "-4242", "4242x", " 4242", "+4242",
						"99999999999999999999" };
	static const char *const bad_counts[] = { "", "0", "-1", "1x", "0x1", "99999999999",
						  "2147483647" };

	for (size_t i = 0; i < sizeof(bad_pids) / sizeof(bad_pids[0]); i++) {
		cr_assert_eq(socket_activation_count(bad_pids[i], "1", 4242, why, sizeof(why)), -EINVAL,
			     "LISTEN_PID '%s'", bad_pids[i]);
		cr_assert_not_null(strstr(why, "LISTEN_PID"), "%s", why);
	}
	for (size_t i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
		cr_assert_eq(socket_activation_count("4242", bad_counts[i], 4242, why, sizeof(why)),
			     -EINVAL, "LISTEN_FDS '%s'", bad_counts[i]);
		cr_assert_not_null(strstr(why, "LISTEN_FDS"), "%s", why);
	}
	cr_assert_eq(socket_activation_count("4242", "3", 4242, why, sizeof(why)), 3);
}

Test(socket_activation, more_than_one_socket_is_refused, .init = make_dir, .fini = remove_dir)
{
	struct broker_socket s;
	int fd = unix_socket(SOCK_SEQPACKET, true);

	cr_assert_eq(take("4242", "2", fd, &s), -EINVAL);
	cr_assert_str_eq(why, "systemd passed 2 sockets; the broker listens on one (ListenSequentialPacket=)");
	cr_assert_eq(s.fd, -1);
	close(fd);
}

Test(socket_activation, a_stream_or_idle_socket_is_refused, .init = make_dir, .fini = remove_dir)
{
	static const struct {
		int type;
		bool listening;
		int err;
		const char *why;
	} cases[] = {
		{ SOCK_STREAM, true, -EPROTOTYPE, "is a SOCK_STREAM socket, not SOCK_SEQPACKET" },
		{ SOCK_DGRAM, false, -EPROTOTYPE, "is a SOCK_DGRAM socket, not SOCK_SEQPACKET" },
		{ SOCK_SEQPACKET, false, -EINVAL, "is not listening" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct broker_socket s;
		int fd = unix_socket(cases[i].type, cases[i].listening);

		cr_assert_eq(take("4242", "1", fd, &s), cases[i].err, "case %zu: %s", i, why);
		cr_assert_not_null(strstr(why, cases[i].why), "case %zu: %s", i, why);
		cr_assert_eq(s.fd, -1);
		close(fd);
		unlink(path);
	}
}

Test(socket_activation, not_a_unix_socket_is_refused)
{
	struct broker_socket s;
	int p[2], fd;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(take("4242", "1", p[0], &s), -ENOTSOCK);
	cr_assert_not_null(strstr(why, "is not a socket"), "%s", why);
	close(p[0]);
	close(p[1]);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(take("4242", "1", fd, &s), -EAFNOSUPPORT);
	cr_assert_not_null(strstr(why, "is not an AF_UNIX socket"), "%s", why);
	close(fd);
	/* Nothing open at that number at all. */
	cr_assert_eq(take("4242", "1", 1000, &s), -EBADF);
}

Test(socket_activation, a_listening_seqpacket_socket_is_served_and_its_file_kept, .init = make_dir,
     .fini = remove_dir)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct broker_socket s;
	struct stat st;
	int fd = unix_socket(SOCK_SEQPACKET, true), client, peer;

	cr_assert_eq(take("4242", "1", fd, &s), 1, "%s", why);
	cr_assert_eq(s.fd, fd);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "the broker polls it: non-blocking");
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* A client connects to it and the broker's side accepts. */
	client = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(a.sun_path, path);
	cr_assert_eq(connect(client, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	peer = accept4(s.fd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(peer, 0, "%s", strerror(errno));
	close(peer);
	close(client);
	/* systemd owns the file: the broker closing its socket leaves it for the next start. */
	broker_socket_close(&s);
	cr_assert_eq(s.fd, -1);
	cr_assert_eq(lstat(path, &st), 0, "the socket file was removed");
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the socket was not closed");
}
