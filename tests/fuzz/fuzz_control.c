/*
 * libFuzzer target: the control protocol, both ends a peer reaches.
 *   - The VMM's: a request through the real control socket (a SOCK_SEQPACKET
 *     socket at a path, as `svmm run` opens it): control_server_service
 *     accepts, receives with descriptors, decodes (control_server_handle)
 *     and answers, for anyone who can reach the socket.
 *   - The CLI's: control_reply_decode(), what `svmm usb` accepts from the
 *     socket it was pointed at.
 *
 * Input: byte 0 picks the direction and the ancillary facts, the rest is
 * the message (cut or zero-padded to its size unless bit 1 says keep the
 * length as given, so a wrong size is reached too):
 *   bit 0      0: request to the VMM, 1: reply to the CLI
 *   bit 1      the message is the input as is, whatever its length
 *   bits 2-3   request: descriptors sent with it (0..3)
 *   bits 4-6   reply: the type of the request the CLI sent (0..7)
 *
 * Invariants beyond "no crash":
 *   - every descriptor sent with a request is closed once the VMM has
 *     served it, whether it took the request or not;
 *   - a request reaches the VMM's ops only if it is the canonical encoding
 *     of what control_request_attach/_simple would build from the decoded
 *     fields (decode(bytes) == encode(decode(bytes))), an image attach with
 *     an open descriptor, anything else with none;
 *   - whatever the VMM answers, refused or not, a CLI that sent a request
 *     of that type accepts the reply;
 *   - an accepted reply has a terminated message, a known status and at
 *     most CONTROL_LIST_MAX entries.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/control_protocol.h"
#include "vmm/control_server.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_wire.h"
#include "common/log.h"

struct seen {
	int calls;
	struct control_request req;
	int image_fd;
};

static void record(struct seen *s, const struct control_request *req, int image_fd)
{
	s->calls++;
	s->req = *req;
	s->image_fd = image_fd;
}

static void on_attach(void *opaque, const struct control_request *req, int image_fd,
		      struct control_reply *rep)
{
	(void)rep;
	FUZZ_CHECK(image_fd < 0 || fcntl(image_fd, F_GETFD) >= 0);
	record(opaque, req, image_fd);
}

static void on_detach(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	record(opaque, req, -1);
	control_reply_error(rep, SVMM_E_NO_SUCH_PORT, "port %u is empty", req->port);
}

static void on_other(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	(void)rep;
	record(opaque, req, -1);
}

static const struct control_ops ops = {
	.attach = on_attach,
	.detach = on_detach,
	.list = on_other,
	.stop = on_other,
};

/* The request control_request_attach/_simple would build from req's fields. */
static void encode_again(const struct control_request *req, struct control_request *out)
{
	if (req->type == CONTROL_USB_ATTACH)
		FUZZ_CHECK(control_request_attach(out, req->target, req->flags, req->path) == 0);
	else
		control_request_simple(out, req->type, req->port);
}

static void check_reply(const struct control_reply *rep)
{
	FUZZ_CHECK(memchr(rep->message, '\0', sizeof(rep->message)) != NULL);
	FUZZ_CHECK(rep->count <= CONTROL_LIST_MAX);
	FUZZ_CHECK(strcmp(svmm_status_name(rep->status), "?") != 0);
}

static struct control_server server;
static struct seen seen;
static char server_path[108];

static void close_server(void)
{
	control_server_close(&server);
}

/* The VMM's socket, opened at the first request (fuzz_wire.c has the process's LLVMFuzzerInitialize). */
static void open_server(void)
{
	static bool open;
	const char *dir = getenv("TMPDIR");
	char err[256];

	if (open)
		return;
	log_set_level(LOG_LEVEL_ERROR);	/* each refusal is a warning: millions of them are noise */
	snprintf(server_path, sizeof(server_path), "%s/svmm-fuzz-control-%d.sock",
		 dir && *dir ? dir : "/var/tmp", (int)getpid());
	FUZZ_CHECK(control_server_open(&server, server_path, &ops, &seen, err, sizeof(err)) == 0);
	atexit(close_server);
	open = true;
}

