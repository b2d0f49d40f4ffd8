/* SPDX-License-Identifier: MIT */
/*
 * A socket pair for the wire-protocol targets: the input goes out as one
 * SOCK_SEQPACKET message with up to FUZZ_WIRE_MAX_FDS descriptors, and the
 * real receive function (which decodes) reads it. Each descriptor sent is
 * the write end of a fresh pipe whose read end the harness keeps: once the
 * receiver has closed what it refused (and the harness what it accepted),
 * the read end sees end-of-file, so a leaked descriptor shows.
 */
#ifndef SVMM_FUZZ_WIRE_H
#define SVMM_FUZZ_WIRE_H

#include <stdbool.h>
#include <stddef.h>

/* More than fdpass receives (FDPASS_MAX_FDS), so the "too many" path is reached. */
#define FUZZ_WIRE_MAX_FDS 6

struct fuzz_wire {
	int tx, rx;			/* the sender's and the receiver's socket */
	int probes[FUZZ_WIRE_MAX_FDS];	/* read ends of the pipes whose write ends were sent */
	size_t nprobes;
};

/* The pair of a wire target, opened by its LLVMFuzzerInitialize (fuzz_wire.c). */
extern struct fuzz_wire fuzz_wire;

/* Sends len bytes with nfds pipe write ends; false if the kernel refused the message. */
bool fuzz_wire_send(struct fuzz_wire *w, const void *buf, size_t len, size_t nfds);
/* The same on another socket (a client's), the probes kept in w. */
bool fuzz_wire_send_on(struct fuzz_wire *w, int sock, const void *buf, size_t len, size_t nfds);
/* True if every descriptor sent is closed everywhere; closes the probes. */
bool fuzz_wire_all_closed(struct fuzz_wire *w);
/* True if the receiver took the message: nothing is left queued on rx. */
bool fuzz_wire_drained(const struct fuzz_wire *w);

#endif
