/* SPDX-License-Identifier: MIT */
#include "tests/fuzz/fuzz_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/usb/mass_storage.h"

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

/* The driver's transport: direct calls into the controller. */
static uint64_t fg_read(struct drv *d, uint64_t off, unsigned int size)
{
	return xhci_bar_read(&((struct fg *)d->opaque)->x, off, size);
}

static void fg_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	xhci_bar_write(&((struct fg *)d->opaque)->x, off, size, v);
}

static uint32_t fg_cfg_read(struct drv *d, uint32_t off, uint32_t size)
{
	return xhci_pci_read(&((struct fg *)d->opaque)->x, off, size);
}

static void fg_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v)
{
	xhci_pci_write(&((struct fg *)d->opaque)->x, off, size, v);
}

static void *fg_host(struct drv *d, uint64_t gpa, uint64_t len)
{
	return fg_ptr(d->opaque, gpa, len);
}

/* The harness never waits: what the driver queued runs in fg_turns(). */
static bool fg_idle(struct drv *d, int timeout_ms)
{
	(void)d;
	(void)timeout_ms;
	return false;
}

__attribute__((noreturn)) static void fg_fail(const char *msg)
{
	fprintf(stderr, "fuzz guest: %s\n", msg);
	abort();
}

static const struct drv_transport fg_transport = {
	.read = fg_read,
	.write = fg_write,
	.cfg_read = fg_cfg_read,
	.cfg_write = fg_cfg_write,
	.ptr = fg_host,
	.idle = fg_idle,
};

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
	g->d.t = &fg_transport;
	g->d.fail = fg_fail;
	g->d.opaque = g;
	drv_read_layout(&g->d);
	drv_ring_place(&g->d, &g->d.cmd, FG_CMD_RING, FG_CMD_TRBS);
	g->d.erst = FG_ERST;
	g->d.evt = FG_EVT_RING;
	g->d.evt_size = FG_EVT_TRBS;
	g->d.evt_cycle = true;
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
	struct drv_layout l = {
		.slots = FG_SLOTS,
		.dcbaa = FG_DCBAA,
		.cmd_ring = FG_CMD_RING,
		.cmd_trbs = FG_CMD_TRBS,
		.erst = FG_ERST,
		.evt_ring = FG_EVT_RING,
		.evt_trbs = FG_EVT_TRBS,
		.imod = moderate ? 4000 : 0,
	};

	for (unsigned int s = 1; s <= FG_SLOTS; s++) {
		uint64_t out = FG_OUT_CTX + 1024ull * (s - 1);

		memcpy(fg_ptr(g, FG_DCBAA + 8 * s, 8), &out, 8);
	}
	/* What it finds wrong (nothing, in this process) is the fuzzed controller's state. */
	(void)drv_init_layout(&g->d, &l);
}

void fg_enable_msix(struct fg *g)
{
	drv_enable_msix(&g->d, XHCI_NUM_INTRS);
}

void fg_consume_events(struct fg *g)
{
	struct xhci_trb e;

	/* At most one ring's worth: the guest never chases its own tail forever. */
	for (unsigned int n = 0; n < FG_EVT_TRBS && drv_take_event(&g->d, &e); n++) {
		/* FUZZ_XHCI_TRACE=1: what the guest saw, to check that seeds go where they should. */
		if (trace)
			fprintf(stderr, "event type %u cc %u slot %u ep %u param 0x%llx len %u\n",
				trb_type(&e), trb_cc(&e), trb_slot(&e), trb_ep_id(&e),
				(unsigned long long)e.param, trb_ev_residual(&e));
	}
	drv_ack_events(&g->d);
}

struct drv_ring *fg_xfer_ring(struct fg *g, unsigned int slot, unsigned int dci, bool fresh)
{
	struct drv_ring *r;

	if (slot == 0 || slot > FG_SLOTS || dci == 0 || dci > FG_DCIS)
		return NULL;
	r = &g->d.ep_ring[slot][dci];
	if (fresh || r->size == 0)
		drv_ring_place(&g->d, r, FG_XFER_RINGS + 1024ull * ((slot - 1) * FG_DCIS + (dci - 1)),
			       FG_XFER_TRBS);
	return r;
}

