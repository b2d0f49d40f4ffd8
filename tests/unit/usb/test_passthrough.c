/* SPDX-License-Identifier: MIT */
/*
 * The libusb passthrough without a USB device (this machine has none): how
 * results map to the controller's statuses, which SETUPs the device process
 * handles itself, what submit() refuses, the order and deferral of
 * completions, a vanished device, and the constructor on descriptors that
 * are not usbfs nodes. The lab (tests/lab/scenarios/passthrough-probe) runs
 * the same code on a real device inside the jail.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/event_loop.h"
#include "devices/usb/passthrough.h"
#include "devices/usb/passthrough_internal.h"
#include "devices/usb/usb_standard.h"

Test(passthrough_status, every_libusb_status_maps)
{
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_COMPLETED), USB_TRANSFER_OK);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_STALL), USB_TRANSFER_STALL);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_NO_DEVICE), USB_TRANSFER_NO_DEVICE);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_OVERFLOW), USB_TRANSFER_BABBLE);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_CANCELLED), USB_TRANSFER_CANCELLED);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_ERROR), USB_TRANSFER_ERROR);
	cr_assert_eq(pt_status(LIBUSB_TRANSFER_TIMED_OUT), USB_TRANSFER_ERROR);
	cr_assert_eq(pt_status((enum libusb_transfer_status)99), USB_TRANSFER_ERROR);
}

Test(passthrough_status, libusb_errors_are_negative_errnos)
{
	cr_assert_eq(pt_errno(LIBUSB_SUCCESS), 0);
	cr_assert_eq(pt_errno(LIBUSB_ERROR_NO_DEVICE), -ENODEV);
	cr_assert_eq(pt_errno(LIBUSB_ERROR_BUSY), -EBUSY);
	cr_assert_eq(pt_errno(LIBUSB_ERROR_PIPE), -EPIPE);
	cr_assert_eq(pt_errno(LIBUSB_ERROR_NO_MEM), -ENOMEM);
	cr_assert_eq(pt_errno(LIBUSB_ERROR_OTHER), -EIO);
}

Test(passthrough_status, speeds_and_the_usb3_guess)
{
	cr_assert_eq(pt_speed(LIBUSB_SPEED_LOW, 0x0110), DEVPROTO_SPEED_LOW);
	cr_assert_eq(pt_speed(LIBUSB_SPEED_FULL, 0x0200), DEVPROTO_SPEED_FULL);
	cr_assert_eq(pt_speed(LIBUSB_SPEED_HIGH, 0x0200), DEVPROTO_SPEED_HIGH);
	cr_assert_eq(pt_speed(LIBUSB_SPEED_SUPER, 0x0300), DEVPROTO_SPEED_SUPER);
	/* A Gen 2 device goes on the controller's Gen 1 USB 3 ports. */
	cr_assert_eq(pt_speed(LIBUSB_SPEED_SUPER_PLUS, 0x0320), DEVPROTO_SPEED_SUPER);
	/* usbfs could not say: the descriptor's USB version decides the port kind. */
	cr_assert_eq(pt_speed(LIBUSB_SPEED_UNKNOWN, 0x0310), DEVPROTO_SPEED_SUPER);
	cr_assert_eq(pt_speed(LIBUSB_SPEED_UNKNOWN, 0x0200), DEVPROTO_SPEED_HIGH);
}

static struct usb_setup setup(uint8_t type, uint8_t request, uint16_t value, uint16_t index)
{
	return (struct usb_setup){ .request_type = type, .request = request, .value = value,
				   .index = index };
}

Test(passthrough_setup, standard_requests_the_process_handles)
{
	struct usb_setup s;

	s = setup(0x00, USB_REQ_SET_ADDRESS, 5, 0);
	cr_assert_eq(pt_setup_classify(&s), PT_SETUP_SET_ADDRESS);
	s = setup(0x00, USB_REQ_SET_CONFIGURATION, 1, 0);
	cr_assert_eq(pt_setup_classify(&s), PT_SETUP_SET_CONFIGURATION);
	s = setup(0x01, USB_REQ_SET_INTERFACE, 1, 2);
	cr_assert_eq(pt_setup_classify(&s), PT_SETUP_SET_INTERFACE);
	s = setup(0x02, USB_REQ_CLEAR_FEATURE, USB_FEATURE_ENDPOINT_HALT, 0x81);
	cr_assert_eq(pt_setup_classify(&s), PT_SETUP_CLEAR_HALT);
}

