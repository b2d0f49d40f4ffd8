/* SPDX-License-Identifier: MIT */
#include "bench_guest.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device_protocol.h"
#include "trb_ring.h"
#include "xhci_process.h"

#define OP 0x40u
#define USBCMD (OP + 0x00)
#define USBSTS (OP + 0x04)
#define CRCR (OP + 0x18)
#define DCBAAP (OP + 0x30)
#define CONFIG (OP + 0x38)
#define PORTSC(p) (0x440u + 0x10u * ((p) - 1))
#define IR0 0x2020u
#define REPLY_TIMEOUT_MS 20000

#define TRB_TYPE(t) ((uint32_t)(t) << 10)
#define EV_TRANSFER 32u
#define EV_COMMAND 33u

void bg_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "xhci-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void request(struct bg *g, struct devproto_msg *m, int fd)
{
	m->seq = ++g->seq;
	if (devproto_send(g->req, m, fd) < 0)
		bg_die("send %s failed", devproto_type_name(m->type));
}

static struct devproto_reply reply(struct bg *g)
{
	struct pollfd p = { .fd = g->req, .events = POLLIN };
	struct devproto_msg rep;
	const char *why = NULL;
	int fd = -1;

	if (poll(&p, 1, REPLY_TIMEOUT_MS) != 1)
		bg_die("no reply: the device process hangs");
	if (devproto_recv(g->req, &rep, &fd, &why) != 1 || rep.type != DEVPROTO_REPLY ||
	    rep.seq != g->seq)
		bg_die("bad reply: %s", why ? why : "wrong type or seq");
	return rep.u.reply;
}

static struct devproto_reply call(struct bg *g, struct devproto_msg *m, int fd)
{
	request(g, m, fd);
	return reply(g);
}

void bg_start(struct bg *g, uint64_t ram_size)
{
	int rq[2], ev[2], memfd;
	struct devproto_msg m;

	memset(g, 0, sizeof(*g));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0)
		bg_die("socketpair: %s", strerror(errno));
	memfd = memfd_create("bench-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)ram_size) < 0)
		bg_die("guest RAM: %s", strerror(errno));
	g->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (g->ram == MAP_FAILED)
		bg_die("mmap: %s", strerror(errno));
	g->ram_size = ram_size;
	fflush(NULL);
	g->pid = fork();
	if (g->pid < 0)
		bg_die("fork: %s", strerror(errno));
	if (g->pid == 0) {
		close(rq[0]);
		close(ev[0]);
		close(memfd);
		_exit(xhci_process_main(rq[1], ev[1]));
	}
	close(rq[1]);
	close(ev[1]);
	g->req = rq[0];
	g->ev = ev[0];
	g->next_alloc = BG_RAM_GPA;

	m = devproto_msg_init(DEVPROTO_MEM_REGION, 0);
	m.u.mem.gpa = BG_RAM_GPA;
	m.u.mem.size = ram_size;
	if (call(g, &m, memfd).status != DEVPROTO_OK)
		bg_die("MEM_REGION refused");
	close(memfd);

	g->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m = devproto_msg_init(DEVPROTO_IRQ_FD, 0);
	m.u.irq.vector = 0;
	if (g->irq_fd < 0 || call(g, &m, g->irq_fd).status != DEVPROTO_OK)
		bg_die("IRQ_FD refused");
	/* As the VMM does (docs/protocol.md): the command ring's bare, slot 1's endpoints by value. */
	for (unsigned int i = 0; i < 3; i++) {
		g->db_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
		if (i > 0) {
			m.u.doorbell.index = 1;
			m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
			m.u.doorbell.value = i == 1 ? 4 : 3;	/* DCI 4 bulk OUT, 3 bulk IN */
		}
		if (g->db_fd[i] < 0 || call(g, &m, g->db_fd[i]).status != DEVPROTO_OK)
			bg_die("DOORBELL_FD refused");
	}
}

void bg_stop(struct bg *g)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_SHUTDOWN, 0);
	int st = 0;

	call(g, &m, -1);
	if (waitpid(g->pid, &st, 0) != g->pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bg_die("device process ended with status 0x%x", st);
	close(g->req);
	close(g->ev);
	close(g->irq_fd);
	for (unsigned int i = 0; i < 3; i++)
		close(g->db_fd[i]);
	munmap(g->ram, g->ram_size);
}

uint64_t bg_read(struct bg *g, uint64_t off, unsigned int size)
{
	struct devproto_msg m = devproto_bar_msg(false, off, size, 0);

	return call(g, &m, -1).value;
}

void bg_write_async(struct bg *g, uint64_t off, unsigned int size, uint64_t v)
{
	struct devproto_msg m = devproto_bar_msg(true, off, size, v);

	request(g, &m, -1);
}

void bg_reply(struct bg *g)
{
	if (reply(g).status != DEVPROTO_OK)
		bg_die("BAR write refused");
}

