/* SPDX-License-Identifier: MIT */
/* The device protocol decoder and transport: well-formed messages pass, anything else is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/device_protocol.h"
#include "common/fdpass.h"
#include "tests/unit/lock_probe.h"

static int decode(const struct devproto_msg *m, size_t nfds, const char **why)
{
	struct devproto_msg out;

	return devproto_decode(m, sizeof(*m), nfds, &out, why);
}

static void socketpair_seq(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

Test(devproto, every_valid_type_decodes_and_round_trips)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_BAR_WRITE, 7), out;
	const char *why = NULL;

	m.u.bar.size = 4;
	m.u.bar.offset = 0x40;
	m.u.bar.value = 0xdeadbeef;
	cr_assert_eq(devproto_decode(&m, sizeof(m), 0, &out, &why), 0, "%s", why);
	cr_assert_eq(out.seq, 7);
	cr_assert_eq(out.u.bar.value, 0xdeadbeef);

	m = devproto_msg_init(DEVPROTO_SHUTDOWN, 1);
	cr_assert_eq(decode(&m, 0, NULL), 0);
	m = devproto_msg_init(DEVPROTO_HELLO, 1);
	m.u.hello.version = DEVPROTO_VERSION;
	cr_assert_eq(decode(&m, 0, NULL), 0);
	m = devproto_msg_init(DEVPROTO_MEM_REGION, 1);
	m.u.mem.gpa = 0;
	m.u.mem.size = 512ull << 20;
	cr_assert_eq(decode(&m, 1, NULL), 0);
	m = devproto_msg_init(DEVPROTO_REPLY, 1);
	m.u.reply.status = SVMM_E_NO_AVAILABLE_PORT;
	cr_assert_eq(decode(&m, 0, NULL), 0);
}

Test(devproto, wrong_size_is_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 1), out;
	unsigned char big[DEVPROTO_MSG_SIZE + 1] = { 0 };
	const char *why = NULL;

	cr_assert_eq(devproto_decode(&m, sizeof(m) - 1, 0, &out, &why), -EMSGSIZE);
	cr_assert_not_null(why);
	memcpy(big, &m, sizeof(m));
	cr_assert_eq(devproto_decode(big, sizeof(big), 0, &out, NULL), -EMSGSIZE);
	cr_assert_eq(devproto_decode(&m, 0, 0, &out, NULL), -EMSGSIZE);
}

Test(devproto, wrong_version_and_unknown_types_are_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 1);

	m.version = DEVPROTO_VERSION + 1;
	cr_assert_eq(decode(&m, 0, NULL), -EPROTO);
	m = devproto_msg_init(DEVPROTO_SHUTDOWN, 1);
	m.type = 0;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.type = DEVPROTO_TYPE_END;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.type = 0xffff;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_HELLO, 1);
	m.u.hello.version = 99;
	cr_assert_eq(decode(&m, 0, NULL), -EPROTO);
}

Test(devproto, fd_count_must_match_the_type)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_IRQ_FD, 1);
	const char *why = NULL;

	cr_assert_eq(decode(&m, 0, &why), -EBADF);
	cr_assert_str_eq(why, "missing file descriptor");
	cr_assert_eq(decode(&m, 2, NULL), -EBADF);
	m = devproto_msg_init(DEVPROTO_BAR_READ, 1);
	m.u.bar.size = 4;
	cr_assert_eq(decode(&m, 1, &why), -EBADF);
	cr_assert_str_eq(why, "unexpected file descriptor");
}

Test(devproto, config_accesses_out_of_range_are_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_WRITE, 1);

	m.u.cfg.size = 3;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.cfg.size = 8;	/* config space has no 64-bit accesses */
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.cfg.size = 4;
	m.u.cfg.offset = 2;	/* unaligned */
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.cfg.offset = DEVPROTO_CFG_SPACE_SIZE;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.cfg.offset = DEVPROTO_CFG_SPACE_SIZE - 4;
	cr_assert_eq(decode(&m, 0, NULL), 0);
	m.u.cfg.size = 1;
	m.u.cfg.value = 0x100;	/* wider than a byte */
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_CFG_READ, 1);
	m.u.cfg.size = 4;
	m.u.cfg.value = 1;	/* a read carries no value */
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
}

