/* SPDX-License-Identifier: MIT */
/* The policy language: what parses, what is refused with its line, and what the lint forbids. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "jail/seccomp_policy.h"

static struct seccomp_policy policy;
static char err[512];

static int parse(const char *text)
{
	return seccomp_policy_parse(text, strlen(text), "t.policy", &policy, err, sizeof(err));
}

Test(seccomp_policy, rules_conditions_and_constants)
{
	cr_assert_eq(parse("# comment\n\nread\nmmap: arg2 & PROT_EXEC == 0 && arg3 == MAP_SHARED|MAP_FIXED # why\n"
			   "fcntl: arg1 == F_GETFL\nfcntl: arg1 == 0x4\nclose\n"), 0, "%s", err);
	cr_assert_eq(policy.nrules, 5);
	cr_assert_eq(policy.rules[0].nr, SYS_read);
	cr_assert_eq(policy.rules[1].nconds, 2);
	cr_assert_eq(policy.rules[1].conds[0].op, SECCOMP_OP_MASKED_EQ);
	cr_assert_eq(policy.rules[1].conds[0].mask, PROT_EXEC);
	cr_assert_eq(policy.rules[1].conds[1].value, MAP_SHARED | MAP_FIXED);
	cr_assert_eq(policy.rules[1].line, 4);
	cr_assert_eq(seccomp_policy_count_syscalls(&policy), 4);
}

Test(seccomp_policy, the_model_ors_lines_and_ands_conditions)
{
	uint64_t a[6] = { 0 };

	cr_assert_eq(parse("fcntl: arg1 == 1\nfcntl: arg1 == 3\nmmap: arg2 & 4 == 0 && arg3 == 1\n"), 0, "%s", err);
	a[1] = 1;
	cr_assert(seccomp_policy_allows(&policy, SYS_fcntl, a));
	a[1] = 3;
	cr_assert(seccomp_policy_allows(&policy, SYS_fcntl, a));
	a[1] = 2;
	cr_assert_not(seccomp_policy_allows(&policy, SYS_fcntl, a));
	a[2] = 3;
	a[3] = 1;
	cr_assert(seccomp_policy_allows(&policy, SYS_mmap, a));
	a[2] = 7;
	cr_assert_not(seccomp_policy_allows(&policy, SYS_mmap, a));
	a[2] = 3;
	a[3] = 2;
	cr_assert_not(seccomp_policy_allows(&policy, SYS_mmap, a));
	cr_assert_not(seccomp_policy_allows(&policy, SYS_read, a));
}

Test(seccomp_policy, malformed_lines_are_refused_with_their_number)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "read\nfrobnicate\n", "t.policy:2: unknown syscall 'frobnicate'" },
		{ "read\nioctl: arg1 == USBDEVFS_NOPE\n", "t.policy:2: unknown constant 'USBDEVFS_NOPE'" },
		{ "ioctl: arg9 == 1\n", "t.policy:1: expected arg0 .. arg5" },
		{ "ioctl: arg1 =< 1\n", "t.policy:1: expected an operator" },
		{ "ioctl: arg1 == 12z\n", "t.policy:1: '12z' is not a number" },
		{ "ioctl: arg1 == 1 junk\n", "t.policy:1: unexpected 'junk'" },
		{ "ioctl:\n", "t.policy:1: expected arg0 .. arg5" },
		{ "ioctl: arg1 == 1 || arg1 == 2\n", "t.policy:1: '||' is not supported: write one line per alternative" },
		{ "mmap: arg2 & 4 == 8\n", "t.policy:1: the value has bits outside the mask" },
		{ "mmap: arg2 & 4\n", "t.policy:1: a mask must be compared with '=='" },
		{ "# nothing\n", "t.policy:0: no rules" },
		{ "read: arg0 == 1 && arg0 == 1 && arg0 == 1 && arg0 == 1 && arg0 == 1 && arg0 == 1 && arg0 == 1\n",
		  "t.policy:1: more than 6 conditions" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_lt(parse(cases[i].text), 0, "accepted: %s", cases[i].text);
		cr_assert(strstr(err, cases[i].want), "for %s got '%s', want '%s'", cases[i].text, err, cases[i].want);
	}
}

Test(seccomp_policy, overlong_lines_and_too_many_rules)
{
	static char text[SECCOMP_POLICY_MAX_RULES * 6 + 64];
	char line[SECCOMP_POLICY_MAX_LINE + 10];

	memset(line, ' ', sizeof(line) - 2);
	memcpy(line, "read", 4);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	cr_assert_lt(parse(line), 0);
	cr_assert(strstr(err, "line longer than"), "%s", err);

	text[0] = '\0';
	for (int i = 0; i <= SECCOMP_POLICY_MAX_RULES; i++)
		strcat(text, "read\n");
	cr_assert_lt(parse(text), 0);
	cr_assert(strstr(err, "more than 128 rules"), "%s", err);
}

Test(seccomp_policy, lint_refuses_dangerous_syscalls_without_filters)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "read\nioctl\n", "t.policy:2: ioctl allowed without an argument filter" },
		{ "mmap\n", "mmap allowed without an argument filter" },
		{ "mprotect: arg0 == 0\n", "mprotect allowed without 'arg2 & PROT_EXEC == 0'" },
		{ "mmap: arg2 & PROT_READ == 0\n", "mmap allowed without 'arg2 & PROT_EXEC == 0'" },
		{ "clone\n", "clone allowed without an argument filter" },
		{ "socket\n", "socket allowed without an argument filter" },
		{ "prctl\n", "prctl allowed without an argument filter" },
		{ "clone3\n", "clone3 must never be allowed" },
		{ "execve\n", "execve must never be allowed" },
		{ "open: arg1 == 0\n", "open must never be allowed" },
		{ "creat: arg1 == 0\n", "creat must never be allowed" },
		{ "openat2: arg3 == 24\n", "openat2 must never be allowed" },
		{ "openat\n", "openat allowed without an argument filter" },
		{ "openat: arg3 == 0\n", "openat allowed without 'arg2 & O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == 0'" },
		/* Each of the four bits must be masked and clear, in every form openat is allowed. */
		{ "openat: arg2 & O_CREAT|O_TRUNC|O_APPEND == 0\n", "openat allowed without" },
		{ "openat: arg2 & O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == O_TRUNC\n", "openat allowed without" },
		{ "openat: arg2 & O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == O_RDONLY\n"
		  "openat: arg2 & O_ACCMODE == O_RDWR\n", "t.policy:2: openat allowed without" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(cases[i].text), 0, "%s", err);
		cr_assert_lt(seccomp_policy_lint(&policy, err, sizeof(err)), 0, "lint passed: %s", cases[i].text);
		cr_assert(strstr(err, cases[i].want), "got '%s', want '%s'", err, cases[i].want);
	}
	cr_assert_eq(parse("ioctl: arg1 == 1\nmmap: arg2 & PROT_EXEC == 0\nread\n"
			   "openat: arg2 & O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == O_RDWR\n"), 0, "%s", err);
	cr_assert_eq(seccomp_policy_lint(&policy, err, sizeof(err)), 0, "%s", err);
}

