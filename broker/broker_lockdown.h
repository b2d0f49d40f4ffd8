/* SPDX-License-Identifier: MIT */
/*
 * What the broker gives up once it is set up (its socket listens, its USB
 * policy is parsed, a VM's broker has its one connection) and before it reads
 * the first request.
 *
 * It keeps its uid: usbfs nodes are root's (0664 or 0660) and the owner's
 * bits are what let it open them read-write. It needs no capability at all:
 * opening a node it owns, reading sysfs, SO_PEERCRED and the usbfs ioctls it
 * issues (DROP_PRIVILEGES, IOCTL/CONNECT, IOCTL/DISCONNECT) check none. So
 * every capability goes, from every set, the bounding set included, and
 * no_new_privs makes sure nothing it could exec gets any back. Then
 * policy/seccomp/broker.policy allows the calls of its service loop and
 * nothing else: no exec, no new process, no socket, no open that creates,
 * truncates or appends, no ioctl but its four usbfs requests.
 */
#ifndef SVMM_BROKER_LOCKDOWN_H
#define SVMM_BROKER_LOCKDOWN_H

#include <stdint.h>

/* '@socket_dir' for a broker without a socket file (a VM's own): no descriptor has it. */
#define BROKER_NO_SOCKET_DIR UINT64_MAX

/*
 * Drops every capability, sets no_new_privs and non-dumpable, and loads the
 * broker's seccomp filter. socket_dir_fd: the system broker's socket
 * directory (its file is removed through it at exit), or -1. 0 or -errno
 * (logged); on failure the broker must not serve.
 */
int broker_lockdown(int socket_dir_fd);

#endif