Test(devproto, bar_accesses_out_of_range_are_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_BAR_READ, 1);

	m.u.bar.size = 8;
	m.u.bar.offset = 8;
	cr_assert_eq(decode(&m, 0, NULL), 0);
	m.u.bar.bar = 1;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.bar.bar = 0;
	m.u.bar.offset = 4;	/* 8-byte access at a 4-byte boundary */
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.bar.offset = DEVPROTO_BAR_MAX_SIZE;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.bar.offset = UINT64_MAX - 7;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.bar.offset = 0;
	m.u.bar.size = 16;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
}

Test(devproto, memory_regions_must_be_sane)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_MEM_REGION, 1);

	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);	/* size 0 */
	m.u.mem.size = 4096;
	m.u.mem.gpa = 100;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);	/* unaligned */
	m.u.mem.gpa = UINT64_MAX & ~4095ull;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);	/* wraps */
	m.u.mem.gpa = 1ull << 52;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);	/* beyond physical addresses */
	m.u.mem.gpa = 0;
	m.u.mem.offset = UINT64_MAX & ~4095ull;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);	/* offset wraps */
}

Test(devproto, doorbell_values_only_with_their_flag)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 1);

	m.u.doorbell.index = 3;
	m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
	m.u.doorbell.value = 0x00010002;		/* stream 1 of endpoint 2 */
	cr_assert_eq(decode(&m, 1, NULL), 0);
	m.u.doorbell.flags = 0;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG, "a value that matches nothing");
	m.u.doorbell.value = 0;
	cr_assert_eq(decode(&m, 1, NULL), 0);
	m.u.doorbell.flags = 2;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG, "an unknown flag");
}

Test(devproto, ids_out_of_range_are_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 1);

	m.u.doorbell.index = DEVPROTO_MAX_DOORBELLS;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_IRQ_FD, 1);
	m.u.irq.vector = DEVPROTO_MAX_VECTORS;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.irq.vector = DEVPROTO_IRQ_INTX;
	cr_assert_eq(decode(&m, 1, NULL), 0);
	m = devproto_msg_init(DEVPROTO_USB_DETACH, 1);
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);	/* port 0 */
	m.u.port.port = DEVPROTO_MAX_PORTS + 1;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_USB_ATTACH, 1);
	m.u.attach.kind = 7;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.attach.kind = DEVPROTO_ATTACH_USBFS;
	m.u.attach.flags = 0x80;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.attach.flags = DEVPROTO_ATTACH_READONLY;	/* only images are read-only */
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.attach.flags = DEVPROTO_ATTACH_MAY_DETACH | DEVPROTO_ATTACH_RESTRICTED;
	m.u.attach.allowed_interfaces = 0x5;
	cr_assert_eq(decode(&m, 1, NULL), 0);
	m.u.attach.flags = DEVPROTO_ATTACH_MAY_DETACH;	/* a mask without RESTRICTED */
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.attach.kind = DEVPROTO_ATTACH_IMAGE;	/* usbfs flags on an image */
	m.u.attach.allowed_interfaces = 0;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_REPLY, 1);
	m.u.reply.status = SVMM_STATUS_END;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m = devproto_msg_init(DEVPROTO_MSIX_ROUTE, 1);
	m.u.msix.masked = 2;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
}

Test(devproto, reserved_and_trailing_bytes_must_be_zero)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_DETACH, 1);

	m.u.port.port = 3;
	cr_assert_eq(decode(&m, 0, NULL), 0);
	m.u.port.reserved = 1;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
	m.u.port.reserved = 0;
	m.u.raw[sizeof(m.u.raw) - 1] = 1;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG);
}

Test(devproto, send_refuses_what_the_decoder_refuses)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_BAR_READ, 1);
	int sv[2];

	socketpair_seq(sv);
	m.u.bar.size = 3;
	cr_assert_eq(devproto_send(sv[0], &m, -1), -EINVAL);
	m = devproto_msg_init(DEVPROTO_IRQ_FD, 1);
	cr_assert_eq(devproto_send(sv[0], &m, -1), -EINVAL);	/* fd missing */
	close(sv[0]);
	close(sv[1]);
}

