/* SPDX-License-Identifier: MIT */
/*
 * Whom the VMM's filter lets it signal. The VMM runs as uid 0 without
 * capabilities, which may still signal every root process: a filter that
 * only checks the signal number lets a compromised VMM kill the host's root
 * processes (kill(-1, SIGKILL)). The real policy, as vmm/vmm_lockdown.c builds
 * it, must let it signal the device process and its own threads, and kill it
 * for any other target.
 *
 * Nothing here can harm the machine even under a policy that allowed every
 * target: the processes signalled are the test's own, and a signal to a group
 * (-1, 0) or to pid 1 is sent only from the init of a fresh pid namespace
 * that holds nothing else.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/vmm_lockdown.h"

/* No descriptor and no process has these (above PID_MAX_LIMIT): a call aimed at them fails harmlessly. */
#define STAND_IN_FD 77
#define NO_SUCH_PID 0x7ffffff0
/* In place of a pid argument: the probe's own pid (and tid), known only once it is forked. */
#define OWN_PID LONG_MIN

enum outcome { RETURNED, KILLED_SIGSYS, OTHER };

/* The child's exit codes that are not the probed call's. */
#define SETUP_FAILED 120
#define NAMESPACE_FAILED 121

/* The VMM's policy as vmm/vmm_lockdown.c builds it; this process is the VMM. */
static int parse_vmm_policy(struct seccomp_policy *p, pid_t device_pid, pid_t broker_pid, char *err,
			    size_t errlen)
{
	const struct vmm_lockdown_targets targets = {
		.control_dir_fd = STAND_IN_FD, .device_pid = device_pid, .broker_pid = broker_pid,
	};

	return vmm_lockdown_policy(&targets, p, err, errlen);
}

/*
 * In the calling (forked) process: alone in a new session, so that its
 * process group is its own; SIGUSR1 blocked, so that one sent to itself is
 * harmless; then the filter. Exits SETUP_FAILED if any of it fails.
 */
static void load_vmm_policy(pid_t device_pid)
{
	static struct seccomp_policy policy;
	sigset_t usr1;
	char err[256];
	void *filter;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (setsid() < 0 || sigprocmask(SIG_BLOCK, &usr1, NULL) < 0 ||
	    parse_vmm_policy(&policy, device_pid, NO_SUCH_PID, err, sizeof(err)) < 0)
		_exit(SETUP_FAILED);
	filter = seccomp_policy_compile(&policy, err, sizeof(err));
	if (!filter || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_policy_load(filter) < 0)
		_exit(SETUP_FAILED);
}

/* The call under the VMM's filter, in the calling (forked) process; exits 0 if it returned. */
static void __attribute__((noreturn)) call_under_vmm_policy(pid_t device_pid, long nr, long a0, long a1, long a2)
{
	load_vmm_policy(device_pid);
	if (a0 == OWN_PID)
		a0 = getpid();
	if (a1 == OWN_PID)
		a1 = gettid();
	syscall(nr, a0, a1, a2);
	_exit(0);
}

static enum outcome outcome_of(int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		return KILLED_SIGSYS;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return RETURNED;
	return OTHER;
}

static enum outcome run_under_vmm_policy(pid_t device_pid, long nr, long a0, long a1, long a2)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		call_under_vmm_policy(device_pid, nr, a0, a1, a2);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_neq(outcome_of(status), OTHER, "the probe ended with status %#x", status);
	return outcome_of(status);
}

/* The same as the init (pid 1) of a new pid namespace: kill(-1) there reaches no other process. */
static enum outcome run_in_pid_namespace(long nr, long a0, long a1, long a2)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pid_t init;
		int st;

		if (unshare(CLONE_NEWPID) < 0)
			_exit(NAMESPACE_FAILED);
		init = fork();
		if (init < 0)
			_exit(NAMESPACE_FAILED);
		if (init == 0) {
			if (getpid() != 1)
				_exit(NAMESPACE_FAILED);
			call_under_vmm_policy(NO_SUCH_PID, nr, a0, a1, a2);
		}
		if (waitpid(init, &st, 0) != init)
			_exit(NAMESPACE_FAILED);
		_exit(outcome_of(st) == KILLED_SIGSYS ? 1 : outcome_of(st) == RETURNED ? 0 :
		      WIFEXITED(st) ? WEXITSTATUS(st) : 2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the namespace's parent ended with status %#x", status);
	cr_assert_neq(WEXITSTATUS(status), NAMESPACE_FAILED, "cannot make a pid namespace: %s", strerror(errno));
	cr_assert_leq(WEXITSTATUS(status), 1, "the probe failed to set up (exit %d)", WEXITSTATUS(status));
	return WEXITSTATUS(status) == 1 ? KILLED_SIGSYS : RETURNED;
}

