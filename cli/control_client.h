/* SPDX-License-Identifier: MIT */
/* The client of a VM's control socket: `svmm usb attach|detach|list` and `svmm stop`. */
#ifndef SVMM_CONTROL_CLIENT_H
#define SVMM_CONTROL_CLIENT_H

#include "args.h"

/* Each prints its result on stdout ("ok 9") or one error line on stderr; returns the exit status. */
int control_client_attach(const struct usb_attach_options *o);
int control_client_detach(const struct usb_detach_options *o);
int control_client_list(const struct usb_list_options *o);
int control_client_stop(const struct stop_options *o);

#endif
