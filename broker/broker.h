/* SPDX-License-Identifier: MIT */
#ifndef SVMM_BROKER_H
#define SVMM_BROKER_H

#include "args.h"
#include "broker_config.h"

struct usb_policy;

/* `svmm broker`: the system broker service; returns the exit status. */
int broker_main(const struct broker_options *o);

/*
 * Serves requests until SIGTERM or SIGINT, or, given peer_fd (the VM's own
 * broker), until that one connection closes. listen_fd (or -1) is the system
 * broker's socket. Drops every capability before the first request. Releases
 * every device on the way out. Returns 0, or -errno.
 */
int broker_serve(const struct broker_config *c, const struct usb_policy *policy, int listen_fd,
		 int peer_fd);

#endif
