/* SPDX-License-Identifier: MIT */
/*
 * The broker end to end, in process: requests over real SOCK_SEQPACKET
 * sockets to a server on fake trees whose nodes (stand-in major 1) really
 * open. Proves what a VM gets, what it is refused and why, exclusivity, and
 * release on RELEASE and on disconnect; then the same through broker_spawn.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/broker_client.h"
#include "broker/broker_server.h"
#include "tests/unit/broker/fake_usb.h"
#include "common/fdpass.h"
#include "common/monotonic.h"
#include "broker/usb_policy.h"

static struct fake_usb f;
static struct broker_server srv;
static struct usb_policy *policy;

static void setup_with(const char *text)
{
	char err[USB_POLICY_ERR_MAX] = "";
	struct fake_dev a = fake_usb_plain(4), b = fake_usb_plain(6), hub = fake_usb_plain(8);

	fake_usb_setup(&f, 1);
	a.serial = "AAA";
	b.vendor = 0x0781;
	b.product = 0x5567;
	b.nif = 2;
	b.if_class[0] = 0x03;
	b.if_class[1] = 0x08;
	hub.device_class = 0x09;
	fake_usb_add(&f, &a);
	fake_usb_add(&f, &b);
	fake_usb_add(&f, &hub);
	if (text)
		cr_assert_eq(usb_policy_parse("test.policy", text, strlen(text), &policy, err,
					      sizeof(err)), 0, "%s", err);
	else
		policy = usb_policy_builtin();
	broker_server_init(&srv, &f.cfg, policy, -1);
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	broker_server_shutdown(&srv);
	usb_policy_free(policy);
	fake_usb_teardown(&f);
}

/* A connected client: returns its end; *slot is the server's slot for it. */
static int client(unsigned int *slot)
{
	int sv[2], s;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	s = broker_server_add_peer(&srv, sv[1]);
	cr_assert_geq(s, 0);
	*slot = (unsigned int)s;
	return sv[0];
}

/* One request through the server; returns the reply's status, *fd the passed node or -1. */
static uint32_t ask(int sock, unsigned int slot, const struct broker_request *r,
		    struct broker_reply *p, int *fd)
{
	const char *why = NULL;

	cr_assert_eq(broker_request_send(sock, r), 0);
	cr_assert_eq(broker_server_handle(&srv, slot), 1);
	cr_assert_eq(broker_reply_recv(sock, r->type, r->id, p, fd, &why), 1, "%s", why);
	return p->status;
}

static uint32_t open_node(int sock, unsigned int slot, const char *rel, struct broker_reply *p,
			  int *fd)
{
	struct broker_request r;
	char path[512];

	fake_usb_path(&f, rel, path, sizeof(path));
	cr_assert_eq(broker_request_open(&r, 1, BROKER_TARGET_NODE, path), 0);
	return ask(sock, slot, &r, p, fd);
}

static uint32_t open_id(int sock, unsigned int slot, const char *id, struct broker_reply *p, int *fd)
{
	struct broker_request r;

	cr_assert_eq(broker_request_open(&r, 2, BROKER_TARGET_ID, id), 0);
	return ask(sock, slot, &r, p, fd);
}

static uint32_t release(int sock, unsigned int slot, uint32_t handle, struct broker_reply *p)
{
	struct broker_request r;
	int fd;

	cr_assert_eq(broker_request_release(&r, 3, handle, 0), 0);
	return ask(sock, slot, &r, p, &fd);
}

Test(broker_server, a_good_node_gives_an_fd_and_the_identity, .init = setup, .fini = teardown)
{
	struct broker_reply p;
	struct stat st;
	unsigned int slot;
	int c = client(&slot), fd;

	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_rdev, makedev(1, 3));
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	cr_assert_eq(p.device.vendor, 0x1050);
	cr_assert_eq(p.device.product, 0x0407);
	cr_assert_eq(p.device.busnum, 1);
	cr_assert_eq(p.device.devnum, 4);
	cr_assert_str_eq(p.device.serial, "AAA");
	cr_assert_str_eq(p.device.port_path, "1-4");
	cr_assert_neq(p.handle, 0);
	cr_assert_eq(p.flags, BROKER_FLAG_MAY_DETACH | BROKER_FLAG_RESTRICTED);
	cr_assert_eq(p.allowed, 0x1);
	cr_assert_str_eq(p.reason, "allowed by built-in:1 (allow-detach all)");
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 1);
	close(fd);
	close(c);
}

