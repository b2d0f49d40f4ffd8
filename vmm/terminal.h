/* SPDX-License-Identifier: MIT */
/*
 * The user's terminal while the guest owns it: raw mode on stdin (every key,
 * Ctrl-C included, goes to the guest's serial port), restored when the VM
 * ends, whatever way it ends short of SIGKILL.
 */
#ifndef SVMM_TERMINAL_H
#define SVMM_TERMINAL_H

#include <stdbool.h>
#include <termios.h>

struct terminal {
	int fd;
	bool raw;
	struct termios saved;
};

/* Puts fd in raw mode if it is a terminal; returns whether it did. */
bool terminal_raw(struct terminal *t, int fd);
void terminal_restore(struct terminal *t);

#endif
