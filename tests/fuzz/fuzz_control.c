/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the control protocol, both decoders a peer reaches.
 *   - The VMM's: control_server_handle(), what `svmm run` does with a
 *     request from anyone who can reach its socket.
 *   - The CLI's: control_reply_decode(), what `svmm usb` accepts from the
 *     socket it was pointed at.
 *
 * Input: byte 0 picks the direction and the ancillary facts, the rest is
 * the message (cut or zero-padded to its size unless bit 1 says keep the
 * length as given, so a wrong size is reached too):
 *   bit 0      0: request to the VMM, 1: reply to the CLI
 *   bit 1      the message is the input as is, whatever its length
 *   bit 2      request: a descriptor came with it
 *   bits 4-6   reply: the type of the request the CLI sent (0..7)
 *
 * Invariants beyond "no crash":
 *   - a request is handed to the VMM's ops only if it is the canonical
 *     encoding of what control_request_attach/_simple would build from
 *     the decoded fields (decode(bytes) == encode(decode(bytes)));
 *   - whatever the VMM answers, refused or not, a CLI that sent a request
 *     of that type accepts the reply;
 *   - an accepted reply has a terminated message, a known status and at
 *     most CONTROL_LIST_MAX entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_protocol.h"
#include "control_server.h"
#include "fuzz_check.h"
#include "log.h"

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
	record(opaque, req, image_fd);
}

static void on_detach(void *opaque, const struct control_request *req, struct control_reply *rep)
{
	record(opaque, req, -1);
	control_reply_error(rep, CONTROL_E_NO_SUCH_PORT, "port %u is empty", req->port);
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
	FUZZ_CHECK(strcmp(control_status_name(rep->status), "?") != 0);
}

static void fuzz_request(const uint8_t *msg, size_t len, int has_fd)
{
	static struct control_reply rep, decoded;
	struct control_request again;
	struct seen seen = { 0, { 0 }, -1 };
	const char *why = NULL;
	int image_fd = has_fd ? 42 : -1;	/* never used as a descriptor: the ops only record it */

	control_server_handle(&ops, &seen, msg, image_fd, len, &rep);
	FUZZ_CHECK(seen.calls <= 1);
	if (seen.calls) {
		FUZZ_CHECK(len == sizeof(struct control_request));
		FUZZ_CHECK(memcmp(&seen.req, msg, sizeof(seen.req)) == 0);
		FUZZ_CHECK(seen.req.path_len < CONTROL_PATH_MAX);
		FUZZ_CHECK(strlen(seen.req.path) == seen.req.path_len);
		FUZZ_CHECK(control_request_fds_expected(&seen.req) == (has_fd ? 1u : 0u));
		FUZZ_CHECK(seen.image_fd == (seen.req.type == CONTROL_USB_ATTACH ? image_fd : -1));
		encode_again(&seen.req, &again);
		FUZZ_CHECK(memcmp(&again, &seen.req, sizeof(again)) == 0);
		FUZZ_CHECK(rep.type == seen.req.type);
	} else {
		FUZZ_CHECK(rep.status == CONTROL_E_INVALID);
	}
	/* The CLI reads what the VMM answered: it must take it, as a reply to its own type. */
	if (rep.type != 0) {
		FUZZ_CHECK(control_reply_decode(&rep, sizeof(rep), rep.type, &decoded, &why) == 0);
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LEVEL_ERROR);	/* each refusal is a warning: millions of them are noise */
	return 0;
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
		fuzz_request(msg, len, sel & 4);
	return 0;
}