void bg_write(struct bg *g, uint64_t off, unsigned int size, uint64_t v)
{
	bg_write_async(g, off, size, v);
	bg_reply(g);
}

void *bg_ptr(struct bg *g, uint64_t gpa)
{
	if (gpa < BG_RAM_GPA || gpa - BG_RAM_GPA >= g->ram_size)
		bg_die("address 0x%llx outside guest RAM", (unsigned long long)gpa);
	return g->ram + (gpa - BG_RAM_GPA);
}

uint64_t bg_alloc(struct bg *g, uint64_t size, uint64_t align)
{
	uint64_t a = (g->next_alloc + align - 1) & ~(align - 1);

	if (a + size > BG_RAM_GPA + g->ram_size)
		bg_die("guest RAM exhausted");
	g->next_alloc = a + size;
	memset(bg_ptr(g, a), 0, size);
	return a;
}

void bg_ring_init(struct bg *g, struct bg_ring *r, unsigned int size)
{
	r->base = bg_alloc(g, 16ull * size, 64);
	r->size = size;
	r->idx = 0;
	r->cycle = true;
}

uint64_t bg_push(struct bg *g, struct bg_ring *r, uint64_t param, uint32_t status,
		 uint32_t control)
{
	return trb_ring_put(bg_ptr(g, r->base), r->base, r->size, &r->idx, &r->cycle, param,
			    status, control, false);
}

/* Doorbell 0: the command ring's eventfd; 1: slot 1's bulk OUT (the command) then IN. */
void bg_kick(struct bg *g, unsigned int index)
{
	unsigned int first = index == 0 ? 0 : 1, last = index == 0 ? 0 : 2;
	uint64_t one = 1;

	if (index > 1)
		bg_die("doorbell eventfd %u", index);
	for (unsigned int i = first; i <= last; i++) {
		if (write(g->db_fd[i], &one, sizeof(one)) != sizeof(one))
			bg_die("doorbell eventfd %u", i);
	}
}

bool bg_next_event(struct bg *g, struct bg_event *ev)
{
	const uint8_t *p = bg_ptr(g, g->evt + 16ull * g->evt_idx);
	uint32_t control = __atomic_load_n((const uint32_t *)(p + 12), __ATOMIC_ACQUIRE);

	if (!!(control & 1) != g->evt_cycle)
		return false;
	memcpy(&ev->param, p, 8);
	memcpy(&ev->status, p + 8, 4);
	ev->control = control;
	if (++g->evt_idx == BG_EVT_TRBS) {
		g->evt_idx = 0;
		g->evt_cycle = !g->evt_cycle;
	}
	g->unacked = true;
	return true;
}

void bg_ack(struct bg *g)
{
	if (!g->unacked)
		return;
	g->unacked = false;
	bg_write(g, IR0 + 0x18, 8, (g->evt + 16ull * g->evt_idx) | 8);
}

void bg_wait_event(struct bg *g, struct bg_event *ev, int timeout_ms)
{
	struct pollfd p = { .fd = g->irq_fd, .events = POLLIN };
	uint64_t n;

	for (;;) {
		if (bg_next_event(g, ev))
			return;
		/* EHB clear again: the controller interrupts for what comes next. */
		bg_ack(g);
		if (bg_next_event(g, ev))
			return;
		if (poll(&p, 1, timeout_ms) != 1)
			bg_die("no event within %d ms", timeout_ms);
		if (read(g->irq_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			bg_die("irq eventfd: %s", strerror(errno));
	}
}

unsigned int bg_command(struct bg *g, uint64_t param, uint32_t status, uint32_t control,
			unsigned int *slot)
{
	uint64_t at = bg_push(g, &g->cmd, param, status, control);
	struct bg_event ev;

	bg_write(g, 0x3000, 4, 0);
	do {
		bg_wait_event(g, &ev, 5000);
	} while (((ev.control >> 10) & 0x3f) != EV_COMMAND || ev.param != at);
	if (slot)
		*slot = ev.control >> 24;
	return ev.status >> 24;
}

void bg_init(struct bg *g)
{
	uint32_t size = BG_EVT_TRBS;

	bg_write(g, USBCMD, 4, 0);
	bg_write(g, USBCMD, 4, 2);
	for (int i = 0; i < 1000 && (bg_read(g, USBCMD, 4) & 2 || bg_read(g, USBSTS, 4) & (1u << 11)); i++)
		usleep(100);
	bg_write(g, CONFIG, 4, 64);
	g->dcbaa = bg_alloc(g, 8 * 65, 64);
	bg_write(g, DCBAAP, 8, g->dcbaa);
	bg_ring_init(g, &g->cmd, 256);
	bg_write(g, CRCR, 8, g->cmd.base | 1);
	g->evt = bg_alloc(g, 16ull * BG_EVT_TRBS, 64);
	g->erst = bg_alloc(g, 16, 64);
	memcpy(bg_ptr(g, g->erst), &g->evt, 8);
	memcpy((uint8_t *)bg_ptr(g, g->erst) + 8, &size, 4);
	g->evt_idx = 0;
	g->evt_cycle = true;
	bg_write(g, IR0 + 0x08, 4, 1);
	bg_write(g, IR0 + 0x10, 8, g->erst);
	bg_write(g, IR0 + 0x18, 8, g->evt);
	bg_write(g, IR0 + 0x04, 4, 0);		/* no moderation: latency is the point */
	bg_write(g, IR0 + 0x00, 4, 2);		/* IE */
	/* MSI-X vector 0 unmasked, then enabled in config space. */
	bg_write(g, 0x4000, 4, 0xfee00000u);
	bg_write(g, 0x4008, 4, 0x41);
	bg_write(g, 0x400c, 4, 0);
	{
		struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_WRITE, 0);

		m.u.cfg.offset = 0x72;
		m.u.cfg.size = 2;
		m.u.cfg.value = 0x8000;
		call(g, &m, -1);
	}
	bg_write(g, USBCMD, 4, 1 | 4);
	if (bg_read(g, USBSTS, 4) & 1)
		bg_die("controller still halted after RS");
}

unsigned int bg_attach(struct bg *g, int fd)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_USB_ATTACH, 0);
	struct devproto_reply r;

	m.u.attach.kind = DEVPROTO_ATTACH_IMAGE;
	r = call(g, &m, fd);
	if (r.status != DEVPROTO_OK)
		bg_die("attach: %s", devproto_status_name(r.status));
	return r.port;
}

