/* SPDX-License-Identifier: MIT */
#include "xhci_driver.h"
#include "trb_ring.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OP 0x40u
#define USBCMD (OP + 0x00)
#define USBSTS (OP + 0x04)
#define CRCR (OP + 0x18)
#define DCBAAP (OP + 0x30)
#define CONFIG (OP + 0x38)
#define IR0 0x2020u
#define REPLY_TIMEOUT_MS 20000

void drv_start(struct drv *d, xhci_attach_fn attach)
{
	int rq[2], ev[2], memfd;
	struct devproto_msg m;
	struct devproto_reply r;

	memset(d, 0, sizeof(*d));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev), 0);
	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(ftruncate(memfd, DRV_RAM_SIZE), 0);
	d->ram = mmap(NULL, DRV_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	cr_assert_neq(d->ram, MAP_FAILED);
	if (attach)
		xhci_process_set_attach(DEVPROTO_ATTACH_IMAGE, attach);
	fflush(NULL);
	d->pid = fork();
	cr_assert_geq(d->pid, 0);
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
	m.u.mem.size = DRV_RAM_SIZE;
	r = drv_request(d, &m, memfd);
	cr_assert_eq(r.status, DEVPROTO_OK);
	close(memfd);

	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(d->irq_fd, 0);
	m = devproto_msg_init(DEVPROTO_IRQ_FD, 0);
	m.u.irq.vector = 0;
	r = drv_request(d, &m, d->irq_fd);
	cr_assert_eq(r.status, DEVPROTO_OK);
}

void drv_stop(struct drv *d)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 0);
	struct devproto_reply r = drv_request(d, &m, -1);
	int st = 0;

	cr_assert_eq(r.status, DEVPROTO_OK);
	cr_assert_eq(waitpid(d->pid, &st, 0), d->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "device process ended with status 0x%x", st);
	close(d->req);
	close(d->ev);
	close(d->irq_fd);
	munmap(d->ram, DRV_RAM_SIZE);
}

struct devproto_reply drv_request(struct drv *d, struct devproto_msg *m, int fd)
{
	struct pollfd pfd = { .fd = d->req, .events = POLLIN };
	struct devproto_msg rep;
	const char *why = NULL;
	int rfd = -1;

	m->seq = ++d->seq;
	cr_assert_eq(devproto_send(d->req, m, fd), 0, "send %s", devproto_type_name(m->type));
	cr_assert_eq(poll(&pfd, 1, REPLY_TIMEOUT_MS), 1, "no reply to %s: the controller hangs",
		     devproto_type_name(m->type));
	cr_assert_eq(devproto_recv(d->req, &rep, &rfd, &why), 1, "reply: %s", why ? why : "EOF");
	cr_assert_eq(rep.type, DEVPROTO_REPLY);
	cr_assert_eq(rep.seq, m->seq);
	return rep.u.reply;
}

uint32_t drv_cfg_read(struct drv *d, uint32_t off, uint32_t size)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_READ, 0);

	m.u.cfg.offset = off;
	m.u.cfg.size = size;
	return (uint32_t)drv_request(d, &m, -1).value;
}

void drv_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_WRITE, 0);

	m.u.cfg.offset = off;
	m.u.cfg.size = size;
	m.u.cfg.value = v;
	drv_request(d, &m, -1);
}

uint64_t drv_read(struct drv *d, uint64_t off, unsigned int size)
{
	struct devproto_msg m = devproto_bar_msg(false, off, size, 0);

	return drv_request(d, &m, -1).value;
}

void drv_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	struct devproto_msg m = devproto_bar_msg(true, off, size, v);

	cr_assert_eq(drv_request(d, &m, -1).status, DEVPROTO_OK);
}

void drv_write_posted(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	struct devproto_msg m = devproto_bar_msg(true, off, size, v);

	m.type = DEVPROTO_BAR_WRITE_POSTED;
	m.seq = ++d->seq;
	cr_assert_eq(devproto_send(d->req, &m, -1), 0);
}

const struct devproto_reg_mirror *drv_mirror(struct drv *d)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_REG_MIRROR, 0);
	void *page;
	int fd = memfd_create("mirror", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, DEVPROTO_MIRROR_SIZE), 0);
	page = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(page, MAP_FAILED);
	m.u.mirror.size = DEVPROTO_MIRROR_SIZE;
	cr_assert_eq(drv_request(d, &m, fd).status, DEVPROTO_OK);
	close(fd);
	return page;
}

