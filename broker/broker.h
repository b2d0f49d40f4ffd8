/* SPDX-License-Identifier: MIT */
#ifndef SVMM_BROKER_H
#define SVMM_BROKER_H

#include <stdbool.h>

#include "broker/broker_config.h"

/* Exit status of `svmm broker` on a usage error (as the CLI's). */
#define BROKER_EXIT_USAGE 2

/* `svmm broker`'s options. */
struct broker_options {
	const char *socket;	/* NULL: the socket systemd passes */
	const char *policy;
	bool verbose;
};

struct broker_socket;
struct usb_policy;

/* `svmm broker`: the system broker service; returns the exit status. */
int broker_main(const struct broker_options *o);

/*
 * Serves requests until SIGTERM or SIGINT, or, given peer_fd (the VM's own
 * broker), until that one connection closes. sock (or NULL) is the system
 * broker's listening socket. Drops every capability and loads the broker's
 * seccomp filter before the first request (broker/broker_lockdown.h): the caller,
 * and whatever it does after, stays under it. Releases every device on the
 * way out. Returns 0, or -errno.
 */
int broker_serve(const struct broker_config *c, const struct usb_policy *policy,
		 const struct broker_socket *sock, int peer_fd);

#endif
