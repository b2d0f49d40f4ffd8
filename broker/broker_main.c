/* SPDX-License-Identifier: MIT */
/*
 * `svmm broker [--socket PATH] [--policy FILE] [--verbose]`, and the service
 * loop it shares with a VM's own broker.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker_server.h"
#include "broker/broker_socket.h"
#include "common/log.h"
#include "broker/broker_lockdown.h"
#include "broker/uevent.h"
#include "broker/socket_activation.h"
#include "broker/usb_policy.h"

static void on_stop_signal(int sig)
{
	(void)sig;	/* only there so ppoll returns EINTR instead of the process dying mid-request */
}

/*
 * SIGTERM and SIGINT stay blocked except inside ppoll, so a request being
 * answered is always finished, and the devices released, before the exit.
 * Idempotent: `svmm broker` calls it before its socket exists (a SIGTERM
 * that comes while it starts still ends in a clean exit), broker_serve()
 * again for a VM's own broker.
 */
static int stop_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, wait_mask) < 0)
		return -errno;
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	/* A peer gone mid-reply must not kill the broker; sends use MSG_NOSIGNAL too. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int broker_serve(const struct broker_config *c, const struct usb_policy *policy,
		 const struct broker_socket *sock, int peer_fd)
{
	struct broker_server *s;
	sigset_t wait_mask;
	int err;

	s = malloc(sizeof(*s));
	if (!s) {
		if (peer_fd >= 0)
			close(peer_fd);
		return -ENOMEM;
	}
	broker_server_init(s, c, policy, sock ? sock->fd : -1);
	/* Before the filter: a socket cannot be made after it. Without it nothing comes back. */
	s->uevent_fd = uevent_open();
	if (s->uevent_fd < 0)
		log_warn("no kernel device events (%s): followed devices will not come back",
			 strerror(-s->uevent_fd));
	err = stop_signals(&wait_mask);
	if (err) {
		log_err("cannot start serving: %s", strerror(-err));
		if (peer_fd >= 0)
			close(peer_fd);
		goto out;
	}
	if (peer_fd >= 0) {
		s->exit_when_alone = true;
		/* Non-blocking like every peer: a VMM that stops reading cannot wedge its broker. */
		if (fcntl(peer_fd, F_SETFL, fcntl(peer_fd, F_GETFL) | O_NONBLOCK) < 0) {
			err = -errno;
			close(peer_fd);
			goto out;
		}
		err = broker_server_add_peer(s, peer_fd);	/* closes it on failure */
		if (err < 0)
			goto out;
	}
	/* Set up: from here on no capabilities, and only what broker.policy allows. */
	err = broker_lockdown(sock ? sock->file.dir_fd : -1);
	if (!err) {
		err = broker_server_run(s, &wait_mask);
		if (err)
			log_err("serving failed: %s", strerror(-err));
	}
out:
	broker_server_shutdown(s);
	free(s);
	return err < 0 ? err : 0;
}

/*
 * The socket the broker serves: the one systemd passes (svmm-broker.socket),
 * or a new one at --socket; never both, so a unit and its command line cannot
 * disagree about where the broker listens. 0, or the exit status.
 */
static int open_socket(const struct broker_options *o, struct broker_socket *sock, char *name,
		       size_t namelen, bool *from_systemd)
{
	const char *listen_pid = getenv("LISTEN_PID"), *listen_fds = getenv("LISTEN_FDS");
	struct sockaddr_un addr;
	socklen_t addrlen = sizeof(addr);
	char why[256], other_pid[16] = "";
	int r;

	r = broker_socket_activated(listen_pid, listen_fds, getpid(), SOCKET_ACTIVATION_FIRST_FD,
				    sock, why, sizeof(why));
	if (r == 0 && listen_pid && listen_fds)
		snprintf(other_pid, sizeof(other_pid), "%s", listen_pid);
	/* The variables were for this process alone; nothing it starts inherits them. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	*from_systemd = r == 1;
	if (r < 0) {
		log_err("socket passed by systemd: %s", why);
		return 1;
	}
	if (r == 1 && o->socket) {
		log_err("--socket %s given, but systemd passed a socket: use one or the other", o->socket);
		broker_socket_close(sock);
		return BROKER_EXIT_USAGE;
	}
	if (r == 1) {
		memset(&addr, 0, sizeof(addr));
		if (getsockname(sock->fd, (struct sockaddr *)&addr, &addrlen) < 0 ||
		    addr.sun_family != AF_UNIX || !addr.sun_path[0])
			snprintf(name, namelen, "fd:%d", sock->fd);
		else
			snprintf(name, namelen, "%.*s", (int)sizeof(addr.sun_path), addr.sun_path);
		return 0;
	}
	if (!o->socket) {
		if (other_pid[0])
			log_err("no socket: LISTEN_PID=%s is not this process (%d); give --socket PATH",
				other_pid, (int)getpid());
		else
			log_err("no socket: give --socket PATH, or start the broker from svmm-broker.socket");
		return BROKER_EXIT_USAGE;
	}
	if (broker_socket_listen(o->socket, sock, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return 1;
	}
	snprintf(name, namelen, "%s", o->socket);
	return 0;
}

int broker_main(const struct broker_options *o)
{
	char err[USB_POLICY_ERR_MAX], name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct broker_config cfg;
	struct usb_policy *policy;
	sigset_t wait_mask;
	struct broker_socket sock;
	bool from_systemd;
	int r;

	log_set_role("broker");
	if (o->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	broker_config_init(&cfg);
	if (stop_signals(&wait_mask) < 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		return 1;
	}
	if (o->policy) {
		/* A malformed policy stops the broker before it listens: never half a policy. */
		if (usb_policy_load(o->policy, &policy, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return 1;
		}
	} else {
		policy = usb_policy_builtin();
		if (!policy) {
			log_err("out of memory");
			return 1;
		}
	}
	r = open_socket(o, &sock, name, sizeof(name), &from_systemd);
	if (r) {
		usb_policy_free(policy);
		return r;
	}
	log_info("listening socket=%s%s policy=%s rules=%u", name,
		 from_systemd ? " from=systemd" : "",
		 o->policy ? o->policy : USB_POLICY_BUILTIN_NAME, usb_policy_count(policy));
	r = broker_serve(&cfg, policy, &sock, -1);
	/* Under the filter, which allows this unlink only through the socket's directory (systemd's: none). */
	broker_socket_close(&sock);
	usb_policy_free(policy);
	log_info("stopped");
	return r ? 1 : 0;
}
