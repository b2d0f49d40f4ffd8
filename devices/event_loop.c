/* SPDX-License-Identifier: MIT */
#include "devices/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/monotonic.h"

/* Descriptors the loop can watch; the jail's fd limit is far below this. */
#define EVENT_LOOP_MAX_FDS 256
#define EVENT_LOOP_BATCH 32
/* A deferred call that keeps re-queueing itself must not starve the fds. */
#define EVENT_LOOP_MAX_DEFERRED_ROUNDS 1024

struct event_watch {
	int fd;		/* -1: free */
	event_fd_fn fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	bool stop;
	uint64_t dispatches;
	event_defer_fn before_wait;
	void *before_wait_opaque;
	uint64_t poll_ns;		/* after work, look again without sleeping for this long */
	struct event_deferred *head, *tail;
	struct event_watch watches[EVENT_LOOP_MAX_FDS];
};

struct event_loop *event_loop_new(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	for (int i = 0; i < EVENT_LOOP_MAX_FDS; i++)
		loop->watches[i].fd = -1;
	return loop;
}

void event_loop_free(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

static struct event_watch *find_watch(struct event_loop *loop, int fd)
{
	for (int i = 0; i < EVENT_LOOP_MAX_FDS; i++) {
		if (loop->watches[i].fd == fd)
			return &loop->watches[i];
	}
	return NULL;
}

int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events, event_fd_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct event_watch *w;

	if (fd < 0 || find_watch(loop, fd))
		return -EINVAL;
	w = find_watch(loop, -1);
	if (!w)
		return -EMFILE;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	return 0;
}

int event_loop_mod_fd(struct event_loop *loop, int fd, uint32_t events)
{
	struct event_watch *w = fd >= 0 ? find_watch(loop, fd) : NULL;
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void event_loop_del_fd(struct event_loop *loop, int fd)
{
	struct event_watch *w = fd >= 0 ? find_watch(loop, fd) : NULL;

	if (!w)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* A later event of this batch for the slot is ignored: fd -1 has no handler. */
	w->fd = -1;
	w->fn = NULL;
	w->opaque = NULL;
}

void event_loop_defer(struct event_loop *loop, struct event_deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	if (loop->tail)
		loop->tail->next = d;
	else
		loop->head = d;
	loop->tail = d;
}

void event_loop_cancel_deferred(struct event_loop *loop, struct event_deferred *d)
{
	struct event_deferred **pp = &loop->head, *prev = NULL;

	if (!d->queued)
		return;
	while (*pp && *pp != d) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = d->next;
		if (loop->tail == d)
			loop->tail = prev;
	}
	d->queued = false;
	d->next = NULL;
}

static void run_deferred(struct event_loop *loop)
{
	for (int round = 0; loop->head && round < EVENT_LOOP_MAX_DEFERRED_ROUNDS; round++) {
		struct event_deferred *d = loop->head;

		loop->head = d->next;
		if (!loop->head)
			loop->tail = NULL;
		d->queued = false;
		d->next = NULL;
		loop->dispatches++;
		d->fn(d->opaque);
	}
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EVENT_LOOP_BATCH];
	int n;

	/* Work deferred outside the loop (e.g. during setup) runs before sleeping. */
	if (loop->head)
		timeout_ms = 0;
	if (loop->before_wait)
		loop->before_wait(loop->before_wait_opaque);
	n = epoll_wait(loop->epfd, evs, EVENT_LOOP_BATCH, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		struct event_watch *w = evs[i].data.ptr;

		if (w->fd >= 0 && w->fn) {
			loop->dispatches++;
			w->fn(w->opaque, evs[i].events);
		}
		run_deferred(loop);
	}
	run_deferred(loop);
	return n;
}

int event_loop_run(struct event_loop *loop)
{
	uint64_t poll_until = 0;

	loop->stop = false;
	while (!loop->stop) {
		uint64_t before = loop->dispatches;
		bool polling = loop->poll_ns && monotonic_ns() < poll_until;
		int r = event_loop_run_once(loop, polling ? 0 : -1);

		if (r < 0)
			return r;
		/*
		 * Work came: the next is likely close behind (a guest's next
		 * doorbell, a transfer's completion). Waking from sleep on another
		 * CPU costs more than the work on a virtualised host, so look
		 * again without sleeping for a while (QEMU's adaptive polling).
		 */
		if (loop->poll_ns && loop->dispatches != before)
			poll_until = monotonic_ns() + loop->poll_ns;
	}
	return 0;
}

void event_loop_set_poll_ns(struct event_loop *loop, uint64_t ns)
{
	loop->poll_ns = ns;
}

uint64_t event_loop_dispatches(const struct event_loop *loop)
{
	return loop->dispatches;
}

void event_loop_set_before_wait(struct event_loop *loop, event_defer_fn fn, void *opaque)
{
	loop->before_wait = fn;
	loop->before_wait_opaque = opaque;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}
