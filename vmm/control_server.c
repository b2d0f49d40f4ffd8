/* SPDX-License-Identifier: MIT */
#include "vmm/control_server.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "common/log.h"

/* One byte more than a request, so that an oversized one shows as such (MSG_TRUNC). */
#define CONTROL_RECV_SIZE (sizeof(struct control_request) + 1)

static int control_prepare_path(const char *path, const struct sockaddr_un *addr, char *err,
				size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket path %s exists and is not a socket; not replacing it",
			 path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "control socket path %s is in use by a running VM", path);
		return -EADDRINUSE;
	}
	/* Nobody listens: a VM that ended without cleaning up left it. */
	log_info("removing stale control socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot remove stale control socket %s: %s", path, strerror(errno));
		return r;
	}
	return 0;
}

int control_server_open(struct control_server *cs, const char *path, const struct control_ops *ops,
			void *opaque, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int r;

	memset(cs, 0, sizeof(*cs));
	cs->listen_fd = -1;
	socket_file_init(&cs->file);
	for (int i = 0; i < CONTROL_SERVER_MAX_CLIENTS; i++)
		cs->clients[i] = -1;
	for (int i = 0; i < CONTROL_SERVER_MAX_WATCHERS; i++)
		cs->watchers[i] = -1;
	cs->ops = ops;
	cs->opaque = opaque;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "control socket path too long (at most %zu bytes): %s",
			 sizeof(addr.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	r = control_prepare_path(path, &addr, err, errlen);
	if (r < 0)
		return r;
	cs->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cs->listen_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	/* The file is created 0600 from the start: no window where others could connect. */
	old_umask = umask(0177);
	r = bind(cs->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create control socket %s: %s", path,
			 errno == EADDRINUSE ? "socket path in use" : strerror(errno));
		goto fail;
	}
	strcpy(cs->path, path);
	r = socket_file_open(&cs->file, path);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the directory of %s: %s", path, strerror(-r));
		goto fail;
	}
	if (listen(cs->listen_fd, CONTROL_SERVER_MAX_CLIENTS) < 0) {
		r = -errno;
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	control_server_close(cs);
	return r;
}

static void drop_watcher(struct control_server *cs, int slot, const char *why)
{
	if (why)
		log_info("control: dropped a watcher: %s", why);
	close(cs->watchers[slot]);
	cs->watchers[slot] = -1;
}

void control_server_broadcast(struct control_server *cs, const struct control_event *e)
{
	for (int i = 0; i < CONTROL_SERVER_MAX_WATCHERS; i++) {
		ssize_t n;

		if (cs->watchers[i] < 0)
			continue;
		n = send(cs->watchers[i], e, sizeof(*e), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(*e))
			continue;
		drop_watcher(cs, i, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ?
			     "it does not read its events" : NULL);
	}
}

void control_server_close(struct control_server *cs)
{
	struct control_event stopped;

	control_event_init(&stopped, CONTROL_EVENT_STOPPED, NULL);
	control_server_broadcast(cs, &stopped);
	for (int i = 0; i < CONTROL_SERVER_MAX_WATCHERS; i++) {
		if (cs->watchers[i] >= 0)
			drop_watcher(cs, i, NULL);
	}
	for (int i = 0; i < CONTROL_SERVER_MAX_CLIENTS; i++) {
		if (cs->clients[i] >= 0)
			close(cs->clients[i]);
		cs->clients[i] = -1;
	}
	if (cs->listen_fd >= 0)
		close(cs->listen_fd);
	cs->listen_fd = -1;
	socket_file_remove(&cs->file);
	cs->path[0] = '\0';
}

size_t control_server_pollfds(const struct control_server *cs, struct pollfd *pfds, size_t max)
{
	size_t n = 0;

	if (cs->listen_fd < 0 || max == 0)
		return 0;
	pfds[n++] = (struct pollfd){ .fd = cs->listen_fd, .events = POLLIN };
	for (int i = 0; i < CONTROL_SERVER_MAX_CLIENTS && n < max; i++) {
		if (cs->clients[i] >= 0)
			pfds[n++] = (struct pollfd){ .fd = cs->clients[i], .events = POLLIN };
	}
	/* A watcher only ever leaves: readable means it hung up or broke the protocol. */
	for (int i = 0; i < CONTROL_SERVER_MAX_WATCHERS && n < max; i++) {
		if (cs->watchers[i] >= 0)
			pfds[n++] = (struct pollfd){ .fd = cs->watchers[i], .events = POLLIN };
	}
	return n;
}

