/* SPDX-License-Identifier: MIT */
#include "jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/privilege_drop.h"
#include "jail/seccomp_policy.h"

/* The unprivileged ids a root caller's child becomes (nobody/nogroup). */
#define JAIL_NOBODY_UID 65534
#define JAIL_NOBODY_GID 65534

#define JAIL_NAMESPACES (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | \
			 CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

/* A failed step in the child: say which, and leave with a status the parent recognises. */
static void __attribute__((noreturn)) child_die(const char *step)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "svmm jail: %s: %s\n", step, strerror(errno));

	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n);
	_exit(JAIL_EXIT_SETUP_FAILED);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text), n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, (size_t)len);
	if (n != len) {
		int err = n < 0 ? -errno : -EIO;

		close(fd);
		return err;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* Maps the child's uid/gid 0 to nobody (root caller) or to the caller's own ids. */
static int write_id_maps(pid_t pid)
{
	uid_t uid = geteuid() == 0 ? JAIL_NOBODY_UID : geteuid();
	gid_t gid = geteuid() == 0 ? JAIL_NOBODY_GID : getegid();
	char path[64], map[64];
	int r;

	if (geteuid() != 0) {
		/* An unprivileged caller may map only itself, and must give up setgroups. */
		snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
		r = write_file(path, "deny");
		if (r)
			return r;
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	r = write_file(path, map);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	snprintf(map, sizeof(map), "0 %u 1\n", gid);
	return write_file(path, map);
}

static void become_unprivileged_user(void)
{
	/* Drop the supplementary groups a root caller had; denied (EPERM) when the caller was not root. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		child_die("setgroups");
	if (setresgid(0, 0, 0) < 0)
		child_die("setresgid");
	if (setresuid(0, 0, 0) < 0)
		child_die("setresuid");
}

/* An empty tmpfs as /, read-only, with the host's tree detached from under it. */
static void enter_empty_root(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_die("make mounts private");
	/* Any existing directory serves as the mount point; the new root hides it. */
	if (mount("svmm-jail", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=4,mode=0555") < 0)
		child_die("mount the empty root");
	if (chdir("/tmp") < 0)
		child_die("chdir to the empty root");
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		child_die("detach the host root");
	if (chdir("/") < 0)
		child_die("chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		child_die("remount the root read-only");
}

static void set_limit(int resource, rlim_t value, const char *what)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

	if (setrlimit(resource, &rl) < 0)
		child_die(what);
}

static void set_limits(const struct jail_config *cfg)
{
	set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
	set_limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
	set_limit(RLIMIT_FSIZE, cfg->max_file_bytes, "RLIMIT_FSIZE");
	set_limit(RLIMIT_NOFILE, cfg->max_fds, "RLIMIT_NOFILE");
}

/* The lowest fd at or above from that the child keeps, or ~0u: listed fds, and stdin/stdout when replaced. */
static unsigned int next_kept(const struct jail_config *cfg, unsigned int from)
{
	unsigned int next = ~0u;

	if (cfg->null_fd > STDERR_FILENO && from <= STDOUT_FILENO)
		return from;
	for (size_t i = 0; i < cfg->n_keep_fds; i++) {
		int k = cfg->keep_fds[i];

		if (k >= 0 && (unsigned int)k >= from && (unsigned int)k < next)
			next = (unsigned int)k;
	}
	return next;
}

/* Closes every fd but the kept ones: close_range() over each gap between them. */
static void close_other_fds(const struct jail_config *cfg)
{
	unsigned int from = 0;

	if (cfg->null_fd > STDERR_FILENO && (dup2(cfg->null_fd, STDIN_FILENO) < 0 || dup2(cfg->null_fd, STDOUT_FILENO) < 0))
		child_die("replace stdin and stdout");
	for (;;) {
		unsigned int next = next_kept(cfg, from);

		if (next > from && syscall(SYS_close_range, from, next == ~0u ? ~0u : next - 1, 0) < 0)
			child_die("close_range");
		if (next == ~0u)
			return;
		from = next + 1;
	}
}

static void drop_capabilities(void)
{
	const char *step = "drop privileges";

	if (privileges_drop_all(&step) < 0)
		child_die(step);
}

static void __attribute__((noreturn)) child_main(const struct jail_config *cfg, int sync_fd,
						 int (*fn)(void *), void *arg)
{
	char go;

	/* Set first, then wait: if the parent died in between, the read below sees EOF. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_die("PR_SET_PDEATHSIG");
	if (read(sync_fd, &go, 1) != 1)
		_exit(JAIL_EXIT_SETUP_FAILED);	/* the parent failed to map our ids, or died */
	close(sync_fd);

	become_unprivileged_user();
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		child_die("sethostname");
	/* The same name as the process's comm, so that ps and tests can tell it from its parent. */
	if (cfg->hostname && prctl(PR_SET_NAME, cfg->hostname, 0, 0, 0) < 0)
		child_die("PR_SET_NAME");
	enter_empty_root();
	/* close_range() reaches fds above any later RLIMIT_NOFILE too. */
	close_other_fds(cfg);
	set_limits(cfg);
	drop_capabilities();
	if (cfg->prepare && cfg->prepare(arg) != 0)
		child_die("prepare the process for its filter");
	if (cfg->seccomp && seccomp_policy_load(cfg->seccomp) < 0)
		child_die("load the seccomp filter");
	/* _exit: no atexit handlers (LeakSanitizer's would need ptrace) in the jailed process. */
	_exit(fn(arg));
}

pid_t jail_spawn(const struct jail_config *cfg, int (*fn)(void *arg), void *arg)
{
	int sync[2], r;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = (pid_t)syscall(SYS_clone, SIGCHLD | JAIL_NAMESPACES, NULL, NULL, NULL, 0);
	if (pid < 0) {
		r = -errno;
		close(sync[0]);
		close(sync[1]);
		return r;
	}
	if (pid == 0) {
		close(sync[1]);
		child_main(cfg, sync[0], fn, arg);
	}
	close(sync[0]);
	r = write_id_maps(pid);
	if (r == 0 && write(sync[1], "g", 1) != 1)
		r = -errno;
	close(sync[1]);
	if (r) {
		/* The child sees EOF on sync and exits; reap it so nothing is left behind. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	return pid;
}
