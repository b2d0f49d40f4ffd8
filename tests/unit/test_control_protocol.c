/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/control_protocol.h"

Test(control, attach_request_round_trips)
{
	struct control_request r, out;
	const char *why = NULL;

	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, "/dev/bus/usb/002/022"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), 0, "%s", why);
	cr_assert_str_eq(out.path, "/dev/bus/usb/002/022");
	cr_assert_eq(out.path_len, strlen("/dev/bus/usb/002/022"));
}

Test(control, attach_path_limits)
{
	static char longpath[CONTROL_PATH_MAX + 10];
	struct control_request r;

	memset(longpath, 'a', sizeof(longpath) - 1);
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, longpath), -ENAMETOOLONG);
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, ""), -EINVAL);
}

Test(control, malformed_requests_are_refused)
{
	struct control_request r, out;
	const char *why = NULL;

	control_request_simple(&r, CONTROL_USB_LIST, 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r) - 1, 0, &out, &why), -EMSGSIZE);
	r.version = 2;
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EPROTO);
	control_request_simple(&r, 99, 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);

	/* A length that lies about the path. */
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, "/dev/bus/usb/001/002"), 0);
	r.path_len = 4;
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	r.path_len = CONTROL_PATH_MAX;
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	/* A NUL inside the path. */
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, "/dev/bus/usb/001/002"), 0);
	r.path[3] = '\0';
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "path contains a NUL byte");
	/* Unknown target, unknown flags. */
	cr_assert_eq(control_request_attach(&r, 9, 0, "/x"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_IMAGE, 0x10, "/x"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 1, &out, &why), -EBADMSG);
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, CONTROL_ATTACH_READONLY, "/x"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	/* Detach needs a port; list takes none; stop takes no path. */
	control_request_simple(&r, CONTROL_USB_DETACH, 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	control_request_simple(&r, CONTROL_USB_LIST, 4);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	control_request_simple(&r, CONTROL_STOP, 0);
	r.path_len = 1;
	r.path[0] = 'x';
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
}

Test(control, reply_checks)
{
	struct control_reply r, out;
	const char *why = NULL;

	control_reply_init(&r, CONTROL_USB_ATTACH);
	control_reply_error(&r, SVMM_E_NO_AVAILABLE_PORT, "all %d ports in use", 16);
	cr_assert_eq(control_reply_decode(&r, sizeof(r), CONTROL_USB_ATTACH, &out, &why), 0);
	cr_assert_str_eq(out.message, "all 16 ports in use");
	cr_assert_str_eq(svmm_status_name(out.status), "no_available_port");
	cr_assert_eq(control_reply_decode(&r, sizeof(r), CONTROL_USB_DETACH, &out, &why), -EBADMSG);
	memset(r.message, 'x', sizeof(r.message));
	cr_assert_eq(control_reply_decode(&r, sizeof(r), CONTROL_USB_ATTACH, &out, &why), -EBADMSG);
	control_reply_init(&r, CONTROL_USB_LIST);
	r.count = CONTROL_LIST_MAX + 1;
	cr_assert_eq(control_reply_decode(&r, sizeof(r), CONTROL_USB_LIST, &out, &why), -EBADMSG);
}

Test(control, only_an_image_attach_carries_a_descriptor)
{
	struct control_request r, out;
	const char *why = NULL;

	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_IMAGE, CONTROL_ATTACH_READONLY, "disk.img"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 1, &out, &why), 0, "%s", why);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADF);
	cr_assert_str_eq(why, "an image attach without the image's descriptor");
	cr_assert_eq(control_request_decode(&r, sizeof(r), 2, &out, &why), -EBADF);
	cr_assert_eq(control_request_attach(&r, CONTROL_TARGET_NODE, 0, "/dev/bus/usb/001/002"), 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 1, &out, &why), -EBADF);
	cr_assert_str_eq(why, "a descriptor on a request that takes none");
	control_request_simple(&r, CONTROL_STOP, 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 1, &out, &why), -EBADF);
}

Test(control, watch_request_takes_nothing)
{
	struct control_request r, out;
	const char *why = NULL;

	control_request_simple(&r, CONTROL_USB_WATCH, 0);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), 0, "%s", why);
	control_request_simple(&r, CONTROL_USB_WATCH, 3);
	cr_assert_eq(control_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
}

Test(control, events_are_checked_like_replies)
{
	char long_path[2 * CONTROL_EVENT_PATH_MAX];
	struct control_event e, out;
	const char *why = NULL;

	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	control_event_init(&e, CONTROL_EVENT_ATTACHED, long_path);
	cr_assert_eq(strlen(e.path), CONTROL_EVENT_PATH_MAX - 1, "a long path is cut, not overrun");
	cr_assert_gt(e.time_ms, 0);
	cr_assert_eq(control_event_decode(&e, sizeof(e), &out, &why), 0, "%s", why);
	cr_assert_str_eq(control_event_name(out.event), "attached");
	cr_assert_eq(control_event_decode(&e, sizeof(e) - 1, &out, &why), -EMSGSIZE);
	e.event = CONTROL_EVENT_END;
	cr_assert_eq(control_event_decode(&e, sizeof(e), &out, &why), -EBADMSG);
	cr_assert_str_eq(control_event_name(0), "?");
	control_event_init(&e, CONTROL_EVENT_REFUSED, "x");
	memset(e.message, 'm', sizeof(e.message));
	cr_assert_eq(control_event_decode(&e, sizeof(e), &out, &why), -EBADMSG);
	control_event_init(&e, CONTROL_EVENT_GONE, NULL);
	e.status = SVMM_STATUS_END;
	cr_assert_eq(control_event_decode(&e, sizeof(e), &out, &why), -EBADMSG);
	control_event_init(&e, CONTROL_EVENT_STOPPED, NULL);
	e.type = CONTROL_USB_LIST;
	cr_assert_eq(control_event_decode(&e, sizeof(e), &out, &why), -EBADMSG);
}
