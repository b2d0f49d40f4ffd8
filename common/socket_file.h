/* SPDX-License-Identifier: MIT */
/*
 * The file of a listening AF_UNIX socket, removed at the end through an
 * O_PATH descriptor of its directory and its name, never by path: a process
 * under a seccomp filter (the VMM, the system broker) may unlink only through
 * that descriptor, and only the file it made goes (same device and inode),
 * not one another process has put at the path since.
 */
#ifndef SVMM_SOCKET_FILE_H
#define SVMM_SOCKET_FILE_H

#include <sys/types.h>

struct socket_file {
	int dir_fd;		/* O_PATH of the directory, or -1 */
	char name[108];		/* the file's name in it (sun_path's size bounds it) */
	dev_t dev;		/* the socket file made, to remove only that one */
	ino_t ino;
};

/* No directory, nothing to remove. */
void socket_file_init(struct socket_file *f);

/* After bind(): opens path's directory and records the file in it. 0 or -errno. */
int socket_file_open(struct socket_file *f, const char *path);

/* Unlinks the file if it is still the one recorded, and closes the directory. Idempotent. */
void socket_file_remove(struct socket_file *f);

#endif
