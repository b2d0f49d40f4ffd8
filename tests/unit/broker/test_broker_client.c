/* SPDX-License-Identifier: MIT */
/*
 * The VMM's broker client against a fake broker that answers late: a reply
 * that comes after its request timed out must not be taken for the next
 * request's (the connection would refuse every reply after it, for good),
 * and a device it granted must go back to the broker at once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker_client.h"
#include "common/broker_protocol.h"

/* The fake broker: a thread on the other end of a socketpair. */
struct fake {
	int sock;
	int gate[2];		/* the test writes a byte: "the client gave up, answer now" */
	int late_sent[2];	/* the fake writes a byte: "the late reply is on its way" */
	unsigned int released[8];	/* handles it was given back, in order */
	unsigned int nreleased;
	unsigned int requests;	/* how many it will serve before it ends */
};

static void answer(int sock, const struct broker_request *r, uint32_t handle)
{
	struct broker_reply p;
	int fd = -1;

	broker_reply_init(&p, r);
	if (r->type == BROKER_OPEN) {
		p.handle = handle;
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);	/* a character device, as a usbfs node is */
		cr_assert_geq(fd, 0);
	} else {
		p.handle = r->handle;
	}
	cr_assert_eq(broker_reply_send(sock, &p, fd), 0);
	if (fd >= 0)
		close(fd);
}

/* Serves: the first OPEN only once the gate opens (late), handle 7; later OPENs at once, handle 8, 9, ... */
static void *fake_broker(void *arg)
{
	struct fake *f = arg;
	uint32_t next_handle = 7;
	char c;

	for (unsigned int i = 0; i < f->requests; i++) {
		struct broker_request r;
		const char *why = NULL;

		if (broker_request_recv(f->sock, &r, &why) != 1)
			break;
		if (i == 0) {
			cr_assert_eq(read(f->gate[0], &c, 1), 1);
			answer(f->sock, &r, next_handle++);
			cr_assert_eq(write(f->late_sent[1], "x", 1), 1);
			continue;
		}
		if (r.type == BROKER_RELEASE && f->nreleased < 8)
			f->released[f->nreleased++] = r.handle;
		/* The give-back may come before or after the next OPEN: handles count OPENs only. */
		answer(f->sock, &r, r.type == BROKER_OPEN ? next_handle++ : 0);
	}
	return NULL;
}

static void start(struct fake *f, int *client, pthread_t *t, unsigned int requests)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);	/* as broker_connect's */
	cr_assert_eq(pipe(f->gate), 0);
	cr_assert_eq(pipe(f->late_sent), 0);
	f->sock = sv[1];
	f->requests = requests;
	*client = sv[0];
	cr_assert_eq(pthread_create(t, NULL, fake_broker, f), 0);
	/* Short, so the first request times out quickly; nothing below depends on how long it is. */
	broker_client_set_timeout(50);
}

static void give_up_on_the_first(struct fake *f, int client)
{
	struct broker_reply p;
	int fd = 5;

	cr_assert_eq(broker_open(client, BROKER_TARGET_ID, "1050:0407", &p, &fd), -ETIMEDOUT);
	cr_assert_eq(fd, -1);
	cr_assert_eq(broker_client_replies_owed(), 1);
	cr_assert_eq(write(f->gate[1], "x", 1), 1);
}

Test(broker_client, a_late_reply_is_not_taken_for_the_next_one_and_its_device_goes_back)
{
	struct fake f;
	struct broker_reply p;
	pthread_t t;
	int client, fd;

	/* OPEN (late), OPEN, RELEASE 7 (the late grant), RELEASE 8, OPEN. */
	start(&f, &client, &t, 5);
	give_up_on_the_first(&f, client);
	broker_client_set_timeout(0);	/* from here on the fake answers at once */

	cr_assert_eq(broker_open(client, BROKER_TARGET_ID, "1050:0407", &p, &fd), 0);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.handle, 8, "got the late reply's handle %u", p.handle);
	cr_assert_geq(fd, 0);
	close(fd);
	/* Every request after the late one gets its own reply, not the one before. */
	cr_assert_eq(broker_release(client, 8, &p), 0);
	cr_assert_eq(p.status, SVMM_OK);
	cr_assert_eq(p.handle, 8);
	cr_assert_eq(broker_open(client, BROKER_TARGET_ID, "1050:0407", &p, &fd), 0);
	cr_assert_eq(p.status, SVMM_OK);
	close(fd);
	pthread_join(t, NULL);
	cr_assert_geq(f.nreleased, 1);
	cr_assert_eq(f.released[0], 7, "the late grant was not given back");
	cr_assert_eq(f.released[1], 8);
	close(client);
	close(f.sock);
}

Test(broker_client, a_late_grant_goes_back_without_another_request)
{
	struct fake f;
	pthread_t t;
	int client;
	char c;

	/* OPEN (late), RELEASE 7. */
	start(&f, &client, &t, 2);
	give_up_on_the_first(&f, client);
	cr_assert_eq(read(f.late_sent[0], &c, 1), 1);
	/* What the VMM's loop does: poll the socket while a reply is owed, drain it when readable. */
	for (int i = 0; i < 4 && broker_client_replies_owed(); i++) {
		struct pollfd p = { .fd = client, .events = POLLIN };

		cr_assert_eq(poll(&p, 1, -1), 1);
		cr_assert_eq(broker_client_drain(client), 0);
	}
	cr_assert_eq(broker_client_replies_owed(), 0);
	close(client);	/* ends the fake if it still waits for a RELEASE that never came */
	pthread_join(t, NULL);
	cr_assert_eq(f.nreleased, 1, "the late grant was not given back");
	cr_assert_eq(f.released[0], 7);
	close(f.sock);
}
