/* SPDX-License-Identifier: MIT */
/*
 * Every rule of the xHCI device, the VMM and the broker policies, against the real kernel: its allowed
 * form returns (whatever the call's own result), and for a rule with argument
 * conditions, a mutated form (another ioctl request, PROT_EXEC, another fcntl
 * command...) that no rule of the policy allows kills the process with SIGSYS.
 * The policy's own evaluator picks the mutation, and is checked against the
 * kernel in the same step.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/unit/jail/seccomp_probe.h"

/*
 * Harmless arguments, so that an allowed call fails fast instead of doing
 * anything: 0x7ffffff0 is no open fd, no mapped address, no pid (above
 * pid_max), an invalid length, flag set and clock. Never -1 or 0: kill(-1, ...)
 * signals every process the caller may signal, kill(0, ...) its process group.
 */
#define HARMLESS_ARG 0x7ffffff0ull

static void base_args(uint64_t args[6])
{
	for (int i = 0; i < 6; i++)
		args[i] = HARMLESS_ARG;
}

/*
 * The kill family with a pid that is not one process (the kernel reads an int:
 * 0 is the caller's group, -1 everyone, below that a group): never run,
 * whatever the policy says.
 */
static bool signals_a_group(int nr, const uint64_t args[6])
{
	int pid = (int)(uint32_t)args[0];

	return (nr == SYS_kill || nr == SYS_tgkill || nr == SYS_tkill) && pid <= 0;
}

/* Arguments that satisfy every condition of rule r. */
static void allowed_args(const struct seccomp_rule *r, uint64_t args[6])
{
	base_args(args);
	for (unsigned int k = 0; k < r->nconds; k++) {
		const struct seccomp_cond *c = &r->conds[k];
		uint64_t *a = &args[c->arg];

		switch (c->op) {
		case SECCOMP_OP_EQ: case SECCOMP_OP_LE: case SECCOMP_OP_GE: *a = c->value; break;
		case SECCOMP_OP_NE: case SECCOMP_OP_GT: *a = c->value + 1; break;
		case SECCOMP_OP_LT: *a = c->value - 1; break;
		case SECCOMP_OP_MASKED_EQ: *a = (*a & ~c->mask) | c->value; break;
		}
	}
}

/* Arguments like the allowed ones but with one condition broken so that no rule allows them. */
static bool mutated_args(const struct seccomp_policy *p, const struct seccomp_rule *r, uint64_t args[6])
{
	for (unsigned int k = 0; k < r->nconds; k++) {
		const struct seccomp_cond *c = &r->conds[k];
		uint64_t candidates[] = {
			c->value ^ 1, c->value + 0x100, c->value ^ 0x40000000u, c->value | c->mask,
			(c->value & ~c->mask) | (c->mask & ~c->value), ~c->value, 0,
		};

		for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
			allowed_args(r, args);
			args[c->arg] = candidates[i];
			if (!seccomp_policy_allows(p, r->nr, args))
				return true;
		}
	}
	return false;
}

/* The policies under test, by a case's index. */
static const struct seccomp_policy *(*const policies[])(void) = {
	probe_xhci_policy, probe_vmm_policy, probe_broker_policy,
};
#define NPOLICIES (sizeof(policies) / sizeof(policies[0]))

struct rule_case {
	unsigned int policy;	/* index in policies[] */
	unsigned int index;
	char name[SECCOMP_POLICY_NAME_MAX];
	unsigned int line;
};

static void free_cases(struct criterion_test_params *params)
{
	cr_free(params->params);
}

static const struct seccomp_policy *case_policy(const struct rule_case *c)
{
	return policies[c->policy]();
}

static struct criterion_test_params make_cases(bool conditional_only)
{
	struct rule_case *cases;
	size_t n = 0, total = 0;

	for (unsigned int k = 0; k < NPOLICIES; k++)
		total += policies[k]()->nrules;
	cases = cr_malloc(sizeof(*cases) * total);
	for (unsigned int k = 0; k < NPOLICIES; k++) {
		const struct seccomp_policy *p = policies[k]();

		for (unsigned int i = 0; i < p->nrules; i++) {
			if (conditional_only && p->rules[i].nconds == 0)
				continue;
			cases[n].policy = k;
			cases[n].index = i;
			snprintf(cases[n].name, sizeof(cases[n].name), "%s", p->rules[i].name);
			cases[n].line = p->rules[i].line;
			n++;
		}
	}
	return cr_make_param_array(struct rule_case, cases, n, free_cases);
}

