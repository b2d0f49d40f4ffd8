/* SPDX-License-Identifier: MIT */
/*
 * A process in the jail, with the real xHCI device policy: what it tries from
 * inside is refused or kills it, and what an observer sees from outside
 * (/proc/PID/status, ns, root, fd, limits) is what docs/security.md promises.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/jail.h"
#include "jail/seccomp_policy.h"
#include "tests/unit/jail/seccomp_probe.h"

/* What the jailed child does, chosen by the test; it reports on report_fd. */
typedef int (*attempt_fn)(void);

struct child_arg {
	attempt_fn attempt;
	int report_fd;	/* write end: the attempt's result (errno), 4 bytes */
	int hold_fd;	/* read end: the child blocks on it until the test is done looking */
};

static int run_attempt(void *opaque)
{
	struct child_arg *a = opaque;
	int result = a->attempt ? a->attempt() : 0;
	char c;

	if (write(a->report_fd, &result, sizeof(result)) != sizeof(result))
		return 3;
	/* Stay alive until the test closes the hold pipe, so it can inspect us. */
	(void)!read(a->hold_fd, &c, 1);
	return 0;
}

struct jailed {
	pid_t pid;
	int report_fd;	/* read end */
	int hold_fd;	/* write end */
};

/* Spawns attempt in the jail; extra_fd (or -1) is kept open besides stderr and the two pipes. */
static struct jailed spawn_keeping(attempt_fn attempt, bool with_seccomp, int extra_fd)
{
	int report[2], hold[2];
	struct child_arg arg;
	struct jailed j;
	char err[256];
	void *filter = NULL;

	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_gt(null_fd, STDERR_FILENO);
	cr_assert_eq(pipe2(report, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(hold, O_CLOEXEC), 0);
	if (with_seccomp) {
		filter = seccomp_policy_compile(probe_xhci_policy(), err, sizeof(err));
		cr_assert_not_null(filter, "%s", err);
	}
	int keep[] = { STDERR_FILENO, report[1], hold[0], extra_fd };
	struct jail_config cfg = {
		.hostname = "svmm-test",
		.keep_fds = keep,
		.n_keep_fds = extra_fd >= 0 ? 4 : 3,
		.null_fd = null_fd,
		.seccomp = filter,
		.max_file_bytes = 0,
		.max_fds = 32,
	};
	arg = (struct child_arg){ .attempt = attempt, .report_fd = report[1], .hold_fd = hold[0] };
	j.pid = jail_spawn(&cfg, run_attempt, &arg);
	cr_assert_gt(j.pid, 0, "jail_spawn: %s", strerror(-j.pid));
	seccomp_policy_release(filter);
	close(null_fd);
	close(report[1]);
	close(hold[0]);
	j.report_fd = report[0];
	j.hold_fd = hold[1];
	return j;
}

static struct jailed spawn(attempt_fn attempt, bool with_seccomp)
{
	return spawn_keeping(attempt, with_seccomp, -1);
}

/* Waits for the attempt's report; false if the child died first. */
static bool report(struct jailed *j, int *result)
{
	return read(j->report_fd, result, sizeof(*result)) == sizeof(*result);
}

static int finish(struct jailed *j)
{
	int status;

	close(j->hold_fd);
	close(j->report_fd);
	cr_assert_eq(waitpid(j->pid, &status, 0), j->pid);
	return status;
}

/* The attempt is refused with an errno, or the process is killed by SIGSYS. */
static void assert_refused_or_killed(attempt_fn attempt, const char *what)
{
	struct jailed j = spawn(attempt, true);
	int result = 0, status;
	bool reported = report(&j, &result);

	status = finish(&j);
	if (reported) {
		cr_assert_neq(result, 0, "%s succeeded inside the jail", what);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x", what, status);
	} else {
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
			  "%s: child died with status %#x, not SIGSYS", what, status);
	}
}

/* Returns 0 if the call succeeded, else errno. */
#define ATTEMPT(name, expr) \
	static int name(void) { errno = 0; return (expr) < 0 ? (errno ? errno : -1) : 0; }

ATTEMPT(open_passwd, open("/etc/passwd", O_RDONLY))
ATTEMPT(openat_passwd, (int)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY))
ATTEMPT(inet_socket, socket(AF_INET, SOCK_STREAM, 0))
ATTEMPT(unix_socket, socket(AF_UNIX, SOCK_STREAM, 0))
ATTEMPT(exec_shell, execve("/bin/sh", (char *[]){ "sh", NULL }, (char *[]){ NULL }))
ATTEMPT(ptrace_parent, ptrace(PTRACE_ATTACH, getppid(), NULL, NULL))
ATTEMPT(mount_proc, mount("proc", "/", "proc", 0, NULL))
ATTEMPT(kill_init, kill(1, SIGKILL))
ATTEMPT(fork_child, (int)syscall(SYS_fork))
ATTEMPT(clone_thread, (int)syscall(SYS_clone, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, NULL, NULL, NULL, 0))
ATTEMPT(create_file, creat("/x", 0644))
ATTEMPT(unshare_net, unshare(CLONE_NEWNET))
ATTEMPT(setuid_root, setuid(0))

