/* SPDX-License-Identifier: MIT */
/*
 * BAR 0: routes each access to the register block it falls in. Registers are
 * 32 bits wide; a 64-bit access is the low dword then the high dword, exactly
 * what a guest doing two 32-bit accesses would send, so both styles behave
 * the same. Narrow reads see the containing dword's bytes; narrow writes are
 * only meaningful for the MSI-X table and are dropped elsewhere (they could
 * otherwise hit write-1-to-clear bits the guest did not address).
 */
#include "common/log.h"
#include "devices/xhci/xhci.h"

#define PORT_REGS_SIZE (0x10u * XHCI_NUM_PORTS)
#define RT_SIZE (RT_IR0 + RT_IR_SIZE * XHCI_NUM_INTRS)
#define DB_SIZE (4u * DEVPROTO_MAX_DOORBELLS)
#define MSIX_TABLE_SIZE (16u * XHCI_NUM_INTRS)
#define MSIX_PBA_SIZE 8u

static bool in(uint32_t off, uint32_t base, uint32_t size)
{
	return off >= base && off - base < size;
}

static uint32_t read32(struct xhci *x, uint32_t off)
{
	if (off < XHCI_CAP_LENGTH)
		return xhci_cap_read(x, off);
	if (in(off, XHCI_OP_BASE, XHCI_OP_SIZE))
		return xhci_op_read(x, off - XHCI_OP_BASE);
	if (in(off, XHCI_PORT_BASE, PORT_REGS_SIZE))
		return xhci_port_read(x, (off - XHCI_PORT_BASE) / 0x10, (off - XHCI_PORT_BASE) % 0x10);
	if (in(off, XHCI_XECP_BASE, XHCI_XECP_SIZE))
		return xhci_xecp_read(x, off - XHCI_XECP_BASE);
	if (in(off, XHCI_RT_BASE, RT_SIZE))
		return xhci_rt_read(x, off - XHCI_RT_BASE);
	if (in(off, XHCI_MSIX_TABLE, MSIX_TABLE_SIZE) || in(off, XHCI_MSIX_PBA, MSIX_PBA_SIZE))
		return xhci_msix_read(x, off);
	/* Doorbells read as 0; holes too. */
	return 0;
}

static void write32(struct xhci *x, uint32_t off, uint32_t val)
{
	if (in(off, XHCI_OP_BASE, XHCI_OP_SIZE))
		xhci_op_write(x, off - XHCI_OP_BASE, val);
	else if (in(off, XHCI_PORT_BASE, PORT_REGS_SIZE))
		xhci_port_write(x, (off - XHCI_PORT_BASE) / 0x10, (off - XHCI_PORT_BASE) % 0x10, val);
	else if (in(off, XHCI_RT_BASE, RT_SIZE))
		xhci_rt_write(x, off - XHCI_RT_BASE, val);
	else if (in(off, XHCI_DB_BASE, DB_SIZE))
		xhci_doorbell(x, (off - XHCI_DB_BASE) / 4, val);
	else if (in(off, XHCI_MSIX_TABLE, MSIX_TABLE_SIZE))
		xhci_msix_write(x, off, val, 4);
	/* Capability registers, the PBA and holes are read-only. */
}

uint64_t xhci_bar_read(struct xhci *x, uint64_t offset, unsigned int size)
{
	uint32_t off;

	if (offset >= XHCI_BAR_SIZE || size > XHCI_BAR_SIZE - offset)
		return 0;
	off = (uint32_t)offset;
	if (size == 8)
		return read32(x, off) | ((uint64_t)read32(x, off + 4) << 32);
	if (size == 4)
		return read32(x, off);
	uint32_t d = read32(x, off & ~3u) >> (8 * (off & 3));

	return size == 2 ? (d & 0xffff) : (d & 0xff);
}

void xhci_bar_write(struct xhci *x, uint64_t offset, unsigned int size, uint64_t value)
{
	uint32_t off;

	if (offset >= XHCI_BAR_SIZE || size > XHCI_BAR_SIZE - offset)
		return;
	off = (uint32_t)offset;
	if (size == 8) {
		write32(x, off, (uint32_t)value);
		write32(x, off + 4, (uint32_t)(value >> 32));
	} else if (size == 4) {
		write32(x, off, (uint32_t)value);
	} else if (in(off, XHCI_MSIX_TABLE, MSIX_TABLE_SIZE)) {
		xhci_msix_write(x, off, (uint32_t)value, size);
	} else {
		log_debug("xhci: %u-byte write at 0x%x dropped", size, off);
	}
}
