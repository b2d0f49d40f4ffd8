/* SPDX-License-Identifier: MIT */
/*
 * The listening socket a socket-activated service gets from systemd
 * (sd_listen_fds(3)), read without libsystemd: LISTEN_PID names the process
 * the descriptors are for, LISTEN_FDS how many there are, starting at fd 3.
 * Variables meant for another process (a parent that forgot to unset them)
 * are not ours: they count as no socket.
 */
#ifndef SVMM_SOCKET_ACTIVATION_H
#define SVMM_SOCKET_ACTIVATION_H

#include <stddef.h>
#include <sys/types.h>

#define SOCKET_ACTIVATION_FIRST_FD 3

/*
 * How many descriptors listen_pid and listen_fds (the variables' values, or
 * NULL when unset) pass to process self: 0 when there are none for it, or
 * -EINVAL with the reason in why when either value is malformed.
 */
int socket_activation_count(const char *listen_pid, const char *listen_fds, pid_t self,
			    char *why, size_t whylen);

/*
 * Whether fd is a listening AF_UNIX socket of the given type (SOCK_STREAM,
 * SOCK_SEQPACKET...): 0, or -errno with the reason in why.
 */
int socket_activation_check(int fd, int type, char *why, size_t whylen);

#endif
