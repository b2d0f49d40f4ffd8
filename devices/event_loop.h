/* SPDX-License-Identifier: MIT */
/*
 * The device process's single-threaded event loop: epoll over descriptors,
 * plus deferred calls that run after the current handler returns. Deferred
 * calls are how a device completes a transfer "later" without re-entering the
 * controller from inside its own submit (QEMU's CVE-2017-9375 pattern).
 */
#ifndef SVMM_EVENT_LOOP_H
#define SVMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;

typedef void (*event_fd_fn)(void *opaque, uint32_t epoll_events);
typedef void (*event_defer_fn)(void *opaque);

/* A deferred call; owned by the caller, queued at most once at a time. */
struct event_deferred {
	event_defer_fn fn;
	void *opaque;
	bool queued;
	struct event_deferred *next;
};

struct event_loop *event_loop_new(void);
void event_loop_free(struct event_loop *loop);

/* Watches fd for events (EPOLLIN, ...); 0 or -errno. One handler per fd. */
int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events, event_fd_fn fn, void *opaque);
int event_loop_mod_fd(struct event_loop *loop, int fd, uint32_t events);
void event_loop_del_fd(struct event_loop *loop, int fd);

/* Runs d->fn(d->opaque) once, after the current handler; a no-op if already queued. */
void event_loop_defer(struct event_loop *loop, struct event_deferred *d);
/* Takes d off the queue if it is queued (call before freeing d's owner). */
void event_loop_cancel_deferred(struct event_loop *loop, struct event_deferred *d);

/*
 * Waits up to timeout_ms (-1: forever) for events, dispatches them, then runs
 * every deferred call (including ones queued while running). Returns the
 * number of fd events handled, or -errno.
 */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);

/* Runs until event_loop_stop() is called; returns 0 or -errno. */
int event_loop_run(struct event_loop *loop);
/* After work, event_loop_run looks for more without sleeping for ns (0: never; the default). */
void event_loop_set_poll_ns(struct event_loop *loop, uint64_t ns);
/*
 * Handlers and deferred calls run so far, counted before each one starts: a
 * caller that notes the count after its work knows, before the next wait,
 * whether anything has run since.
 */
uint64_t event_loop_dispatches(const struct event_loop *loop);
/* fn(opaque) runs each time the loop is about to wait for its fds (NULL: nothing). */
void event_loop_set_before_wait(struct event_loop *loop, event_defer_fn fn, void *opaque);
void event_loop_stop(struct event_loop *loop);

#endif