static int reply_type(const void *buf, size_t len)
{
	uint16_t type;

	/* The client checks the reply's type against its request's: echo it if it is one. */
	if (len < offsetof(struct control_request, type) + sizeof(type))
		return 0;
	memcpy(&type, (const char *)buf + offsetof(struct control_request, type), sizeof(type));
	return type < CONTROL_TYPE_END ? type : 0;
}

void control_server_handle(const struct control_ops *ops, void *opaque, const void *buf, int fd,
			   size_t len, struct control_reply *rep)
{
	struct control_request req;
	const char *why = NULL;

	if (control_request_decode(buf, len, fd >= 0 ? 1 : 0, &req, &why) < 0) {
		control_reply_init(rep, (enum control_type)reply_type(buf, len));
		control_reply_error(rep, SVMM_E_INVALID, "%s", why);
		log_warn("control: refused a request: %s", why);
		return;
	}
	control_reply_init(rep, (enum control_type)req.type);
	switch (req.type) {
	case CONTROL_USB_ATTACH:
		ops->attach(opaque, &req, fd, rep);
		break;
	case CONTROL_USB_DETACH:
		ops->detach(opaque, &req, rep);
		break;
	case CONTROL_USB_LIST:
		ops->list(opaque, &req, rep);
		break;
	case CONTROL_STOP:
		ops->stop(opaque, &req, rep);
		break;
	case CONTROL_USB_WATCH:
		/* The ports as they are; the events since follow on the connection. */
		ops->list(opaque, &req, rep);
		break;
	default:
		control_reply_error(rep, SVMM_E_INVALID, "unknown request type");
		break;
	}
}

/* An image attach is the one request that carries a descriptor; its header says so before it is received. */
static size_t fds_announced(int sock)
{
	/* The request's own layout, up to and with target: the fields that decide. */
	const size_t head = offsetof(struct control_request, target) + sizeof(uint32_t);
	struct control_request r;

	if (fdpass_peek(sock, &r, head) != (ssize_t)head || r.version != CONTROL_VERSION)
		return 0;
	if (!control_request_fds_expected(&r))
		return 0;
	/* Each refused image on FUSE stays parked; with the park full, images are refused unreceived. */
	if (fdpass_park_full()) {
		log_warn("control: refusing image descriptors: %u refused ones are held open", FDPASS_PARKED_MAX);
		return 0;
	}
	return 1;
}

/*
 * Why an image descriptor is refused before anything uses it, or NULL. One on
 * FUSE (or overlayfs, which may sit on it) is refused because a close() of it
 * waits for its server's FLUSH answer, for as long as that server likes.
 */
static const char *image_refusal(int fd)
{
	struct stat st;

	if (fdpass_close_may_block(fd))
		return "the image is on FUSE or overlayfs: the VM takes no image whose close could block";
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return "the image is not a regular file or block device";
	return NULL;
}

static int free_watcher_slot(const struct control_server *cs)
{
	for (int i = 0; i < CONTROL_SERVER_MAX_WATCHERS; i++) {
		if (cs->watchers[i] < 0)
			return i;
	}
	return -1;
}

/* A watcher sends nothing after its request: anything readable ends it. */
static void control_serve_watcher(struct control_server *cs, int slot)
{
	size_t nfds;
	char byte;
	ssize_t n = fdpass_recv(cs->watchers[slot], &byte, sizeof(byte), NULL, 0, &nfds);

	if (n == -EAGAIN || n == -EINTR)
		return;
	drop_watcher(cs, slot, n == 0 || n == -ECONNRESET ? NULL : "it sent a message after its request");
}

