/* SPDX-License-Identifier: MIT */
#include "seccomp_probe.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_policies.h"

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

const struct seccomp_policy *probe_vmm_policy(void)
{
	static const struct seccomp_runtime_value runtime[] = { { "control_dir", 77 } };
	static struct seccomp_policy policy;
	static int parsed;
	char err[256];

	if (!parsed) {
		cr_assert_eq(seccomp_policies_vmm(runtime, 1, &policy, err, sizeof(err)), 0, "%s", err);
		parsed = 1;
	}
	return &policy;
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

/*
 * rt_sigreturn's allowed form is returning from a signal handler: installed
 * before the filter, the handler runs on a SIGUSR1 sent after it.
 */
static void return_from_a_handler(void)
{
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
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
			signal(SIGUSR1, on_sigusr1);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_policy_load(filter) < 0)
			_exit(120);
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
	if (WIFEXITED(status) && WEXITSTATUS(status) != 120)
		return PROBE_RETURNED;
	return PROBE_OTHER;
}
