/* SPDX-License-Identifier: MIT */
/*
 * Every rule of the xHCI device and the VMM policies, against the real kernel: its allowed
 * form returns (whatever the call's own result), and for a rule with argument
 * conditions, a mutated form (another ioctl request, PROT_EXEC, another fcntl
 * command...) that no rule of the policy allows kills the process with SIGSYS.
 * The policy's own evaluator picks the mutation, and is checked against the
 * kernel in the same step.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "seccomp_probe.h"

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

struct rule_case {
	bool vmm;		/* the VMM's policy, else the device process's */
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
	return c->vmm ? probe_vmm_policy() : probe_xhci_policy();
}

static struct criterion_test_params make_cases(bool conditional_only)
{
	const struct seccomp_policy *policies[] = { probe_xhci_policy(), probe_vmm_policy() };
	struct rule_case *cases = cr_malloc(sizeof(*cases) * (policies[0]->nrules + policies[1]->nrules));
	size_t n = 0;

	for (int k = 0; k < 2; k++) {
		const struct seccomp_policy *p = policies[k];

		for (unsigned int i = 0; i < p->nrules; i++) {
			if (conditional_only && p->rules[i].nconds == 0)
				continue;
			cases[n].vmm = k == 1;
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