/* A process of the caller's own that only waits to be signalled, and dies with its parent. */
static pid_t spawn_sacrificial(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		for (;;)
			pause();
	}
	return pid;
}

/* The same in the test process: never -1, which a probe would read as every process. */
static pid_t sacrificial_process(void)
{
	pid_t pid = spawn_sacrificial();

	cr_assert_gt(pid, 0);
	return pid;
}

/* Whether a sacrificial process is still alive; it is killed and reaped either way. */
static bool survived(pid_t pid)
{
	int status;
	bool alive = waitpid(pid, &status, WNOHANG) == 0;

	if (alive) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return alive;
}

Test(seccomp_targets, vmm_kills_its_device_process)
{
	pid_t device = sacrificial_process();
	int status;

	cr_assert_eq(run_under_vmm_policy(device, SYS_kill, device, SIGKILL, 0), RETURNED);
	cr_assert_eq(waitpid(device, &status, 0), device);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
}

Test(seccomp_targets, vmm_cannot_kill_another_process)
{
	pid_t device = sacrificial_process();
	pid_t other = sacrificial_process();
	enum outcome o = run_under_vmm_policy(device, SYS_kill, other, SIGKILL, 0);
	bool other_lives = survived(other);

	survived(device);
	cr_assert_eq(o, KILLED_SIGSYS, "kill(another pid, SIGKILL) returned");
	cr_assert(other_lives, "the filter let the VMM kill a process that is not its device process");
}

/*
 * A signal to every process (-1), the caller's group (0), another group
 * (-pgid) or init: the policy's own verdict first, then the kernel's, from a
 * pid namespace where any of them would reach nothing but the caller.
 */
Test(seccomp_targets, vmm_cannot_signal_everyone_a_group_or_init)
{
	static struct seccomp_policy policy;
	const long targets[] = { -1, 0, -(long)getpgrp(), 1 };
	char err[256];

	cr_assert_eq(parse_vmm_policy(&policy, NO_SUCH_PID, NO_SUCH_PID, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		uint64_t args[6] = { (uint64_t)targets[i], SIGKILL };

		cr_assert_not(seccomp_policy_allows(&policy, SYS_kill, args), "the policy allows kill(%ld, SIGKILL)",
			      targets[i]);
		cr_assert_eq(run_in_pid_namespace(SYS_kill, targets[i], SIGKILL, 0), KILLED_SIGSYS,
			     "kill(%ld, SIGKILL) returned", targets[i]);
	}
}

/* pthread_kill is tgkill(getpid(), tid, sig): the vCPU kick reaches the VMM's own threads only. */
Test(seccomp_targets, vmm_kicks_only_its_own_threads)
{
	pid_t other = sacrificial_process();
	pid_t device = sacrificial_process();
	enum outcome own, foreign, to_device;

	own = run_under_vmm_policy(NO_SUCH_PID, SYS_tgkill, OWN_PID, OWN_PID, SIGUSR1);
	foreign = run_under_vmm_policy(NO_SUCH_PID, SYS_tgkill, other, other, SIGUSR1);
	to_device = run_under_vmm_policy(device, SYS_tgkill, device, device, SIGUSR1);
	cr_assert(survived(other), "the filter let the VMM signal another process's thread");
	cr_assert(survived(device), "the filter let the VMM signal the device process's thread");
	cr_assert_eq(own, RETURNED, "the vCPU kick was refused");
	cr_assert_eq(foreign, KILLED_SIGSYS);
	cr_assert_eq(to_device, KILLED_SIGSYS);
}

/* A child that does not exist (a system broker, a device process that never started) is no group. */
Test(seccomp_targets, a_missing_child_is_no_group)
{
	static struct seccomp_policy policy;
	const pid_t missing[] = { 0, -1, -ENOMEM };
	const long groups[] = { 0, -1 };
	char err[256];

	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		cr_assert_eq(parse_vmm_policy(&policy, missing[i], missing[i], err, sizeof(err)), 0, "%s", err);
		for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
			uint64_t kill_args[6] = { (uint64_t)groups[g], SIGKILL };
			uint64_t wait_args[6] = { (uint64_t)groups[g] };

			cr_assert_not(seccomp_policy_allows(&policy, SYS_kill, kill_args),
				      "pid %d: kill(%ld) allowed", missing[i], groups[g]);
			cr_assert_not(seccomp_policy_allows(&policy, SYS_wait4, wait_args),
				      "pid %d: wait4(%ld) allowed", missing[i], groups[g]);
		}
	}
}

