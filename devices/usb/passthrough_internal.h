/* SPDX-License-Identifier: MIT */
/*
 * What the files of the libusb passthrough share (not for the controller):
 *   passthrough.c           the device: attach, interfaces and host drivers, reset, destroy
 *   passthrough_host.c      the process's libusb context and its fds in the event loop
 *   passthrough_transfer.c  usb_transfer <-> libusb_transfer, per-endpoint order, completions
 *   passthrough_control.c   the standard requests the device process handles itself
 *   passthrough_budget.c    the process's share of usbfs's host-wide URB memory
 */
#ifndef SVMM_PASSTHROUGH_INTERNAL_H
#define SVMM_PASSTHROUGH_INTERNAL_H

#include <libusb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/usb/passthrough.h"

/* A queue per endpoint address: numbers 0..15, OUT at 0..15 and IN at 16..31. */
#define PT_EP_QUEUES 32
/*
 * Transfers one device holds at once. The controller pipelines at most 16 TDs
 * on each of 31 endpoints (496); this bounds a caller that does not.
 */
#define PT_MAX_TRANSFERS 512
/* How long destroy() waits for the kernel to return cancelled URBs. */
#define PT_DRAIN_MS 2000
/*
 * Bytes of transfers this process keeps in flight, all devices together: a
 * quarter of usbfs's default host-wide budget (usbfs_memory_mb = 16), so
 * that no one VM can starve the host's other usbfs users; one whole TD
 * (XHCI_TD_MAX_BYTES, 4 MiB), or four SuperSpeed 1 MiB reads, in flight.
 */
#define PT_BUDGET_BYTES (4u << 20)
/* libusb numbers interfaces 0..31 (USB_MAXINTERFACES), so a 32-bit set holds them. */
#define PT_MAX_INTERFACES 32

/* A SETUP the device process acts on itself instead of sending it on. */
enum pt_setup_kind {
	PT_SETUP_PASS,			/* everything else, GET_DESCRIPTOR included */
	PT_SETUP_SET_ADDRESS,		/* swallowed: the controller owns the address */
	PT_SETUP_SET_CONFIGURATION,	/* release, libusb_set_configuration, claim */
	PT_SETUP_SET_INTERFACE,		/* libusb_set_interface_alt_setting */
	PT_SETUP_CLEAR_HALT,		/* CLEAR_FEATURE(ENDPOINT_HALT): libusb_clear_halt */
};

enum pt_xfer_state {
	PT_XFER_LOCAL,		/* an intercepted SETUP, run when it reaches the head of EP 0 */
	PT_XFER_WAITING,	/* held back by the process's URB budget; started in order on its endpoint */
	PT_XFER_INFLIGHT,	/* submitted to libusb */
	PT_XFER_FINISHED,	/* result in t, done() due once everything ahead of it is done */
};

struct pt_device;

/* One usb_transfer while the device holds it (usb_transfer.device_priv). */
struct pt_xfer {
	struct pt_xfer *next;		/* in its endpoint's queue */
	struct usb_transfer *t;
	struct pt_device *pt;
	struct libusb_transfer *lt;	/* NULL for PT_XFER_LOCAL */
	enum pt_setup_kind local;
	enum pt_xfer_state state;
	bool cancel_asked;
	size_t charged;			/* bytes of the budget it holds while in flight */
};

struct pt_queue {
	struct pt_xfer *head, *tail;
};

struct pt_device {
	struct usb_device dev;
	libusb_device_handle *handle;
	int fd;				/* the wrapped usbfs node; libusb_close leaves it open */
	struct pt_queue queues[PT_EP_QUEUES];
	unsigned int ntransfers;
	struct event_deferred pump;
	int config;			/* host device's bConfigurationValue, 0: unconfigured */
	uint32_t claimed;		/* interfaces claimed through usbfs */
	uint32_t detached;		/* interfaces whose host kernel driver we detached */
	bool addressed;			/* SET_ADDRESS seen since attach or the last reset */
	bool lost;			/* the host device is gone (unplugged) */
	bool gone_reported;		/* dev.gone() was called */
	bool pumping;			/* inside pt_pump: destroy() leaves the free to it */
	bool dying;
	struct pt_device *next_host;	/* passthrough_host.c's list */
};

/* passthrough_host.c */
/* The context, made at the first call if passthrough_host_init() was not; 0 or LIBUSB_ERROR. */
int pt_host_acquire(struct event_loop *loop, libusb_context **ctx);
void pt_host_release(void);
/* Whether a descriptor libusb added could not be watched since the last call. */
bool pt_host_watch_failed(void);
void pt_host_add_device(struct pt_device *pt);
void pt_host_remove_device(struct pt_device *pt);
/* Runs libusb's events for up to timeout_ms (destroy's bounded wait). */
void pt_host_run(int timeout_ms);

/* passthrough.c */
/* The host device is gone: gone() follows from the pump, once. */
void pt_lost(struct pt_device *pt);
/* Detaches host drivers from, and claims, the interfaces of configuration value; 0 or LIBUSB_ERROR. */
int pt_claim_config(struct pt_device *pt, int value);
void pt_release_all(struct pt_device *pt);
void pt_free(struct pt_device *pt);

/* passthrough_transfer.c */
enum usb_transfer_status pt_status(enum libusb_transfer_status st);
int pt_submit(struct usb_device *dev, struct usb_transfer *t);
void pt_cancel(struct usb_device *dev, struct usb_transfer *t);
int pt_alloc_streams(struct usb_device *dev, uint8_t endpoint, unsigned int num_streams);
void pt_free_streams(struct usb_device *dev, uint8_t endpoint);
/* Asks libusb to end every transfer of pt; intercepted SETUPs not yet run end CANCELLED. */
void pt_cancel_all(struct pt_device *pt);
unsigned int pt_inflight(const struct pt_device *pt);
/* Completes, in order, every transfer of pt at once (destroy: no later turn of the loop). */
void pt_finish_all(struct pt_device *pt);
void pt_schedule(struct pt_device *pt);
void pt_pump(void *opaque);

/* passthrough_budget.c */
/* Takes cost bytes of the budget: false if they do not fit (a transfer alone always fits). */
bool pt_budget_take(size_t cost);
void pt_budget_give(size_t cost);
size_t pt_budget_used(void);

/* passthrough_host.c, for the budget: pumps every device, whose waiting transfers may fit now. */
void pt_host_schedule_all(void);

/* passthrough_control.c */
enum pt_setup_kind pt_setup_classify(const struct usb_setup *s);
/* Runs an intercepted SETUP now (synchronous usbfs ioctls); sets t->status and t->actual. */
void pt_control_local(struct pt_device *pt, struct pt_xfer *x);

/* A LIBUSB_ERROR code as a negative errno. */
int pt_errno(int libusb_error);
/* libusb's speed as the controller's, from the device descriptor if usbfs does not say. */
enum devproto_usb_speed pt_speed(int libusb_speed, uint16_t bcd_usb);

#endif
