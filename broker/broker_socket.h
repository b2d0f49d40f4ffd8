/* SPDX-License-Identifier: MIT */
/*
 * The system broker's listening socket. Created mode 0660 (umask set around
 * bind, so there is no moment it is more open): root and the socket's group
 * may ask for devices; an administrator chooses that group with chgrp. A
 * stale socket left by a broker that died is replaced; a live one, or any
 * file that is not a socket, is never touched.
 *
 * Started by systemd (svmm-broker.socket), the broker takes the socket it is
 * passed instead: systemd made it, with the unit's mode and group, and keeps
 * it across restarts, so the broker never removes its file.
 */
#ifndef SVMM_BROKER_SOCKET_H
#define SVMM_BROKER_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

#include "common/socket_file.h"

#define BROKER_SOCKET_MODE 0660

struct broker_socket {
	int fd;				/* listening, or -1 */
	struct socket_file file;	/* removed through its directory: the broker's filter allows no other unlink */
};

/*
 * Makes s listen at path (SOCK_SEQPACKET, non-blocking, close-on-exec); 0, or
 * -errno with a reason in why: -EADDRINUSE another broker answers there,
 * -EEXIST the path is not a socket, -ENAMETOOLONG.
 */
int broker_socket_listen(const char *path, struct broker_socket *s, char *why, size_t whylen);

/*
 * Takes the listening socket systemd passes (socket_activation.h), given the
 * values of LISTEN_PID and LISTEN_FDS (NULL when unset) and the fd the
 * sockets start at (SOCKET_ACTIVATION_FIRST_FD; tests pass their own).
 * Returns 1 with s set up (non-blocking, close-on-exec, no file to remove),
 * 0 when nothing is passed to process self, or -errno with a reason in why:
 * a malformed variable, more than one socket, or one that is not a listening
 * AF_UNIX SOCK_SEQPACKET socket.
 */
int broker_socket_activated(const char *listen_pid, const char *listen_fds, pid_t self,
			    int first_fd, struct broker_socket *s, char *why, size_t whylen);

/* Closes the socket and unlinks its file if it is still the one s made. */
void broker_socket_close(struct broker_socket *s);

#endif
