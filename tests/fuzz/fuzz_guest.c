/* SPDX-License-Identifier: MIT */
#include "fuzz_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "mass_storage.h"
#include "trb_ring.h"

#define OP 0x40u
#define USBCMD (OP + 0x00)
#define CRCR (OP + 0x18)
#define DCBAAP (OP + 0x30)
#define CONFIG (OP + 0x38)
#define PORTSC(p) (0x440u + 0x10u * ((p) - 1))
#define IR0 0x2020u

/* A small disk: enough LBAs for the seeds' READ/WRITE commands, cheap to create. */
#define FG_IMAGE_SIZE (1u << 20)

static int ram_fd = -1, high_fd = -1;
static bool trace;
static uint8_t *ram_map, *high_map;

int fg_global_init(void)
{
	trace = getenv("FUZZ_XHCI_TRACE") != NULL;
	log_set_level(LOG_LEVEL_ERROR);
	ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	high_fd = memfd_create("fuzz-high", MFD_CLOEXEC);
	if (ram_fd < 0 || high_fd < 0 || ftruncate(ram_fd, FG_RAM_SIZE) < 0 ||
	    ftruncate(high_fd, FG_HIGH_SIZE) < 0)
		return -1;
	ram_map = mmap(NULL, FG_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	high_map = mmap(NULL, FG_HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, high_fd, 0);
	return ram_map == MAP_FAILED || high_map == MAP_FAILED ? -1 : 0;
}

uint8_t *fg_ptr(struct fg *g, uint64_t gpa, uint64_t len)
{
	if (gpa >= FG_RAM_GPA && gpa - FG_RAM_GPA <= FG_RAM_SIZE &&
	    len <= FG_RAM_SIZE - (gpa - FG_RAM_GPA))
		return g->ram + (gpa - FG_RAM_GPA);
	if (gpa >= FG_HIGH_GPA && gpa - FG_HIGH_GPA <= FG_HIGH_SIZE &&
	    len <= FG_HIGH_SIZE - (gpa - FG_HIGH_GPA))
		return g->high + (gpa - FG_HIGH_GPA);
	return NULL;
}

static void ring_init(struct fg *g, struct fg_ring *r, uint64_t base, unsigned int size)
{
	r->base = base;
	r->size = size;
	r->idx = 0;
	r->cycle = true;
	memset(fg_ptr(g, base, 16ull * size), 0, 16ull * size);
}

uint64_t fg_push(struct fg *g, struct fg_ring *r, uint64_t param, uint32_t status,
		 uint32_t control, bool withhold)
{
	uint8_t *host = fg_ptr(g, r->base, 16ull * r->size);

	return host ? trb_ring_put(host, r->base, r->size, &r->idx, &r->cycle, param, status,
				   control, withhold) : 0;
}

void fg_bar_write(struct fg *g, uint64_t off, unsigned int size, uint64_t v)
{
	xhci_bar_write(&g->x, off, size, v);
}

static int new_image(void)
{
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, FG_IMAGE_SIZE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* What process.c's USB_ATTACH does for an image, at a chosen speed. */
static unsigned int attach(struct fg *g, enum devproto_usb_speed speed)
{
	int fd = new_image();
	struct usb_device *dev;
	int port;

	if (fd < 0)
		return 0;
	dev = mass_storage_new(g->loop, fd, false, speed);
	if (!dev) {
		close(fd);
		return 0;
	}
	dev->kind = DEVPROTO_ATTACH_IMAGE;
	port = xhci_port_connect(&g->x, dev, 0);
	if (port < 0) {
		dev->ops->destroy(dev);
		return 0;
	}
	return (unsigned int)port;
}

/* What process.c's USB_DETACH does. */
static void detach(struct fg *g, unsigned int port)
{
	struct xhci_port *p = xhci_port_get(&g->x, port);
	struct usb_device *dev = p ? p->dev : NULL;

	if (!dev)
		return;
	xhci_port_disconnect(&g->x, port);
	dev->ops->destroy(dev);
}

void fg_hotplug(struct fg *g, unsigned int i)
{
	i %= FG_MAX_DEVICES;
	if (g->dev_port[i]) {
		detach(g, g->dev_port[i]);
		g->dev_port[i] = 0;
	} else {
		g->dev_port[i] = attach(g, i & 1 ? DEVPROTO_SPEED_HIGH : DEVPROTO_SPEED_SUPER);
	}
}

int fg_start(struct fg *g)
{
	memset(g, 0, sizeof(*g));
	g->event_sock[0] = g->event_sock[1] = -1;
	g->ram = ram_map;
	g->high = high_map;
	memset(g->ram, 0, FG_RAM_SIZE);
	memset(g->high, 0, FG_HIGH_SIZE);
	g->loop = event_loop_new();
	if (!g->loop)
		return -1;
	/* The event socket nobody reads fills up: the controller must cope (coalescing). */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, g->event_sock) < 0)
		goto fail_loop;
	/* The smallest buffer the kernel allows: a few notices fill it, so backlogs happen. */
	setsockopt(g->event_sock[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int));
	if (xhci_init(&g->x, g->loop, g->event_sock[1]) < 0)
		goto fail_sock;
	if (guest_memory_add(&g->x.mem, ram_fd, FG_RAM_GPA, FG_RAM_SIZE, 0) < 0 ||
	    guest_memory_add(&g->x.mem, high_fd, FG_HIGH_GPA, FG_HIGH_SIZE, 0) < 0)
		goto fail_x;
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++)
		xhci_irq_set_fd(&g->x, v, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	xhci_irq_set_fd(&g->x, DEVPROTO_IRQ_INTX, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	ring_init(g, &g->cmd, FG_CMD_RING, FG_CMD_TRBS);
	g->evt_idx = 0;
	g->evt_cycle = true;
	g->turns_left = FG_MAX_TURNS;
	return 0;
fail_x:
	xhci_release(&g->x);
fail_sock:
	close(g->event_sock[0]);
	close(g->event_sock[1]);
fail_loop:
	event_loop_free(g->loop);
	return -1;
}

void fg_stop(struct fg *g)
{
	for (unsigned int port = 1; port <= XHCI_NUM_PORTS; port++)
		detach(g, port);
	/* Devices return cancelled transfers through deferred calls: let them run. */
	g->turns_left = 16;
	fg_turns(g, 16);
	xhci_release(&g->x);
	event_loop_free(g->loop);
	close(g->event_sock[0]);
	close(g->event_sock[1]);
}

void fg_turns(struct fg *g, unsigned int n)
{
	for (unsigned int i = 0; i < n && g->turns_left; i++) {
		g->turns_left--;
		if (event_loop_run_once(g->loop, 0) < 0)
			break;
	}
}

void fg_drain_event_socket(struct fg *g)
{
	uint8_t msg[DEVPROTO_MSG_SIZE];

	/* Bounded: the socket holds what its buffer holds, and nobody writes meanwhile. */
	while (recv(g->event_sock[0], msg, sizeof(msg), MSG_DONTWAIT) > 0)
		;
	fg_turns(g, 1);
}

void fg_fire_timers(struct fg *g)
{
	struct itimerspec now = { .it_value = { 0, 1 } };
	bool any = false;

	for (unsigned int i = 0; i < XHCI_NUM_INTRS; i++) {
		struct xhci_interrupter *ir = &g->x.intr[i];

		if (ir->timer_armed && ir->timerfd >= 0) {
			timerfd_settime(ir->timerfd, 0, &now, NULL);
			any = true;
		}
	}
	/* A 1 ns timer has fired by the time epoll looks, or within the millisecond. */
	if (any && g->turns_left) {
		g->turns_left--;
		event_loop_run_once(g->loop, 1);
	}
}

void fg_init_sequence(struct fg *g, bool moderate)
{
	fg_bar_write(g, USBCMD, 4, 0);
	fg_bar_write(g, USBCMD, 4, USBCMD_HCRST);
	fg_bar_write(g, CONFIG, 4, FG_SLOTS);
	for (unsigned int s = 1; s <= FG_SLOTS; s++) {
		uint64_t out = FG_OUT_CTX + 1024ull * (s - 1);

		memcpy(fg_ptr(g, FG_DCBAA + 8 * s, 8), &out, 8);
	}
	fg_bar_write(g, DCBAAP, 8, FG_DCBAA);
	ring_init(g, &g->cmd, FG_CMD_RING, FG_CMD_TRBS);
	fg_bar_write(g, CRCR, 8, FG_CMD_RING | 1);
	memset(fg_ptr(g, FG_EVT_RING, 16ull * FG_EVT_TRBS), 0, 16ull * FG_EVT_TRBS);
	{
		uint64_t base = FG_EVT_RING;
		uint32_t size = FG_EVT_TRBS;

		memcpy(fg_ptr(g, FG_ERST, 8), &base, 8);
		memcpy(fg_ptr(g, FG_ERST + 8, 4), &size, 4);
	}
	g->evt_idx = 0;
	g->evt_cycle = true;
	fg_bar_write(g, IR0 + 0x08, 4, 1);
	fg_bar_write(g, IR0 + 0x10, 8, FG_ERST);
	fg_bar_write(g, IR0 + 0x18, 8, FG_EVT_RING);
	fg_bar_write(g, IR0 + 0x04, 4, moderate ? 4000 : 0);
	fg_bar_write(g, IR0 + 0x00, 4, 2);
	fg_bar_write(g, USBCMD, 4, USBCMD_RS | USBCMD_INTE);
}

void fg_enable_msix(struct fg *g)
{
	for (unsigned int v = 0; v < XHCI_NUM_INTRS; v++) {
		fg_bar_write(g, XHCI_MSIX_TABLE + 16 * v, 4, 0xfee00000u);
		fg_bar_write(g, XHCI_MSIX_TABLE + 16 * v + 8, 4, 0x40 + v);
		fg_bar_write(g, XHCI_MSIX_TABLE + 16 * v + 12, 4, 0);
	}
	xhci_pci_write(&g->x, 0x72, 2, 0x8000 | (XHCI_NUM_INTRS - 1));
}

void fg_consume_events(struct fg *g)
{
	/* At most one ring's worth: the guest never chases its own tail forever. */
	for (unsigned int n = 0; n < FG_EVT_TRBS; n++) {
		const uint8_t *p = fg_ptr(g, FG_EVT_RING + 16ull * g->evt_idx, 16);
		uint64_t param;
		uint32_t status, control;

		memcpy(&param, p, 8);
		memcpy(&status, p + 8, 4);
		memcpy(&control, p + 12, 4);
		if (!!(control & 1) != g->evt_cycle)
			break;
		/* FUZZ_XHCI_TRACE=1: what the guest saw, to check that seeds go where they should. */
		if (trace)
			fprintf(stderr, "event type %u cc %u slot %u ep %u param 0x%llx len %u\n",
				(control >> 10) & 0x3f, status >> 24, control >> 24,
				(control >> 16) & 0x1f, (unsigned long long)param, status & 0xffffff);
		if (++g->evt_idx == FG_EVT_TRBS) {
			g->evt_idx = 0;
			g->evt_cycle = !g->evt_cycle;
		}
	}
	fg_bar_write(g, IR0 + 0x18, 8, (FG_EVT_RING + 16ull * g->evt_idx) | 8);
}

struct fg_ring *fg_xfer_ring(struct fg *g, unsigned int slot, unsigned int dci, bool fresh)
{
	struct fg_ring *r;

	if (slot == 0 || slot > FG_SLOTS || dci == 0 || dci > FG_DCIS)
		return NULL;
	r = &g->xfer[slot][dci];
	if (fresh || r->size == 0)
		ring_init(g, r, FG_XFER_RINGS + 1024ull * ((slot - 1) * FG_DCIS + (dci - 1)),
			  FG_XFER_TRBS);
	return r;
}

void fg_command(struct fg *g, uint64_t param, uint32_t status, uint32_t control)
{
	fg_push(g, &g->cmd, param, status, control, false);
	fg_bar_write(g, XHCI_DB_BASE, 4, 0);
}

void fg_context_command(struct fg *g, unsigned int type, unsigned int slot, uint32_t add,
			uint32_t drop, unsigned int port, unsigned int speed, unsigned int ep_type,
			unsigned int mps, uint32_t extra_control)
{
	uint32_t *ctx = (uint32_t *)fg_ptr(g, FG_INPUT_CTX, 33 * 32);
	unsigned int last = 1;

	memset(ctx, 0, 33 * 32);
	ctx[0] = drop;
	ctx[1] = add;
	for (unsigned int dci = 1; dci < XHCI_NUM_EPS; dci++) {
		uint32_t *ep = ctx + 8 * (dci + 1);
		struct fg_ring *r;
		unsigned int t = ep_type ? ep_type & 7 : dci == 1 ? 4 : dci & 1 ? 6 : 2;
		uint64_t deq;

		if (!(add & (1u << dci)))
			continue;
		last = dci;
		r = fg_xfer_ring(g, slot, dci, true);
		deq = r ? r->base | 1 : FG_DATA | 1;
		ep[1] = (3u << 1) | (t << 3) | (mps << 16);
		ep[2] = (uint32_t)deq;
		ep[3] = (uint32_t)(deq >> 32);
		ep[4] = 8;
	}
	ctx[8 + 0] = (last << 27) | ((speed & 0xf) << 20);
	ctx[8 + 1] = (port & 0xff) << 16;
	fg_command(g, FG_INPUT_CTX, 0, trb_type_bits(type) | (slot << 24) | extra_control);
}

void fg_control(struct fg *g, unsigned int slot, uint64_t setup, bool with_data)
{
	struct fg_ring *r = fg_xfer_ring(g, slot, 1, false);
	uint16_t length = (uint16_t)(setup >> 48);
	bool in = setup & 0x80;
	unsigned int trt = with_data && length ? (in ? 3u : 2u) : 0u;

	if (!r)
		return;
	fg_push(g, r, setup, 8, trb_type_bits(TRB_SETUP) | TRB_IDT | (trt << 16), false);
	if (trt)
		fg_push(g, r, FG_DATA, length, trb_type_bits(TRB_DATA) | TRB_ISP |
			(in ? TRB_DATA_DIR_IN : 0), false);
	fg_push(g, r, 0, 0, trb_type_bits(TRB_STATUS) | TRB_IOC |
		(trt == 3 ? 0 : TRB_DATA_DIR_IN), false);
	fg_bar_write(g, XHCI_DB_BASE + 4 * slot, 4, 1);
}

void fg_bot(struct fg *g, unsigned int slot, const uint8_t *cdb, unsigned int cdb_len, bool in,
	    uint32_t host_len, uint32_t chunk)
{
	struct fg_ring *out_ring = fg_xfer_ring(g, slot, 4, false);
	struct fg_ring *in_ring = fg_xfer_ring(g, slot, 3, false);
	uint64_t cbw_at = FG_DATA, csw_at = FG_DATA + 64, data_at = FG_DATA + 0x1000;
	uint8_t *cbw = fg_ptr(g, cbw_at, 31);
	struct fg_ring *data_ring = in ? in_ring : out_ring;

	if (!out_ring || !in_ring)
		return;
	if (host_len > FG_DATA_SIZE - 0x1000)
		host_len = FG_DATA_SIZE - 0x1000;
	if (chunk == 0 || chunk > 0x10000)
		chunk = 0x10000;
	memset(cbw, 0, 31);
	memcpy(cbw, "USBC", 4);
	memcpy(cbw + 4, &slot, 4);
	memcpy(cbw + 8, &host_len, 4);
	cbw[12] = in ? 0x80 : 0;
	cbw[14] = (uint8_t)cdb_len;
	memcpy(cbw + 15, cdb, cdb_len > 16 ? 16 : cdb_len);
	fg_push(g, out_ring, cbw_at, 31, trb_type_bits(TRB_NORMAL) | TRB_IOC, false);
	for (uint32_t off = 0; off < host_len; off += chunk) {
		uint32_t len = host_len - off < chunk ? host_len - off : chunk;
		bool last = off + len >= host_len;

		fg_push(g, data_ring, data_at + off, len, trb_type_bits(TRB_NORMAL) | TRB_ISP |
			(last ? TRB_IOC : TRB_CH), false);
	}
	fg_push(g, in_ring, csw_at, 13, trb_type_bits(TRB_NORMAL) | TRB_IOC, false);
	fg_bar_write(g, XHCI_DB_BASE + 4 * slot, 4, 4);
	fg_bar_write(g, XHCI_DB_BASE + 4 * slot, 4, 3);
}

void fg_bring_up(struct fg *g, unsigned int port, unsigned int slot)
{
	struct xhci_port *p = xhci_port_get(&g->x, port);
	bool usb3 = p && p->usb3;
	unsigned int speed = usb3 ? 4 : 3;

	fg_bar_write(g, PORTSC(port), 4, (1u << 9) | (usb3 ? (1u << 31) : (1u << 4)));
	fg_bar_write(g, PORTSC(port), 4, (1u << 9) | (0x7fu << 17));
	fg_command(g, 0, 0, trb_type_bits(TRB_CMD_ENABLE_SLOT));
	fg_context_command(g, TRB_CMD_ADDRESS_DEVICE, slot, 3, 0, port, speed, 0,
			   usb3 ? 512 : 64, 0);
	fg_control(g, slot, 0x0000000000010900ull, false);	/* SET_CONFIGURATION 1 */
	fg_turns(g, 2);
	fg_context_command(g, TRB_CMD_CONFIGURE_EP, slot, 1u | (1u << 3) | (1u << 4), 0, port,
			   speed, 0, usb3 ? 1024 : 512, 0);
	fg_consume_events(g);
}