Test(passthrough_setup, everything_else_reaches_the_device)
{
	static const struct usb_setup pass[] = {
		{ 0x80, USB_REQ_GET_DESCRIPTOR, 0x0100, 0, 18 },
		{ 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1 },
		{ 0x81, USB_REQ_GET_INTERFACE, 0, 0, 1 },
		{ 0x00, USB_REQ_SET_FEATURE, USB_FEATURE_REMOTE_WAKEUP, 0, 0 },
		/* CLEAR_FEATURE to the device (remote wakeup), or an endpoint feature that is not HALT. */
		{ 0x00, USB_REQ_CLEAR_FEATURE, USB_FEATURE_REMOTE_WAKEUP, 0, 0 },
		{ 0x02, USB_REQ_CLEAR_FEATURE, 1, 0x81, 0 },
		/* Class and vendor requests that share the standard numbers. */
		{ 0x21, 0x09, 0x0200, 0, 8 },		/* HID SET_REPORT */
		{ 0x21, 0x0b, 0, 0, 0 },		/* HID SET_PROTOCOL */
		{ 0x40, 0x05, 0, 0, 0 },		/* vendor request 5 */
		{ 0x21, 0xff, 0, 0, 0 },		/* Bulk-Only Mass Storage Reset */
		/* A standard SET_* sent the wrong way round. */
		{ 0x80, USB_REQ_SET_ADDRESS, 5, 0, 0 },
		{ 0x01, USB_REQ_SET_CONFIGURATION, 1, 0, 0 },
		{ 0x00, USB_REQ_SET_INTERFACE, 1, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		cr_assert_eq(pt_setup_classify(&pass[i]), PT_SETUP_PASS, "request %zu", i);
}

/*
 * A device without a libusb handle: enough for what never reaches libusb
 * (requests refused, swallowed or answered locally, a vanished device).
 */
struct fake {
	struct event_loop *loop;
	struct pt_device *pt;
	int gone_calls;
};

struct xfer {
	struct usb_transfer t;
	int done_calls;
	int order;
};

static int done_counter;

static void on_done(struct usb_transfer *t)
{
	struct xfer *x = t->opaque;

	x->done_calls++;
	x->order = ++done_counter;
}

static void on_gone(struct usb_device *dev, void *opaque)
{
	struct fake *f = opaque;

	cr_assert_eq(dev, &f->pt->dev);
	f->gone_calls++;
}

static void fake_setup(struct fake *f)
{
	f->loop = event_loop_new();
	cr_assert_not_null(f->loop);
	f->pt = calloc(1, sizeof(*f->pt));
	cr_assert_not_null(f->pt);
	f->pt->fd = -1;
	f->pt->dev.loop = f->loop;
	f->pt->dev.gone = on_gone;
	f->pt->dev.gone_opaque = f;
	f->pt->pump.fn = pt_pump;
	f->pt->pump.opaque = f->pt;
	f->gone_calls = 0;
	done_counter = 0;
}

static void fake_teardown(struct fake *f)
{
	cr_assert_eq(f->pt->ntransfers, 0, "transfers still held");
	pt_free(f->pt);
	event_loop_free(f->loop);
}

static void run(struct fake *f)
{
	for (int i = 0; i < 8; i++)
		event_loop_run_once(f->loop, 0);
}

static void control(struct xfer *x, uint8_t type, uint8_t request, uint16_t value, uint16_t index)
{
	memset(x, 0, sizeof(*x));
	x->t.type = USB_TRANSFER_CONTROL;
	x->t.setup = setup(type, request, value, index);
	x->t.done = on_done;
	x->t.opaque = x;
	x->t.status = USB_TRANSFER_ERROR;
}

Test(passthrough_requests, set_address_is_swallowed_later_not_inside_submit)
{
	struct fake f;
	struct xfer x;

	fake_setup(&f);
	control(&x, 0x00, USB_REQ_SET_ADDRESS, 7, 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), 0);
	cr_assert_eq(x.done_calls, 0, "done() inside submit()");
	cr_assert_not(f.pt->addressed, "ran before its turn");
	run(&f);
	cr_assert_eq(x.done_calls, 1);
	cr_assert_eq(x.t.status, USB_TRANSFER_OK);
	cr_assert_eq(x.t.actual, 0);
	cr_assert(f.pt->addressed);
	fake_teardown(&f);
}

Test(passthrough_requests, routed_requests_the_device_cannot_take_stall)
{
	struct fake f;
	struct xfer alt, cfg, halt;

	fake_setup(&f);
	/* Interface 3 is not claimed (no configuration): no libusb call, a STALL. */
	control(&alt, 0x01, USB_REQ_SET_INTERFACE, 1, 3);
	/* Values usbfs cannot carry never reach it. */
	control(&cfg, 0x00, USB_REQ_SET_CONFIGURATION, 0x100, 0);
	control(&halt, 0x02, USB_REQ_CLEAR_FEATURE, USB_FEATURE_ENDPOINT_HALT, 0x181);
	cr_assert_eq(pt_submit(&f.pt->dev, &alt.t), 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &cfg.t), 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &halt.t), 0);
	run(&f);
	cr_assert_eq(alt.t.status, USB_TRANSFER_STALL);
	cr_assert_eq(cfg.t.status, USB_TRANSFER_STALL);
	cr_assert_eq(halt.t.status, USB_TRANSFER_STALL);
	cr_assert(alt.order < cfg.order && cfg.order < halt.order, "out of order");
	fake_teardown(&f);
}