int drv_doorbell_eventfd(struct drv *d, unsigned int index)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	cr_assert_geq(fd, 0);
	m.u.doorbell.index = index;
	cr_assert_eq(drv_request(d, &m, fd).status, DEVPROTO_OK);
	return fd;
}

int drv_doorbell_value_eventfd(struct drv *d, unsigned int index, uint32_t value)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	cr_assert_geq(fd, 0);
	m.u.doorbell.index = index;
	m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
	m.u.doorbell.value = value;
	cr_assert_eq(drv_request(d, &m, fd).status, DEVPROTO_OK);
	return fd;
}

uint32_t drv_op_read(struct drv *d, uint32_t reg) { return (uint32_t)drv_read(d, OP + reg, 4); }
void drv_op_write(struct drv *d, uint32_t reg, uint32_t v) { drv_write(d, OP + reg, 4, v); }

uint32_t drv_portsc(struct drv *d, unsigned int port)
{
	return (uint32_t)drv_read(d, 0x440 + 0x10 * (port - 1), 4);
}

void drv_alive(struct drv *d)
{
	/* CAPLENGTH/HCIVERSION: a constant only a live controller returns. */
	cr_assert_eq(drv_read(d, 0, 4), 0x01200040u);
}

uint64_t drv_alloc(struct drv *d, uint64_t size, uint64_t align)
{
	uint64_t a = (d->next_alloc + align - 1) & ~(align - 1);

	cr_assert_leq(a + size, DRV_RAM_GPA + DRV_RAM_SIZE, "test RAM exhausted");
	d->next_alloc = a + size;
	memset(drv_ptr(d, a), 0, size);
	return a;
}

void *drv_ptr(struct drv *d, uint64_t gpa)
{
	cr_assert(gpa >= DRV_RAM_GPA && gpa < DRV_RAM_GPA + DRV_RAM_SIZE);
	return d->ram + (gpa - DRV_RAM_GPA);
}

struct devproto_reply drv_attach(struct drv *d, int fd, uint32_t flags)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);

	m.u.attach.kind = DEVPROTO_ATTACH_IMAGE;
	m.u.attach.flags = flags;
	return drv_request(d, &m, fd);
}

void drv_ring_init(struct drv *d, struct drv_ring *r, unsigned int size)
{
	r->base = drv_alloc(d, 16ull * size, 64);
	r->size = size;
	r->idx = 0;
	r->cycle = true;
}

uint64_t drv_ring_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		       uint32_t control)
{
	return trb_ring_put(drv_ptr(d, r->base), r->base, r->size, &r->idx, &r->cycle, param,
			    status, control, false);
}

void drv_doorbell(struct drv *d, unsigned int index, uint32_t target)
{
	drv_write(d, 0x3000 + 4 * index, 4, target);
}

void drv_init(struct drv *d)
{
	int tries;

	/* Linux xhci_reset(): halt, HCRST, wait for HCRST and CNR to clear. */
	drv_op_write(d, 0x00, 0);
	cr_assert(drv_op_read(d, 0x04) & 1, "HCH after clearing RS");
	drv_op_write(d, 0x00, 2);
	for (tries = 0; tries < 100 && (drv_op_read(d, 0x00) & 2 || drv_op_read(d, 0x04) & (1u << 11)); tries++)
		usleep(1000);
	cr_assert_lt(tries, 100, "HCRST/CNR never cleared");
	cr_assert_eq(drv_read(d, 0x04, 4) & 0xff, 64, "MaxSlots");
	drv_op_write(d, 0x38, 64);
	d->dcbaa = drv_alloc(d, 8 * 65, 64);
	drv_write(d, DCBAAP, 8, d->dcbaa);
	drv_ring_init(d, &d->cmd, 64);
	drv_write(d, CRCR, 4, (uint32_t)d->cmd.base | 1);
	drv_write(d, CRCR + 4, 4, (uint32_t)(d->cmd.base >> 32));
	d->erst = drv_alloc(d, 16, 64);
	drv_write(d, IR0 + 0x08, 4, 1);
	drv_set_event_ring(d, 64);
	drv_write(d, IR0 + 0x04, 4, 0);		/* no moderation */
	drv_write(d, IR0 + 0x00, 4, 2);		/* IE */
	drv_op_write(d, 0x00, 1 | 4);		/* RS | INTE */
	cr_assert_eq(drv_op_read(d, 0x04) & 1, 0, "still halted after RS");
}