static int map_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? errno : 0;
}

static int make_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return errno;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0 ? errno : 0;
}

Test(jail_inside, open_etc_passwd) { assert_refused_or_killed(open_passwd, "open(/etc/passwd)"); }
Test(jail_inside, openat_etc_passwd) { assert_refused_or_killed(openat_passwd, "openat(/etc/passwd)"); }
Test(jail_inside, socket_af_inet) { assert_refused_or_killed(inet_socket, "socket(AF_INET)"); }
Test(jail_inside, socket_af_unix) { assert_refused_or_killed(unix_socket, "socket(AF_UNIX)"); }
Test(jail_inside, execve) { assert_refused_or_killed(exec_shell, "execve(/bin/sh)"); }
Test(jail_inside, ptrace) { assert_refused_or_killed(ptrace_parent, "ptrace(ATTACH)"); }
Test(jail_inside, mount) { assert_refused_or_killed(mount_proc, "mount(proc)"); }
Test(jail_inside, kill_pid_1) { assert_refused_or_killed(kill_init, "kill(1)"); }
Test(jail_inside, fork) { assert_refused_or_killed(fork_child, "fork"); }
Test(jail_inside, clone_thread) { assert_refused_or_killed(clone_thread, "clone(thread)"); }
Test(jail_inside, map_executable_memory) { assert_refused_or_killed(map_executable, "mmap(PROT_EXEC)"); }
Test(jail_inside, mprotect_executable) { assert_refused_or_killed(make_executable, "mprotect(PROT_EXEC)"); }
Test(jail_inside, create_a_file) { assert_refused_or_killed(create_file, "creat(/x)"); }
Test(jail_inside, unshare) { assert_refused_or_killed(unshare_net, "unshare(NEWNET)"); }
Test(jail_inside, setuid) { assert_refused_or_killed(setuid_root, "setuid(0)"); }

/* Without seccomp, the other layers hold on their own: no file to open, no capability to mount. */
Test(jail_inside, layers_below_seccomp_refuse_too)
{
	static const struct { attempt_fn fn; int want; const char *what; } cases[] = {
		{ open_passwd, ENOENT, "open(/etc/passwd) in the empty root" },
		{ create_file, EROFS, "creat(/x) on the read-only root" },
		{ mount_proc, EPERM, "mount without capabilities" },
		{ fork_child, EAGAIN, "fork with RLIMIT_NPROC 0" },
		{ exec_shell, ENOENT, "execve with no /bin" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jailed j = spawn(cases[i].fn, false);
		int result = 0;

		cr_assert(report(&j, &result), "%s: no report", cases[i].what);
		finish(&j);
		cr_assert_eq(result, cases[i].want, "%s: errno %d (%s), want %s", cases[i].what, result,
			     strerror(result), strerror(cases[i].want));
	}
}

/* Writing a file it holds: RLIMIT_FSIZE 0 refuses the write (and SIGXFSZ, if not ignored, kills). */
static int fsize_fd = -1;
static int write_held_file(void)
{
	return write(fsize_fd, "x", 1) < 0 ? errno : 0;
}

Test(jail_inside, write_a_held_file_past_the_size_limit)
{
	char path[] = "/var/tmp/svmm-jail-XXXXXX";
	struct jailed j;
	int result = 0;

	fsize_fd = mkstemp(path);
	cr_assert_geq(fsize_fd, 0);
	unlink(path);
	/* Ignored here and inherited: inside, rt_sigaction is not allowed. */
	signal(SIGXFSZ, SIG_IGN);
	j = spawn_keeping(write_held_file, true, fsize_fd);
	cr_assert(report(&j, &result), "the jailed writer died");
	finish(&j);
	close(fsize_fd);
	cr_assert_eq(result, EFBIG, "write past RLIMIT_FSIZE: %s", strerror(result));
}

/* --- From outside: what /proc says about a jailed process. --- */

static int hang(void)
{
	return 0;
}

static bool status_field(pid_t pid, const char *field, char *out, size_t outlen)
{
	char path[64], line[256];
	size_t n = strlen(field);
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			char *v = line + n + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, outlen, "%s", v);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static void ns_link(pid_t pid, const char *ns, char *out, size_t outlen)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	n = readlink(path, out, outlen - 1);
	cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
	out[n] = '\0';
}