static int connect_client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	FUZZ_CHECK(fd >= 0);
	memcpy(a.sun_path, server_path, strlen(server_path) + 1);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* One turn of the VMM's service loop: what is ready within timeout_ms is served. */
static void serve(int timeout_ms)
{
	struct pollfd p[1 + CONTROL_SERVER_MAX_CLIENTS];
	size_t n = control_server_pollfds(&server, p, 1 + CONTROL_SERVER_MAX_CLIENTS);

	poll(p, n, timeout_ms);
	control_server_service(&server, p, n);
}

/* Turns the loop until the client has its reply or was hung up on. */
static void pump(int client)
{
	for (int i = 0; i < 8; i++) {
		struct pollfd c = { .fd = client, .events = POLLIN };

		if (poll(&c, 1, 0) == 1)
			return;
		serve(10);
	}
}

static void fuzz_request(const uint8_t *msg, size_t len, size_t nfds)
{
	static struct control_reply rep, decoded;
	struct control_request again;
	const char *why = NULL;
	uint16_t type = 0;
	int client;
	ssize_t n;

	open_server();
	memset(&seen, 0, sizeof(seen));
	seen.image_fd = -1;
	client = connect_client();
	if (fuzz_wire_send_on(&fuzz_wire, client, msg, len, nfds))
		pump(client);
	n = recv(client, &rep, sizeof(rep), MSG_DONTWAIT);
	close(client);
	serve(0);	/* the VMM sees the client go, if it kept it */
	FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
	FUZZ_CHECK(seen.calls <= 1);
	if (seen.calls) {
		FUZZ_CHECK(len == sizeof(struct control_request));
		FUZZ_CHECK(memcmp(&seen.req, msg, sizeof(seen.req)) == 0);
		FUZZ_CHECK(seen.req.path_len < CONTROL_PATH_MAX);
		FUZZ_CHECK(strlen(seen.req.path) == seen.req.path_len);
		FUZZ_CHECK(control_request_fds_expected(&seen.req) == nfds);
		FUZZ_CHECK((seen.image_fd >= 0) == (nfds == 1));
		encode_again(&seen.req, &again);
		FUZZ_CHECK(memcmp(&again, &seen.req, sizeof(again)) == 0);
		FUZZ_CHECK(n == sizeof(rep) && rep.type == seen.req.type);
	}
	if (n != sizeof(rep))
		return;
	/*
	 * Refused before any handler: malformed, or an image that is no regular
	 * file or block device (the wire's descriptors are pipes) or is on FUSE.
	 */
	if (!seen.calls)
		FUZZ_CHECK(rep.status == SVMM_E_INVALID ||
			   (rep.status == SVMM_E_FAILED_TO_OPEN_DEVICE && nfds == 1));
	/* The CLI reads what the VMM answered: it must take it, as a reply to its own type. */
	if (len >= 4)
		memcpy(&type, msg + 2, sizeof(type));
	if (type > 0 && type < CONTROL_TYPE_END) {
		FUZZ_CHECK(control_reply_decode(&rep, sizeof(rep), type, &decoded, &why) == 0);
		check_reply(&decoded);
	}
}

static void fuzz_reply(const uint8_t *msg, size_t len, enum control_type expect)
{
	static struct control_reply out;
	const char *why = NULL;
	int err = control_reply_decode(msg, len, expect, &out, &why);

	if (err) {
		FUZZ_CHECK(err < 0 && why != NULL);
		return;
	}
	FUZZ_CHECK(len == sizeof(out) && memcmp(&out, msg, len) == 0);
	FUZZ_CHECK(out.type == expect);
	check_reply(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[sizeof(struct control_request) + 16];
	uint8_t sel;
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	len = fuzz_message(data + 1, size - 1, sel & 2,
			   sel & 1 ? sizeof(struct control_reply) : sizeof(struct control_request),
			   msg, sizeof(msg));
	if (sel & 1)
		fuzz_reply(msg, len, (enum control_type)((sel >> 4) & 7));
	else
		fuzz_request(msg, len, (sel >> 2) & 3);
	return 0;
}