void fg_context_command(struct fg *g, unsigned int type, unsigned int slot, uint32_t add,
			uint32_t drop, unsigned int port, unsigned int speed, unsigned int ep_type,
			unsigned int mps, uint32_t extra_control)
{
	uint32_t *ctx = (uint32_t *)fg_ptr(g, FG_INPUT_CTX, INPUT_CTX_ENTRIES * 32);
	unsigned int last = 1;

	memset(ctx, 0, INPUT_CTX_ENTRIES * 32);
	ctx[INPUT_CTX_DROP] = drop;
	ctx[INPUT_CTX_ADD] = add;
	for (unsigned int dci = 1; dci < XHCI_NUM_EPS; dci++) {
		unsigned int t = ep_type ? ep_type & 7 : dci == 1 ? EP_TYPE_CONTROL :
				 dci & 1 ? EP_TYPE_BULK_IN : EP_TYPE_BULK_OUT;
		struct drv_ring *r;

		if (!(add & (1u << dci)))
			continue;
		last = dci;
		r = fg_xfer_ring(g, slot, dci, true);
		drv_input_ep(ctx, dci, t, mps, (r ? r->base : FG_DATA) | EP_CTX_DCS, 8);
	}
	drv_input_slot(ctx, last, speed, port);
	drv_queue_command(&g->d, FG_INPUT_CTX, 0, trb_type_bits(type) | trb_slot_bits(slot) |
			  extra_control);
}

void fg_control(struct fg *g, unsigned int slot, uint64_t setup, bool with_data)
{
	struct drv_ring *r = fg_xfer_ring(g, slot, 1, false);
	uint16_t length = (uint16_t)(setup >> 48);

	if (!r)
		return;
	drv_queue_control(&g->d, r, setup, FG_DATA, with_data ? length : 0);
	drv_doorbell(&g->d, slot, 1);
}

void fg_bot(struct fg *g, unsigned int slot, const uint8_t *cdb, unsigned int cdb_len, bool in,
	    uint32_t host_len, uint32_t chunk)
{
	struct drv_ring *out_ring = fg_xfer_ring(g, slot, 4, false);
	struct drv_ring *in_ring = fg_xfer_ring(g, slot, 3, false);
	uint64_t cbw_at = FG_DATA, csw_at = FG_DATA + 64, data_at = FG_DATA + 0x1000;
	struct drv_ring *data_ring = in ? in_ring : out_ring;

	if (!out_ring || !in_ring)
		return;
	if (host_len > FG_DATA_SIZE - 0x1000)
		host_len = FG_DATA_SIZE - 0x1000;
	if (chunk == 0 || chunk > 0x10000)
		chunk = 0x10000;
	drv_bot_cbw(fg_ptr(g, cbw_at, BOT_CBW_LEN), slot, host_len, in, cdb, cdb_len);
	drv_push(&g->d, out_ring, cbw_at, BOT_CBW_LEN, trb_type_bits(TRB_NORMAL) | TRB_IOC, false);
	for (uint32_t off = 0; off < host_len; off += chunk) {
		uint32_t len = host_len - off < chunk ? host_len - off : chunk;
		bool last = off + len >= host_len;

		drv_push(&g->d, data_ring, data_at + off, len, trb_type_bits(TRB_NORMAL) | TRB_ISP |
			 (last ? TRB_IOC : TRB_CH), false);
	}
	drv_push(&g->d, in_ring, csw_at, BOT_CSW_LEN, trb_type_bits(TRB_NORMAL) | TRB_IOC, false);
	drv_doorbell(&g->d, slot, 4);
	drv_doorbell(&g->d, slot, 3);
}

void fg_bring_up(struct fg *g, unsigned int port, unsigned int slot)
{
	struct xhci_port *p = xhci_port_get(&g->x, port);
	bool usb3 = p && p->usb3;
	unsigned int speed = usb3 ? SPEED_SUPER : SPEED_HIGH;

	drv_port_reset_start(&g->d, port, usb3);
	drv_portsc_write(&g->d, port, PORTSC_PP | PORTSC_CHANGE);
	drv_queue_command(&g->d, 0, 0, trb_type_bits(TRB_CMD_ENABLE_SLOT));
	fg_context_command(g, TRB_CMD_ADDRESS_DEVICE, slot, 3, 0, port, speed, 0,
			   drv_ep0_max_packet(speed), 0);
	fg_control(g, slot, drv_setup_packet(0, 9, 1, 0, 0), false);	/* SET_CONFIGURATION 1 */
	fg_turns(g, 2);
	fg_context_command(g, TRB_CMD_CONFIGURE_EP, slot, 1u | (1u << 3) | (1u << 4), 0, port,
			   speed, 0, usb3 ? 1024 : 512, 0);
	fg_consume_events(g);
}
