/* SPDX-License-Identifier: MIT */
/* The broker protocol decoder: well-formed messages pass, anything else is refused, fds sent to the broker are closed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/broker_protocol.h"
#include "common/fdpass.h"
#include "tests/unit/lock_probe.h"

static struct broker_request open_req(const char *path)
{
	struct broker_request r;

	cr_assert_eq(broker_request_open(&r, 7, BROKER_TARGET_NODE, path), 0);
	return r;
}

static int decode_req(const struct broker_request *r, size_t nfds, const char **why)
{
	struct broker_request out;

	return broker_request_decode(r, sizeof(*r), nfds, &out, why);
}

static struct broker_reply ok_reply(void)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002");
	struct broker_reply p;

	broker_reply_init(&p, &r);
	p.handle = 3;
	p.flags = BROKER_FLAG_MAY_DETACH;
	p.device.interfaces = 0x3;
	p.device.interface_class[0] = 8;
	p.allowed = 0x3;
	return p;
}

static int decode_rep(const struct broker_reply *p, size_t nfds, const char **why)
{
	struct broker_reply out;

	return broker_reply_decode(p, sizeof(*p), nfds, BROKER_OPEN, 7, &out, why);
}

static void seqpair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

Test(broker_protocol, requests_round_trip)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002"), out;
	const char *why = NULL;

	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), 0, "%s", why);
	cr_assert_str_eq(out.path, "/dev/bus/usb/001/002");
	cr_assert_eq(out.id, 7);
	cr_assert_eq(broker_request_open(&r, 1, BROKER_TARGET_ID, "1050:0407:ABC"), 0);
	cr_assert_eq(decode_req(&r, 0, NULL), 0);
	cr_assert_eq(broker_request_release(&r, 2, 9, 0), 0);
	cr_assert_eq(decode_req(&r, 0, NULL), 0);
	cr_assert_str_eq(broker_type_name(BROKER_RELEASE), "RELEASE");
	cr_assert_str_eq(svmm_status_name(SVMM_E_FAILED_TO_OPEN_DEVICE), "failed_to_open_device");
	cr_assert_str_eq(svmm_status_name(SVMM_E_NO_SUCH_DEVICE), "no_such_device");
	cr_assert_str_eq(svmm_status_name(99), "?");
}

Test(broker_protocol, builders_refuse_what_cannot_be_sent)
{
	struct broker_request r;
	char longpath[BROKER_PATH_MAX + 1];

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_eq(broker_request_open(&r, 1, BROKER_TARGET_NODE, ""), -EINVAL);
	cr_assert_eq(broker_request_open(&r, 1, 3, "/x"), -EINVAL);
	cr_assert_eq(broker_request_open(&r, 1, BROKER_TARGET_NODE, longpath), -ENAMETOOLONG);
	cr_assert_eq(broker_request_release(&r, 1, 0, 0), -EINVAL);
}

Test(broker_protocol, malformed_requests_are_refused)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002"), out;
	unsigned char big[sizeof(r) + 1] = { 0 };
	const char *why = NULL;

	cr_assert_eq(broker_request_decode(&r, sizeof(r) - 1, 0, &out, &why), -EMSGSIZE);
	memcpy(big, &r, sizeof(r));
	cr_assert_eq(broker_request_decode(big, sizeof(big), 0, &out, NULL), -EMSGSIZE);
	cr_assert_eq(broker_request_decode(&r, 0, 0, &out, NULL), -EMSGSIZE);

	r.version = 2;
	cr_assert_eq(decode_req(&r, 0, NULL), -EPROTO);
	r = open_req("/x");
	r.type = 0;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r.type = BROKER_TYPE_END;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r = open_req("/x");
	r.flags = 0x80;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r = open_req("/x");
	r.path_len = BROKER_PATH_MAX;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r = open_req("/x");
	r.path[100] = 'y';	/* hidden bytes after the path */
	cr_assert_eq(decode_req(&r, 0, &why), -EBADMSG);
	cr_assert_str_eq(why, "bytes after the path are not zero");
	r = open_req("/x");
	r.path_len = 3;		/* the NUL is inside the declared path */
	cr_assert_eq(decode_req(&r, 0, &why), -EBADMSG);
	cr_assert_str_eq(why, "path contains a NUL byte");
	r = open_req("/x");
	r.target = 0;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r.target = 3;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r = open_req("/x");
	r.handle = 4;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	r = open_req("/x");
	r.path_len = 0;
	r.path[0] = '\0';
	r.path[1] = '\0';
	cr_assert_eq(decode_req(&r, 0, &why), -EBADMSG);
	cr_assert_str_eq(why, "open without a path");
	cr_assert_eq(broker_request_release(&r, 1, 5, 0), 0);
	r.handle = 0;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
	cr_assert_eq(broker_request_release(&r, 1, 5, 0), 0);
	r.target = BROKER_TARGET_NODE;
	cr_assert_eq(decode_req(&r, 0, NULL), -EBADMSG);
}

