/* SPDX-License-Identifier: MIT */
/*
 * Messages with attached file descriptors (SCM_RIGHTS) over unix sockets.
 * Every svmm socket is SOCK_SEQPACKET, so one send is one message and a
 * message never arrives in pieces.
 *
 * A received descriptor is dangerous to its receiver: once it is in the
 * receiver's table, getting rid of it means close(), and close() calls the
 * file's ->flush, which a peer can make wait forever (a file on the peer's own
 * FUSE mount whose server never answers FLUSH; SIGKILL does not end that
 * wait). A descriptor the kernel drops because the receiver gave no room for
 * it is only fput(), never flushed. So receivers give room for exactly the
 * descriptors the message they expect carries, and none when it carries none:
 * everything else never enters the process.
 */
#ifndef SVMM_FDPASS_H
#define SVMM_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* No svmm message carries more than this many fds. */
#define FDPASS_MAX_FDS 4

/* Refused descriptors fdpass_drop() keeps open rather than close (below). */
#define FDPASS_PARKED_MAX 16

/*
 * Sends len bytes and nfds descriptors (nfds <= FDPASS_MAX_FDS) as one message.
 * Returns 0, or a negative errno (-EMSGSIZE if the message went out short).
 */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/*
 * Receives one message of at most len bytes and at most max_fds descriptors
 * (max_fds <= FDPASS_MAX_FDS; 0: no control buffer at all). Returns the number
 * of bytes received (0 means the peer closed), or a negative errno. Received
 * fds are close-on-exec. Descriptors beyond max_fds are never installed (the
 * kernel drops them); their message is refused with -EBADF. Other control
 * data is refused with -EBADMSG, a message larger than len with -EMSGSIZE. A
 * refused message returns no fd; one that was installed with it is closed.
 * buf holds what arrived either way.
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds);

/*
 * Copies the first len bytes of the next message into buf without receiving
 * it and without installing any descriptor that came with it, so a receiver
 * can look at the header before it decides how many descriptors to take.
 * Returns the bytes copied, 0 if the peer closed, or a negative errno.
 */
ssize_t fdpass_peek(int sock, void *buf, size_t len);

/*
 * Asks the kernel to refuse every descriptor sent to sock (SO_PASSRIGHTS off,
 * Linux 6.16; a listening socket passes it on to the connections it accepts):
 * the sender's sendmsg fails with EPERM. 0, or -errno (-ENOPROTOOPT on an
 * older kernel, where receiving without a control buffer still keeps them out).
 */
int fdpass_refuse_all(int sock);

/* Closes the n fds in fds that are >= 0 and sets them to -1. */
void fdpass_close_all(int *fds, size_t n);

/* True if close() of fd could wait on a userspace server: a file on FUSE, or on overlayfs (over anything). */
bool fdpass_close_may_block(int fd);

/*
 * Gets rid of a received descriptor the receiver refused: closes it, unless
 * fdpass_close_may_block(); such a one is parked (kept open, never flushed)
 * for the life of the process, at most FDPASS_PARKED_MAX of them. Returns 0
 * when closed, 1 when parked, -EMFILE when the park is full (fd left open and
 * forgotten; a receiver checks fdpass_park_full() before it takes fds from a
 * peer that could fill it).
 */
int fdpass_drop(int fd);

/* True when fdpass_drop() has no room left to park another descriptor. */
bool fdpass_park_full(void);

#endif