Test(broker_server, refusals_say_why, .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;
	char p2[512];

	cr_assert_eq(open_node(c, slot, "dev/001/008", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_eq(fd, -1);
	cr_assert_not_null(strstr(p.reason, "hub"), "%s", p.reason);
	cr_assert_eq(p.device.device_class, 0x09);	/* what was refused is described */
	cr_assert_eq(open_node(c, slot, "dev/001/077", &p, &fd), SVMM_E_NO_SUCH_DEVICE);
	cr_assert_str_eq(p.reason, "no such device node");
	cr_assert_eq(open_node(c, slot, "dev/001/../001/004", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	fake_usb_path(&f, "dev/001/099", p2, sizeof(p2));
	cr_assert_eq(symlink("004", p2), 0);
	cr_assert_eq(open_node(c, slot, "dev/001/099", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(p.reason, "symbolic link"), "%s", p.reason);
	{
		struct broker_request r;

		cr_assert_eq(broker_request_open(&r, 9, BROKER_TARGET_NODE, "/dev/null"), 0);
		cr_assert_eq(ask(c, slot, &r, &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
		cr_assert_not_null(strstr(p.reason, "not a device node under"), "%s", p.reason);
	}
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 0);
	close(c);
}

Test(broker_server, a_held_device_is_refused_until_released, .init = setup, .fini = teardown)
{
	struct broker_reply p, q;
	unsigned int s1, s2;
	int c1 = client(&s1), c2 = client(&s2), fd, fd2;

	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_eq(open_node(c2, s2, "dev/001/004", &q, &fd2), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(q.reason, "already attached to another VM"), "%s", q.reason);
	cr_assert_eq(fd2, -1);
	/* The same VM asking twice is refused too: one device, one port. */
	cr_assert_eq(open_node(c1, s1, "dev/001/004", &q, &fd2), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(q.reason, "already attached to this VM"), "%s", q.reason);
	/* Resolving by name reaches the same device and the same refusal. */
	cr_assert_eq(open_id(c2, s2, "1050:0407:AAA", &q, &fd2), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(q.reason, "already attached"), "%s", q.reason);
	/* Another VM cannot release it: handles are per VM. */
	cr_assert_eq(release(c2, s2, p.handle, &q), SVMM_E_INVALID);
	cr_assert_eq(release(c1, s1, p.handle, &q), SVMM_OK, "%s", q.reason);
	cr_assert_eq(q.device.vendor, 0x1050);
	cr_assert_eq(release(c1, s1, p.handle, &q), SVMM_E_INVALID);	/* not twice */
	close(fd);
	cr_assert_eq(open_node(c2, s2, "dev/001/004", &q, &fd2), SVMM_OK, "%s", q.reason);
	cr_assert_neq(q.handle, p.handle);
	close(fd2);
	close(c1);
	close(c2);
}

Test(broker_server, a_closed_connection_releases_its_devices, .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int s1, s2;
	int c1 = client(&s1), c2 = client(&s2), fd, fd2;

	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_eq(open_node(c1, s1, "dev/001/006", &p, &fd2), SVMM_OK, "%s", p.reason);
	close(fd);
	close(fd2);
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[s1].id), 2);
	close(c1);	/* the VM died */
	cr_assert_eq(broker_server_handle(&srv, s1), 0);
	cr_assert_eq(srv.peers[s1].fd, -1);
	cr_assert_eq(broker_server_peers(&srv), 1);
	cr_assert_eq(open_node(c2, s2, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	close(c2);
}

Test(broker_server, names_resolve_and_are_checked, .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;

	cr_assert_eq(open_id(c, slot, "1050:0407:AAA", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.device.devnum, 4);
	close(fd);
	cr_assert_eq(open_id(c, slot, "1-6", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.device.vendor, 0x0781);
	close(fd);
	cr_assert_eq(open_id(c, slot, "dead:beef", &p, &fd), SVMM_E_NO_SUCH_DEVICE);
	cr_assert_eq(open_id(c, slot, "1-2/../x", &p, &fd), SVMM_E_INVALID);
	cr_assert_eq(open_id(c, slot, "1-8", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);	/* the hub */
	close(c);
}

Test(broker_server, policy_refusals_name_the_rule)
{
	struct broker_reply p;
	unsigned int slot;
	int c, fd;

	setup_with("deny interface-class 03\nallow-detach id 1050:*\n");
	c = client(&slot);
	cr_assert_eq(open_node(c, slot, "dev/001/006", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_str_eq(p.reason, "refused by test.policy:1 (deny interface-class 03)");
	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	close(c);
	teardown();
}

Test(broker_server, a_limited_device_that_cannot_be_locked_down_is_refused)
{
	struct broker_reply p;
	unsigned int slot;
	int c, fd;

	/* Plain allow forbids detaching, which takes USBDEVFS_DROP_PRIVILEGES: a kernel without it. */
	setup_with("allow all\n");
	fake_usbfs.drop_error = -ENOTTY;
	c = client(&slot);
	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(p.reason, "cannot lock the device down"), "%s", p.reason);
	cr_assert_eq(fd, -1);
	cr_assert_eq(p.flags, 0);
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 0);
	close(c);
	teardown();
	/* The same for an interface rule. */
	setup_with("deny-interface interface-class 03\nallow-detach all\n");
	fake_usbfs.drop_error = -ENOTTY;
	c = client(&slot);
	cr_assert_eq(open_node(c, slot, "dev/001/006", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 0);
	close(c);
	teardown();
}

Test(broker_server, malformed_requests_are_answered_and_fds_closed, .init = setup, .fini = teardown)
{
	struct broker_request r;
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd = -1, pipefd[2];
	const char *why = NULL;
	char junk[10] = "junk", ch;

	cr_assert_eq(fdpass_send(c, junk, sizeof(junk), NULL, 0), 0);
	cr_assert_eq(broker_server_handle(&srv, slot), 1);
	cr_assert_eq(broker_reply_recv(c, BROKER_OPEN, 0, &p, &fd, &why), 1, "%s", why);
	cr_assert_eq(p.status, SVMM_E_INVALID);
	cr_assert_not_null(strstr(p.reason, "malformed request"), "%s", p.reason);

	cr_assert_eq(broker_request_open(&r, 5, BROKER_TARGET_NODE, "/dev/bus/usb/001/002"), 0);
	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(fdpass_send(c, &r, sizeof(r), &pipefd[1], 1), 0);
	close(pipefd[1]);
	cr_assert_eq(broker_server_handle(&srv, slot), 1);
	cr_assert_eq(broker_reply_recv(c, BROKER_OPEN, 0, &p, &fd, &why), 1, "%s", why);
	cr_assert_not_null(strstr(p.reason, "a descriptor was sent to the broker"), "%s", p.reason);
	cr_assert_eq(read(pipefd[0], &ch, 1), 0, "the broker kept the descriptor it was sent");
	close(pipefd[0]);
	/* The connection still serves good requests. */
	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	close(c);
}

/* One field of /proc/PID/status, e.g. "2" for "Seccomp:\t2"; "" if absent. */
static const char *status_field(pid_t pid, const char *key)
{
	static char value[64];
	char path[64], line[256];
	size_t kl = strlen(key);
	FILE *file;

	value[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	file = fopen(path, "r");
	cr_assert_not_null(file, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), file)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			sscanf(line + kl + 1, "%63s", value);
			break;
		}
	}
	fclose(file);
	return value;
}

/*
 * A VM's own broker, forked as `svmm run` forks it, serving a whole OPEN
 * (node walk, sysfs, resolving a name, the re-open, the fd passed) and
 * RELEASE under its seccomp filter: a call the filter lacks kills it, and
 * this test fails.
 */
Test(broker_client, spawn_open_release_stop)
{
	struct broker_child child;
	struct broker_reply p;
	char err[USB_POLICY_ERR_MAX] = "", path[512];
	int fd, fd2;

	fake_usb_setup(&f, 1);
	{
		struct fake_dev a = fake_usb_plain(4);

		fake_usb_add(&f, &a);
	}
	cr_assert_eq(broker_spawn(NULL, &f.cfg, &child, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(child.pid, 0);
	fake_usb_path(&f, "dev/001/004", path, sizeof(path));
	cr_assert_eq(broker_open(child.sock, BROKER_TARGET_NODE, path, &p, &fd), 0);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_geq(fd, 0);
	/* It answered: it did so under its filter, without privileges, and each request below does too. */
	cr_assert_str_eq(status_field(child.pid, "Seccomp"), "2");
	cr_assert_str_eq(status_field(child.pid, "NoNewPrivs"), "1");
	cr_assert_str_eq(status_field(child.pid, "CapEff"), "0000000000000000");
	cr_assert_eq(broker_open(child.sock, BROKER_TARGET_NODE, path, &p, &fd2), 0);
	cr_assert_eq(p.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_eq(p.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_eq(fd2, -1);
	cr_assert_eq(broker_open(child.sock, BROKER_TARGET_ID, "1050:0407", &p, &fd2), 0);
	cr_assert_eq(p.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
	close(fd);
	cr_assert_eq(broker_open(child.sock, BROKER_TARGET_NODE, "/dev/bus/usb/001/002", &p, &fd2), 0);
	cr_assert_eq(p.status, SVMM_E_FAILED_TO_OPEN_DEVICE);	/* not under the fake root */
	cr_assert_eq(broker_release(child.sock, 1, &p), 0);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(broker_release(child.sock, 1, &p), 0);
	cr_assert_eq(p.status, SVMM_E_INVALID);
	/* The VMM closing its end stops its broker, cleanly. */
	cr_assert_eq(broker_stop(&child), 0);
	fake_usb_teardown(&f);
}

Test(broker_client, spawn_reports_a_malformed_policy_with_its_line)
{
	char dir[] = "/var/tmp/svmm-spawn-test.XXXXXX", path[128], err[USB_POLICY_ERR_MAX] = "";
	struct broker_child child;
	FILE *file;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p", dir);
	file = fopen(path, "w");
	cr_assert_not_null(file);
	fputs("allow-detach all\nallow id 1050:zzzz\n", file);
	fclose(file);
	cr_assert_eq(broker_spawn(path, NULL, &child, err, sizeof(err)), -EINVAL);
	cr_assert_eq(child.pid, -1);
	cr_assert_not_null(strstr(err, "/p:2: bad id '1050:zzzz'"), "%s", err);
	unlink(path);
	rmdir(dir);
}

Test(broker_client, connect_to_nothing_fails)
{
	cr_assert_eq(broker_connect("/var/tmp/svmm-no-such-broker.sock"), -ENOENT);
}

/* The one hold of the device rdev: the broker's own fd of it. */
static int held_fd(dev_t rdev)
{
	for (unsigned int i = 0; i < EXCLUSIVE_MAX_HELD; i++) {
		if (srv.held.held[i].used && srv.held.held[i].rdev == rdev)
			return srv.held.held[i].fd;
	}
	cr_assert_fail("device %u:%u is not held", major(rdev), minor(rdev));
	return -1;
}

/* The mask of the one call of op on rdev, and that it was made on the broker's own fd or not. */
static uint32_t one_call(enum fake_usbfs_op op, dev_t rdev, bool on_broker_fd)
{
	uint32_t mask = 0;

	cr_assert_eq(fake_usbfs_count(op, rdev, &mask), 1, "%u calls of op %d", fake_usbfs_count(op, rdev, NULL), op);
	for (unsigned int i = 0; i < fake_usbfs.ncalls; i++) {
		if (fake_usbfs.calls[i].op == op && fake_usbfs.calls[i].rdev == rdev)
			cr_assert_eq(fake_usbfs.calls[i].fd == held_fd(rdev), on_broker_fd,
				     "op %d made on the %s fd", op, on_broker_fd ? "VM's" : "broker's");
	}
	return mask;
}

/*
 * Every fd a VM gets has its privileges dropped, whatever the verdict: an
 * unrestricted one with every interface in its mask, so that it can never
 * detach a host driver, take an interface with DISCONNECT_CLAIM or reset a
 * device whose interfaces others hold. With allow-detach the broker detaches
 * the host drivers itself, on its own fd, before passing the VM's.
 */
Test(broker_server, every_fd_a_vm_gets_is_locked_down)
{
	static const struct {
		const char *policy;
		const char *node;
		unsigned int minor;	/* stand-in major 1 */
		uint32_t detach;	/* 0: no detach expected */
		uint32_t drop;
		uint32_t flags;
	} cases[] = {
		{ NULL, "dev/001/004", 3, 0x1, 0xffffffffu,
		  BROKER_FLAG_MAY_DETACH | BROKER_FLAG_RESTRICTED },
		{ "allow all\n", "dev/001/004", 3, 0, 0xffffffffu, BROKER_FLAG_RESTRICTED },
		{ "allow-detach all\n", "dev/001/006", 5, 0x3, 0xffffffffu,
		  BROKER_FLAG_MAY_DETACH | BROKER_FLAG_RESTRICTED },
		{ "deny-interface interface-class 03\nallow-detach all\n", "dev/001/006", 5, 0x2, 0x2,
		  BROKER_FLAG_MAY_DETACH | BROKER_FLAG_RESTRICTED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct broker_reply p;
		unsigned int slot;
		dev_t rdev = makedev(1, cases[i].minor);
		int c, fd;

		setup_with(cases[i].policy);
		c = client(&slot);
		cr_assert_eq(open_node(c, slot, cases[i].node, &p, &fd), SVMM_OK, "%s", p.reason);
		cr_assert_eq(p.flags, cases[i].flags, "case %zu: flags %#x", i, p.flags);
		if (cases[i].detach)
			cr_assert_eq(one_call(FAKE_USBFS_DETACH, rdev, true), cases[i].detach, "case %zu", i);
		else
			cr_assert_eq(fake_usbfs_count(FAKE_USBFS_DETACH, rdev, NULL), 0, "case %zu", i);
		cr_assert_eq(one_call(FAKE_USBFS_DROP, rdev, false), cases[i].drop, "case %zu", i);
		close(fd);
		close(c);
		teardown();
	}
}

/* The fake port's disable of the device on port path port, read or (value not NULL) replaced. */
static void port_disable(const char *hubif, const char *name, const char *value, char *out,
			 size_t size)
{
	char rel[256], path[512];
	FILE *file;

	snprintf(rel, sizeof(rel), "sys/devices/%s/%s/disable", hubif, name);
	fake_usb_path(&f, rel, path, sizeof(path));
	file = fopen(path, value ? "w" : "r");
	cr_assert_not_null(file, "%s: %s", path, strerror(errno));
	if (value)
		fputs(value, file);
	else if (!fgets(out, (int)size, file))
		out[0] = '\0';
	fclose(file);
}

/*
 * Release means release: the port the device is on (its parent hub's, an
 * external hub's for a device behind one) is disabled, which kills every fd
 * of it (the broker checks that on its own), and enabled again, so the
 * device enumerates anew. On RELEASE and when the VM's connection closes.
 */
Test(broker_server, a_released_device_is_revoked_through_its_port)
{
	struct fake_dev behind_hub = fake_usb_plain(9);
	struct broker_reply p, q;
	unsigned int s1;
	char value[16];
	int c1, fd, fd2;

	setup_with(NULL);
	behind_hub.devpath = "3.2";
	fake_usb_add(&f, &behind_hub);
	c1 = client(&s1);
	/* Not "0": what the broker writes is seen. */
	port_disable("1-0:1.0", "usb1-port4", "x\n", NULL, 0);
	port_disable("1-3:1.0", "1-3-port2", "x\n", NULL, 0);
	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	cr_assert_eq(open_node(c1, s1, "dev/001/009", &q, &fd2), SVMM_OK, "%s", q.reason);
	cr_assert_str_eq(q.device.port_path, "1-3.2");
	cr_assert_eq(release(c1, s1, p.handle, &p), SVMM_OK, "%s", p.reason);
	cr_assert_str_eq(p.reason, "released; revoked: every fd of it is dead, it enumerates again under a new node");
	port_disable("1-0:1.0", "usb1-port4", NULL, value, sizeof(value));
	cr_assert_str_eq(value, "0\n", "the root hub's port 4 was not enabled again");
	port_disable("1-3:1.0", "1-3-port2", NULL, value, sizeof(value));
	cr_assert_str_eq(value, "x\n", "a port the released device is not on was touched");
	/* The VM dies: what it held is revoked through the external hub's port. */
	close(c1);
	cr_assert_eq(broker_server_handle(&srv, s1), 0);
	port_disable("1-3:1.0", "1-3-port2", NULL, value, sizeof(value));
	cr_assert_str_eq(value, "0\n", "hub 1-3's port 2 was not disabled and enabled");
	cr_assert_eq(fake_usbfs_count(FAKE_USBFS_ATTACH, makedev(1, 8), NULL), 0,
		     "a revoked device's host drivers come back as it enumerates, not by CONNECT");
	close(fd);
	close(fd2);
	teardown();
}

/* A held device that was unplugged has dead fds already: its port, maybe another device's now, is left alone. */
Test(broker_server, an_unplugged_device_is_not_revoked_by_its_old_port)
{
	struct broker_reply p;
	unsigned int s1;
	char value[16];
	int c1, fd;

	setup_with(NULL);
	c1 = client(&s1);
	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	port_disable("1-0:1.0", "usb1-port4", "1\n", NULL, 0);	/* the fake's unplug: ENODEV */
	cr_assert_eq(release(c1, s1, p.handle, &p), SVMM_OK, "%s", p.reason);
	cr_assert_not_null(strstr(p.reason, "revoked"), "%s", p.reason);
	port_disable("1-0:1.0", "usb1-port4", NULL, value, sizeof(value));
	cr_assert_str_eq(value, "1\n", "the port of a device already gone was written");
	close(fd);
	close(c1);
	teardown();
}

/*
 * A device whose fds may outlive the release (its port could not be
 * disabled) is given to no VM until it is unplugged; one without a port to
 * revoke it by is not handed out at all.
 */
Test(broker_server, a_device_that_cannot_be_revoked_goes_to_no_vm_until_unplugged)
{
	struct broker_reply p;
	unsigned int s1, s2;
	char rel[256], path[512];
	int c1, c2, fd;

	setup_with(NULL);
	fake_usbfs.drivers = 0x1;	/* a host driver the broker detaches for the VM */
	c1 = client(&s1);
	c2 = client(&s2);
	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	/* The port's disable cannot be written (a directory where the attribute was). */
	snprintf(rel, sizeof(rel), "sys/devices/1-0:1.0/usb1-port4/disable");
	fake_usb_path(&f, rel, path, sizeof(path));
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(release(c1, s1, p.handle, &p), SVMM_OK, "%s", p.reason);
	cr_assert_not_null(strstr(p.reason, "NOT revoked"), "%s", p.reason);
	cr_assert_not_null(strstr(p.reason, "host drivers re-attached"), "%s", p.reason);
	cr_assert_eq(fake_usbfs_count(FAKE_USBFS_ATTACH, makedev(1, 3), NULL), 1);
	cr_assert_eq(open_node(c2, s2, "dev/001/004", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(p.reason, "unplug it and plug it in again"), "%s", p.reason);
	cr_assert_eq(open_node(c1, s1, "dev/001/004", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	/* Unplugged (its old fds are dead): the number may go to whatever comes next. */
	cr_assert_eq(rmdir(path), 0);
	port_disable("1-0:1.0", "usb1-port4", "1\n", NULL, 0);
	cr_assert_eq(open_node(c2, s2, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);

	/* No "port" link: no way to take it back, so it is not given. */
	fake_usb_path(&f, "sys/devices/1-6/port", path, sizeof(path));
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_node(c1, s1, "dev/001/006", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_not_null(strstr(p.reason, "cannot be revoked later"), "%s", p.reason);
	cr_assert_eq(fd, -1);
	close(c1);
	close(c2);
	teardown();
}

/*
 * n socketpairs made by a child running as uid, so the kernel's SO_PEERCRED
 * on their server ends says uid: how a local user's connections look.
 */
static void pairs_of_uid(uid_t uid, unsigned int n, int *client_ends, int *server_ends)
{
	int link[2], status;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(1);
		for (unsigned int i = 0; i < n; i++) {
			int sv[2];

			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
			    fdpass_send(link[1], "p", 1, sv, 2) < 0)
				_exit(1);
			close(sv[0]);
			close(sv[1]);
		}
		_exit(0);
	}
	close(link[1]);
	for (unsigned int i = 0; i < n; i++) {
		int sv[2];
		size_t got = 0;
		char c;

		cr_assert_eq(fdpass_recv(link[0], &c, 1, sv, 2, &got), 1);
		cr_assert_eq(got, 2);
		client_ends[i] = sv[0];
		server_ends[i] = sv[1];
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(link[0]);
}

Test(broker_server, one_uid_cannot_take_every_connection, .init = setup, .fini = teardown)
{
	int clients[BROKER_MAX_PEERS + 1], servers[BROKER_MAX_PEERS + 1];
	unsigned int n = BROKER_MAX_PEERS + 1, accepted = 0, slot;
	struct broker_reply p;
	int c, fd;

	pairs_of_uid(1000, n, clients, servers);
	for (unsigned int i = 0; i < n; i++)
		accepted += broker_server_add_peer(&srv, servers[i]) >= 0;
	cr_assert_eq(accepted, BROKER_MAX_PEERS_PER_UID, "uid 1000 got %u connections", accepted);
	/* A VM of another user still gets in, and served. */
	c = client(&slot);
	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	close(c);
	for (unsigned int i = 0; i < n; i++)
		close(clients[i]);
}

Test(broker_server, root_is_not_limited_to_a_share, .init = setup, .fini = teardown)
{
	int clients[BROKER_MAX_PEERS_PER_UID + 4];
	unsigned int slot;

	/* Root's connections are root's VMs (svmm run connects before it drops privileges). */
	for (unsigned int i = 0; i < BROKER_MAX_PEERS_PER_UID + 4; i++)
		clients[i] = client(&slot);
	cr_assert_eq(broker_server_peers(&srv), BROKER_MAX_PEERS_PER_UID + 4);
	for (unsigned int i = 0; i < BROKER_MAX_PEERS_PER_UID + 4; i++)
		close(clients[i]);
}

Test(broker_server, a_full_broker_makes_room_from_the_uid_with_the_most, .init = setup, .fini = teardown)
{
	int clients[BROKER_MAX_PEERS], servers[BROKER_MAX_PEERS];
	const unsigned int per = BROKER_MAX_PEERS_PER_UID, uids = BROKER_MAX_PEERS / per;
	struct broker_reply p;
	unsigned int slot;
	char ch;
	int c, fd;

	/* Every slot taken, by idle connections of a few users. */
	for (unsigned int u = 0; u < uids; u++)
		pairs_of_uid(2000 + u, per, clients + u * per, servers + u * per);
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++)
		cr_assert_geq(broker_server_add_peer(&srv, servers[i]), 0);
	cr_assert_eq(broker_server_peers(&srv), BROKER_MAX_PEERS);
	/* A VM's connection gets in; the longest-idle connection of a biggest uid made room. */
	c = client(&slot);
	cr_assert_eq(broker_server_peers(&srv), BROKER_MAX_PEERS);
	cr_assert_eq(recv(clients[0], &ch, 1, MSG_DONTWAIT), 0, "the first idle connection was not closed");
	cr_assert_eq(open_node(c, slot, "dev/001/004", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	close(c);
	for (unsigned int i = 0; i < BROKER_MAX_PEERS; i++)
		close(clients[i]);
}

/* --- follow leases ------------------------------------------------------------------------ */

static uint32_t follow_id(int sock, unsigned int slot, const char *id, struct broker_reply *p, int *fd)
{
	struct broker_request r;

	cr_assert_eq(broker_request_open(&r, 5, BROKER_TARGET_ID, id), 0);
	r.flags = BROKER_OPEN_FOLLOW;
	return ask(sock, slot, &r, p, fd);
}

static uint32_t release_keep(int sock, unsigned int slot, uint32_t handle, struct broker_reply *p)
{
	struct broker_request r;
	int fd;

	cr_assert_eq(broker_request_release(&r, 6, handle, BROKER_RELEASE_KEEP_LEASE), 0);
	return ask(sock, slot, &r, p, &fd);
}

/* Whether a message waits on the client's socket. */
static bool message_waits(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* The BACK the broker sent unasked. */
static void back(int sock, struct broker_reply *p, int *fd)
{
	const char *why = NULL;

	cr_assert(message_waits(sock), "the broker sent nothing");
	cr_assert_eq(broker_reply_recv_any(sock, p, fd, &why), 1, "%s", why);
	cr_assert_eq(p->type, BROKER_BACK);
	cr_assert_eq(p->id, 0);
}

/* Device a (1050:0407 serial AAA on 1-4) leaves; dev, on port 1-PORT, binds with the identity given. */
static void replug(unsigned int dev, const char *port, uint16_t vendor, uint16_t product,
		   const char *serial)
{
	struct fake_dev a = fake_usb_plain(4), n = fake_usb_plain(dev);

	fake_usb_remove(&f, &a);
	n.devpath = port;
	n.vendor = vendor;
	n.product = product;
	n.serial = serial;
	fake_usb_add(&f, &n);
	broker_server_device_bound(&srv, 1, dev);
}

/* A followed device, given back when it left; returns the lease. */
static uint32_t followed_and_gone(int c, unsigned int slot)
{
	struct broker_reply p;
	uint32_t lease;
	int fd;

	cr_assert_eq(follow_id(c, slot, "1050:0407:AAA", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	cr_assert_neq(p.lease, 0);
	lease = p.lease;
	cr_assert_eq(release_keep(c, slot, p.handle, &p), SVMM_OK, "%s", p.reason);
	cr_assert_not(message_waits(c));
	return lease;
}

Test(broker_server, a_followed_device_that_binds_again_is_sent_back_with_every_check,
     .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;
	uint32_t lease = followed_and_gone(c, slot);

	replug(9, "4", 0x1050, 0x0407, "AAA");
	back(c, &p, &fd);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.lease, lease);
	cr_assert_geq(fd, 0);
	cr_assert_eq(p.device.devnum, 9);
	cr_assert_neq(p.handle, 0);
	cr_assert_eq(p.flags & BROKER_FLAG_RESTRICTED, BROKER_FLAG_RESTRICTED);
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 1);
	close(fd);
	/* Back with it: a detach (RELEASE without keep) ends the lease; the next bind is nobody's. */
	cr_assert_eq(release(c, slot, p.handle, &p), SVMM_OK, "%s", p.reason);
	cr_assert_eq(follow_count(&srv.follow, srv.peers[slot].id), 0);
	replug(10, "4", 0x1050, 0x0407, "AAA");
	cr_assert_not(message_waits(c));
	close(c);
}

Test(broker_server, another_identity_on_the_port_is_refused_without_a_rule_naming_it,
     .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;
	uint32_t lease = followed_and_gone(c, slot);

	replug(9, "4", 0x18d1, 0x4ee0, NULL);
	back(c, &p, &fd);
	cr_assert_eq(p.status, SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert_eq(fd, -1);
	cr_assert_eq(p.lease, lease);
	cr_assert(strstr(p.reason, "came back as 18d1:4ee0") && strstr(p.reason, "follows 1050:0407"),
		  "%s", p.reason);
	cr_assert_eq(exclusive_count(&srv.held, srv.peers[slot].id), 0);
	/* The lease waits on: the right device later still comes back. */
	cr_assert_eq(follow_count(&srv.follow, srv.peers[slot].id), 1);
	close(c);
}

static void setup_successor(void)
{
	setup_with("allow id 18d1:4ee0 follows 1050:0407\nallow-detach all\n");
}

Test(broker_server, a_successor_a_rule_names_is_sent_back_on_any_port, .init = setup_successor,
     .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;

	followed_and_gone(c, slot);
	replug(9, "9", 0x18d1, 0x4ee0, NULL);
	back(c, &p, &fd);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.device.vendor, 0x18d1);
	cr_assert(strstr(p.reason, "test.policy:1"), "%s", p.reason);
	close(fd);
	close(c);
}

Test(broker_server, another_device_elsewhere_is_none_of_the_leases_business, .init = setup,
     .fini = teardown)
{
	unsigned int slot;
	int c = client(&slot);

	followed_and_gone(c, slot);
	replug(9, "9", 0x18d1, 0x4ee0, NULL);
	cr_assert_not(message_waits(c));
	/* Nor is one that binds for nobody: a lease of a connection that closed is gone. */
	close(c);
	cr_assert_eq(broker_server_handle(&srv, slot), 0);
	cr_assert_eq(follow_count(&srv.follow, 1), 0);
}

Test(broker_server, a_bind_before_the_vm_gave_the_old_grant_back_waits_for_the_release,
     .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int slot;
	int c = client(&slot), fd;
	uint32_t handle;

	cr_assert_eq(follow_id(c, slot, "1050:0407:AAA", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	handle = p.handle;
	replug(9, "4", 0x1050, 0x0407, "AAA");
	cr_assert_not(message_waits(c), "offered while the VM still held the old grant");
	cr_assert_eq(release_keep(c, slot, handle, &p), SVMM_OK, "%s", p.reason);
	back(c, &p, &fd);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.device.devnum, 9);
	close(fd);
	close(c);
}

Test(broker_server, follow_takes_an_id_not_a_node, .init = setup, .fini = teardown)
{
	struct broker_request r;
	struct broker_request out;
	const char *why = NULL;
	char path[512];

	fake_usb_path(&f, "dev/001/004", path, sizeof(path));
	cr_assert_eq(broker_request_open(&r, 1, BROKER_TARGET_NODE, path), 0);
	r.flags = BROKER_OPEN_FOLLOW;
	cr_assert_eq(broker_request_decode(&r, sizeof(r), 0, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "follow needs an id or port path, not a node");
}

/* --- devices given by a `to` rule -------------------------------------------------------- */

static uint32_t name_peer(int sock, unsigned int slot, const char *name, struct broker_reply *p)
{
	struct broker_request r;
	int fd;

	cr_assert_eq(broker_request_name(&r, 7, name), 0);
	return ask(sock, slot, &r, p, &fd);
}

static void setup_give(void)
{
	setup_with("allow-detach id 18d1:4ee0 to vm-a\nallow-detach all\n");
}

Test(broker_server, a_device_a_to_rule_names_is_given_to_that_vm_only, .init = setup_give,
     .fini = teardown)
{
	struct fake_dev n = fake_usb_plain(9);
	struct broker_reply p;
	const char *why = NULL;
	unsigned int sa, sb, sc;
	int a = client(&sa), b = client(&sb), c = client(&sc), fd;

	/* b connected first and asks for the name too late: names are one VM's. */
	cr_assert_eq(name_peer(b, sb, "vm-b", &p), SVMM_OK, "%s", p.reason);
	cr_assert_eq(name_peer(a, sa, "vm-a", &p), SVMM_OK, "%s", p.reason);
	cr_assert_eq(name_peer(c, sc, "vm-a", &p), SVMM_E_INVALID);
	cr_assert(strstr(p.reason, "taken by another VM"), "%s", p.reason);
	cr_assert_eq(name_peer(a, sa, "vm-c", &p), SVMM_E_INVALID);
	cr_assert(strstr(p.reason, "named vm-a already"), "%s", p.reason);

	n.vendor = 0x18d1;
	n.product = 0x4ee0;
	fake_usb_add(&f, &n);
	broker_server_device_bound(&srv, 1, 9);
	cr_assert_not(message_waits(b), "given to the wrong VM");
	cr_assert_not(message_waits(c), "given to an unnamed VM");
	cr_assert(message_waits(a), "not given to the VM its rule names");
	cr_assert_eq(broker_reply_recv_any(a, &p, &fd, &why), 1, "%s", why);
	cr_assert_eq(p.type, BROKER_GIVE);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_geq(fd, 0);
	cr_assert_eq(p.device.devnum, 9);
	cr_assert(strstr(p.reason, "test.policy:1"), "%s", p.reason);
	close(fd);
	/* Held now: a second bind of it (a replug we did not see go) gives nothing twice. */
	broker_server_device_bound(&srv, 1, 9);
	cr_assert_not(message_waits(a));
	cr_assert_not(message_waits(b));
	/* A device no `to` rule names is nobody's to take unasked. */
	broker_server_device_bound(&srv, 1, 6);
	cr_assert_not(message_waits(a));
	close(a);
	close(b);
	close(c);
}

Test(broker_server, a_follow_of_a_device_another_vm_holds_is_refused_and_leaves_no_lease,
     .init = setup, .fini = teardown)
{
	struct broker_reply p;
	unsigned int sa, sb;
	int a = client(&sa), b = client(&sb), fd;

	cr_assert_eq(open_id(a, sa, "1050:0407:AAA", &p, &fd), SVMM_OK, "%s", p.reason);
	close(fd);
	cr_assert_eq(follow_id(b, sb, "1050:0407:AAA", &p, &fd), SVMM_E_FAILED_TO_OPEN_DEVICE);
	cr_assert(strstr(p.reason, "already attached to another VM"), "%s", p.reason);
	cr_assert_eq(fd, -1);
	cr_assert_eq(p.lease, 0);
	cr_assert_eq(follow_count(&srv.follow, srv.peers[sb].id), 0);
	/* And a follow spec that names nothing is refused as such. */
	cr_assert_eq(follow_id(b, sb, "not-an-id", &p, &fd), SVMM_E_INVALID);
	cr_assert(strstr(p.reason, "neither VID:PID[:SERIAL] nor a port path"), "%s", p.reason);
	cr_assert_eq(follow_id(b, sb, "dead:beef", &p, &fd), SVMM_E_NO_SUCH_DEVICE);
	cr_assert_eq(follow_count(&srv.follow, srv.peers[sb].id), 0);
	close(a);
	close(b);
}

/*
 * The kernel sends a device's bind before it links the device to its port
 * (usb_new_device), and without the port the broker cannot revoke it: such
 * a bind waits for the link instead of being refused.
 */
Test(broker_server, a_bind_before_the_port_link_waits_for_it, .init = setup, .fini = teardown)
{
	struct fake_dev a = fake_usb_plain(4), n = fake_usb_plain(9);
	struct broker_reply p;
	char link[512], target[512];
	unsigned int slot;
	int c = client(&slot), fd;
	ssize_t len;

	followed_and_gone(c, slot);
	fake_usb_remove(&f, &a);
	n.devpath = "4";
	n.serial = "AAA";
	fake_usb_add(&f, &n);
	snprintf(link, sizeof(link), "%s/devices/1-4/port", f.sys);
	len = readlink(link, target, sizeof(target) - 1);
	cr_assert_gt(len, 0);
	target[len] = '\0';
	cr_assert_eq(unlink(link), 0);
	broker_server_device_bound(&srv, 1, 9);
	cr_assert_not(message_waits(c), "offered (or refused) before its port was linked");
	cr_assert_geq(broker_server_retry_binds(&srv, monotonic_ms()), 0, "the bind does not wait");
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(broker_server_retry_binds(&srv, monotonic_ms() + 1000), -1);
	back(c, &p, &fd);
	cr_assert_eq(p.status, SVMM_OK, "%s", p.reason);
	cr_assert_eq(p.device.devnum, 9);
	close(fd);
	close(c);
}