Test(broker_protocol, a_descriptor_sent_to_the_broker_is_refused)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002");
	const char *why = NULL;

	cr_assert_eq(decode_req(&r, 1, &why), -EBADF);
	cr_assert_str_eq(why, "a descriptor was sent to the broker");
}

Test(broker_protocol, recv_closes_a_descriptor_sent_to_the_broker)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002"), got;
	const char *why = NULL;
	int sv[2], pipefd[2];
	char c;

	seqpair(sv);
	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(fdpass_send(sv[0], &r, sizeof(r), &pipefd[1], 1), 0);
	close(pipefd[1]);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), -EBADF);
	/* The broker closed the write end it was given: the pipe reads end-of-file. */
	cr_assert_eq(read(pipefd[0], &c, 1), 0);
	close(pipefd[0]);

	/* A good request after it still works, and the closed peer reads as 0. */
	cr_assert_eq(broker_request_send(sv[0], &r), 0);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), 1);
	close(sv[0]);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), 0);
	close(sv[1]);
}

Test(broker_protocol, recv_refuses_wrong_sizes_on_the_wire)
{
	unsigned char small[16] = { 1 }, big[sizeof(struct broker_request) + 64] = { 0 };
	struct broker_request got;
	const char *why = NULL;
	int sv[2];

	seqpair(sv);
	cr_assert_eq(fdpass_send(sv[0], small, sizeof(small), NULL, 0), 0);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), -EMSGSIZE);
	cr_assert_eq(fdpass_send(sv[0], big, sizeof(big), NULL, 0), 0);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
}

Test(broker_protocol, send_refuses_a_malformed_message)
{
	struct broker_request r = open_req("/x");
	struct broker_reply p = ok_reply();
	int sv[2];

	seqpair(sv);
	r.flags = 0x80;
	cr_assert_eq(broker_request_send(sv[0], &r), -EINVAL);
	/* A successful OPEN reply must carry its fd. */
	cr_assert_eq(broker_reply_send(sv[0], &p, -1), -EINVAL);
	close(sv[0]);
	close(sv[1]);
}

Test(broker_protocol, replies_are_checked)
{
	struct broker_reply p = ok_reply(), out;
	const char *why = NULL;

	cr_assert_eq(decode_rep(&p, 1, &why), 0, "%s", why);
	cr_assert_eq(decode_rep(&p, 0, &why), -EBADF);
	cr_assert_eq(broker_reply_decode(&p, sizeof(p), 1, BROKER_OPEN, 8, &out, &why), -EBADMSG);
	cr_assert_eq(broker_reply_decode(&p, sizeof(p), 1, BROKER_RELEASE, 7, &out, &why), -EBADMSG);
	cr_assert_eq(broker_reply_decode(&p, sizeof(p) - 4, 1, BROKER_OPEN, 7, &out, &why), -EMSGSIZE);

	p = ok_reply();
	p.handle = 0;
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.flags = 0x80;
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.allowed = 0x4;	/* an interface the device does not have */
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	memset(p.reason, 'x', sizeof(p.reason));
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	memset(p.device.serial, 'x', sizeof(p.device.serial));
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.device.port_path[5] = 'x';	/* after the NUL */
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.device.speed = 6;
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.device.interface_class[5] = 3;	/* class of an absent interface */
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADMSG);
	p = ok_reply();
	p.status = SVMM_STATUS_END;
	cr_assert_eq(decode_rep(&p, 0, NULL), -EBADMSG);

	/* A refusal carries no fd, no grant, no handle. */
	p = ok_reply();
	p.handle = 0;
	p.flags = 0;
	p.allowed = 0;
	broker_reply_error(&p, SVMM_E_FAILED_TO_OPEN_DEVICE, "refused by %s", "x:1");
	cr_assert_eq(decode_rep(&p, 0, &why), 0, "%s", why);
	cr_assert_eq(decode_rep(&p, 1, NULL), -EBADF);
	p.flags = BROKER_FLAG_RESTRICTED;
	cr_assert_eq(decode_rep(&p, 0, NULL), -EBADMSG);
}

