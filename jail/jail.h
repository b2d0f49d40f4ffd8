/* SPDX-License-Identifier: MIT */
/*
 * The jail of a device process (docs/security.md). jail_spawn() forks a child
 * into new user, pid, net, mount, ipc, uts and cgroup namespaces and, in this
 * order, each step checked, before it runs any code that touches guest data:
 *   1. dies with its parent (PR_SET_PDEATHSIG), waits for its uid/gid map;
 *   2. becomes an unprivileged user: uid/gid 0 inside map to nobody outside
 *      (to the caller's own ids when the caller is not root), no groups;
 *   3. pivots to an empty, read-only tmpfs root: no host filesystem;
 *   4. rlimits: no core dumps, no new processes, bounded file writes, few fds;
 *      not dumpable;
 *   5. closes every descriptor except the ones it was told to keep (stdin and
 *      stdout replaced by null_fd, so the caller's terminal is not among them);
 *   6. drops every capability from the effective, permitted, inheritable,
 *      ambient and bounding sets, locks the securebits, sets no_new_privs;
 *   7. runs cfg->prepare(arg), if any: what needs syscalls the filter will
 *      forbid, done with the host filesystem and every privilege already gone;
 *   8. loads the seccomp filter (compiled by the parent: the child has no
 *      file to read it from), whose default action kills the process.
 * Then it calls fn(arg) and _exit()s with its result.
 *
 * Call it before the caller starts threads: the child is created with a raw
 * clone(), like bubblewrap's, and must not inherit a lock held by another thread.
 */
#ifndef SVMM_JAIL_H
#define SVMM_JAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jail_config {
	const char *hostname;		/* the child's hostname and process name, e.g. "svmm-xhci" */
	const int *keep_fds;		/* descriptors the child keeps open */
	size_t n_keep_fds;
	int null_fd;			/* if > 2 (0, the default, means none): an fd of /dev/null that
					 * becomes the child's stdin and stdout, so that it never holds
					 * the caller's terminal */
	void *seccomp;			/* from seccomp_policy_compile(); NULL: none (tests only) */
	uint64_t max_file_bytes;	/* RLIMIT_FSIZE: writes at or past this offset fail */
	unsigned int max_fds;		/* RLIMIT_NOFILE */
	int (*prepare)(void *arg);	/* step 7, may be NULL; non-zero fails the jail */
};

/* The child's exit status when a jail step failed (it prints which on stderr). */
#define JAIL_EXIT_SETUP_FAILED 125

/* Spawns fn(arg) in a jailed child; returns its pid, or -errno. */
pid_t jail_spawn(const struct jail_config *cfg, int (*fn)(void *arg), void *arg);

#endif
