/* SPDX-License-Identifier: MIT */
/*
 * The register mirror (struct devproto_reg_mirror in device_protocol.h):
 * every register without a read side effect, and config space, kept current
 * in a page the VMM reads, so that it answers the guest's reads itself.
 * Without it each read is a round trip between two processes while the vCPU
 * waits, and in a nested lab guest that round trip costs milliseconds: Linux's
 * xhci_irq() alone makes three per interrupt, its port and init code dozens.
 *
 * Mirrored: the capability registers and the Supported Protocol capabilities
 * (constant), USBCMD, USBSTS, PAGESIZE, DNCTRL, CRCR, DCBAAP, CONFIG, every
 * port's four registers, every interrupter's seven; MFINDEX as a counter
 * the VMM computes from the clock (devproto_mirror_counter). Not mirrored:
 * the MSI-X table and PBA (rarely read).
 *
 * The values are refreshed before each reply and after each batch of posted
 * writes (before done_seq says they are finished), before an interrupt leaves (so the handler's first read sees
 * EINT, IP and the port change it came for), before a Port Status Change
 * Event is written (a handler already running finds it without an
 * interrupt and reads PORTSC at once), and whenever the event loop
 * goes to sleep (anything else, e.g. a port reset ending on a timer).
 * Registers are read through xhci_bar_read and xhci_pci_read, so the mirror
 * never disagrees with what a round trip would have answered at that moment.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/xhci/xhci.h"

#define XECP_DWORDS (XHCI_XECP_SIZE / 4)

static const uint32_t op_regs[] = {
	OP_USBCMD, OP_USBSTS, OP_PAGESIZE, OP_DNCTRL, OP_CRCR_LO, OP_CRCR_HI,
	OP_DCBAAP_LO, OP_DCBAAP_HI, OP_CONFIG,
};
static const uint32_t interrupter_regs[] = {
	IR_IMAN, IR_IMOD, IR_ERSTSZ, IR_ERSTBA_LO, IR_ERSTBA_HI, IR_ERDP_LO, IR_ERDP_HI,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define PCI_STATUS_DWORD 1u	/* command and status: the interrupt status bit */
#define MIRRORED (XHCI_CAP_LENGTH / 4 + N(op_regs) + XHCI_NUM_PORTS * 4 + XECP_DWORDS + \
		  XHCI_NUM_INTRS * N(interrupter_regs))
_Static_assert(MIRRORED <= DEVPROTO_MIRROR_MAX_REGS, "the mirror holds every register");

void xhci_mirror_release(struct xhci *x)
{
	if (!x->mirror)
		return;
	munmap(x->mirror, DEVPROTO_MIRROR_SIZE);
	x->mirror = NULL;
}

/*
 * The constant registers first (capabilities, Supported Protocol), then
 * those that change; *live_from is where the second part starts. Each
 * refresh reads only the second part: under TCG the device process spent
 * 2-3 ms of CPU a TD, and it refreshes the mirror twice each time it wakes.
 */
static uint32_t list_offsets(struct devproto_mirror_reg *regs, uint32_t *live_from)
{
	uint32_t n = 0;

	for (uint32_t off = 0; off < XHCI_CAP_LENGTH; off += 4)
		regs[n++].offset = off;
	for (uint32_t i = 0; i < XECP_DWORDS; i++)
		regs[n++].offset = XHCI_XECP_BASE + 4 * i;
	*live_from = n;
	for (size_t i = 0; i < N(op_regs); i++)
		regs[n++].offset = XHCI_OP_BASE + op_regs[i];
	for (uint32_t p = 0; p < XHCI_NUM_PORTS; p++) {
		for (uint32_t r = 0; r < 0x10; r += 4)
			regs[n++].offset = XHCI_PORT_BASE + 0x10 * p + r;
	}
	for (uint32_t i = 0; i < XHCI_NUM_INTRS; i++) {
		for (size_t r = 0; r < N(interrupter_regs); r++)
			regs[n++].offset = XHCI_RT_BASE + RT_IR0 + RT_IR_SIZE * i + interrupter_regs[r];
	}
	return n;
}

/*
 * MFINDEX's state, rewritten only when the controller starts, stops or is
 * reset: the VMM retries a read that sees gen odd or changed.
 */
static void publish_counter(struct xhci *x, bool all)
{
	struct devproto_mirror_counter *c = &x->mirror->counter;
	uint32_t running = (x->usbcmd & USBCMD_RS) != 0;
	uint32_t gen;

	if (!all && c->running == running && c->frozen == x->mfindex_frozen &&
	    c->base_ns == x->mfindex_start_ns)
		return;
	gen = c->gen;
	__atomic_store_n(&c->gen, gen | 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	c->offset = XHCI_RT_BASE + RT_MFINDEX;
	c->period_ns = XHCI_MICROFRAME_NS;
	c->mask = XHCI_MFINDEX_MASK;
	c->running = running;
	c->frozen = x->mfindex_frozen;
	c->base_ns = x->mfindex_start_ns;
	__atomic_store_n(&c->gen, (gen | 1u) + 1u, __ATOMIC_RELEASE);
}

/*
 * Refreshes the mirror: every register (all) or only those that change, and
 * config space whole after a config write (all of it is the guest's but
 * for the interrupt status bit, which follows the INTx line: that dword
 * always).
 */
static void publish(struct xhci *x, bool all)
{
	struct devproto_reg_mirror *m = x->mirror;
	bool cfg_all = all || x->cfg_written;

	if (!m)
		return;
	for (uint32_t i = all ? 0 : x->mirror_live_from; i < x->mirror_count; i++)
		__atomic_store_n(&m->regs[i].value, (uint32_t)xhci_bar_read(x, m->regs[i].offset, 4),
				 __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < DEVPROTO_MIRROR_CFG_DWORDS; i++) {
		if (cfg_all || i == PCI_STATUS_DWORD)
			__atomic_store_n(&m->cfg[i], xhci_pci_read(x, 4 * i, 4), __ATOMIC_RELAXED);
	}
	x->cfg_written = false;
	publish_counter(x, all);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

int xhci_mirror_attach(struct xhci *x, int fd)
{
	struct devproto_reg_mirror *m;
	uint32_t n;

	m = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		log_warn("xhci: cannot map the register mirror: %d", errno);
		return -errno;
	}
	xhci_mirror_release(x);
	/* Nothing is served until count and cfg_valid say so: contents first. */
	__atomic_store_n(&m->count, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&m->cfg_valid, 0, __ATOMIC_RELEASE);
	n = list_offsets(m->regs, &x->mirror_live_from);
	x->mirror = m;
	x->mirror_count = n;
	publish(x, true);
	__atomic_store_n(&m->count, n, __ATOMIC_RELEASE);
	__atomic_store_n(&m->cfg_valid, 1, __ATOMIC_RELEASE);
	return 0;
}

void xhci_mirror_publish(struct xhci *x)
{
	publish(x, false);
}

void xhci_mirror_done(struct xhci *x, uint32_t seq)
{
	if (!x->mirror)
		return;
	xhci_mirror_publish(x);
	__atomic_store_n(&x->mirror->done_seq, seq, __ATOMIC_RELEASE);
}
