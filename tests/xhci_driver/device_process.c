/* SPDX-License-Identifier: MIT */
/*
 * The driver's transport to the real device process: forked here, given a
 * memfd as guest RAM and an eventfd as interrupt vector 0, and driven over
 * the wire protocol as the VMM drives it (xhci_driver.h).
 */
#include "tests/xhci_driver/xhci_driver.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 20000

void drv_send(struct drv *d, struct devproto_msg *m, int fd)
{
	m->seq = ++d->seq;
	if (devproto_send(d->req, m, fd) != 0)
		drv_fail(d, "send %s", devproto_type_name(m->type));
}

struct devproto_reply drv_reply(struct drv *d)
{
	struct pollfd pfd = { .fd = d->req, .events = POLLIN };
	struct devproto_msg rep;
	const char *why = NULL;
	int rfd = -1;

	if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1)
		drv_fail(d, "no reply: the controller hangs");
	if (devproto_recv(d->req, &rep, &rfd, &why) != 1)
		drv_fail(d, "reply: %s", why ? why : "EOF");
	if (rfd >= 0)
		close(rfd);
	if (rep.type != DEVPROTO_REPLY || rep.seq != d->seq)
		drv_fail(d, "reply of type %u seq %u to request seq %u", rep.type, rep.seq, d->seq);
	return rep.u.reply;
}

struct devproto_reply drv_request(struct drv *d, struct devproto_msg *m, int fd)
{
	drv_send(d, m, fd);
	return drv_reply(d);
}

static uint64_t process_read(struct drv *d, uint64_t off, unsigned int size)
{
	struct devproto_msg m = devproto_bar_msg(false, off, size, 0);

	return drv_request(d, &m, -1).value;
}

void drv_write_async(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	struct devproto_msg m = devproto_bar_msg(true, off, size, v);

	drv_send(d, &m, -1);
}

static void process_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	drv_write_async(d, off, size, v);
	if (drv_reply(d).status != SVMM_OK)
		drv_fail(d, "BAR write at 0x%llx refused", (unsigned long long)off);
}

void drv_write_posted(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	struct devproto_msg m = devproto_bar_msg(true, off, size, v);

	m.type = DEVPROTO_BAR_WRITE_POSTED;
	drv_send(d, &m, -1);
}

static uint32_t process_cfg_read(struct drv *d, uint32_t off, uint32_t size)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_READ, 0);

	m.u.cfg.offset = off;
	m.u.cfg.size = size;
	return (uint32_t)drv_request(d, &m, -1).value;
}

static void process_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_WRITE, 0);

	m.u.cfg.offset = off;
	m.u.cfg.size = size;
	m.u.cfg.value = v;
	drv_request(d, &m, -1);
}

static void *process_ptr(struct drv *d, uint64_t gpa, uint64_t len)
{
	if (gpa < DRV_RAM_GPA || gpa - DRV_RAM_GPA > d->ram_size ||
	    len > d->ram_size - (gpa - DRV_RAM_GPA))
		drv_fail(d, "address 0x%llx outside guest RAM", (unsigned long long)gpa);
	return d->ram + (gpa - DRV_RAM_GPA);
}