Test(jail_outside, proc_status_shows_seccomp_no_caps_no_new_privs)
{
	struct jailed j = spawn(hang, true);
	static const char *const zero_caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	int result;
	char v[128];

	cr_assert(report(&j, &result));
	cr_assert(status_field(j.pid, "Seccomp", v, sizeof(v)));
	cr_assert_str_eq(v, "2");
	for (size_t i = 0; i < sizeof(zero_caps) / sizeof(zero_caps[0]); i++) {
		cr_assert(status_field(j.pid, zero_caps[i], v, sizeof(v)));
		cr_assert_str_eq(v, "0000000000000000", "%s is %s", zero_caps[i], v);
	}
	cr_assert(status_field(j.pid, "NoNewPrivs", v, sizeof(v)));
	cr_assert_str_eq(v, "1");
	/* Unprivileged outside: uid and gid are nobody's when the test runs as root. */
	cr_assert(status_field(j.pid, "Uid", v, sizeof(v)));
	if (geteuid() == 0)
		cr_assert_str_eq(v, "65534\t65534\t65534\t65534");
	cr_assert(status_field(j.pid, "Groups", v, sizeof(v)));
	cr_assert_str_eq(v, "", "supplementary groups kept: %s", v);
	finish(&j);
}

Test(jail_outside, every_namespace_differs_from_ours)
{
	static const char *const nss[] = { "user", "pid", "net", "mnt", "ipc", "uts", "cgroup" };
	struct jailed j = spawn(hang, true);
	char ours[128], theirs[128];
	int result;

	cr_assert(report(&j, &result));
	for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
		ns_link(getpid(), nss[i], ours, sizeof(ours));
		ns_link(j.pid, nss[i], theirs, sizeof(theirs));
		cr_assert_str_neq(ours, theirs, "%s namespace shared: %s", nss[i], ours);
	}
	finish(&j);
}

Test(jail_outside, root_is_empty_and_only_kept_fds_are_open)
{
	struct jailed j = spawn(hang, true);
	char path[64];
	struct dirent *e;
	DIR *d;
	int result, entries = 0, fds = 0;

	cr_assert(report(&j, &result));
	snprintf(path, sizeof(path), "/proc/%d/root", j.pid);
	d = opendir(path);
	cr_assert_not_null(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			entries++;
	}
	closedir(d);
	cr_assert_eq(entries, 0, "the jail's root is not empty");

	snprintf(path, sizeof(path), "/proc/%d/fd", j.pid);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.')
			fds++;
	}
	closedir(d);
	cr_assert_eq(fds, 5, "open fds: %d, want stdin, stdout, stderr, report and hold", fds);
	/* stdin and stdout are /dev/null, not the test's (a VMM's: the terminal). */
	for (int fd = 0; fd <= 1; fd++) {
		char link[64], target[64] = "";

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", j.pid, fd);
		cr_assert_gt(readlink(link, target, sizeof(target) - 1), 0);
		cr_assert_str_eq(target, "/dev/null", "fd %d is %s", fd, target);
	}
	finish(&j);
}

Test(jail_outside, rlimits_are_set)
{
	struct jailed j = spawn(hang, true);
	char path[64], line[256];
	int result, checked = 0;
	FILE *f;

	cr_assert(report(&j, &result));
	snprintf(path, sizeof(path), "/proc/%d/limits", j.pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char soft[32], hard[32];

		if (sscanf(line, "Max core file size %31s %31s", soft, hard) == 2 ||
		    sscanf(line, "Max processes %31s %31s", soft, hard) == 2 ||
		    sscanf(line, "Max file size %31s %31s", soft, hard) == 2) {
			cr_assert_str_eq(soft, "0", "%s", line);
			cr_assert_str_eq(hard, "0", "%s", line);
			checked++;
		} else if (sscanf(line, "Max open files %31s %31s", soft, hard) == 2) {
			cr_assert_str_eq(soft, "32", "%s", line);
			cr_assert_str_eq(hard, "32", "%s", line);
			checked++;
		}
	}
	fclose(f);
	cr_assert_eq(checked, 4);
	finish(&j);
}

