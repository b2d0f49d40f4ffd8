/* SPDX-License-Identifier: MIT */
/*
 * The device process, seen from the VMM: forking it with nothing but its two
 * sockets, the device protocol's request/reply exchange (one at a time, with
 * a time limit), its events, and its end. A device that dies, stalls or
 * talks nonsense is marked dead and killed; the VM goes on without it.
 */
#ifndef SVMM_DEVICE_PROCESS_H
#define SVMM_DEVICE_PROCESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/device_protocol.h"
#include "vmm/guest_memory.h"

/* A reply that takes longer than this means the device is stuck. */
#define DEVICE_REPLY_TIMEOUT_MS 10000

typedef int (*device_main_fn)(int request_sock, int event_sock);
/* Run in the jailed child before its seccomp filter (may be NULL); 0 or it fails. */
typedef int (*device_prepare_fn)(void);

struct device_process {
	const char *name;		/* for the log and its process name (svmm-NAME) */
	pid_t pid;
	int req_sock;
	int evt_sock;
	pthread_mutex_t lock;		/* one request in flight */
	uint32_t seq;			/* the last request sent; atomic: read without the lock */
	bool dead;			/* atomic: read from vCPU threads */
	bool ended;			/* its end was seen; it is never reaped (device_process.c) */
	int kmsg_fd;			/* kernel log, opened at spawn: names a seccomp kill's syscall */
	struct devproto_desc desc;	/* what it declared in its HELLO, checked */
};

/*
 * Forks the device process, which runs main_fn(request_sock, event_sock)
 * with every other descriptor closed (stderr kept for its log) and dies with
 * us. Then says HELLO and keeps the description the device answers with in
 * d->desc, once devproto_desc_check() accepts it. Returns 0, -EPROTO for
 * a device that did not answer HELLO, -EBADMSG for one that described
 * itself impossibly (marked dead; the caller must not use it), or another
 * -errno. Every failure is logged.
 */
int device_process_spawn(struct device_process *d, const char *name, device_prepare_fn prepare_fn,
			 device_main_fn main_fn);

/* Hands the device every guest RAM region. */
int device_process_send_memory(struct device_process *d, const struct guest_memory *mem);

/*
 * Sends req (type and payload; seq is set here) with fd (or -1), waits for
 * its reply. Returns 0 with *reply filled, -ENODEV if the device is dead, or
 * -errno after marking it dead.
 */
int device_process_request(struct device_process *d, struct devproto_msg *req, int fd,
			   struct devproto_reply *reply);

/*
 * Sends req (a BAR_WRITE_POSTED) without waiting for anything: the device
 * runs requests in order, so a later request sees its effect. Returns 0,
 * -ENODEV if the device is dead, or -errno after marking it dead (also when
 * its socket stays full for DEVICE_REPLY_TIMEOUT_MS).
 */
int device_process_post(struct device_process *d, struct devproto_msg *req);

/* The seq of the last request sent (for bar_mirror_read). */
uint32_t device_process_sent_seq(struct device_process *d);

bool device_process_is_dead(const struct device_process *d);
/* Marks the device dead and kills it; why is logged once. */
void device_process_mark_dead(struct device_process *d, const char *why);

/*
 * Reads the device's exit status if it has ended (SIGCHLD) and logs the
 * cause; true if it ended now. It is not reaped: its zombie keeps its pid,
 * the one the VMM's filter lets it kill, until the VMM exits.
 */
bool device_process_check_ended(struct device_process *d);

/* Asks the device to stop (SHUTDOWN), waits a little, kills it otherwise, closes the sockets. */
void device_process_shutdown(struct device_process *d);

#endif