ParameterizedTestParameters(seccomp_rule, allowed_form_returns)
{
	return make_cases(false);
}

ParameterizedTest(struct rule_case *c, seccomp_rule, allowed_form_returns)
{
	const struct seccomp_policy *p = case_policy(c);
	const struct seccomp_rule *r = &p->rules[c->index];
	uint64_t args[6];
	int status;

	allowed_args(r, args);
	cr_assert(seccomp_policy_allows(p, r->nr, args), "line %u: the model refuses its own allowed form", c->line);
	cr_assert_not(signals_a_group(r->nr, args), "line %u: refusing to probe %s on a process group", c->line, c->name);
	cr_assert_eq(probe_syscall(p, r->nr, args, &status), PROBE_RETURNED,
		     "%s:%u: %s in its allowed form did not return (status %#x)",
		     p->source, c->line, c->name, status);
}

ParameterizedTestParameters(seccomp_rule, mutated_form_is_killed)
{
	return make_cases(true);
}

ParameterizedTest(struct rule_case *c, seccomp_rule, mutated_form_is_killed)
{
	const struct seccomp_policy *p = case_policy(c);
	const struct seccomp_rule *r = &p->rules[c->index];
	uint64_t args[6];
	int status;

	cr_assert(mutated_args(p, r, args), "line %u: no mutation of %s escapes every rule", c->line, c->name);
	cr_assert_not(signals_a_group(r->nr, args), "line %u: refusing to probe %s on a process group", c->line, c->name);
	cr_assert_eq(probe_syscall(p, r->nr, args, &status), PROBE_KILLED_SIGSYS,
		     "%s:%u: mutated %s(%#lx, %#lx, %#lx) was not killed (status %#x)",
		     p->source, c->line, c->name, (unsigned long)args[0], (unsigned long)args[1],
		     (unsigned long)args[2], status);
}

Test(seccomp_rule, policy_stays_small)
{
	unsigned int n = seccomp_policy_count_syscalls(probe_xhci_policy());

	/* The target: at most 40 syscalls. The figures are printed for the record. */
	fprintf(stderr, "xhci_device.policy allows %u syscalls\n", n);
	fprintf(stderr, "vmm.policy allows %u syscalls\n", seccomp_policy_count_syscalls(probe_vmm_policy()));
	fprintf(stderr, "broker.policy allows %u syscalls\n",
		seccomp_policy_count_syscalls(probe_broker_policy()));
	cr_assert_leq(n, 40);
}

/*
 * USB 3 bulk streams of a passed-through device: the controller allocates
 * them when the guest configures a streams endpoint (libusb_alloc_streams).
 * Each rule is probed against the kernel by the parameterized tests above;
 * this names the two the passthrough cannot work without.
 */
Test(seccomp_rule, xhci_policy_allows_usb_streams)
{
	const struct seccomp_policy *p = probe_xhci_policy();
	const unsigned long requests[] = { USBDEVFS_ALLOC_STREAMS, USBDEVFS_FREE_STREAMS };
	uint64_t args[6];
	int status;

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		base_args(args);
		args[1] = requests[i];
		cr_assert(seccomp_policy_allows(p, SYS_ioctl, args), "ioctl %#lx refused", requests[i]);
		cr_assert_eq(probe_syscall(p, SYS_ioctl, args, &status), PROBE_RETURNED,
			     "ioctl %#lx killed (status %#x)", requests[i], status);
	}
}

/*
 * The broker opens files, so its filter is the one place openat is allowed:
 * in the broker's own forms it returns, and any of the ways an open could
 * create, truncate, append to or make a file kills it. The path is a real
 * one, so an allowed form really opens (and a refused one would have).
 */
