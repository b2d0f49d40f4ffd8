/* SPDX-License-Identifier: MIT */
/*
 * How the controller learns that a request waits: with a kick eventfd (what
 * the VMM gives it), only the kick wakes it; without one, its socket does.
 * Either way every request is served, in order, and the VMM's end of the
 * socket closing ends the process.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_device.h"
#include "xhci_driver.h"

#define DNCTRL 0x54u		/* operational register the driver may write freely */
#define REPLY_MS 20000

static struct drv d;

static bool reply_within(int ms)
{
	struct pollfd pfd = { .fd = d.req, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

static struct devproto_msg take_reply(void)
{
	struct devproto_msg m;
	const char *why = NULL;
	int fd = -1;

	cr_assert_eq(devproto_recv(d.req, &m, &fd, &why), 1, "%s", why ? why : "EOF");
	cr_assert_eq(m.type, DEVPROTO_REPLY);
	return m;
}

/*
 * Waits until the device process sleeps in its event loop. After a reply it
 * still reads its socket until it is empty, so a request sent before that
 * would be served without a kick, rightly. Without /proc's wchan (a kernel
 * without kallsyms), a second is taken as long enough.
 */
static void wait_until_asleep(void)
{
	char path[64], wchan[64];

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)d.pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		bool asleep = false, known = false;

		if (f) {
			known = fgets(wchan, sizeof(wchan), f) && strcmp(wchan, "0") != 0;
			asleep = known && strstr(wchan, "epoll_wait");
			fclose(f);
		}
		if (asleep)
			return;
		if (!known) {
			sleep(1);
			return;
		}
		usleep(10000);
	}
	cr_assert_fail("the device process never went back to its event loop");
}

/*
 * The socket's wakeup is what the kick replaces (it put the device process
 * on a running vCPU's CPU): a request sent without one waits for it.
 */
Test(xhci_wakeups, a_request_waits_for_its_kick)
{
	struct devproto_msg m = devproto_bar_msg(false, DNCTRL, 4, 0);

	drv_start(&d, test_device_attach);
	drv_write(&d, DNCTRL, 4, 0x8002);
	wait_until_asleep();
	drv_send_quietly(&d, &m, -1);
	cr_assert_not(reply_within(300), "the device served a request nobody kicked for");
	drv_kick(&d);
	cr_assert(reply_within(REPLY_MS), "no reply after the kick");
	m = take_reply();
	cr_assert_eq(m.seq, d.seq);
	cr_assert_eq(m.u.reply.value, 0x8002);
	drv_stop(&d);
}

/*
 * Kicks coalesce (an eventfd counts, one wakeup reads the count), and the
 * device serves requests in batches: one kick still serves every request
 * waiting, however many batches that takes, in the order sent.
 */
Test(xhci_wakeups, one_kick_serves_every_waiting_request)
{
	struct devproto_msg m;

	drv_start(&d, test_device_attach);
	for (uint32_t v = 1; v <= 150; v++) {
		m = devproto_bar_msg(true, DNCTRL, 4, v);
		m.type = DEVPROTO_BAR_WRITE_POSTED;
		drv_send_quietly(&d, &m, -1);
	}
	m = devproto_bar_msg(false, DNCTRL, 4, 0);
	drv_send_quietly(&d, &m, -1);
	drv_kick(&d);
	cr_assert(reply_within(REPLY_MS), "requests past the first batch were left waiting");
	m = take_reply();
	cr_assert_eq(m.seq, d.seq);
	cr_assert_eq(m.u.reply.value, 150, "the read ran before the writes sent ahead of it");
	drv_stop(&d);
}

static bool exits_within(int ms, int *status)
{
	for (int waited = 0; waited < ms; waited += 10) {
		pid_t r = waitpid(d.pid, status, WNOHANG);

		if (r == d.pid)
			return true;
		cr_assert_eq(r, 0);
		usleep(10000);
	}
	return false;
}

/* The socket is watched for no events once there is a kick; its end still shows. */
Test(xhci_wakeups, the_vmm_closing_its_socket_ends_the_device)
{
	int st = 0;

	drv_start(&d, test_device_attach);
	drv_init(&d);
	close(d.req);
	cr_assert(exits_within(10000, &st), "the device process outlived its VMM's socket");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}

/* A VMM that gives no kick (it could not make the eventfd) still has a working controller. */
Test(xhci_wakeups, without_a_kick_the_socket_wakes_the_device)
{
	struct drv_event ev;

	drv_start_socket_wakeups(&d, test_device_attach);
	drv_init(&d);
	drv_write_posted(&d, DNCTRL, 4, 0x2);
	cr_assert_eq(drv_read(&d, DNCTRL, 4), 0x2);
	drv_ring_push(&d, &d.cmd, 0, 0, 23u << 10);	/* No-Op */
	drv_doorbell(&d, 0, 0);
	cr_assert(drv_wait_event(&d, 33, &ev, REPLY_MS), "no command completion");
	cr_assert_eq(ev.status >> 24, 1, "No-Op completed with code %u", ev.status >> 24);
	drv_stop(&d);
}