Test(devproto, fd_travels_with_its_message)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_IRQ_FD, 5), got;
	int sv[2], pipefd[2], fd = -1;
	const char *why = NULL;
	char c = 0;

	socketpair_seq(sv);
	cr_assert_eq(pipe(pipefd), 0);
	m.u.irq.vector = 2;
	cr_assert_eq(devproto_send(sv[0], &m, pipefd[1]), 0);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, &why), 1, "%s", why);
	cr_assert_eq(got.u.irq.vector, 2);
	cr_assert_geq(fd, 0);
	/* The received fd is the pipe's write end: what goes in comes out. */
	cr_assert_eq(write(fd, "x", 1), 1);
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	cr_assert_eq(c, 'x');
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, &why), 0);	/* peer closed */
	close(sv[1]);
}

Test(devproto, unexpected_fd_is_closed_and_refused)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 1), got;
	int sv[2], pipefd[2], fd = 123;
	const char *why = NULL;
	char c;

	socketpair_seq(sv);
	cr_assert_eq(pipe(pipefd), 0);
	/* A SHUTDOWN with an fd attached, sent below the protocol layer. */
	cr_assert_eq(fdpass_send(sv[0], &m, sizeof(m), &pipefd[1], 1), 0);
	close(pipefd[1]);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, &why), -EBADF);
	cr_assert_eq(fd, -1);
	cr_assert_str_eq(why, "unexpected file descriptor");
	/* The receiver closed its copy: the pipe's last writer is gone, so read sees EOF. */
	cr_assert_eq(read(pipefd[0], &c, 1), 0);
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
}

Test(devproto, too_many_fds_are_all_closed)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_IRQ_FD, 1), got;
	int sv[2], pipefd[2], fds[3], fd;
	const char *why = NULL;
	char c;

	socketpair_seq(sv);
	cr_assert_eq(pipe(pipefd), 0);
	for (int i = 0; i < 3; i++)
		fds[i] = pipefd[1];
	cr_assert_eq(fdpass_send(sv[0], &m, sizeof(m), fds, 3), 0);
	close(pipefd[1]);
	cr_assert_lt(devproto_recv(sv[1], &got, &fd, &why), 0);
	cr_assert_eq(fd, -1);
	cr_assert_eq(read(pipefd[0], &c, 1), 0);	/* every copy closed */
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
}

Test(devproto, oversized_message_is_refused_with_its_fd_closed)
{
	unsigned char big[DEVPROTO_MSG_SIZE * 2] = { 0 };
	struct devproto_msg m = devproto_msg_init(DEVPROTO_IRQ_FD, 1), got;
	int sv[2], pipefd[2], fd;
	const char *why = NULL;
	char c;

	socketpair_seq(sv);
	cr_assert_eq(pipe(pipefd), 0);
	memcpy(big, &m, sizeof(m));
	cr_assert_eq(fdpass_send(sv[0], big, sizeof(big), &pipefd[1], 1), 0);
	close(pipefd[1]);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, &why), -EMSGSIZE);
	cr_assert_eq(read(pipefd[0], &c, 1), 0);
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
}

Test(devproto, malformed_message_with_fd_closes_the_fd)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_IRQ_FD, 1), got;
	int sv[2], pipefd[2], fd;
	char c;

	socketpair_seq(sv);
	cr_assert_eq(pipe(pipefd), 0);
	m.u.irq.vector = 1000;	/* out of range */
	cr_assert_eq(fdpass_send(sv[0], &m, sizeof(m), &pipefd[1], 1), 0);
	close(pipefd[1]);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, NULL), -EBADMSG);
	cr_assert_eq(read(pipefd[0], &c, 1), 0);
	cr_assert_eq(fd, -1);
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
}

Test(devproto, status_and_type_names)
{
	cr_assert_str_eq(svmm_status_name(SVMM_E_NO_AVAILABLE_PORT), "no_available_port");
	cr_assert_str_eq(svmm_status_name(SVMM_E_FAILED_TO_OPEN_DEVICE), "failed_to_open_device");
	cr_assert_str_eq(svmm_status_name(1000), "?");
	cr_assert_str_eq(devproto_type_name(DEVPROTO_BAR_WRITE), "BAR_WRITE");
	cr_assert_str_eq(devproto_type_name(0), "?");
}

