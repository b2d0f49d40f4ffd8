/* SPDX-License-Identifier: MIT */
/*
 * The system broker's listening socket. Created mode 0660 (umask set around
 * bind, so there is no moment it is more open): root and the socket's group
 * may ask for devices; an administrator chooses that group with chgrp. A
 * stale socket left by a broker that died is replaced; a live one, or any
 * file that is not a socket, is never touched.
 */
#ifndef SVMM_BROKER_SOCKET_H
#define SVMM_BROKER_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

#define BROKER_SOCKET_MODE 0660

/*
 * Returns the listening fd (SOCK_SEQPACKET, non-blocking, close-on-exec) and
 * its inode in *ino, or -errno with a reason in why: -EADDRINUSE another
 * broker answers there, -EEXIST the path is not a socket, -ENAMETOOLONG.
 */
int broker_socket_listen(const char *path, ino_t *ino, char *why, size_t whylen);

/* Unlinks path if it is still the socket we made (inode ino). */
void broker_socket_remove(const char *path, ino_t ino);

#endif