bool drv_take_event(struct drv *d, struct drv_event *out)
{
	uint8_t *p = drv_ptr(d, d->evt + 16ull * d->evt_idx);
	struct drv_event e;

	memcpy(&e.control, p + 12, 4);
	if (!!(e.control & 1) != d->evt_cycle)
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&e.param, p, 8);
	memcpy(&e.status, p + 8, 4);
	if (++d->evt_idx == d->evt_size) {
		d->evt_idx = 0;
		d->evt_cycle = !d->evt_cycle;
	}
	*out = e;
	return true;
}

void drv_ack_events(struct drv *d)
{
	/* ERDP at the next event to read, EHB cleared, as the guest's handler does. */
	drv_write(d, IR0 + 0x18, 8, (d->evt + 16ull * d->evt_idx) | 8);
}

bool drv_wait_event(struct drv *d, unsigned int type, struct drv_event *out, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms;) {
		struct drv_event e;

		if (!drv_take_event(d, &e)) {
			/* Nothing new: a BAR read round-trips through the controller's loop. */
			drv_read(d, 0, 4);
			usleep(500);
			waited++;
			continue;
		}
		drv_ack_events(d);
		if (((e.control >> 10) & 0x3f) == type) {
			if (out)
				*out = e;
			return true;
		}
	}
	return false;
}

void drv_set_event_ring(struct drv *d, unsigned int size)
{
	uint32_t usbcmd = drv_op_read(d, 0x00);

	/* The ring changes while the controller is halted, as at init. */
	drv_op_write(d, 0x00, usbcmd & ~1u);
	d->evt_size = size;
	d->evt = drv_alloc(d, 16ull * size, 64);
	memcpy(drv_ptr(d, d->erst), &d->evt, 8);
	memcpy((uint8_t *)drv_ptr(d, d->erst) + 8, &d->evt_size, 4);
	d->evt_idx = 0;
	d->evt_cycle = true;
	drv_write(d, IR0 + 0x10, 8, d->erst);
	drv_write(d, IR0 + 0x18, 8, d->evt);
	drv_op_write(d, 0x00, usbcmd);
}

unsigned int drv_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control,
			 unsigned int *slot)
{
	struct drv_event ev;
	uint64_t at = drv_ring_push(d, &d->cmd, param, status, control);

	drv_doorbell(d, 0, 0);
	cr_assert(drv_wait_event(d, 33, &ev, 5000), "no command completion");
	cr_assert_eq(ev.param, at, "completion for another command");
	if (slot)
		*slot = ev.control >> 24;
	return ev.status >> 24;
}

void drv_port_reset(struct drv *d, unsigned int port, bool warm)
{
	uint32_t sc = drv_portsc(d, port);
	int tries;

	cr_assert(sc & 1, "no device on port %u", port);
	/* Keep PP, write PR (or WPR); no change bit is written back. */
	drv_write(d, 0x440 + 0x10 * (port - 1), 4, (1u << 9) | (warm ? (1u << 31) : (1u << 4)));
	for (tries = 0; tries < 100 && !(drv_portsc(d, port) & (1u << 21)); tries++)
		usleep(1000);
	sc = drv_portsc(d, port);
	cr_assert(sc & (1u << 21), "PRC never set");
	cr_assert(sc & 2, "port not enabled after reset");
	cr_assert_eq(sc & (1u << 4), 0, "PR still set");
	cr_assert_eq((sc >> 5) & 0xf, 0, "link not in U0");
	/* Clear the change bits (W1C), as the hub driver does. */
	drv_write(d, 0x440 + 0x10 * (port - 1), 4, (1u << 9) | (sc & (0x7fu << 17)));
	cr_assert_eq(drv_portsc(d, port) & (0x7fu << 17), 0, "change bits not cleared");
}