/*
 * Pid reuse: once reaped, the device process's pid may become another
 * process's, and the filter would let the VMM kill that one. So the VMM
 * reads the device process's end with waitid(WNOWAIT) and the filter refuses
 * to reap it: its zombie holds the pid until the VMM exits. Here the probe
 * is the VMM and its own child the device process.
 */
Test(seccomp_targets, vmm_sees_its_device_process_end_but_cannot_reap_it)
{
	int status, seen[2];
	char byte = 0;
	pid_t vmm;

	cr_assert_eq(pipe(seen), 0);
	vmm = fork();
	cr_assert_geq(vmm, 0);
	if (vmm == 0) {
		pid_t device = spawn_sacrificial();
		siginfo_t si = { 0 };

		close(seen[0]);
		if (device <= 0)
			_exit(SETUP_FAILED);
		load_vmm_policy(device);
		kill(device, SIGKILL);
		/* One byte: the end was read as the VMM reads it, and the filter let it. */
		if (waitid(P_PID, (id_t)device, &si, WEXITED | WNOWAIT) < 0 || si.si_pid != device ||
		    si.si_code != CLD_KILLED || si.si_status != SIGKILL || write(seen[1], "y", 1) != 1)
			_exit(SETUP_FAILED);
		syscall(SYS_wait4, device, NULL, 0, NULL);
		_exit(0);
	}
	close(seen[1]);
	cr_assert_eq(waitpid(vmm, &status, 0), vmm);
	cr_assert_eq(read(seen[0], &byte, 1), 1, "waitid(WNOWAIT) did not report the kill (status %#x)", status);
	close(seen[0]);
	cr_assert_eq(outcome_of(status), KILLED_SIGSYS, "reaping the device process was not refused (status %#x)",
		     status);
}

/*
 * Nor can it drop the zombie another way: SIGCHLD ignored (or SA_NOCLDWAIT)
 * has the kernel reap a child that ends after. The policy as this build
 * enforces it (a sanitizer build adds the runtime's calls) never allows it,
 * nor waiting on the device process without WNOWAIT, or on any child.
 */
Test(seccomp_targets, vmm_cannot_reap_its_device_process_another_way)
{
	static struct seccomp_policy policy;
	const pid_t device = 4242;
	char err[256];
	const struct { int nr; uint64_t a0, a1, a2, a3; const char *what; } calls[] = {
		{ SYS_rt_sigaction, SIGCHLD, 0, 0, 8, "rt_sigaction(SIGCHLD)" },
		{ SYS_waitid, P_PID, device, 0, WEXITED, "waitid without WNOWAIT" },
		{ SYS_waitid, P_PID, device, 0, WEXITED | WNOHANG, "waitid(WNOHANG) without WNOWAIT" },
		{ SYS_waitid, P_ALL, 0, 0, WEXITED, "waitid(P_ALL)" },
		{ SYS_wait4, device, 0, 0, 0, "wait4(device)" },
		{ SYS_wait4, (uint64_t)-1, 0, 0, 0, "wait4(-1)" },
	};

	cr_assert_eq(parse_vmm_policy(&policy, device, NO_SUCH_PID, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		uint64_t args[6] = { calls[i].a0, calls[i].a1, calls[i].a2, calls[i].a3 };

		cr_assert_not(seccomp_policy_allows(&policy, calls[i].nr, args), "the policy allows %s",
			      calls[i].what);
	}
}
