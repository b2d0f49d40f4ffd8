/* SPDX-License-Identifier: MIT */
/* The client of a VM's control socket: `svmm usb attach|detach|list|watch` and `svmm stop`. */
#ifndef SVMM_CONTROL_CLIENT_H
#define SVMM_CONTROL_CLIENT_H

#include "cli/args.h"

/* Each prints its result on stdout ("ok 9") or one error line on stderr; returns the exit status. */
int control_client_attach(const struct usb_attach_options *o);
int control_client_detach(const struct usb_detach_options *o);
int control_client_list(const struct usb_list_options *o);
/* Prints the ports, then each event until the VM stops (0) or the connection is lost (1). */
int control_client_watch(const struct usb_list_options *o);
int control_client_stop(const struct stop_options *o);

#endif