unsigned int drv_enable_address(struct drv *d, unsigned int port, unsigned int speed, bool bsr,
				unsigned int *cc)
{
	unsigned int slot = 0;
	uint64_t in, out;
	uint32_t *ctx;

	cr_assert_eq(drv_command(d, 0, 0, 9u << 10, &slot), 1, "Enable Slot");
	cr_assert(slot >= 1 && slot <= 64);
	out = drv_alloc(d, 1024, 64);
	memcpy((uint8_t *)drv_ptr(d, d->dcbaa) + 8 * slot, &out, 8);
	d->out_ctx[slot] = out;
	drv_ring_init(d, &d->ep_ring[slot][1], 32);
	in = drv_alloc(d, 33 * 32, 64);
	ctx = drv_ptr(d, in);
	ctx[1] = 3;					/* A0 | A1 */
	ctx[8 + 0] = (1u << 27) | (speed << 20);	/* one context entry, speed */
	ctx[8 + 1] = port << 16;
	ctx[16 + 1] = (3u << 1) | (4u << 3) | ((speed >= 4 ? 512u : 64u) << 16);
	ctx[16 + 2] = (uint32_t)d->ep_ring[slot][1].base | 1;
	ctx[16 + 3] = (uint32_t)(d->ep_ring[slot][1].base >> 32);
	ctx[16 + 4] = 8;
	*cc = drv_command(d, in, 0, (11u << 10) | (bsr ? (1u << 9) : 0) | (slot << 24), NULL);
	return slot;
}

unsigned int drv_configure_bulk(struct drv *d, unsigned int slot, unsigned int dci_out,
				unsigned int dci_in, unsigned int mps)
{
	uint64_t in = drv_alloc(d, 33 * 32, 64);
	uint32_t *ctx = drv_ptr(d, in);
	unsigned int dcis[2] = { dci_out, dci_in };
	unsigned int max = dci_out > dci_in ? dci_out : dci_in;

	ctx[1] = 1u | (1u << dci_out) | (1u << dci_in);
	ctx[8 + 0] = max << 27;
	for (int i = 0; i < 2; i++) {
		unsigned int dci = dcis[i];
		uint32_t *ep = ctx + 8 * (dci + 1);
		struct drv_ring *r = &d->ep_ring[slot][dci];

		drv_ring_init(d, r, 64);
		ep[1] = (3u << 1) | ((dci & 1 ? 6u : 2u) << 3) | (mps << 16);
		ep[2] = (uint32_t)r->base | 1;
		ep[3] = (uint32_t)(r->base >> 32);
		ep[4] = mps;
	}
	return drv_command(d, in, 0, (12u << 10) | (slot << 24), NULL);
}

unsigned int drv_control(struct drv *d, unsigned int slot, uint8_t type, uint8_t req,
			 uint16_t value, uint16_t index, uint16_t length, uint64_t buf,
			 uint32_t buf_len, uint32_t *residual)
{
	struct drv_ring *r = &d->ep_ring[slot][1];
	uint64_t setup = type | ((uint64_t)req << 8) | ((uint64_t)value << 16) |
			 ((uint64_t)index << 32) | ((uint64_t)length << 48);
	bool in = type & 0x80;
	unsigned int trt = buf_len ? (in ? 3u : 2u) : 0u;
	struct drv_event ev;
	uint64_t status_trb;
	bool short_seen = false;
	unsigned int cc;

	drv_ring_push(d, r, setup, 8, (2u << 10) | (1u << 6) | (trt << 16));
	if (buf_len)
		drv_ring_push(d, r, buf, buf_len, (3u << 10) | (in ? (1u << 16) | (1u << 2) : 0));
	status_trb = drv_ring_push(d, r, 0, 0, (4u << 10) | (1u << 5) | (in && buf_len ? 0 : (1u << 16)));
	drv_doorbell(d, slot, 1);
	if (residual)
		*residual = 0;
	for (;;) {
		cr_assert(drv_wait_event(d, 32, &ev, 5000), "no transfer event");
		cc = ev.status >> 24;
		/* A short Data stage reports (ISP), then the Status stage reports too. */
		if (cc == 13 && ev.param != status_trb) {
			if (residual)
				*residual = ev.status & 0xffffff;
			short_seen = true;
			continue;
		}
		break;
	}
	return short_seen && cc == 1 ? 13 : cc;
}

unsigned int drv_bulk(struct drv *d, unsigned int slot, unsigned int dci, uint64_t buf,
		      uint32_t len, uint32_t *residual)
{
	struct drv_event ev;

	drv_ring_push(d, &d->ep_ring[slot][dci], buf, len, (1u << 10) | (1u << 5) | (1u << 2));
	drv_doorbell(d, slot, dci);
	cr_assert(drv_wait_event(d, 32, &ev, 5000), "no transfer event");
	cr_assert_eq((ev.control >> 16) & 0x1f, dci);
	if (residual)
		*residual = ev.status & 0xffffff;
	return ev.status >> 24;
}
