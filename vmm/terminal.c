/* SPDX-License-Identifier: MIT */
#include "vmm/terminal.h"

#include <unistd.h>

bool terminal_raw(struct terminal *t, int fd)
{
	struct termios raw;

	t->fd = fd;
	t->raw = false;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return false;
	raw = t->saved;
	cfmakeraw(&raw);
	/* Keep output post-processing off too: the guest's console already sends CR LF. */
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return false;
	t->raw = true;
	return true;
}

void terminal_restore(struct terminal *t)
{
	if (!t->raw)
		return;
	tcsetattr(t->fd, TCSANOW, &t->saved);
	t->raw = false;
}