Test(jail_outside, dies_with_its_parent)
{
	int pidpipe[2];
	pid_t middle, jailed;
	int status;

	cr_assert_eq(pipe(pidpipe), 0);
	middle = fork();
	cr_assert_geq(middle, 0);
	if (middle == 0) {
		struct jailed j = spawn(hang, true);
		int result;

		if (!report(&j, &result))
			_exit(1);
		(void)!write(pidpipe[1], &j.pid, sizeof(j.pid));
		pause();	/* killed below, with the jailed child still held */
		_exit(0);
	}
	close(pidpipe[1]);
	cr_assert_eq(read(pidpipe[0], &jailed, sizeof(jailed)), sizeof(jailed));
	close(pidpipe[0]);
	cr_assert_eq(kill(jailed, 0), 0);
	kill(middle, SIGKILL);
	waitpid(middle, &status, 0);
	/* The orphan is reparented and killed by PR_SET_PDEATHSIG: it disappears within a second. */
	for (int i = 0; i < 100 && kill(jailed, 0) == 0; i++) {
		char path[64], state[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", jailed);
		f = fopen(path, "r");
		if (f) {
			/* A zombie awaiting its new parent's wait counts as gone. */
			if (fscanf(f, "%*d %*s %31s", state) == 1 && !strcmp(state, "Z")) {
				fclose(f);
				break;
			}
			fclose(f);
		}
		usleep(10000);
	}
	{
		char path[64], state[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", jailed);
		f = fopen(path, "r");
		if (f) {
			cr_assert_eq(fscanf(f, "%*d %*s %31s", state), 1);
			fclose(f);
			cr_assert_str_eq(state, "Z", "the jailed process outlived its parent");
		}
	}
}

/* --- The VMM's report of a jailed process's death. --- */

#include "jail/death_report.h"

Test(jail_death, seccomp_kill_is_reported_with_the_syscall, .timeout = 60)
{
	char line[256] = "";

	/*
	 * The kernel prints audit records through a rate limit (10 per 5 s); other
	 * tests kill many processes, so a record can be dropped. Kill again after
	 * the window rather than accept an unnamed syscall.
	 */
	for (int attempt = 0; attempt < 3; attempt++) {
		int kmsg = jail_kmsg_open();
		struct jailed j;
		int status;

		if (attempt)
			sleep(6);
		j = spawn(open_passwd, true);
		status = finish(&j);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
		jail_describe_exit(j.pid, status, kmsg, line, sizeof(line));
		cr_assert(strstr(line, "killed by SIGSYS: seccomp violation"), "%s", line);
		if (kmsg < 0)
			return;	/* not root: the report is right but cannot name the syscall */
		close(kmsg);
		if (strstr(line, "syscall open"))
			break;
	}
	cr_assert(strstr(line, "syscall open (") || strstr(line, "syscall openat ("), "%s", line);
}

Test(jail_death, audit_record_parsing)
{
	const char *rec = "5,1234,999;audit: type=1326 audit(1.2:3): auid=4294967295 uid=65534 gid=65534 "
			  "ses=4294967295 subj=unconfined pid=4242 comm=\"svmm\" exe=\"/usr/bin/svmm\" sig=31 "
			  "arch=c000003e syscall=257 compat=0 ip=0x7f code=0x80000000";
	char line[128];

	cr_assert_eq(jail_parse_seccomp_record(rec, 4242), 257);
	cr_assert_eq(jail_parse_seccomp_record(rec, 42), -1);	/* another process */
	cr_assert_eq(jail_parse_seccomp_record(rec, 424), -1);	/* a prefix of the pid is not the pid */
	cr_assert_eq(jail_parse_seccomp_record("audit: type=1326 pid=4242 sig=0 syscall=1", 4242), -1);
	cr_assert_eq(jail_parse_seccomp_record("audit: type=1300 pid=4242 sig=31 syscall=1", 4242), -1);
	jail_describe_exit(1, 3 << 8, -1, line, sizeof(line));
	cr_assert_str_eq(line, "exited with status 3");
	jail_describe_exit(1, SIGSEGV, -1, line, sizeof(line));
	cr_assert(strstr(line, "killed by signal 11"), "%s", line);
}

/* Lazy glibc lookups that open files (time zone, message catalogs) were done before the filter. */
static int convert_time_and_errors(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[128];

	localtime_r(&now, &tm);
	gmtime_r(&now, &tm);
	snprintf(buf, sizeof(buf), "%s %s %s", strerror(ENOENT), strsignal(SIGINT), strerror(EPERM));
	return 1;	/* reported as "refused" only if the process is still alive to say so */
}

Test(jail_inside, time_and_error_strings_work_under_the_filter)
{
	struct jailed j = spawn(convert_time_and_errors, true);
	int result = 0, status;
	bool reported = report(&j, &result);

	status = finish(&j);
	cr_assert(reported, "killed converting a time or an error string (status %#x)", status);
	cr_assert_eq(result, 1);
}
