/* SPDX-License-Identifier: MIT */
/*
 * Operational registers other than the ports (port.c) and the command ring
 * control register (command_ring.c): USBCMD, USBSTS, PAGESIZE, DNCTRL,
 * DCBAAP and CONFIG.
 */
#include "devices/xhci/xhci.h"

#define USBSTS_W1C (USBSTS_HSE | USBSTS_EINT | USBSTS_PCD | USBSTS_SRE)
#define CONFIG_MASK 0x3ffu	/* MaxSlotsEn, U3E, CIE */

uint32_t xhci_op_read(struct xhci *x, uint32_t offset)
{
	switch (offset) {
	case OP_USBCMD: return x->usbcmd;
	case OP_USBSTS: return x->usbsts;
	case OP_PAGESIZE: return 1;	/* 4 KiB pages */
	case OP_DNCTRL: return x->dnctrl;
	case OP_CRCR_LO:
	case OP_CRCR_HI: return xhci_cmd_read_crcr(x, offset - OP_CRCR_LO);
	case OP_DCBAAP_LO: return (uint32_t)x->dcbaap;
	case OP_DCBAAP_HI: return (uint32_t)(x->dcbaap >> 32);
	case OP_CONFIG: return x->config;
	default: return 0;
	}
}

void xhci_op_write(struct xhci *x, uint32_t offset, uint32_t value)
{
	switch (offset) {
	case OP_USBCMD:
		xhci_write_usbcmd(x, value);
		break;
	case OP_USBSTS:
		x->usbsts &= ~(value & USBSTS_W1C);
		break;
	case OP_DNCTRL:
		x->dnctrl = value & 0xffff;
		break;
	case OP_CRCR_LO:
	case OP_CRCR_HI:
		xhci_cmd_write_crcr(x, offset - OP_CRCR_LO, value);
		break;
	case OP_DCBAAP_LO:
		/* 64-byte aligned: bits 5:0 are reserved. */
		x->dcbaap = (x->dcbaap & 0xffffffff00000000ull) | (value & ~0x3fu);
		break;
	case OP_DCBAAP_HI:
		x->dcbaap = (x->dcbaap & 0xffffffffull) | ((uint64_t)value << 32);
		break;
	case OP_CONFIG:
		x->config = value & CONFIG_MASK;
		break;
	default:
		break;
	}
}
