/* SPDX-License-Identifier: MIT */
#include "vmm/device_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/death_report.h"
#include "jail/jail.h"
#include "common/log.h"
#include "policy/seccomp_policies.h"

#define DEVICE_SHUTDOWN_GRACE_MS 2000

/* The device process's fd limit: doorbell 0, vectors (5), ports' devices and libusb's own. */
#define DEVICE_MAX_FDS 256
/* RLIMIT_FSIZE: the largest disk image it may write (docs/security.md, "File size"). */
#define DEVICE_MAX_FILE_BYTES (2ull << 40)

struct device_child {
	const char *name;
	device_prepare_fn prepare_fn;
	device_main_fn main_fn;
	int req, evt;
};

/* Runs in the jailed child: nothing of the VMM's is left but these two sockets and stderr. */
static int device_child_main(void *opaque)
{
	struct device_child *c = opaque;

	log_set_role(c->name);
	return c->main_fn(c->req, c->evt) == 0 ? 0 : 1;
}

static int device_child_prepare(void *opaque)
{
	struct device_child *c = opaque;

	log_set_role(c->name);
	return c->prepare_fn ? c->prepare_fn() : 0;
}

/* Forks the device process into its jail (jail/jail.h) under the device process's seccomp policy. */
static pid_t spawn_jailed(const char *name, device_prepare_fn prepare_fn, device_main_fn main_fn,
			  int req, int evt)
{
	static struct seccomp_policy policy;
	char hostname[32];
	struct device_child child = { .name = name, .prepare_fn = prepare_fn, .main_fn = main_fn,
				      .req = req, .evt = evt };
	int keep[] = { STDERR_FILENO, req, evt };
	struct jail_config cfg = {
		.hostname = hostname,
		.keep_fds = keep,
		.n_keep_fds = 3,
		.max_file_bytes = DEVICE_MAX_FILE_BYTES,
		.max_fds = DEVICE_MAX_FDS,
		.prepare = device_child_prepare,
	};
	char err[256];
	pid_t pid;

	snprintf(hostname, sizeof(hostname), "svmm-%s", name);
	if (seccomp_policies_xhci_device(&policy, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	cfg.seccomp = seccomp_policy_compile(&policy, err, sizeof(err));
	if (!cfg.seccomp) {
		log_err("%s", err);
		return -EINVAL;
	}
	/* The VMM's stdin and stdout are the guest's console: the device process gets /dev/null. */
	cfg.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (cfg.null_fd < 0) {
		pid = -errno;
		log_err("/dev/null: %s", strerror(errno));
	} else {
		pid = jail_spawn(&cfg, device_child_main, &child);
		close(cfg.null_fd);
	}
	seccomp_policy_release(cfg.seccomp);
	return pid;
}

static int device_hello(struct device_process *d);

int device_process_spawn(struct device_process *d, const char *name, device_prepare_fn prepare_fn,
			 device_main_fn main_fn)
{
	int req[2] = { -1, -1 }, evt[2] = { -1, -1 };
	int r;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->pid = -1;
	d->req_sock = d->evt_sock = -1;
	/* Opened while the VMM still may: a later seccomp kill is reported with its syscall. */
	d->kmsg_fd = jail_kmsg_open();
	pthread_mutex_init(&d->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evt) < 0) {
		r = -errno;
		log_err("socketpair: %s", strerror(errno));
		goto fail;
	}
	d->pid = spawn_jailed(name, prepare_fn, main_fn, req[1], evt[1]);
	if (d->pid < 0) {
		r = d->pid;
		log_err("cannot start the jailed %s device process: %s", name, strerror(-r));
		goto fail;
	}
	close(req[1]);
	close(evt[1]);
	req[1] = evt[1] = -1;
	d->req_sock = req[0];
	d->evt_sock = evt[0];
	/* Sends never block: a posted write tries at once, and waits only when the socket is full. */
	if (fcntl(d->req_sock, F_SETFL, fcntl(d->req_sock, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		log_err("cannot make the request socket non-blocking: %s", strerror(errno));
		goto fail;
	}
	log_debug("%s device process is pid %d", name, (int)d->pid);

	return device_hello(d);
fail:
	for (int i = 0; i < 2; i++) {
		if (req[i] >= 0)
			close(req[i]);
		if (evt[i] >= 0)
			close(evt[i]);
	}
	return r;
}

int device_process_send_memory(struct device_process *d, const struct guest_memory *mem)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		struct devproto_msg m = devproto_msg_init(DEVPROTO_MEM_REGION, 0);
		struct devproto_reply reply;
		int r;

		m.u.mem.gpa = mem->regions[i].gpa;
		m.u.mem.size = mem->regions[i].size;
		m.u.mem.offset = mem->regions[i].offset;
		r = device_process_request(d, &m, mem->memfd, &reply);
		if (r < 0)
			return r;
		if (reply.status != SVMM_OK) {
			log_err("%s refused guest memory region %u: %s", d->name, i,
				svmm_status_name(reply.status));
			return -EPROTO;
		}
	}
	return 0;
}

bool device_process_is_dead(const struct device_process *d)
{
	return __atomic_load_n(&d->dead, __ATOMIC_ACQUIRE);
}

void device_process_mark_dead(struct device_process *d, const char *why)
{
	if (__atomic_exchange_n(&d->dead, true, __ATOMIC_ACQ_REL))
		return;
	log_err("%s device process: %s; the controller is dead, the VM goes on without it",
		d->name, why);
	if (d->pid > 0 && !d->ended)
		kill(d->pid, SIGKILL);
}

/*
 * Waits up to DEVICE_REPLY_TIMEOUT_MS for the request socket to be ready for
 * events (POLLIN: a reply; POLLOUT: room for a posted write, so a device that
 * stopped reading cannot hold a vCPU forever). 0, or -errno with *why.
 */
static int device_wait_ready(struct device_process *d, short events, const char *timeout_why,
			     const char **why)
{
	struct pollfd pfd = { .fd = d->req_sock, .events = events };
	int r;

	do {
		r = poll(&pfd, 1, DEVICE_REPLY_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		*why = timeout_why;
		return -ETIMEDOUT;
	}
	if (r < 0) {
		*why = "poll failed";
		return -errno;
	}
	return 0;
}

/*
 * Waits for the message of type that answers seq (REPLY, or HELLO to
 * HELLO); 0, or -errno with the device to be marked dead.
 */
static int device_wait_answer(struct device_process *d, uint32_t seq, enum devproto_type type,
			      struct devproto_msg *m, const char **why)
{
	int r;

	r = device_wait_ready(d, POLLIN, "no reply within the time limit", why);
	if (r < 0)
		return r;
	/* A device process sends no descriptor; the VMM never takes one from it. */
	r = devproto_recv(d->req_sock, m, NULL, why);
	if (r == 0) {
		*why = "closed its socket";
		return -EPIPE;
	}
	if (r < 0)
		return r;
	if (m->type != type || m->seq != seq) {
		*why = "sent something other than the reply it owed";
		return -EPROTO;
	}
	return 0;
}

/*
 * Sends req; with answer, waits for the message of answer_type that answers
 * it; without (a posted write), only for room in the socket.
 */
static int device_send(struct device_process *d, struct devproto_msg *req, int fd,
		       enum devproto_type answer_type, struct devproto_msg *answer)
{
	const char *why = NULL;
	char reason[160];
	int r = 0;

	if (device_process_is_dead(d))
		return -ENODEV;
	pthread_mutex_lock(&d->lock);
	if (device_process_is_dead(d)) {
		pthread_mutex_unlock(&d->lock);
		return -ENODEV;
	}
	req->seq = __atomic_add_fetch(&d->seq, 1, __ATOMIC_ACQ_REL);
	/* At once; a full socket (the device is behind) is waited on, up to the time limit. */
	r = devproto_send(d->req_sock, req, fd);
	if (r == -EAGAIN) {
		r = device_wait_ready(d, POLLOUT, "its request socket stayed full", &why);
		if (r == 0)
			r = devproto_send(d->req_sock, req, fd);
	}
	if (r < 0 && !why)
		why = r == -EINVAL ? NULL : "cannot be written to";
	else if (r == 0 && answer)
		r = device_wait_answer(d, req->seq, answer_type, answer, &why);
	pthread_mutex_unlock(&d->lock);
	if (r == -EINVAL && !why) {
		/* Our own request was malformed: a VMM bug, not the device's fault. */
		log_err("refusing to send a malformed %s request", devproto_type_name(req->type));
		return r;
	}
	if (r < 0) {
		snprintf(reason, sizeof(reason), "%s request %s: %s", devproto_type_name(req->type),
			 "failed", why ? why : strerror(-r));
		device_process_mark_dead(d, reason);
	}
	return r;
}

int device_process_request(struct device_process *d, struct devproto_msg *req, int fd,
			   struct devproto_reply *reply)
{
	struct devproto_msg answer;
	int r = device_send(d, req, fd, DEVPROTO_REPLY, &answer);

	if (r == 0)
		*reply = answer.u.reply;
	return r;
}

int device_process_post(struct device_process *d, struct devproto_msg *req)
{
	return device_send(d, req, -1, DEVPROTO_REPLY, NULL);
}

/*
 * The version handshake, and the device's description of itself, which the
 * VMM trusts no more than the device: checked whole before any field is used.
 */
static int device_hello(struct device_process *d)
{
	struct devproto_msg hello = devproto_msg_init(DEVPROTO_HELLO, 0), answer;
	const char *why = NULL;
	int r;

	hello.u.hello.version = DEVPROTO_VERSION;
	r = device_send(d, &hello, -1, DEVPROTO_HELLO, &answer);
	if (r < 0) {
		log_err("the %s device process did not answer HELLO", d->name);
		return -EPROTO;
	}
	if (devproto_desc_check(&answer.u.hello.desc, &why) < 0) {
		log_err("the %s device process describes itself impossibly: %s", d->name, why);
		device_process_mark_dead(d, "impossible self-description");
		return -EBADMSG;
	}
	d->desc = answer.u.hello.desc;
	return 0;
}

uint32_t device_process_sent_seq(struct device_process *d)
{
	return __atomic_load_n(&d->seq, __ATOMIC_ACQUIRE);
}

static void device_log_status(const struct device_process *d, int status)
{
	char how[192];

	jail_describe_exit(d->pid, status, d->kmsg_fd, how, sizeof(how));
	if (WIFEXITED(status) && WEXITSTATUS(status) == JAIL_EXIT_SETUP_FAILED)
		log_err("%s device process %d could not enter its jail (its log says which step)",
			d->name, (int)d->pid);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s device process %d exited", d->name, (int)d->pid);
	else
		log_err("%s device process %d %s", d->name, (int)d->pid, how);
}

/*
 * Whether the device process has ended, without reaping it (WNOWAIT): its
 * zombie holds its pid until the VMM exits, so the one pid the VMM's filter
 * lets it kill is never another process's, and the filter lets the VMM wait
 * for it only this way (vmm.policy). options: WNOHANG, or 0 to wait.
 */
static bool device_has_ended(const struct device_process *d, int options, int *status)
{
	siginfo_t si = { 0 };
	int r;

	do {
		r = waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOWAIT | options);
	} while (r < 0 && errno == EINTR);
	if (r < 0 || si.si_pid != d->pid)
		return false;
	/* The wait status a waitpid would have given, for jail_describe_exit. */
	if (si.si_code == CLD_EXITED)
		*status = W_EXITCODE(si.si_status, 0);
	else
		*status = W_EXITCODE(0, si.si_status) | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
	return true;
}

bool device_process_check_ended(struct device_process *d)
{
	int status;

	if (d->pid <= 0 || d->ended || !device_has_ended(d, WNOHANG, &status))
		return false;
	d->ended = true;
	/* Logged even when a closed socket told of the death first: the cause is in the status. */
	device_log_status(d, status);
	if (!device_process_is_dead(d))
		device_process_mark_dead(d, "ended while the VM runs");
	return true;
}

static bool device_wait_exit(struct device_process *d, int timeout_ms)
{
	struct timespec step = { .tv_nsec = 10 * 1000 * 1000 };
	int status;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (device_has_ended(d, WNOHANG, &status)) {
			d->ended = true;
			return true;
		}
		nanosleep(&step, NULL);
	}
	return false;
}

void device_process_shutdown(struct device_process *d)
{
	int status;

	if (d->pid > 0 && !d->ended) {
		if (!device_process_is_dead(d)) {
			struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 0);
			struct devproto_reply reply;

			/* Its reply (or its socket closing) says it is on its way out. */
			if (device_process_request(d, &m, -1, &reply) < 0)
				log_debug("%s device process: no reply to SHUTDOWN", d->name);
		}
		/* Closing our end is the second way of saying it. */
		if (d->req_sock >= 0)
			shutdown(d->req_sock, SHUT_RDWR);
		if (!device_wait_exit(d, DEVICE_SHUTDOWN_GRACE_MS)) {
			log_warn("%s device process %d did not stop; killing it", d->name, (int)d->pid);
			kill(d->pid, SIGKILL);
			d->ended = device_has_ended(d, 0, &status);
		}
	}
	if (d->req_sock >= 0)
		close(d->req_sock);
	if (d->evt_sock >= 0)
		close(d->evt_sock);
	if (d->kmsg_fd >= 0)
		close(d->kmsg_fd);
	d->req_sock = d->evt_sock = d->kmsg_fd = -1;
	__atomic_store_n(&d->dead, true, __ATOMIC_RELEASE);
}