Test(passthrough_requests, cancel_before_its_turn_is_cancelled_and_keeps_its_place)
{
	struct fake f;
	struct xfer a, b, c;

	fake_setup(&f);
	control(&a, 0x00, USB_REQ_SET_ADDRESS, 1, 0);
	control(&b, 0x00, USB_REQ_SET_ADDRESS, 2, 0);
	control(&c, 0x00, USB_REQ_SET_ADDRESS, 3, 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &a.t), 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &b.t), 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &c.t), 0);
	pt_cancel(&f.pt->dev, &b.t);
	pt_cancel(&f.pt->dev, &b.t);	/* twice: still one done() */
	cr_assert_eq(b.done_calls, 0, "done() inside cancel()");
	run(&f);
	cr_assert_eq(a.done_calls + b.done_calls + c.done_calls, 3);
	cr_assert_eq(a.t.status, USB_TRANSFER_OK);
	cr_assert_eq(b.t.status, USB_TRANSFER_CANCELLED);
	cr_assert_eq(c.t.status, USB_TRANSFER_OK);
	cr_assert(a.order < b.order && b.order < c.order);
	/* A transfer the device no longer holds is not touched. */
	pt_cancel(&f.pt->dev, &a.t);
	run(&f);
	cr_assert_eq(a.done_calls, 1);
	fake_teardown(&f);
}

Test(passthrough_requests, a_vanished_device_fails_transfers_and_says_gone_once)
{
	struct fake f;
	struct xfer a, b;
	uint8_t buf[64];

	fake_setup(&f);
	control(&a, 0x00, USB_REQ_SET_ADDRESS, 1, 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &a.t), 0);
	pt_lost(f.pt);
	pt_lost(f.pt);
	/* Accepted, and completed with NO_DEVICE later, like any transfer of a gone device. */
	memset(&b, 0, sizeof(b));
	b.t.type = USB_TRANSFER_BULK;
	b.t.endpoint = USB_DIR_IN | 1;
	b.t.buffer = buf;
	b.t.length = sizeof(buf);
	b.t.done = on_done;
	b.t.opaque = &b;
	cr_assert_eq(pt_submit(&f.pt->dev, &b.t), 0);
	cr_assert_eq(b.done_calls, 0);
	run(&f);
	cr_assert_eq(a.t.status, USB_TRANSFER_NO_DEVICE);
	cr_assert_eq(b.t.status, USB_TRANSFER_NO_DEVICE);
	cr_assert_eq(a.done_calls, 1);
	cr_assert_eq(b.done_calls, 1);
	cr_assert_eq(f.gone_calls, 1);
	pt_lost(f.pt);
	run(&f);
	cr_assert_eq(f.gone_calls, 1, "gone() called again");
	fake_teardown(&f);
}

