/* SPDX-License-Identifier: MIT */
#include "tests/unit/jail/seccomp_probe.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/seccomp_policies.h"

const struct seccomp_policy *probe_xhci_policy(void)
{
	static struct seccomp_policy policy;
	static int parsed;
	char err[256];

	if (!parsed) {
		cr_assert_eq(seccomp_policies_xhci_device(&policy, err, sizeof(err)), 0, "%s", err);
		parsed = 1;
	}
	return &policy;
}

/* The child's exit statuses that are not the probed call's: its set-up failed, or proved nothing. */
#define SETUP_FAILED 120
#define SIGNAL_TOO_EARLY 121

/*
 * Stand-ins for the policies' '@name' values: a descriptor number the probes
 * never have open, and pids above PID_MAX_LIMIT that no process has (a pid
 * rule's allowed form then fails with ESRCH or ECHILD, touching nothing).
 */
#define STAND_IN_FD 77
#define STAND_IN_VMM_PID 0x7fffff00
#define STAND_IN_DEVICE_PID 0x7fffff10
#define STAND_IN_BROKER_PID 0x7fffff20

typedef int (*runtime_parser)(const struct seccomp_runtime_value *runtime, size_t nruntime,
			      struct seccomp_policy *p, char *err, size_t errlen);

/* Parses a policy with its runtime values once; later calls return the same. */
static const struct seccomp_policy *parse_once(struct seccomp_policy *policy, int *parsed,
					       runtime_parser parse,
					       const struct seccomp_runtime_value *runtime, size_t n)
{
	char err[256];

	if (!*parsed) {
		cr_assert_eq(parse(runtime, n, policy, err, sizeof(err)), 0, "%s", err);
		*parsed = 1;
	}
	return policy;
}

const struct seccomp_policy *probe_vmm_policy(void)
{
	static const struct seccomp_runtime_value runtime[] = {
		{ "control_dir", STAND_IN_FD },
		{ "vmm_pid", STAND_IN_VMM_PID },
		{ "device_pid", STAND_IN_DEVICE_PID },
		{ "broker_pid", STAND_IN_BROKER_PID },
	};
	static struct seccomp_policy policy;
	static int parsed;

	return parse_once(&policy, &parsed, seccomp_policies_vmm, runtime,
			  sizeof(runtime) / sizeof(runtime[0]));
}

const struct seccomp_policy *probe_broker_policy(void)
{
	static const struct seccomp_runtime_value runtime[] = { { "socket_dir", STAND_IN_FD } };
	static struct seccomp_policy policy;
	static int parsed;

	return parse_once(&policy, &parsed, seccomp_policies_broker, runtime, 1);
}

static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
	(void)sig;
	handled = 1;
}

/*
 * rt_sigreturn's allowed form is returning from a signal handler. A timer
 * armed before the filter delivers the signal while the child spins, so the
 * return is the only call the filter sees, whatever else the policy allows.
 */
static void arm_a_handler(void)
{
	const struct itimerval in_100ms = { .it_value = { .tv_usec = 100 * 1000 } };

	signal(SIGALRM, on_alarm);
	if (setitimer(ITIMER_REAL, &in_100ms, NULL) < 0)
		_exit(SETUP_FAILED);
}

static void return_from_a_handler(void)
{
	/* Already delivered: the return happened before the filter, proving nothing. */
	if (handled)
		_exit(SIGNAL_TOO_EARLY);
	while (!handled)
		;
}

enum probe_outcome probe_syscall(const struct seccomp_policy *p, int nr, const uint64_t args[6],
				 int *status_out)
{
	char err[256];
	void *filter = seccomp_policy_compile(p, err, sizeof(err));
	int status;
	pid_t pid;

	cr_assert_not_null(filter, "%s", err);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (nr == SYS_rt_sigreturn)
			arm_a_handler();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_policy_load(filter) < 0)
			_exit(SETUP_FAILED);
		if (nr == SYS_rt_sigreturn)
			return_from_a_handler();
		else
			syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
		_exit(0);
	}
	seccomp_policy_release(filter);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (status_out)
		*status_out = status;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		return PROBE_KILLED_SIGSYS;
	if (WIFEXITED(status) && WEXITSTATUS(status) != SETUP_FAILED &&
	    WEXITSTATUS(status) != SIGNAL_TOO_EARLY)
		return PROBE_RETURNED;
	return PROBE_OTHER;
}