static void control_no_data(struct bg *g, uint64_t setup)
{
	struct bg_event ev;

	bg_push(g, &g->ep0, setup, 8, TRB_TYPE(2) | (1u << 6));
	bg_push(g, &g->ep0, 0, 0, TRB_TYPE(4) | (1u << 5) | (1u << 16));
	bg_write(g, 0x3000 + 4 * g->slot, 4, 1);
	bg_wait_event(g, &ev, 5000);
	if (((ev.control >> 10) & 0x3f) != EV_TRANSFER || ev.status >> 24 != 1)
		bg_die("control transfer failed: cc %u", ev.status >> 24);
}

void bg_enumerate_storage(struct bg *g, unsigned int port)
{
	bool usb3 = port >= 9;
	unsigned int speed = usb3 ? 4 : 3, cc;
	uint64_t out, in;
	uint32_t *ctx;

	bg_write(g, PORTSC(port), 4, (1u << 9) | (usb3 ? (1u << 31) : (1u << 4)));
	bg_write(g, PORTSC(port), 4, (1u << 9) | (0x7fu << 17));
	if (!(bg_read(g, PORTSC(port), 4) & 2))
		bg_die("port %u not enabled after reset", port);
	if ((cc = bg_command(g, 0, 0, TRB_TYPE(9), &g->slot)) != 1 || g->slot != 1)
		bg_die("Enable Slot: cc %u slot %u", cc, g->slot);
	out = bg_alloc(g, 1024, 64);
	memcpy((uint8_t *)bg_ptr(g, g->dcbaa) + 8 * g->slot, &out, 8);
	bg_ring_init(g, &g->ep0, 64);
	in = bg_alloc(g, 33 * 32, 64);
	ctx = bg_ptr(g, in);
	ctx[1] = 3;
	ctx[8] = (1u << 27) | (speed << 20);
	ctx[9] = port << 16;
	ctx[17] = (3u << 1) | (4u << 3) | ((usb3 ? 512u : 64u) << 16);
	ctx[18] = (uint32_t)g->ep0.base | 1;
	ctx[19] = (uint32_t)(g->ep0.base >> 32);
	ctx[20] = 8;
	if ((cc = bg_command(g, in, 0, TRB_TYPE(11) | (g->slot << 24), NULL)) != 1)
		bg_die("Address Device: cc %u", cc);
	control_no_data(g, 0x0000000000010900ull);	/* SET_CONFIGURATION 1 */

	in = bg_alloc(g, 33 * 32, 64);
	ctx = bg_ptr(g, in);
	ctx[1] = 1u | (1u << 3) | (1u << 4);
	ctx[8] = 4u << 27;
	bg_ring_init(g, &g->bulk_in, 1024);
	bg_ring_init(g, &g->bulk_out, 256);
	for (unsigned int dci = 3; dci <= 4; dci++) {
		uint32_t *ep = ctx + 8 * (dci + 1);
		struct bg_ring *r = dci == 3 ? &g->bulk_in : &g->bulk_out;

		ep[1] = (3u << 1) | ((dci == 3 ? 6u : 2u) << 3) | ((usb3 ? 1024u : 512u) << 16);
		ep[2] = (uint32_t)r->base | 1;
		ep[3] = (uint32_t)(r->base >> 32);
		ep[4] = 0x10000;
	}
	if ((cc = bg_command(g, in, 0, TRB_TYPE(12) | (g->slot << 24), NULL)) != 1)
		bg_die("Configure Endpoint: cc %u", cc);
}