/*
 * A call that acts on another process must name which: a filter on the signal
 * alone lets kill(-1, SIGKILL) through, and as root that ends every root process.
 */
Test(seccomp_policy, lint_refuses_acting_on_a_process_without_naming_it)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "kill: arg1 == SIGKILL\n", "t.policy:1: kill allowed without 'arg0 == ...'" },
		{ "tgkill: arg2 == SIGUSR1\n", "tgkill allowed without 'arg0 == ...'" },
		{ "tkill\n", "tkill allowed without 'arg0 == ...'" },
		{ "pidfd_send_signal: arg1 == SIGKILL\n", "pidfd_send_signal allowed without 'arg0 == ...'" },
		{ "rt_sigqueueinfo: arg1 == SIGUSR1\n", "rt_sigqueueinfo allowed without 'arg0 == ...'" },
		{ "rt_tgsigqueueinfo: arg0 != 1\n", "rt_tgsigqueueinfo allowed without 'arg0 == ...'" },
		{ "kill: arg0 > 1 && arg1 == SIGKILL\n", "kill allowed without 'arg0 == ...'" },
		{ "wait4\n", "wait4 allowed without 'arg0 == ...'" },
		/* P_ALL ignores the id: the id type must be pinned too. */
		{ "waitid: arg1 == @child\n", "waitid allowed without 'arg0 == ...'" },
		/* PRIO_USER makes 'who' a uid: every process of it. */
		{ "setpriority: arg1 == 0\n", "setpriority allowed without 'arg0 == ...'" },
		{ "sched_setaffinity: arg1 == 8\n", "sched_setaffinity allowed without 'arg0 == ...'" },
		{ "kill: arg0 == @child && arg1 == SIGKILL\nkill: arg1 == SIGKILL\n",
		  "t.policy:2: kill allowed without 'arg0 == ...'" },
		/* Pinned, but to every process, the caller's group, another group. */
		{ "kill: arg0 == 0xffffffffffffffff && arg1 == SIGKILL\n", "kill allowed on a pid <= 0" },
		{ "kill: arg0 == 0 && arg1 == SIGKILL\n", "kill allowed on a pid <= 0" },
		{ "kill: arg0 == 0xffffff00\n", "kill allowed on a pid <= 0" },
		{ "wait4: arg0 == 0xffffffff\n", "wait4 allowed on a pid <= 0" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(cases[i].text), 0, "%s", err);
		cr_assert_lt(seccomp_policy_lint(&policy, err, sizeof(err)), 0, "lint passed: %s", cases[i].text);
		cr_assert(strstr(err, cases[i].want), "got '%s', want '%s'", err, cases[i].want);
	}
	cr_assert_eq(parse("kill: arg0 == @device_pid && arg1 == SIGKILL\n"
			   "tgkill: arg0 == @vmm_pid && arg2 == SIGUSR1\n"
			   "wait4: arg0 == @device_pid\nwaitid: arg0 == 1 && arg1 == @device_pid\n"
			   "kill: arg0 == 42 && arg1 == SIGTERM\n"), 0, "%s", err);
	cr_assert_eq(seccomp_policy_lint(&policy, err, sizeof(err)), 0, "%s", err);
}

