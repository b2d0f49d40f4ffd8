/* SPDX-License-Identifier: MIT */
#include "tests/fuzz/fuzz_ns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

void fuzz_ns_die(const char *what)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
	abort();
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fuzz_ns_die(path);
	close(fd);
}

/* Our uid and gid keep their numbers inside, so files made there are ours outside too. */
void fuzz_ns_enter(void)
{
	static bool entered;
	char map[64];
	unsigned int uid = getuid(), gid = getgid();

	if (entered)
		return;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		fuzz_ns_die("unshare (the target needs user and mount namespaces)");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1", uid, uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1", gid, gid);
	write_file("/proc/self/gid_map", map);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fuzz_ns_die("making / private");
	entered = true;
}

void fuzz_ns_tmpfs(const char *dir)
{
	fuzz_ns_enter();
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=0755") < 0)
		fuzz_ns_die(dir);
}
