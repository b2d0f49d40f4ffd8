/* SPDX-License-Identifier: MIT */
/* The control socket: request handling, bad and oversized requests, the socket file's life. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/control_server.h"
#include "common/fdpass.h"
#include "tests/unit/lock_probe.h"
#include "vmm/device_process.h"
#include "common/fdpass.h"
#include "vmm/usb_control.h"

static int calls_stop, calls_list;

static void fake_attach(void *o, const struct control_request *q, int fd, struct control_reply *r)
{
	(void)o;
	(void)q;
	(void)fd;
	r->port = 3;
}

static void fake_detach(void *o, const struct control_request *q, struct control_reply *r)
{
	(void)o;
	r->port = q->port;
}

static void fake_list(void *o, const struct control_request *q, struct control_reply *r)
{
	(void)o;
	(void)q;
	calls_list++;
	r->ports_total = 16;
}

static void fake_stop(void *o, const struct control_request *q, struct control_reply *r)
{
	(void)o;
	(void)q;
	(void)r;
	calls_stop++;
}

static const struct control_ops fake_ops = { fake_attach, fake_detach, fake_list, fake_stop };

Test(control_handle, good_requests_reach_their_op)
{
	struct control_request req;
	struct control_reply rep;

	calls_stop = 0;
	control_request_simple(&req, CONTROL_STOP, 0);
	control_server_handle(&fake_ops, NULL, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_OK);
	cr_assert_eq(rep.type, CONTROL_STOP);
	cr_assert_eq(calls_stop, 1);
	control_request_simple(&req, CONTROL_USB_DETACH, 7);
	control_server_handle(&fake_ops, NULL, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.port, 7);
	/* An image attach reaches its op with the client's fd. */
	cr_assert_eq(control_request_attach(&req, CONTROL_TARGET_IMAGE, 0, "/x.img"), 0);
	control_server_handle(&fake_ops, NULL, &req, STDERR_FILENO, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_OK);
	cr_assert_eq(rep.port, 3);
}