static void control_serve_client(struct control_server *cs, int slot)
{
	int fd = cs->clients[slot];
	struct control_reply *rep = NULL;
	const char *refused;
	void *buf = NULL;
	int image_fd = -1, watcher = -1;
	size_t nfds = 0;
	ssize_t n;

	buf = malloc(CONTROL_RECV_SIZE);
	rep = malloc(sizeof(*rep));
	if (!buf || !rep)
		goto done;
	/*
	 * Room for one fd only when the header says image attach: any other
	 * descriptor is dropped by the kernel, never installed, so never closed
	 * here (fdpass.h). An oversized message or one with extra fds is refused whole.
	 */
	n = fdpass_recv(fd, buf, CONTROL_RECV_SIZE, &image_fd, fds_announced(fd), &nfds);
	if (n == -EAGAIN || n == -EINTR)
		goto keep;
	if (n == -EMSGSIZE || n == -EBADMSG || n == -EBADF) {
		control_reply_init(rep, (enum control_type)reply_type(buf, CONTROL_RECV_SIZE));
		control_reply_error(rep, SVMM_E_INVALID, "%s", n == -EMSGSIZE ?
				    "request has the wrong size" : n == -EBADF ?
				    "a descriptor the request does not carry" : "control data that is not a descriptor");
		log_warn("control: refused a request: %s", rep->message);
		goto reply;
	}
	if (n <= 0) {
		/* The client left without asking, or sent an empty message: with a descriptor, maybe. */
		if (nfds)
			fdpass_drop(image_fd);
		goto done;
	}
	refused = nfds ? image_refusal(image_fd) : NULL;
	if (refused) {
		control_reply_init(rep, (enum control_type)reply_type(buf, (size_t)n));
		control_reply_error(rep, SVMM_E_FAILED_TO_OPEN_DEVICE, "%s", refused);
		log_warn("control: refused a request: %s", refused);
		fdpass_drop(image_fd);
		goto reply;
	}
	control_server_handle(cs->ops, cs->opaque, buf, nfds ? image_fd : -1, (size_t)n, rep);
	if (nfds)
		close(image_fd);
	if (rep->type == CONTROL_USB_WATCH && rep->status == SVMM_OK) {
		watcher = free_watcher_slot(cs);
		if (watcher < 0) {
			control_reply_error(rep, SVMM_E_INVALID, "this VM has %d watchers already",
					    CONTROL_SERVER_MAX_WATCHERS);
			rep->count = 0;
		}
	}
reply:
	if (send(fd, rep, sizeof(*rep), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(*rep)) {
		log_debug("control: the client left before its reply");
		watcher = -1;
	}
	if (watcher >= 0) {
		cs->watchers[watcher] = fd;
		cs->clients[slot] = -1;
		goto keep;
	}
done:
	close(fd);
	cs->clients[slot] = -1;
keep:
	free(buf);
	free(rep);
}

static void control_accept(struct control_server *cs)
{
	int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int slot = -1;

	if (fd < 0)
		return;
	for (int i = 0; i < CONTROL_SERVER_MAX_CLIENTS; i++) {
		if (cs->clients[i] < 0) {
			slot = i;
			break;
		}
	}
	if (slot < 0) {
		/* Full: the oldest connection has had its chance to send its request. */
		close(cs->clients[0]);
		memmove(cs->clients, cs->clients + 1, sizeof(cs->clients) - sizeof(cs->clients[0]));
		slot = CONTROL_SERVER_MAX_CLIENTS - 1;
	}
	cs->clients[slot] = fd;
}

void control_server_service(struct control_server *cs, const struct pollfd *pfds, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (!pfds[i].revents)
			continue;
		for (int slot = 0; slot < CONTROL_SERVER_MAX_CLIENTS; slot++) {
			if (cs->clients[slot] == pfds[i].fd) {
				control_serve_client(cs, slot);
				break;
			}
		}
		for (int slot = 0; slot < CONTROL_SERVER_MAX_WATCHERS; slot++) {
			if (cs->watchers[slot] == pfds[i].fd) {
				control_serve_watcher(cs, slot);
				break;
			}
		}
	}
	if (n > 0 && (pfds[0].revents & POLLIN))
		control_accept(cs);
}