/* Waits for the interrupt (MSI-X) or, polling, lets the controller's loop turn once. */
static bool process_idle(struct drv *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->irq_fd, .events = POLLIN };
	uint64_t n;

	if (!d->irq_wait) {
		/* A BAR read round-trips through the controller's loop. */
		drv_read(d, CAP_CAPLENGTH, 4);
		usleep(500);
		return true;
	}
	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	if (read(d->irq_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		drv_fail(d, "irq eventfd: %s", strerror(errno));
	return true;
}

static const struct drv_transport process_transport = {
	.read = process_read,
	.write = process_write,
	.cfg_read = process_cfg_read,
	.cfg_write = process_cfg_write,
	.ptr = process_ptr,
	.idle = process_idle,
};

void drv_spawn(struct drv *d, uint64_t ram_size, xhci_attach_fn attach, drv_fail_fn fail)
{
	int rq[2], ev[2], memfd;
	struct devproto_msg m;

	memset(d, 0, sizeof(*d));
	d->t = &process_transport;
	d->fail = fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0)
		drv_fail(d, "socketpair: %s", strerror(errno));
	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)ram_size) < 0)
		drv_fail(d, "guest RAM: %s", strerror(errno));
	d->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (d->ram == MAP_FAILED)
		drv_fail(d, "mmap: %s", strerror(errno));
	d->ram_size = ram_size;
	if (attach)
		xhci_process_set_attach(DEVPROTO_ATTACH_IMAGE, attach);
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		drv_fail(d, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		close(rq[0]);
		close(ev[0]);
		close(memfd);
		_exit(xhci_process_main(rq[1], ev[1]));
	}
	close(rq[1]);
	close(ev[1]);
	d->req = rq[0];
	d->ev = ev[0];
	d->next_alloc = DRV_RAM_GPA + 0x1000;

	m = devproto_msg_init(DEVPROTO_MEM_REGION, 0);
	m.u.mem.gpa = DRV_RAM_GPA;
	m.u.mem.size = ram_size;
	if (drv_request(d, &m, memfd).status != SVMM_OK)
		drv_fail(d, "MEM_REGION refused");
	close(memfd);

	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m = devproto_msg_init(DEVPROTO_IRQ_FD, 0);
	m.u.irq.vector = 0;
	if (d->irq_fd < 0 || drv_request(d, &m, d->irq_fd).status != SVMM_OK)
		drv_fail(d, "IRQ_FD refused");
	drv_read_layout(d);
}

void drv_stop(struct drv *d)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 0);
	int st = 0;

	if (drv_request(d, &m, -1).status != SVMM_OK)
		drv_fail(d, "SHUTDOWN refused");
	if (waitpid(d->pid, &st, 0) != d->pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		drv_fail(d, "device process ended with status 0x%x", st);
	close(d->req);
	close(d->ev);
	close(d->irq_fd);
	munmap(d->ram, d->ram_size);
}

void drv_alive(struct drv *d)
{
	uint32_t v = (uint32_t)drv_read(d, CAP_CAPLENGTH, 4);

	/* CAPLENGTH/HCIVERSION: a constant only a live controller returns. */
	if (v != 0x01200040u)
		drv_fail(d, "CAPLENGTH/HCIVERSION 0x%08x", v);
}

const struct devproto_reg_mirror *drv_mirror(struct drv *d)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_REG_MIRROR, 0);
	int fd = memfd_create("mirror", MFD_CLOEXEC);
	void *page;

	if (fd < 0 || ftruncate(fd, DEVPROTO_MIRROR_SIZE) < 0)
		drv_fail(d, "mirror memfd: %s", strerror(errno));
	page = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED)
		drv_fail(d, "mirror mmap: %s", strerror(errno));
	m.u.mirror.size = DEVPROTO_MIRROR_SIZE;
	if (drv_request(d, &m, fd).status != SVMM_OK)
		drv_fail(d, "REG_MIRROR refused");
	close(fd);
	return page;
}

static int doorbell_eventfd(struct drv *d, unsigned int index, uint32_t flags, uint32_t value)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		drv_fail(d, "eventfd: %s", strerror(errno));
	m.u.doorbell.index = index;
	m.u.doorbell.flags = flags;
	m.u.doorbell.value = value;
	if (drv_request(d, &m, fd).status != SVMM_OK)
		drv_fail(d, "DOORBELL_FD %u refused", index);
	return fd;
}

int drv_doorbell_eventfd(struct drv *d, unsigned int index)
{
	return doorbell_eventfd(d, index, 0, 0);
}

int drv_doorbell_value_eventfd(struct drv *d, unsigned int index, uint32_t value)
{
	return doorbell_eventfd(d, index, DEVPROTO_DOORBELL_VALUE, value);
}

struct devproto_reply drv_attach(struct drv *d, int fd, uint32_t flags)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);

	m.u.attach.kind = DEVPROTO_ATTACH_IMAGE;
	m.u.attach.flags = flags;
	return drv_request(d, &m, fd);
}