Test(control_handle, bad_requests_get_invalid_and_run_nothing)
{
	struct control_request req;
	struct control_reply rep;
	struct control_reply decoded;
	const char *why;
	uint8_t big[sizeof(req) + 100];

	calls_stop = 0;
	control_request_simple(&req, CONTROL_STOP, 0);
	/* Short. */
	control_server_handle(&fake_ops, NULL, &req, -1, 10, &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	cr_assert(strstr(rep.message, "size"), "%s", rep.message);
	/* The client can still decode the reply to its (stop) request. */
	cr_assert_eq(control_reply_decode(&rep, sizeof(rep), CONTROL_STOP, &decoded, &why), 0);
	/* Oversized. */
	memset(big, 0, sizeof(big));
	memcpy(big, &req, sizeof(req));
	control_server_handle(&fake_ops, NULL, big, -1, sizeof(big), &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	/* Wrong version, unknown type, garbage after the path. */
	req.version = 99;
	control_server_handle(&fake_ops, NULL, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	control_request_simple(&req, CONTROL_STOP, 0);
	req.type = 77;
	control_server_handle(&fake_ops, NULL, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	cr_assert_eq(rep.type, 0);
	control_request_attach(&req, CONTROL_TARGET_IMAGE, 0, "/x");
	req.path[100] = 'z';
	control_server_handle(&fake_ops, NULL, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	cr_assert_eq(calls_stop, 0, "no bad request may stop the VM");
}

Test(usb_control, without_a_broker_or_an_image_fd_nothing_opens_and_a_dead_device_says_so)
{
	struct device_process dev = { .name = "xhci", .pid = -1, .req_sock = -1, .evt_sock = -1,
				      .dead = true, .kmsg_fd = -1 };
	struct usb_control u = { .dev = &dev, .nports = 16, .broker_sock = -1 };
	struct control_request req;
	struct control_reply rep;
	char path[] = "/var/tmp/svmm-test-image-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	pthread_mutex_init(&dev.lock, NULL);
	control_request_attach(&req, CONTROL_TARGET_NODE, 0, "/dev/bus/usb/001/002");
	control_server_handle(&usb_control_ops, &u, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert(strstr(rep.message, "no broker"), "%s", rep.message);
	/* An image is never opened by path in the VMM: without the client's fd it is refused. */
	control_request_attach(&req, CONTROL_TARGET_IMAGE, 0, path);
	control_server_handle(&usb_control_ops, &u, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	cr_assert(strstr(rep.message, "without the image's descriptor"), "%s", rep.message);
	/* A directory fd, or one opened read-only for a writable attach, is not an image. */
	{
		int dir = open("/var/tmp", O_RDONLY | O_DIRECTORY);
		int ro = open(path, O_RDONLY);

		control_server_handle(&usb_control_ops, &u, &req, dir, sizeof(req), &rep);
		cr_assert_eq(rep.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
		cr_assert(strstr(rep.message, "not a regular file"), "%s", rep.message);
		control_server_handle(&usb_control_ops, &u, &req, ro, sizeof(req), &rep);
		cr_assert_eq(rep.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
		cr_assert(strstr(rep.message, "not open for reading and writing"), "%s", rep.message);
		close(dir);
		close(ro);
	}
	control_server_handle(&usb_control_ops, &u, &req, fd, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_DEVICE_DEAD);
	control_request_simple(&req, CONTROL_USB_DETACH, 17);
	control_server_handle(&usb_control_ops, &u, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_NO_SUCH_PORT);
	control_request_simple(&req, CONTROL_USB_LIST, 0);
	control_server_handle(&usb_control_ops, &u, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_DEVICE_DEAD);
	close(fd);
	unlink(path);
}

/*
 * A controller that died while the VMM set it up never said how many ports
 * it has: `usb list` must say it is dead, not list nothing (seen in CI,
 * when vmm_run.sh's kill came before the setup had finished).
 */
Test(usb_control, a_controller_dead_before_its_ports_were_known_lists_as_dead)
{
	struct device_process dev = { .name = "xhci", .pid = -1, .req_sock = -1, .evt_sock = -1,
				      .dead = true, .kmsg_fd = -1 };
	struct usb_control u = { .dev = &dev, .nports = 0, .broker_sock = -1 };
	struct control_request req;
	struct control_reply rep;

	pthread_mutex_init(&dev.lock, NULL);
	control_request_simple(&req, CONTROL_USB_LIST, 0);
	control_server_handle(&usb_control_ops, &u, &req, -1, sizeof(req), &rep);
	cr_assert_eq(rep.status, SVMM_E_DEVICE_DEAD);
	cr_assert_eq(rep.count, 0);
}

static void sock_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/var/tmp/svmm-test-ctl-%d-%s.sock", (int)getpid(), tag);
	unlink(buf);
}

static int client(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	strcpy(a.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
	return fd;
}

/* Runs the server's poll loop until fd has a reply to read. */
static void pump(struct control_server *cs, int fd)
{
	for (int i = 0; i < 20; i++) {
		struct pollfd p[1 + CONTROL_SERVER_MAX_CLIENTS], c = { .fd = fd, .events = POLLIN };
		size_t n = control_server_pollfds(cs, p, 1 + CONTROL_SERVER_MAX_CLIENTS);

		if (poll(&c, 1, 0) == 1)
			return;
		poll(p, n, 100);
		control_server_service(cs, p, n);
	}
}

Test(control_server, serves_clients_in_turn_and_survives_garbage)
{
	struct control_server cs;
	struct control_request req;
	struct control_reply rep;
	char path[108], err[256];
	struct stat st;
	uint8_t big[sizeof(req) + 64] = { 0 };
	int fd;

	calls_list = 0;
	sock_path(path, sizeof(path), "serve");
	cr_assert_eq(control_server_open(&cs, path, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	fd = client(path);
	cr_assert_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	pump(&cs, fd);
	cr_assert_eq(recv(fd, &rep, sizeof(rep), 0), (ssize_t)sizeof(rep));
	cr_assert_eq(rep.status, SVMM_E_INVALID);
	close(fd);

	fd = client(path);
	close(fd);	/* a client that leaves without asking */

	for (int i = 0; i < 3; i++) {
		fd = client(path);
		control_request_simple(&req, CONTROL_USB_LIST, 0);
		cr_assert_eq(send(fd, &req, sizeof(req), 0), (ssize_t)sizeof(req));
		pump(&cs, fd);
		cr_assert_eq(recv(fd, &rep, sizeof(rep), 0), (ssize_t)sizeof(rep));
		cr_assert_eq(rep.status, SVMM_OK);
		cr_assert_eq(rep.ports_total, 16);
		close(fd);
	}
	cr_assert_eq(calls_list, 3);
	control_server_close(&cs);
	cr_assert_lt(stat(path, &st), 0, "the socket file is removed");
}

/*
 * An empty message reads like a client that left, but a descriptor can come
 * with it: the VMM must close that too, or anyone who can reach the socket
 * fills its descriptor table (fuzz-control found it:
 * tests/fuzz/corpus/control/bug-empty-request-with-fd).
 */
Test(control_server, a_descriptor_with_an_empty_message_is_closed)
{
	struct control_server cs;
	char path[108], err[256], c;
	int fd, p[2];

	sock_path(path, sizeof(path), "emptyfd");
	cr_assert_eq(control_server_open(&cs, path, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	fd = client(path);
	cr_assert_eq(fdpass_send(fd, "", 0, &p[1], 1), 0);
	close(p[1]);
	pump(&cs, fd);
	close(fd);
	cr_assert_eq(read(p[0], &c, 1), 0, "the VMM still holds the descriptor");
	close(p[0]);
	control_server_close(&cs);
}

Test(control_server, refuses_a_live_path_replaces_a_stale_one_keeps_other_files)
{
	struct control_server a, b;
	char path[108], err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int stale, f;

	sock_path(path, sizeof(path), "live");
	cr_assert_eq(control_server_open(&a, path, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(control_server_open(&b, path, &fake_ops, NULL, err, sizeof(err)), -EADDRINUSE);
	cr_assert(strstr(err, "in use"), "%s", err);
	cr_assert_eq(stat(path, &st), 0, "the live VM keeps its socket");
	control_server_close(&a);

	/* A socket file nobody listens on. */
	strcpy(sa.sun_path, path);
	stale = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_eq(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);
	cr_assert_eq(control_server_open(&a, path, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	control_server_close(&a);

	f = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(f, 0);
	close(f);
	cr_assert_eq(control_server_open(&a, path, &fake_ops, NULL, err, sizeof(err)), -EEXIST);
	cr_assert(strstr(err, "not a socket"), "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "a regular file is never removed");
	unlink(path);
}

/* One request with fds attached through the live server; the reply's status and message. */
static uint32_t ask_with_fds(struct control_server *cs, const char *path,
			     const struct control_request *req, const int *fds, size_t nfds,
			     struct control_reply *rep)
{
	int fd = client(path);

	cr_assert_eq(fdpass_send(fd, req, sizeof(*req), fds, nfds), 0);
	pump(cs, fd);
	cr_assert_eq(recv(fd, rep, sizeof(*rep), 0), (ssize_t)sizeof(*rep));
	close(fd);
	return rep->status;
}

/*
 * Only an image attach takes a descriptor, and only one that is a regular
 * file or block device: any other never enters the VMM (a close() of a file
 * on the sender's FUSE mount could hang it), which the lock probe shows.
 */
Test(control_server, only_an_image_attach_brings_a_descriptor_in)
{
	struct control_server cs;
	struct control_request req;
	struct control_reply rep;
	char path[108], err[256];
	int probe = lock_probe_open(), pipefd[2], three[3];

	sock_path(path, sizeof(path), "fds");
	cr_assert_eq(control_server_open(&cs, path, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	control_request_simple(&req, CONTROL_USB_LIST, 0);
	cr_assert_eq(ask_with_fds(&cs, path, &req, &probe, 1, &rep), SVMM_E_INVALID);
	cr_assert(lock_probe_held(probe), "the VMM installed and closed a list request's descriptor");

	cr_assert_eq(control_request_attach(&req, CONTROL_TARGET_IMAGE, 0, "disk.img"), 0);
	three[0] = three[1] = three[2] = probe;
	cr_assert_eq(ask_with_fds(&cs, path, &req, three, 3, &rep), SVMM_E_INVALID);
	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(ask_with_fds(&cs, path, &req, &pipefd[1], 1, &rep), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(rep.message, "not a regular file"), "%s", rep.message);
	/* The image itself gets through. */
	cr_assert_eq(ask_with_fds(&cs, path, &req, &probe, 1, &rep), SVMM_OK, "%s", rep.message);
	cr_assert_eq(rep.port, 3);
	close(pipefd[0]);
	close(pipefd[1]);
	close(probe);
	control_server_close(&cs);
}
