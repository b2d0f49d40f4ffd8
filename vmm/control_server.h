/* SPDX-License-Identifier: MIT */
/*
 * The control socket of a running VM: a unix SOCK_SEQPACKET socket at the
 * --control path, owner-only (0600). Each client sends one request and gets
 * one reply; clients are served in turn. A request that does not decode gets
 * an invalid_request reply and changes nothing.
 */
#ifndef SVMM_CONTROL_SERVER_H
#define SVMM_CONTROL_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/control_protocol.h"
#include "common/socket_file.h"

#define CONTROL_SERVER_MAX_CLIENTS 8
#define CONTROL_SERVER_MAX_WATCHERS 8	/* `usb watch` connections kept open */

/* What the VM does for each request; each fills rep (status, port, list, message). */
struct control_ops {
	/* image_fd: the image of an image attach (the caller closes it), else -1. */
	void (*attach)(void *opaque, const struct control_request *req, int image_fd,
		       struct control_reply *rep);
	void (*detach)(void *opaque, const struct control_request *req, struct control_reply *rep);
	void (*list)(void *opaque, const struct control_request *req, struct control_reply *rep);
	void (*stop)(void *opaque, const struct control_request *req, struct control_reply *rep);
};

struct control_server {
	int listen_fd;
	char path[108];
	struct socket_file file;	/* removed through its directory, by name, so that the
					 * VMM's seccomp filter can allow exactly that */
	int clients[CONTROL_SERVER_MAX_CLIENTS];
	int watchers[CONTROL_SERVER_MAX_WATCHERS];
	const struct control_ops *ops;
	void *opaque;
};

/*
 * Creates the socket at path. A live VM there (it accepts a connection) is
 * -EADDRINUSE; a stale socket file is replaced; any other file is left alone
 * (-EEXIST). Returns 0 or -errno with a reason in err.
 */
int control_server_open(struct control_server *cs, const char *path, const struct control_ops *ops,
			void *opaque, char *err, size_t errlen);
/* Tells the watchers the VM stops, closes every connection and removes the socket file if ours. */
void control_server_close(struct control_server *cs);

/*
 * Sends e to every watcher without waiting: a watcher whose socket is full
 * (it does not read) or gone is dropped, so no watcher can hold up the VMM.
 */
void control_server_broadcast(struct control_server *cs, const struct control_event *e);

/* Fills pfds with what to poll (listening socket, clients, watchers); returns the count. */
size_t control_server_pollfds(const struct control_server *cs, struct pollfd *pfds, size_t max);
/* Serves whatever the poll found ready in pfds (as filled by control_server_pollfds). */
void control_server_service(struct control_server *cs, const struct pollfd *pfds, size_t n);

/* Decodes len bytes of a request and answers it through ops (exposed for tests). */
void control_server_handle(const struct control_ops *ops, void *opaque, const void *buf, int fd,
			   size_t len, struct control_reply *rep);

#endif