Test(broker_protocol, reply_transport_passes_the_fd_and_closes_it_on_refusal)
{
	struct broker_reply p = ok_reply(), got;
	const char *why = NULL;
	int sv[2], fd = -1, devnull;

	seqpair(sv);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(devnull, 0);
	cr_assert_eq(broker_reply_send(sv[1], &p, devnull), 0);
	cr_assert_eq(broker_reply_recv(sv[0], BROKER_OPEN, 7, &got, &fd, &why), 1, "%s", why);
	cr_assert_geq(fd, 0);
	cr_assert_eq(got.handle, 3);
	close(fd);

	/* A reply to another request is refused and its fd closed, not handed back. */
	cr_assert_eq(broker_reply_send(sv[1], &p, devnull), 0);
	cr_assert_eq(broker_reply_recv(sv[0], BROKER_OPEN, 8, &got, &fd, &why), -EBADMSG);
	cr_assert_eq(fd, -1);
	close(devnull);
	close(sv[1]);
	cr_assert_eq(broker_reply_recv(sv[0], BROKER_OPEN, 7, &got, &fd, &why), 0);
	close(sv[0]);
}

/*
 * What item 1 of the security review was about: the broker used to install a
 * sent descriptor and close() it, and a close() of a file on the sender's FUSE
 * mount waits for a FLUSH answer forever. The lock probe shows any close().
 */
Test(broker_protocol, a_descriptor_sent_to_the_broker_is_never_installed)
{
	struct broker_request r = open_req("/dev/bus/usb/001/002"), got;
	int sv[2], probe = lock_probe_open();
	const char *why = NULL;

	seqpair(sv);
	cr_assert_eq(fdpass_send(sv[0], &r, sizeof(r), &probe, 1), 0);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), -EBADF);
	cr_assert_str_eq(why, "a descriptor was sent to the broker");
	cr_assert(lock_probe_held(probe), "the broker installed and closed the descriptor");
	/* Four of them, and a malformed message with one: the same. */
	int four[4] = { probe, probe, probe, probe };
	cr_assert_eq(fdpass_send(sv[0], &r, sizeof(r), four, 4), 0);
	cr_assert_eq(broker_request_recv(sv[1], &got, &why), -EBADF);
	cr_assert_eq(fdpass_send(sv[0], "junk", 4, &probe, 1), 0);
	cr_assert_lt(broker_request_recv(sv[1], &got, &why), 0);
	cr_assert(lock_probe_held(probe), "the broker installed and closed a descriptor");
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

Test(broker_protocol, only_a_granted_open_brings_its_descriptor_in)
{
	struct broker_reply p = ok_reply(), got;
	const char *why = NULL;
	int sv[2], fd = 5, probe = lock_probe_open();

	seqpair(sv);
	/* A refusal with a descriptor attached (sent below the protocol layer). */
	p.handle = 0;
	p.flags = 0;
	p.allowed = 0;
	broker_reply_error(&p, SVMM_E_FAILED_TO_OPEN_DEVICE, "no");
	cr_assert_eq(fdpass_send(sv[1], &p, sizeof(p), &probe, 1), 0);
	cr_assert_eq(broker_reply_recv(sv[0], BROKER_OPEN, 7, &got, &fd, &why), -EBADF);
	cr_assert_eq(fd, -1);
	cr_assert(lock_probe_held(probe), "the VMM installed and closed the descriptor of a refusal");
	/* A grant whose descriptor is not a device node: refused, and not a usbfs node to pass on. */
	p = ok_reply();
	cr_assert_eq(fdpass_send(sv[1], &p, sizeof(p), &probe, 1), 0);
	cr_assert_eq(broker_reply_recv(sv[0], BROKER_OPEN, 7, &got, &fd, &why), -EBADF);
	cr_assert_str_eq(why, "open reply's descriptor is not a device node");
	cr_assert_eq(fd, -1);
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

Test(broker_protocol, a_name_is_checked_like_a_path_and_more)
{
	struct broker_request r, out;
	const char *why = NULL;

	cr_assert_eq(broker_request_name(&r, 1, "build-vm_2.x"), 0);
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), 0, "%s", why);
	cr_assert_eq(broker_request_name(&r, 1, ""), -EINVAL);
	cr_assert_eq(broker_request_name(&r, 1, "a b"), -EINVAL);
	cr_assert_eq(broker_request_name(&r, 1, "../etc"), -EINVAL);
	cr_assert_eq(broker_request_name(&r, 1, "x\n"), -EINVAL);
	/* Built by hand, past the builder: the decoder refuses the same. */
	cr_assert_eq(broker_request_name(&r, 1, "ok"), 0);
	r.path[0] = '/';
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	memset(r.path, 'a', 65);
	r.path_len = 65;
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	cr_assert_eq(broker_request_name(&r, 1, "ok"), 0);
	r.handle = 3;
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	/* BACK and GIVE go to the VMM only: a requester cannot send one. */
	cr_assert_eq(broker_request_name(&r, 1, "ok"), 0);
	r.type = BROKER_GIVE;
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	r.type = BROKER_BACK;
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
}