Test(seccomp_policy, a_policy_can_forbid_what_the_lint_allows)
{
	/* The device process and the VMM open nothing: their policies are linted with --forbid openat. */
	cr_assert_eq(parse("read\nopenat: arg2 & O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == 0\n"), 0, "%s", err);
	cr_assert_eq(seccomp_policy_lint(&policy, err, sizeof(err)), 0, "%s", err);
	cr_assert_lt(seccomp_policy_lint_forbid(&policy, "openat", err, sizeof(err)), 0);
	cr_assert(strstr(err, "t.policy:2: openat is forbidden in this policy"), "%s", err);
	cr_assert_eq(seccomp_policy_lint_forbid(&policy, "write", err, sizeof(err)), 0, "%s", err);
}

Test(seccomp_policy, runtime_values)
{
	static const struct seccomp_runtime_value vals[] = { { "control_dir", 7 } };

	cr_assert_eq(seccomp_policy_parse_runtime("unlinkat: arg0 == @control_dir && arg2 == 0\n", 43, "t.policy",
						  vals, 1, &policy, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(policy.rules[0].conds[0].value, 7);
	cr_assert_lt(seccomp_policy_parse_runtime("unlinkat: arg0 == @other\n", 25, "t.policy", vals, 1,
						  &policy, err, sizeof(err)), 0);
	cr_assert(strstr(err, "t.policy:1: no runtime value for '@other'"), "%s", err);
	/* The build-time lint has no values: any name parses, as 0. */
	cr_assert_eq(parse("unlinkat: arg0 == @anything\n"), 0, "%s", err);
	cr_assert_lt(parse("unlinkat: arg0 == @\n"), 0);
}