Test(devproto, posted_writes_are_checked_like_writes)
{
	struct devproto_msg m = devproto_bar_msg(true, 0x2038, 4, 0x1000);

	m.type = DEVPROTO_BAR_WRITE_POSTED;
	cr_assert_eq(decode(&m, 0, NULL), 0);
	cr_assert_eq(decode(&m, 1, NULL), -EBADF, "a posted write carries no fd");
	m.u.bar.value = 1ull << 32;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG, "value wider than its size");
	m = devproto_bar_msg(true, 0x2039, 4, 0);
	m.type = DEVPROTO_BAR_WRITE_POSTED;
	cr_assert_eq(decode(&m, 0, NULL), -EBADMSG, "unaligned");
	cr_assert_str_eq(devproto_type_name(DEVPROTO_BAR_WRITE_POSTED), "BAR_WRITE_POSTED");
}

Test(devproto, register_mirror_needs_its_fd_and_page_size)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_REG_MIRROR, 3);

	m.u.mirror.size = DEVPROTO_MIRROR_SIZE;
	cr_assert_eq(decode(&m, 1, NULL), 0);
	cr_assert_eq(decode(&m, 0, NULL), -EBADF);
	m.u.mirror.size = 8192;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
	m.u.mirror.size = DEVPROTO_MIRROR_SIZE;
	m.u.mirror.reserved = 1;
	cr_assert_eq(decode(&m, 1, NULL), -EBADMSG);
}

/* A compromised device process must not make the VMM close() a file of its choosing (FUSE FLUSH). */
Test(devproto, a_receiver_that_takes_no_descriptor_never_installs_one)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_MEM_REGION, 1), got;
	int sv[2], probe = lock_probe_open(), fd = 5;
	const char *why = NULL;

	socketpair_seq(sv);
	m.u.mem.gpa = 0;
	m.u.mem.size = 4096;
	/* A type that does carry one, sent to the VMM, which takes none from its device. */
	cr_assert_eq(devproto_send(sv[0], &m, probe), 0);
	cr_assert_eq(devproto_recv(sv[1], &got, NULL, &why), -EBADF);
	cr_assert(lock_probe_held(probe), "the VMM installed and closed the device's descriptor");
	/* An event with one, the same. */
	m = devproto_msg_init(DEVPROTO_PORT_GONE, 2);
	m.u.port.port = 1;
	cr_assert_eq(fdpass_send(sv[0], &m, sizeof(m), &probe, 1), 0);
	cr_assert_eq(devproto_recv(sv[1], &got, NULL, &why), -EBADF);
	cr_assert(lock_probe_held(probe), "the VMM installed and closed an event's descriptor");
	/* The device side takes one at most: two are refused whole. */
	int two[2] = { probe, probe };
	m = devproto_msg_init(DEVPROTO_SHUTDOWN, 3);
	cr_assert_eq(fdpass_send(sv[0], &m, sizeof(m), two, 2), 0);
	cr_assert_eq(devproto_recv(sv[1], &got, &fd, &why), -EBADF);
	cr_assert_eq(fd, -1);
	/* And the socket still carries good messages. */
	cr_assert_eq(devproto_send(sv[0], &m, -1), 0);
	cr_assert_eq(devproto_recv(sv[1], &got, NULL, &why), 1, "%s", why);
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

/* The description an xHCI controller gives of itself (devices/xhci/process.c). */
static struct devproto_desc good_desc(void)
{
	return (struct devproto_desc){
		.bar_size = 0x10000, .db_offset = 0x3000, .db_count = 65, .db_stride = 4,
		.db_value_first = 1, .nvectors = 4, .nports = 16, .mirror_status = 0x44,
		.mirror_block_base = 0x2020, .mirror_block_stride = 32, .mirror_nblocks = 4,
		.posted_offset = 0, .posted_size = 0x10000,
		.flags = DEVPROTO_DESC_MIRROR_RULES | DEVPROTO_DESC_DB_PAGE,
	};
}

Test(devproto_desc, a_sane_description_and_a_bare_one_pass)
{
	struct devproto_desc d = good_desc();
	const char *why = NULL;

	cr_assert_eq(devproto_desc_check(&d, &why), 0, "%s", why);
	/* A function with a BAR and nothing else the VMM needs to know. */
	d = (struct devproto_desc){ .bar_size = 4096 };
	cr_assert_eq(devproto_desc_check(&d, &why), 0, "%s", why);
}

