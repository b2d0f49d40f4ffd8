/* SPDX-License-Identifier: MIT */
/*
 * Shows whether a receiver installed (and then closed) a descriptor it was
 * sent: any close() of a descriptor of a file drops the POSIX locks this
 * process holds on it, while a descriptor the kernel drops unreceived is only
 * fput() and leaves them. That is the close() a peer's FUSE server can make
 * hang (FLUSH), made visible without FUSE.
 */
#ifndef SVMM_TEST_LOCK_PROBE_H
#define SVMM_TEST_LOCK_PROBE_H

#include <stdbool.h>

/* An unlinked temporary file under /var/tmp, write-locked (F_SETLK) by this process; its fd. */
int lock_probe_open(void);

/* Whether this process still holds the lock on fd's file (asked from a child, F_GETLK). */
bool lock_probe_held(int fd);

#endif
