/* SPDX-License-Identifier: MIT */
/*
 * Seccomp policies as reviewable text (policy/seccomp/ *.policy), parsed here
 * and compiled with libseccomp. One allowed form per line:
 *
 *   read                                  # any arguments
 *   mmap: arg2 & PROT_EXEC == 0           # conditions are ANDed
 *   ioctl: arg1 == USBDEVFS_SUBMITURB     # lines for the same syscall are ORed
 *
 * Values are numbers, named constants (seccomp_constants.c), or runtime
 * values '@name' that the process supplies when it parses its policy (an fd it
 * opened at start, a child's pid), joined by '|'.
 * Anything not allowed kills the whole process (SECCOMP_RET_KILL_PROCESS).
 */
#ifndef SVMM_SECCOMP_POLICY_H
#define SVMM_SECCOMP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECCOMP_POLICY_MAX_RULES 128
#define SECCOMP_POLICY_MAX_CONDS 6
#define SECCOMP_POLICY_MAX_LINE 512
#define SECCOMP_POLICY_NAME_MAX 32

enum seccomp_cond_op {
	SECCOMP_OP_EQ,
	SECCOMP_OP_NE,
	SECCOMP_OP_LT,
	SECCOMP_OP_LE,
	SECCOMP_OP_GT,
	SECCOMP_OP_GE,
	SECCOMP_OP_MASKED_EQ,	/* (arg & mask) == value */
};

struct seccomp_cond {
	unsigned int arg;	/* 0..5 */
	enum seccomp_cond_op op;
	uint64_t value;
	uint64_t mask;		/* SECCOMP_OP_MASKED_EQ only */
	bool runtime;		/* the value names an '@' value: only known when the process parses it */
};

struct seccomp_rule {
	int nr;			/* syscall number on this architecture */
	char name[SECCOMP_POLICY_NAME_MAX];
	unsigned int line;
	unsigned int nconds;
	struct seccomp_cond conds[SECCOMP_POLICY_MAX_CONDS];
};

/* A value known only at run time, named '@name' in a policy. */
struct seccomp_runtime_value {
	const char *name;	/* without the '@' */
	uint64_t value;
};

struct seccomp_policy {
	char source[64];	/* file name, for messages */
	/* The runtime values for '@name'; NULL: any name is accepted as 0 (the build-time lint). */
	const struct seccomp_runtime_value *runtime;
	size_t nruntime;
	unsigned int nrules;
	struct seccomp_rule rules[SECCOMP_POLICY_MAX_RULES];
};

/* Parses text into an empty policy; 0, or -EINVAL with "SOURCE:LINE: reason" in err. */
int seccomp_policy_parse(const char *text, size_t len, const char *source,
			 struct seccomp_policy *p, char *err, size_t errlen);
/* The same, with the values of the policy's '@name's; an unknown name is an error. */
int seccomp_policy_parse_runtime(const char *text, size_t len, const char *source,
				 const struct seccomp_runtime_value *runtime, size_t nruntime,
				 struct seccomp_policy *p, char *err, size_t errlen);
/* Parses more rules into p, after the ones it has; same results. */
int seccomp_policy_append(const char *text, size_t len, const char *source,
			  struct seccomp_policy *p, char *err, size_t errlen);

/*
 * Refuses a policy that allows a dangerous syscall (ioctl, mmap, mprotect,
 * clone, socket, prctl, openat, ...) without an argument filter, mmap or
 * mprotect without 'arg2 & PROT_EXEC == 0', openat without flags masked so
 * that O_CREAT, O_TRUNC, O_APPEND and __O_TMPFILE are clear, a syscall that acts
 * on another process (kill, tgkill, tkill, pidfd_send_signal, rt_sigqueueinfo,
 * rt_tgsigqueueinfo, wait4, waitid, setpriority, ...) without '==' on the
 * argument that names it, kill, wait4 or rt_sigqueueinfo pinned to a pid <= 0
 * written in the policy (a group, or every process), or a syscall that can
 * never be filtered (clone3, open, io_uring_*, seccomp, ptrace, ...).
 * 0 or -EPERM + err.
 */
int seccomp_policy_lint(const struct seccomp_policy *p, char *err, size_t errlen);
/* Refuses a policy that allows name in any form: what one process must never do. 0 or -EPERM + err. */
int seccomp_policy_lint_forbid(const struct seccomp_policy *p, const char *name, char *err,
			       size_t errlen);

/* Distinct syscalls the policy allows. */
unsigned int seccomp_policy_count_syscalls(const struct seccomp_policy *p);

/* The policy's own verdict on a call, for tests that compare it with the kernel's. */
bool seccomp_policy_allows(const struct seccomp_policy *p, int nr, const uint64_t args[6]);
bool seccomp_rule_allows(const struct seccomp_rule *r, const uint64_t args[6]);

/*
 * Builds the filter (libseccomp's scmp_filter_ctx, returned as void *) in the
 * parent, so that the child only has to load it. NULL + err on failure.
 */
void *seccomp_policy_compile(const struct seccomp_policy *p, char *err, size_t errlen);
/* Makes a compiled filter apply to every thread of the process when loaded (TSYNC). */
int seccomp_policy_all_threads(void *compiled);
/* Loads a compiled filter into the calling process; 0 or -errno. */
int seccomp_policy_load(void *compiled);
void seccomp_policy_release(void *compiled);

#endif
