/* SPDX-License-Identifier: MIT */
#include "tests/unit/lock_probe.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int lock_probe_open(void)
{
	char path[] = "/var/tmp/svmm-lock-probe.XXXXXX";
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(fcntl(fd, F_SETLK, &lk), 0);
	cr_assert(lock_probe_held(fd));
	return fd;
}

bool lock_probe_held(int fd)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		/* Another process: F_GETLK reports the parent's lock if it still exists. */
		if (fcntl(fd, F_GETLK, &lk) < 0)
			_exit(2);
		_exit(lk.l_type == F_UNLCK ? 1 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) < 2);
	return WEXITSTATUS(status) == 0;
}
