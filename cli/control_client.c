/* SPDX-License-Identifier: MIT */
#include "cli/control_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/control_protocol.h"
#include "common/fdpass.h"
#include "common/device_protocol.h"

/* An attach may wait on the broker and on the device's first descriptors. */
#define CONTROL_REPLY_TIMEOUT_MS 60000

static int connect_control(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "svmm: control socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "svmm: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "svmm: cannot connect to control socket %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends req (with fd, or -1) to the VM at path and waits for its reply.
 * Returns the connection (for events that follow a watch) or -1 (reported).
 */
static int transact_keep(const char *path, const struct control_request *req, int image_fd,
			 struct control_reply *rep)
{
	struct control_reply raw;
	struct pollfd pfd;
	const char *why = NULL;
	ssize_t n;
	int fd, r;

	fd = connect_control(path);
	if (fd < 0)
		return -1;
	r = fdpass_send(fd, req, sizeof(*req), &image_fd, image_fd >= 0 ? 1 : 0);
	if (r < 0) {
		fprintf(stderr, "svmm: cannot send to %s: %s\n", path, strerror(-r));
		close(fd);
		return -1;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	do {
		r = poll(&pfd, 1, CONTROL_REPLY_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		fprintf(stderr, "svmm: no reply from %s within %d s\n", path,
			CONTROL_REPLY_TIMEOUT_MS / 1000);
		close(fd);
		return -1;
	}
	n = recv(fd, &raw, sizeof(raw), MSG_TRUNC);
	if (n <= 0) {
		fprintf(stderr, "svmm: %s closed without a reply\n", path);
		close(fd);
		return -1;
	}
	if (control_reply_decode(&raw, (size_t)n, req->type, rep, &why) < 0) {
		fprintf(stderr, "svmm: malformed reply from %s: %s\n", path, why);
		close(fd);
		return -1;
	}
	return fd;
}

/* One request, one reply; 0 or -1 (reported). */
static int transact(const char *path, const struct control_request *req, int image_fd,
		    struct control_reply *rep)
{
	int fd = transact_keep(path, req, image_fd, rep);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Prints a refused request as "word: reason" (crosvm's word first), returns the exit status. */
static int report_error(const struct control_reply *rep)
{
	if (rep->message[0])
		fprintf(stderr, "%s: %s\n", svmm_status_name(rep->status), rep->message);
	else
		fprintf(stderr, "%s\n", svmm_status_name(rep->status));
	return 1;
}

int control_client_attach(const struct usb_attach_options *o)
{
	struct control_request req;
	struct control_reply rep;
	uint32_t flags = (o->read_only ? CONTROL_ATTACH_READONLY : 0) |
			 (o->follow ? CONTROL_ATTACH_FOLLOW : 0);

	int image_fd = -1, r;

	if (control_request_attach(&req, o->target, flags, o->path) < 0) {
		fprintf(stderr, "svmm: invalid path: %s\n", o->path);
		return CLI_EXIT_USAGE;
	}
	if (o->target == CONTROL_TARGET_IMAGE) {
		/* Opened here, with the user's own rights; the VMM only receives the fd. */
		image_fd = open(o->path, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
		if (image_fd < 0) {
			fprintf(stderr, "failed_to_open_device: %s: %s\n", o->path, strerror(errno));
			return 1;
		}
	}
	r = transact(o->socket, &req, image_fd, &rep);
	if (image_fd >= 0)
		close(image_fd);
	if (r < 0)
		return 1;
	if (rep.status != SVMM_OK)
		return report_error(&rep);
	printf("ok %u\n", rep.port);
	return 0;
}

int control_client_detach(const struct usb_detach_options *o)
{
	struct control_request req;
	struct control_reply rep;

	control_request_simple(&req, CONTROL_USB_DETACH, o->port);
	if (transact(o->socket, &req, -1, &rep) < 0)
		return 1;
	if (rep.status != SVMM_OK)
		return report_error(&rep);
	printf("ok %u\n", rep.port);
	return 0;
}

static const char *speed_name(unsigned int speed)
{
	switch (speed) {
	case DEVPROTO_SPEED_LOW: return "low";
	case DEVPROTO_SPEED_FULL: return "full";
	case DEVPROTO_SPEED_HIGH: return "high";
	case DEVPROTO_SPEED_SUPER: return "super";
	case DEVPROTO_SPEED_SUPER_PLUS: return "super-plus";
	default: return "unknown";
	}
}

static const char *kind_name(unsigned int kind)
{
	return kind == DEVPROTO_ATTACH_IMAGE ? "image" : "usbfs";
}

static void print_entry_json(const struct control_port_entry *e)
{
	printf("\"port\":%u,\"vendor\":\"%04x\",\"product\":\"%04x\",\"speed\":\"%s\","
	       "\"kind\":\"%s\",\"bus\":%u,\"device\":%u", e->port, e->vendor, e->product,
	       speed_name(e->speed), kind_name(e->kind), e->busnum, e->devnum);
}

static void print_entry(const struct control_port_entry *e)
{
	printf("%u %04x:%04x %s %s %03u/%03u", e->port, e->vendor, e->product, speed_name(e->speed),
	       kind_name(e->kind), e->busnum, e->devnum);
}

int control_client_list(const struct usb_list_options *o)
{
	struct control_request req;
	struct control_reply rep;

	control_request_simple(&req, CONTROL_USB_LIST, 0);
	if (transact(o->socket, &req, -1, &rep) < 0)
		return 1;
	if (rep.status != SVMM_OK)
		return report_error(&rep);
	if (o->json)
		printf("[");
	for (uint32_t i = 0; i < rep.count; i++) {
		if (o->json) {
			printf("%s{", i ? "," : "");
			print_entry_json(&rep.ports[i]);
			printf("}");
		} else {
			print_entry(&rep.ports[i]);
			printf("\n");
		}
	}
	if (o->json)
		printf("]\n");
	return 0;
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Text: "EVENT PORT VID:PID SPEED KIND BUS/DEV PATH"; refused: "refused PATH STATUS: REASON". */
static void print_event(const struct control_event *e, bool json)
{
	const char *name = control_event_name(e->event);

	if (json) {
		printf("{\"event\":\"%s\",\"time_ms\":%llu", name, (unsigned long long)e->time_ms);
		if (e->event == CONTROL_EVENT_ATTACHED || e->event == CONTROL_EVENT_DETACHED ||
		    e->event == CONTROL_EVENT_GONE || e->event == CONTROL_EVENT_BACK) {
			printf(",");
			print_entry_json(&e->device);
		}
		if (e->path[0]) {
			printf(",\"path\":");
			print_json_string(e->path);
		}
		if (e->event == CONTROL_EVENT_REFUSED) {
			printf(",\"status\":\"%s\",\"reason\":", svmm_status_name(e->status));
			print_json_string(e->message);
		}
		printf("}\n");
	} else if (e->event == CONTROL_EVENT_REFUSED) {
		printf("%s %s %s: %s\n", name, e->path, svmm_status_name(e->status), e->message);
	} else if (e->event == CONTROL_EVENT_STOPPED) {
		printf("%s\n", name);
	} else {
		printf("%s ", name);
		print_entry(&e->device);
		printf(" %s\n", e->path[0] ? e->path : "-");
	}
	fflush(stdout);
}

int control_client_watch(const struct usb_list_options *o)
{
	struct control_request req;
	struct control_reply rep;
	int fd;

	control_request_simple(&req, CONTROL_USB_WATCH, 0);
	fd = transact_keep(o->socket, &req, -1, &rep);
	if (fd < 0)
		return 1;
	if (rep.status != SVMM_OK) {
		close(fd);
		return report_error(&rep);
	}
	for (uint32_t i = 0; i < rep.count; i++) {
		if (o->json) {
			printf("{\"event\":\"present\",");
			print_entry_json(&rep.ports[i]);
			printf("}\n");
		} else {
			printf("present ");
			print_entry(&rep.ports[i]);
			printf("\n");
		}
	}
	fflush(stdout);
	for (;;) {
		struct control_event raw, e;
		const char *why = NULL;
		ssize_t n = recv(fd, &raw, sizeof(raw), MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "svmm: %s closed the connection before the VM stopped\n",
				o->socket);
			break;
		}
		if (control_event_decode(&raw, (size_t)n, &e, &why) < 0) {
			fprintf(stderr, "svmm: malformed event from %s: %s\n", o->socket, why);
			break;
		}
		print_event(&e, o->json);
		if (e.event == CONTROL_EVENT_STOPPED) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	return 1;
}

int control_client_stop(const struct stop_options *o)
{
	struct control_request req;
	struct control_reply rep;

	control_request_simple(&req, CONTROL_STOP, 0);
	if (transact(o->socket, &req, -1, &rep) < 0)
		return 1;
	if (rep.status != SVMM_OK)
		return report_error(&rep);
	printf("ok\n");
	return 0;
}
