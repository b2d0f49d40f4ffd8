/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/event_loop.h"

struct counter {
	struct event_loop *loop;
	struct event_deferred d;
	int fd;
	int fd_calls;
	int deferred_calls;
	int requeue;
};

static void on_deferred(void *opaque)
{
	struct counter *c = opaque;

	c->deferred_calls++;
	if (c->requeue-- > 0)
		event_loop_defer(c->loop, &c->d);
}

static void on_fd(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;

	cr_assert(events & EPOLLIN);
	cr_assert_eq(read(c->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	c->fd_calls++;
	/* A completion deferred from inside a handler runs after it, in the same round. */
	event_loop_defer(c->loop, &c->d);
	cr_assert_eq(c->deferred_calls, 0);
}

Test(event_loop, fd_handler_then_deferred_call)
{
	struct counter c = { .loop = event_loop_new() };
	uint64_t one = 1;

	c.fd = eventfd(0, EFD_NONBLOCK);
	c.d.fn = on_deferred;
	c.d.opaque = &c;
	cr_assert_eq(event_loop_add_fd(c.loop, c.fd, EPOLLIN, on_fd, &c), 0);
	cr_assert_eq(write(c.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	cr_assert_eq(event_loop_run_once(c.loop, 1000), 1);
	cr_assert_eq(c.fd_calls, 1);
	cr_assert_eq(c.deferred_calls, 1);
	/* The handler and the call it deferred. */
	cr_assert_eq(event_loop_dispatches(c.loop), 2);
	/* Nothing pending: the loop times out without calling anything. */
	cr_assert_eq(event_loop_run_once(c.loop, 10), 0);
	cr_assert_eq(c.fd_calls, 1);
	cr_assert_eq(event_loop_dispatches(c.loop), 2);
	event_loop_del_fd(c.loop, c.fd);
	close(c.fd);
	event_loop_free(c.loop);
}

Test(event_loop, deferred_twice_runs_once_and_cancel_removes)
{
	struct counter c = { .loop = event_loop_new() };

	c.d.fn = on_deferred;
	c.d.opaque = &c;
	event_loop_defer(c.loop, &c.d);
	event_loop_defer(c.loop, &c.d);
	event_loop_run_once(c.loop, 0);
	cr_assert_eq(c.deferred_calls, 1);
	event_loop_defer(c.loop, &c.d);
	event_loop_cancel_deferred(c.loop, &c.d);
	event_loop_run_once(c.loop, 0);
	cr_assert_eq(c.deferred_calls, 1);
	event_loop_free(c.loop);
}

Test(event_loop, self_requeueing_call_is_bounded)
{
	struct counter c = { .loop = event_loop_new(), .requeue = 1 << 30 };

	c.d.fn = on_deferred;
	c.d.opaque = &c;
	event_loop_defer(c.loop, &c.d);
	/* Returns although the call keeps re-queueing itself: fds are not starved. */
	event_loop_run_once(c.loop, 0);
	cr_assert_gt(c.deferred_calls, 1);
	cr_assert_lt(c.deferred_calls, 1 << 20);
	event_loop_cancel_deferred(c.loop, &c.d);
	event_loop_free(c.loop);
}

Test(event_loop, rejects_duplicate_and_negative_fds)
{
	struct event_loop *loop = event_loop_new();
	int fd = eventfd(0, 0);

	cr_assert_eq(event_loop_add_fd(loop, fd, EPOLLIN, NULL, NULL), 0);
	cr_assert_lt(event_loop_add_fd(loop, fd, EPOLLIN, NULL, NULL), 0);
	cr_assert_lt(event_loop_add_fd(loop, -1, EPOLLIN, NULL, NULL), 0);
	cr_assert_lt(event_loop_mod_fd(loop, 12345, EPOLLIN), 0);
	event_loop_del_fd(loop, fd);
	close(fd);
	event_loop_free(loop);
}
