/* SPDX-License-Identifier: MIT */
/*
 * The process's libusb context and how its descriptors join the event loop.
 *
 * The device process is single-threaded: no libusb event thread. libusb
 * tells us its descriptors (its eventfd, its timerfd, and each wrapped usbfs
 * node) through libusb_get_pollfds and the pollfd notifiers; each is watched
 * by the event loop, and when one is ready libusb_handle_events_timeout_completed
 * runs with a zero timeout, which polls them all and calls the transfers'
 * callbacks. libusb keeps its timeouts on its timerfd, so that one fd covers
 * them (we set none on transfers anyway: the guest's driver times out and
 * stops the endpoint).
 *
 * A usbfs node reports its device's unplug as POLLERR|POLLHUP. libusb then
 * fails the transfers in flight with NO_DEVICE and drops the fd; a device
 * with nothing in flight would not notice, so the error is also handed to
 * the device that owns the fd.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <poll.h>

#include "common/log.h"
#include "devices/usb/passthrough_internal.h"

static struct {
	libusb_context *ctx;
	struct event_loop *loop;	/* the loop the fds are in while there are users */
	unsigned int users;		/* attached devices */
	bool watch_failed;
	struct pt_device *devices;
} host;

int passthrough_host_init(void)
{
	int r;

	if (host.ctx)
		return 0;
	/* Wrapped descriptors only: no scan of /dev/bus/usb or /sys, no hotplug thread. */
	r = libusb_set_option(NULL, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
	if (r < 0) {
		log_err("passthrough: libusb cannot turn device discovery off: %s", libusb_error_name(r));
		return r;
	}
	r = libusb_init(&host.ctx);
	if (r < 0) {
		log_err("passthrough: libusb_init: %s", libusb_error_name(r));
		host.ctx = NULL;
		return r;
	}
	return 0;
}

size_t passthrough_host_fds(int *fds, size_t max)
{
	const struct libusb_pollfd **pfds;
	size_t n = 0;

	if (!host.ctx)
		return 0;
	pfds = libusb_get_pollfds(host.ctx);
	if (!pfds)
		return 0;
	for (; pfds[n]; n++) {
		if (n < max)
			fds[n] = pfds[n]->fd;
	}
	libusb_free_pollfds(pfds);
	return n;
}

void passthrough_host_exit(void)
{
	if (!host.ctx || host.users)
		return;
	libusb_exit(host.ctx);
	host.ctx = NULL;
}

static struct pt_device *device_of_fd(int fd)
{
	for (struct pt_device *pt = host.devices; pt; pt = pt->next_host) {
		if (pt->fd == fd)
			return pt;
	}
	return NULL;
}

static void on_fd(void *opaque, uint32_t events)
{
	static const struct timeval zero = { 0, 0 };
	int fd = (int)(intptr_t)opaque;
	struct pt_device *pt;
	int r;

	r = libusb_handle_events_timeout_completed(host.ctx, (struct timeval *)&zero, NULL);
	if (r < 0)
		log_debug("passthrough: libusb_handle_events: %s", libusb_error_name(r));
	if (!(events & (EPOLLERR | EPOLLHUP)))
		return;
	pt = device_of_fd(fd);
	if (!pt)
		return;
	/*
	 * Level-triggered: an fd libusb did not drop would fire forever. The
	 * device is gone, so nothing more will come from it.
	 */
	event_loop_del_fd(host.loop, fd);
	pt_lost(pt);
}

static uint32_t epoll_events(short poll_events)
{
	return (poll_events & POLLIN ? EPOLLIN : 0) | (poll_events & POLLOUT ? EPOLLOUT : 0);
}

static void LIBUSB_CALL fd_added(int fd, short events, void *user_data)
{
	int err;

	(void)user_data;
	if (!host.loop)
		return;
	err = event_loop_add_fd(host.loop, fd, epoll_events(events), on_fd, (void *)(intptr_t)fd);
	if (err < 0) {
		log_err("passthrough: cannot watch libusb fd %d: %d", fd, err);
		host.watch_failed = true;
	}
}

static void LIBUSB_CALL fd_removed(int fd, void *user_data)
{
	(void)user_data;
	if (host.loop)
		event_loop_del_fd(host.loop, fd);
}

/* Every fd libusb has now goes into (watch) or out of (!watch) host.loop. */
static void watch_all(bool watch)
{
	const struct libusb_pollfd **pfds = libusb_get_pollfds(host.ctx);

	if (!pfds) {
		if (watch)
			host.watch_failed = true;
		return;
	}
	for (size_t i = 0; pfds[i]; i++) {
		if (watch)
			fd_added(pfds[i]->fd, pfds[i]->events, NULL);
		else
			fd_removed(pfds[i]->fd, NULL);
	}
	libusb_free_pollfds(pfds);
}

int pt_host_acquire(struct event_loop *loop, libusb_context **ctx)
{
	int r = passthrough_host_init();

	if (r < 0)
		return r;
	if (host.users && host.loop != loop) {
		log_err("passthrough: all devices must share one event loop");
		return LIBUSB_ERROR_BUSY;
	}
	if (!host.users) {
		if (!libusb_pollfds_handle_timeouts(host.ctx))
			log_warn("passthrough: libusb has no timerfd; its internal timeouts are not run");
		host.loop = loop;
		host.watch_failed = false;
		libusb_set_pollfd_notifiers(host.ctx, fd_added, fd_removed, NULL);
		watch_all(true);
		if (host.watch_failed) {
			libusb_set_pollfd_notifiers(host.ctx, NULL, NULL, NULL);
			watch_all(false);
			host.loop = NULL;
			return LIBUSB_ERROR_NO_MEM;
		}
	}
	host.users++;
	*ctx = host.ctx;
	return 0;
}

void pt_host_release(void)
{
	if (!host.users || --host.users)
		return;
	libusb_set_pollfd_notifiers(host.ctx, NULL, NULL, NULL);
	watch_all(false);
	host.loop = NULL;
}

bool pt_host_watch_failed(void)
{
	bool failed = host.watch_failed;

	host.watch_failed = false;
	return failed;
}

void pt_host_schedule_all(void)
{
	for (struct pt_device *pt = host.devices; pt; pt = pt->next_host)
		pt_schedule(pt);
}

void pt_host_add_device(struct pt_device *pt)
{
	pt->next_host = host.devices;
	host.devices = pt;
}

void pt_host_remove_device(struct pt_device *pt)
{
	for (struct pt_device **pp = &host.devices; *pp; pp = &(*pp)->next_host) {
		if (*pp == pt) {
			*pp = pt->next_host;
			pt->next_host = NULL;
			return;
		}
	}
}

void pt_host_run(int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int r;

	r = libusb_handle_events_timeout_completed(host.ctx, &tv, NULL);
	if (r < 0)
		log_debug("passthrough: libusb_handle_events: %s", libusb_error_name(r));
}