Test(seccomp_rule, broker_opens_but_never_creates_truncates_or_appends)
{
	const struct seccomp_policy *p = probe_broker_policy();
	static const char path[] = "/proc/self/status";
	static const struct { int flags; bool allowed; } forms[] = {
		{ O_RDONLY | O_CLOEXEC, true },
		{ O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW, true },
		{ O_PATH | O_CLOEXEC | O_NOFOLLOW, true },
		{ O_RDWR | O_CLOEXEC | O_NOCTTY, true },
		{ O_RDONLY, false },				/* not close-on-exec: not the broker's */
		{ O_WRONLY | O_CLOEXEC, false },
		{ O_RDONLY | O_CLOEXEC | O_CREAT, false },
		{ O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, false },
		{ O_RDWR | O_CLOEXEC | O_TRUNC, false },
		{ O_RDWR | O_CLOEXEC | O_APPEND, false },
		{ O_RDWR | O_CLOEXEC | O_TMPFILE, false },
		{ O_PATH | O_CLOEXEC | O_CREAT, false },
	};
	uint64_t args[6];
	int status;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		base_args(args);
		args[0] = (uint64_t)AT_FDCWD;
		args[1] = (uint64_t)(uintptr_t)path;
		args[2] = (uint64_t)forms[i].flags;
		args[3] = 0600;
		cr_assert_eq(seccomp_policy_allows(p, SYS_openat, args), forms[i].allowed,
			     "the model disagrees on flags %#x", forms[i].flags);
		cr_assert_eq(probe_syscall(p, SYS_openat, args, &status),
			     forms[i].allowed ? PROBE_RETURNED : PROBE_KILLED_SIGSYS,
			     "openat(%s, %#x): status %#x", path, forms[i].flags, status);
	}
}

/* What the broker never does, each killed whatever its arguments. */
Test(seccomp_rule, broker_refuses_what_it_never_does)
{
	const struct seccomp_policy *p = probe_broker_policy();
	static const struct { int nr; uint64_t a0, a1, a2; const char *what; } calls[] = {
		{ SYS_open, 0, O_RDONLY, 0, "open (glibc opens with openat)" },
		{ SYS_creat, 0, 0600, 0, "creat" },
		{ SYS_unlinkat, (uint64_t)AT_FDCWD, 0, 0, "unlinkat outside the socket's directory" },
		{ SYS_unlink, 0, 0, 0, "unlink by path" },
		{ SYS_write, 1, 0, 0, "write to anything but stderr" },
		{ SYS_pwrite64, 2, 0, 0, "pwrite64" },
		{ SYS_ioctl, 0, USBDEVFS_SUBMITURB, 0, "a usbfs transfer" },
		{ SYS_ioctl, 0, USBDEVFS_RESET, 0, "a usbfs reset" },
		{ SYS_getsockopt, 0, SOL_SOCKET, SO_PEERSEC, "another socket option" },
		{ SYS_mmap, 0, 4096, PROT_READ, "a file mapping (no MAP_ANONYMOUS)" },
		{ SYS_socket, AF_INET, SOCK_STREAM, 0, "socket" },
		{ SYS_connect, 0, 0, 0, "connect" },
		{ SYS_execve, 0, 0, 0, "execve" },
		{ SYS_clone, 0, 0, 0, "clone" },
		{ SYS_ptrace, 0, 0, 0, "ptrace" },
		{ SYS_kill, 1, SIGKILL, 0, "kill" },
		{ SYS_setuid, 0, 0, 0, "setuid" },
		{ SYS_chmod, 0, 0, 0, "chmod" },
		{ SYS_mount, 0, 0, 0, "mount" },
	};
	uint64_t args[6];
	int status;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		base_args(args);
		args[0] = calls[i].a0;
		args[1] = calls[i].a1;
		args[2] = calls[i].a2;
		if (calls[i].nr == SYS_mmap)
			args[3] = MAP_SHARED;
		cr_assert_not(seccomp_policy_allows(p, calls[i].nr, args), "the model allows %s", calls[i].what);
		cr_assert_eq(probe_syscall(p, calls[i].nr, args, &status), PROBE_KILLED_SIGSYS,
			     "%s was not killed (status %#x)", calls[i].what, status);
	}
}
