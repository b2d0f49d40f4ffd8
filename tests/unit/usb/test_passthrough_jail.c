/* SPDX-License-Identifier: MIT */
/*
 * The passthrough inside the real jail, with the xHCI device policy this
 * build enforces. libusb_init() cannot run there (it looks for usbfs and
 * sysfs with uname, openat and statfs); a context made before the filter
 * serves: wrapping a descriptor inside the jail makes only allowed calls,
 * up to the point where a non-usbfs fd is refused (readlink of
 * /proc/self/fd, then USBDEVFS_CONNECTINFO). The rest of the path needs a
 * device: tests/lab/scenarios/passthrough-probe.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/death_report.h"
#include "devices/event_loop.h"
#include "jail/jail.h"
#include "devices/usb/passthrough.h"
#include "policy/seccomp_policies.h"

struct child {
	int null_fd, pipe_fd;
};

/* Runs fn in the jail keeping keep[] and stderr; returns its wait status. */
static int jailed(int (*fn)(void *), void *arg, const int *keep, size_t nkeep)
{
	static struct seccomp_policy policy;
	int fds[16] = { STDERR_FILENO };
	char err[256], why[256];
	void *filter;
	int status, kmsg;
	pid_t pid;

	cr_assert_lt(nkeep, 16);
	if (nkeep)
		memcpy(fds + 1, keep, nkeep * sizeof(*keep));
	cr_assert_eq(seccomp_policies_xhci_device(&policy, err, sizeof(err)), 0, "%s", err);
	filter = seccomp_policy_compile(&policy, err, sizeof(err));
	cr_assert_not_null(filter, "%s", err);
	struct jail_config cfg = {
		.hostname = "svmm-test",
		.keep_fds = fds,
		.n_keep_fds = nkeep + 1,
		.seccomp = filter,
		.max_file_bytes = 0,
		.max_fds = 64,
	};
	kmsg = jail_kmsg_open();
	pid = jail_spawn(&cfg, fn, arg);
	seccomp_policy_release(filter);
	cr_assert_gt(pid, 0, "jail_spawn: %s", strerror(-pid));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	jail_describe_exit(pid, status, kmsg, why, sizeof(why));
	cr_log_info("jailed child %s", why);
	if (kmsg >= 0)
		close(kmsg);
	return status;
}

static int init_inside(void *arg)
{
	(void)arg;
	return passthrough_host_init() == 0 ? 0 : 1;
}

Test(passthrough_jail, libusb_init_inside_the_filter_is_killed)
{
	/* No context in this process: the child would have to make one. */
	passthrough_host_exit();
	cr_assert_eq(passthrough_host_fds(NULL, 0), 0);
	int status = jailed(init_inside, NULL, NULL, 0);

	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		  "libusb_init in the jail ended with status %#x, not SIGSYS: "
		  "passthrough_host_init() before the filter may no longer be needed", status);
}

static int wrap_inside(void *arg)
{
	const struct child *c = arg;
	struct devproto_attach a = { .kind = DEVPROTO_ATTACH_USBFS, .busnum = 1, .devnum = 2 };
	struct event_loop *loop = event_loop_new();

	if (!loop)
		return 2;
	if (passthrough_new(loop, c->null_fd, &a, DEVPROTO_SPEED_HIGH))
		return 3;
	if (passthrough_new(loop, c->pipe_fd, &a, DEVPROTO_SPEED_HIGH))
		return 4;
	/* Both fds are still ours. */
	if (fcntl(c->null_fd, F_GETFD) < 0 || fcntl(c->pipe_fd, F_GETFD) < 0)
		return 5;
	event_loop_free(loop);
	return 0;
}

Test(passthrough_jail, a_context_made_before_the_filter_serves_inside)
{
	int keep[2 + PASSTHROUGH_HOST_MAX_FDS], p[2], status;
	struct child c;
	size_t n;

	cr_assert_eq(passthrough_host_init(), 0);
	n = passthrough_host_fds(keep + 2, PASSTHROUGH_HOST_MAX_FDS);
	cr_assert(n >= 1 && n <= PASSTHROUGH_HOST_MAX_FDS, "%zu libusb fds", n);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	c.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(c.null_fd, 0);
	c.pipe_fd = p[0];
	keep[0] = c.null_fd;
	keep[1] = c.pipe_fd;
	status = jailed(wrap_inside, &c, keep, 2 + n);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the jailed constructor ended with status %#x", status);
	close(c.null_fd);
	close(p[0]);
	close(p[1]);
	passthrough_host_exit();
}
