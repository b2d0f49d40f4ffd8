/* SPDX-License-Identifier: MIT */
/*
 * Messages with attached file descriptors (SCM_RIGHTS) over unix sockets.
 * Every svmm socket is SOCK_SEQPACKET, so one send is one message and a
 * message never arrives in pieces.
 */
#ifndef SVMM_FDPASS_H
#define SVMM_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* No svmm message carries more than this many fds. */
#define FDPASS_MAX_FDS 4

/*
 * Sends len bytes and nfds descriptors (nfds <= FDPASS_MAX_FDS) as one message.
 * Returns 0, or a negative errno (-EMSGSIZE if the message went out short).
 */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/*
 * Receives one message of at most len bytes and at most max_fds descriptors.
 * Returns the number of bytes received (0 means the peer closed), or a
 * negative errno. Received fds are close-on-exec. A message larger than len
 * (-EMSGSIZE), with more fds than max_fds or other control data (-EBADMSG)
 * is refused whole: any fd that did arrive with it is closed, none is returned.
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds);

/* Closes the n fds in fds that are >= 0 and sets them to -1. */
void fdpass_close_all(int *fds, size_t n);

#endif
