/* SPDX-License-Identifier: MIT */
#include "tests/fuzz/fuzz_wire.h"

#include "tests/fuzz/fuzz_check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct fuzz_wire fuzz_wire;

/* Opens the pair once; aborts if it cannot (the target cannot run). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	(void)argc;
	(void)argv;
	/* Non-blocking receive: a message the kernel did not queue must not hang the run. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		abort();
	fuzz_wire.tx = sv[0];
	fuzz_wire.rx = sv[1];
	return 0;
}

static void close_probes(struct fuzz_wire *w)
{
	for (size_t i = 0; i < w->nprobes; i++)
		close(w->probes[i]);
	w->nprobes = 0;
}

bool fuzz_wire_send(struct fuzz_wire *w, const void *buf, size_t len, size_t nfds)
{
	return fuzz_wire_send_on(w, w->tx, buf, len, nfds);
}

bool fuzz_wire_send_on(struct fuzz_wire *w, int sock, const void *buf, size_t len, size_t nfds)
{
	int ends[FUZZ_WIRE_MAX_FDS];
	char control[CMSG_SPACE(sizeof(ends))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > FUZZ_WIRE_MAX_FDS)
		nfds = FUZZ_WIRE_MAX_FDS;
	for (size_t i = 0; i < nfds; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			abort();
		w->probes[w->nprobes++] = p[0];
		ends[i] = p[1];
	}
	if (nfds) {
		struct cmsghdr *c;

		memset(control, 0, sizeof(control));
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), ends, sizeof(int) * nfds);
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	/* In flight (or refused), the socket holds its own reference: ours go. */
	for (size_t i = 0; i < nfds; i++)
		close(ends[i]);
	if (n < 0) {
		close_probes(w);
		return false;
	}
	return true;
}

bool fuzz_wire_all_closed(struct fuzz_wire *w)
{
	bool closed = true;

	for (size_t i = 0; i < w->nprobes; i++) {
		/* A last reference the kernel drops late (deferred fput) is not a leak: wait a little. */
		struct pollfd p = { .fd = w->probes[i], .events = POLLIN };
		char c;

		poll(&p, 1, 200);
		if (read(w->probes[i], &c, 1) != 0)
			closed = false;
	}
	close_probes(w);
	return closed;
}

bool fuzz_wire_drained(const struct fuzz_wire *w)
{
	char c;

	return recv(w->rx, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}
