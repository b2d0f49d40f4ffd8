/* SPDX-License-Identifier: MIT */
/*
 * The register mirror (struct devproto_reg_mirror in device_protocol.h): the
 * registers Linux's xhci_irq() reads on every interrupt (USBSTS, then the
 * interrupter's IMAN and ERDP) kept current in a page the VMM reads, so that
 * it answers those reads itself. Without it each of them is a round trip
 * between two processes while the vCPU waits, and in a nested lab guest that
 * round trip costs milliseconds.
 *
 * The values are refreshed after every request (before done_seq says it is
 * finished), before an interrupt leaves (so the handler's first read sees
 * EINT and IP), and whenever the event loop goes to sleep (anything else that
 * changed, e.g. a port's Port Change Detect). Registers are read through
 * xhci_bar_read, which has no side effects, so the mirror never disagrees
 * with what a round trip would have answered at that moment.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "xhci.h"

#define USBSTS_OFFSET (XHCI_OP_BASE + 0x04u)
#define RT_IR0 0x20u
#define RT_IR_SIZE 0x20u

/* Per interrupter: IMAN, IMOD, ERDP low and high dwords. */
static const uint32_t interrupter_regs[] = { 0x00, 0x04, 0x18, 0x1c };

_Static_assert(1 + XHCI_NUM_INTRS * 4 <= DEVPROTO_MIRROR_MAX_REGS, "the mirror holds every register");

void xhci_mirror_release(struct xhci *x)
{
	if (!x->mirror)
		return;
	munmap(x->mirror, DEVPROTO_MIRROR_SIZE);
	x->mirror = NULL;
}

int xhci_mirror_attach(struct xhci *x, int fd)
{
	struct devproto_reg_mirror *m;
	uint32_t n = 0;

	m = mmap(NULL, DEVPROTO_MIRROR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		log_warn("xhci: cannot map the register mirror: %d", errno);
		return -errno;
	}
	xhci_mirror_release(x);
	/* No register is served until count says so: offsets first. */
	__atomic_store_n(&m->count, 0, __ATOMIC_RELEASE);
	m->regs[n++].offset = USBSTS_OFFSET;
	for (uint32_t i = 0; i < XHCI_NUM_INTRS; i++) {
		for (size_t r = 0; r < sizeof(interrupter_regs) / sizeof(interrupter_regs[0]); r++)
			m->regs[n++].offset = XHCI_RT_BASE + RT_IR0 + RT_IR_SIZE * i + interrupter_regs[r];
	}
	x->mirror = m;
	x->mirror_count = n;
	xhci_mirror_publish(x);
	__atomic_store_n(&m->count, n, __ATOMIC_RELEASE);
	return 0;
}

void xhci_mirror_publish(struct xhci *x)
{
	struct devproto_reg_mirror *m = x->mirror;

	if (!m)
		return;
	for (uint32_t i = 0; i < x->mirror_count; i++)
		__atomic_store_n(&m->regs[i].value, (uint32_t)xhci_bar_read(x, m->regs[i].offset, 4),
				 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void xhci_mirror_done(struct xhci *x, uint32_t seq)
{
	if (!x->mirror)
		return;
	xhci_mirror_publish(x);
	__atomic_store_n(&x->mirror->done_seq, seq, __ATOMIC_RELEASE);
}