Test(passthrough_requests, submit_refuses_what_it_cannot_carry)
{
	struct fake f;
	struct xfer x;
	uint8_t buf[256];
	struct usb_iso_packet iso[2] = { { .length = 200 }, { .length = 100 } };

	fake_setup(&f);
	/* A data stage longer than wLength (the controller clamps; this is the guard). */
	control(&x, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0100, 0);
	x.t.setup.length = 18;
	x.t.buffer = buf;
	x.t.length = 64;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	/* A length without a buffer. */
	x.t.setup.length = 64;
	x.t.buffer = NULL;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);

	memset(&x, 0, sizeof(x));
	x.t.done = on_done;
	x.t.opaque = &x;
	x.t.buffer = buf;
	x.t.length = sizeof(buf);
	/* Bulk and interrupt on endpoint 0. */
	x.t.type = USB_TRANSFER_BULK;
	x.t.endpoint = USB_DIR_IN;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	x.t.type = USB_TRANSFER_INTERRUPT;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	/* Streams are a bulk endpoint's only. */
	x.t.type = USB_TRANSFER_INTERRUPT;
	x.t.endpoint = 2;
	x.t.stream = 1;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	x.t.stream = 0;
	/* Isochronous packets that do not fit the buffer, too many, or none. */
	x.t.type = USB_TRANSFER_ISOCH;
	x.t.endpoint = USB_DIR_IN | 3;
	x.t.iso_packets = iso;
	x.t.num_iso_packets = 2;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	x.t.num_iso_packets = USB_MAX_ISO_PACKETS + 1;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	x.t.num_iso_packets = 0;
	cr_assert_eq(pt_submit(&f.pt->dev, &x.t), -EINVAL);
	run(&f);
	cr_assert_eq(x.done_calls, 0, "done() after a refused submit");
	fake_teardown(&f);
}

Test(passthrough_requests, at_most_PT_MAX_TRANSFERS_held)
{
	struct fake f;
	struct xfer *x = calloc(PT_MAX_TRANSFERS + 1, sizeof(*x));

	cr_assert_not_null(x);
	fake_setup(&f);
	for (unsigned int i = 0; i < PT_MAX_TRANSFERS; i++) {
		control(&x[i], 0x00, USB_REQ_SET_ADDRESS, 1, 0);
		cr_assert_eq(pt_submit(&f.pt->dev, &x[i].t), 0);
	}
	control(&x[PT_MAX_TRANSFERS], 0x00, USB_REQ_SET_ADDRESS, 1, 0);
	cr_assert_eq(pt_submit(&f.pt->dev, &x[PT_MAX_TRANSFERS].t), -EBUSY);
	run(&f);
	for (unsigned int i = 0; i < PT_MAX_TRANSFERS; i++)
		cr_assert_eq(x[i].order, (int)i + 1);
	/* Room again once they are back. */
	cr_assert_eq(pt_submit(&f.pt->dev, &x[PT_MAX_TRANSFERS].t), 0);
	run(&f);
	cr_assert_eq(x[PT_MAX_TRANSFERS].done_calls, 1);
	fake_teardown(&f);
	free(x);
}

/* The constructor on descriptors that are not usbfs nodes: NULL, the fd still the caller's. */
static void refuses(int fd)
{
	struct devproto_attach a = { .kind = DEVPROTO_ATTACH_USBFS, .busnum = 1, .devnum = 2 };
	struct event_loop *loop = event_loop_new();
	int fds[PASSTHROUGH_HOST_MAX_FDS];
	size_t n;

	cr_assert_not_null(loop);
	errno = 0;
	cr_assert_null(passthrough_new(loop, fd, &a, DEVPROTO_SPEED_SUPER));
	cr_assert_neq(errno, 0);
	cr_assert_geq(fcntl(fd, F_GETFD), 0, "the constructor closed the caller's fd");
	/* The context's fds left the loop with the failed device: they can be watched again. */
	n = passthrough_host_fds(fds, PASSTHROUGH_HOST_MAX_FDS);
	cr_assert_geq(n, 1);
	cr_assert_leq(n, PASSTHROUGH_HOST_MAX_FDS);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(event_loop_add_fd(loop, fds[i], EPOLLIN, NULL, NULL), 0,
			     "libusb fd %d still watched", fds[i]);
		event_loop_del_fd(loop, fds[i]);
	}
	event_loop_free(loop);
}

Test(passthrough_new, refuses_dev_null)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	refuses(fd);
	refuses(fd);	/* and again, with the same context */
	close(fd);
	passthrough_host_exit();
	cr_assert_eq(passthrough_host_fds(NULL, 0), 0, "context left after exit");
}

Test(passthrough_new, refuses_a_pipe)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	refuses(p[0]);
	refuses(p[1]);
	close(p[0]);
	close(p[1]);
	passthrough_host_exit();
}