/* The i-th hostile change to a sane description, and what it tries; NULL past the last. */
static const char *spoil(unsigned int i, struct devproto_desc *d)
{
	switch (i) {
	case 0: d->bar_size = 0; return "a BAR of size 0";
	case 1: d->bar_size = 0x18000; return "a BAR size not a power of two";
	case 2: d->bar_size = 2u << 20; return "a BAR larger than the protocol allows";
	case 3: d->bar_size = 0x800; d->db_count = 0; d->db_offset = d->db_stride = 0;
		d->db_value_first = 0; d->flags = 0; d->mirror_status = 0; d->mirror_block_base = 0;
		d->mirror_block_stride = 0; d->mirror_nblocks = 0; d->posted_size = 0;
		return "a BAR smaller than a page";
	case 4: d->db_count = 257; return "more doorbells than the VMM's array";
	case 5: d->db_offset = 0xfffc; d->flags &= ~DEVPROTO_DESC_DB_PAGE; return "doorbells past the BAR's end";
	case 6: d->db_offset = 0xfffffffcu; d->db_stride = 4096; d->db_count = 256;
		d->flags &= ~DEVPROTO_DESC_DB_PAGE; return "doorbells whose end wraps 32 bits";
	case 7: d->db_offset = 0x3002; d->flags &= ~DEVPROTO_DESC_DB_PAGE; return "unaligned doorbells";
	case 8: d->db_stride = 0; return "a doorbell stride of 0";
	case 9: d->db_stride = 12; return "a doorbell stride not a power of two";
	case 10: d->db_stride = 8192; return "a doorbell stride past a page";
	case 11: d->db_value_first = 66; return "value doorbells past the last doorbell";
	case 12: d->db_count = 0; return "doorbell fields without doorbells";
	case 13: d->db_offset = 0x3100; return "a doorbell page that is not page aligned";
	case 14: d->mirror_block_base = 0x3800; return "a zero page over the mirror blocks";
	case 15: d->db_stride = 128; return "doorbells spilling past their page";
	case 16: d->mirror_status = 0x3200; return "a zero page over the status register";
	case 17: d->mirror_status = 0x10000; return "a status register past the BAR";
	case 18: d->mirror_status = 0x46; return "an unaligned status register";
	case 19: d->mirror_nblocks = 17; return "more mirror blocks than the VMM's array";
	case 20: d->mirror_block_base = 0xfff0; return "mirror blocks past the BAR";
	case 21: d->mirror_block_stride = 48; return "a block stride not a power of two";
	case 22: d->mirror_block_stride = 0; return "a block stride of 0";
	case 23: d->mirror_status = 0x2040; return "the status register inside a block";
	case 24: d->mirror_block_base = 0x3000; d->flags &= ~DEVPROTO_DESC_DB_PAGE;
		return "doorbells overlapping the blocks";
	case 25: d->flags &= ~DEVPROTO_DESC_MIRROR_RULES; return "mirror fields without the flag";
	case 26: d->posted_offset = 0xffffffffu; d->posted_size = 2; return "posted writes wrapping 32 bits";
	case 27: d->posted_size = 0x10004; return "posted writes past the BAR";
	case 28: d->nvectors = 65; return "more vectors than the VMM's array";
	case 29: d->nports = 256; return "more ports than the protocol numbers";
	case 30: d->flags |= 0x80u; return "an unknown flag";
	case 31: d->mirror_nblocks = 0; return "block fields without blocks";
	default: return NULL;
	}
}

Test(devproto_desc, hostile_descriptions_are_refused)
{
	const char *what;

	for (unsigned int i = 0; (what = spoil(i, &(struct devproto_desc){ 0 })); i++) {
		struct devproto_desc d = good_desc();
		const char *why = NULL;

		spoil(i, &d);
		cr_expect_eq(devproto_desc_check(&d, &why), -EBADMSG, "accepted %s", what);
		cr_expect_not_null(why, "no reason for refusing %s", what);
	}
}

/* The description travels in the HELLO; the decoder still checks the version there. */
Test(devproto_desc, the_hello_carries_it_whole)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_HELLO, 3), out;

	m.u.hello.version = DEVPROTO_VERSION;
	m.u.hello.desc = good_desc();
	cr_assert_eq(devproto_decode(&m, sizeof(m), 0, &out, NULL), 0);
	cr_assert_eq(memcmp(&out.u.hello.desc, &m.u.hello.desc, sizeof(m.u.hello.desc)), 0);
	m.u.hello.reserved = 1;
	cr_assert_eq(devproto_decode(&m, sizeof(m), 0, &out, NULL), -EBADMSG);
}
