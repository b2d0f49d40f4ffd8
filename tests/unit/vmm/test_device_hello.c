/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of the HELLO handshake: it keeps the description a device
 * process gives of itself only once the whole of it checks out, and refuses
 * to start with a device that describes itself impossibly or answers with
 * something other than a HELLO. The device processes here are fakes that
 * answer as told (the real one is tested in tests/unit/xhci).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/device_process.h"

/* What the fake answers HELLO with; set before the fork, which copies it. */
static struct devproto_msg answer;

static int fake_device_main(int request_sock, int event_sock)
{
	struct devproto_msg m;
	int fd = -1;

	(void)event_sock;
	if (devproto_recv(request_sock, &m, &fd, NULL) != 1 || m.type != DEVPROTO_HELLO)
		return 1;
	answer.seq = m.seq;
	if (fd >= 0 || devproto_send(request_sock, &answer, -1) < 0)
		return 1;
	/* Then a device that does nothing but answer, until SHUTDOWN or the VMM closes its end. */
	while (devproto_recv(request_sock, &m, &fd, NULL) == 1) {
		struct devproto_msg reply = devproto_msg_init(DEVPROTO_REPLY, m.seq);

		if (fd >= 0 || devproto_send(request_sock, &reply, -1) < 0 ||
		    m.type == DEVPROTO_SHUTDOWN)
			break;
	}
	return 0;
}

static struct devproto_desc xhci_like(void)
{
	return (struct devproto_desc){
		.bar_size = 0x10000, .db_offset = 0x3000, .db_count = 65, .db_stride = 4,
		.db_value_first = 1, .nvectors = 4, .nports = 16, .mirror_status = 0x44,
		.mirror_block_base = 0x2020, .mirror_block_stride = 32, .mirror_nblocks = 4,
		.posted_size = 0x10000, .flags = DEVPROTO_DESC_MIRROR_RULES | DEVPROTO_DESC_DB_PAGE,
	};
}

static int spawn_answering(const struct devproto_desc *desc, struct device_process *d)
{
	answer = devproto_msg_init(DEVPROTO_HELLO, 0);
	answer.u.hello.version = DEVPROTO_VERSION;
	answer.u.hello.desc = *desc;
	return device_process_spawn(d, "fake", NULL, fake_device_main);
}

Test(device_hello, a_sane_description_is_kept)
{
	struct devproto_desc desc = xhci_like();
	struct device_process d;

	cr_assert_eq(spawn_answering(&desc, &d), 0);
	cr_assert_not(device_process_is_dead(&d));
	cr_assert_eq(memcmp(&d.desc, &desc, sizeof(desc)), 0);
	device_process_shutdown(&d);
}

/* Doorbells past the BAR: the proxy would register ioeventfds on the guest's RAM or other BARs. */
Test(device_hello, doorbells_outside_the_bar_refuse_the_start)
{
	struct devproto_desc desc = xhci_like();
	struct device_process d;

	desc.db_offset = 0xff00;
	desc.flags &= ~DEVPROTO_DESC_DB_PAGE;
	cr_assert_eq(spawn_answering(&desc, &d), -EBADMSG);
	cr_assert(device_process_is_dead(&d));
	cr_assert_eq(d.desc.db_count, 0, "nothing of the description was kept");
	device_process_shutdown(&d);
}

/* More mirror blocks or vectors than the VMM's arrays hold. */
Test(device_hello, counts_past_the_vmms_arrays_refuse_the_start)
{
	struct devproto_desc desc = xhci_like();
	struct device_process d;

	desc.mirror_nblocks = DEVPROTO_MAX_MIRROR_BLOCKS + 1;
	cr_assert_eq(spawn_answering(&desc, &d), -EBADMSG);
	device_process_shutdown(&d);
	desc = xhci_like();
	desc.nvectors = DEVPROTO_MAX_VECTORS + 1;
	cr_assert_eq(spawn_answering(&desc, &d), -EBADMSG);
	device_process_shutdown(&d);
}

/* A device that answers HELLO with a plain REPLY says nothing of itself: it is not used. */
Test(device_hello, a_reply_instead_of_a_hello_is_no_answer)
{
	struct device_process d;

	answer = devproto_msg_init(DEVPROTO_REPLY, 0);
	cr_assert_eq(device_process_spawn(&d, "fake", NULL, fake_device_main), -EPROTO);
	cr_assert(device_process_is_dead(&d));
	device_process_shutdown(&d);
}
