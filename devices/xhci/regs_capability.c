/* SPDX-License-Identifier: MIT */
/*
 * The read-only capability registers and the extended capabilities (xECP):
 * what the controller tells the driver it is. Two Supported Protocol
 * capabilities split the root ports: 1..8 are USB 2.0, 9..16 USB 3.0, with
 * the default Protocol Speed IDs (PSIC 0), which the Linux driver maps to
 * full/low/high and SuperSpeed.
 */
#include "devices/xhci/xhci.h"

#define HCIVERSION 0x0120u

/* HCCPARAMS1 */
#define HCC_AC64 (1u << 0)	/* 64-bit addresses */
#define HCC_NSS (1u << 7)	/* no secondary stream IDs: linear stream arrays only */
/* Primary Stream Context Arrays of up to 2^(MaxPSASize+1) entries (xhci.h). */
#define HCC_MAX_PSA_SIZE(n) ((n) << 12)
/* CSZ (bit 2) is 0: 32-byte contexts. */

uint32_t xhci_cap_read(struct xhci *x, uint32_t offset)
{
	(void)x;
	switch (offset & ~3u) {
	case CAP_CAPLENGTH: return XHCI_CAP_LENGTH | (HCIVERSION << 16);
	case CAP_HCSPARAMS1: return XHCI_MAX_SLOTS | (XHCI_NUM_INTRS << 8) | (XHCI_NUM_PORTS << 24);
	/* IST: 1 microframe; ERST Max; no scratchpad buffers. */
	case CAP_HCSPARAMS2: return 0x1u | (XHCI_ERST_MAX_LOG2 << 4);
	case CAP_HCSPARAMS3: return 0;	/* U1/U2 exit latencies */
	case CAP_HCCPARAMS1: return HCC_AC64 | HCC_NSS | HCC_MAX_PSA_SIZE(XHCI_MAX_PSA_SIZE) |
			  ((XHCI_XECP_BASE / 4) << 16);
	case CAP_DBOFF: return XHCI_DB_BASE;
	case CAP_RTSOFF: return XHCI_RT_BASE;
	default: return 0;	/* HCCPARAMS2 and reserved */
	}
}

/* Supported Protocol capability (ID 2) at base: next is the dword offset to the next one. */
static uint32_t supported_protocol(uint32_t reg, unsigned int major, unsigned int next,
				   unsigned int first_port, unsigned int count)
{
	switch (reg) {
	case 0x0: return 2u | (next << 8) | (0x00u << 16) | (major << 24);
	case 0x4: return 0x20425355u;	/* "USB " */
	case 0x8: return first_port | (count << 8);
	default: return 0;		/* protocol slot type 0 */
	}
}

uint32_t xhci_xecp_read(struct xhci *x, uint32_t offset)
{
	(void)x;
	offset &= ~3u;
	if (offset < 0x10)
		return supported_protocol(offset, 2, 0x10 / 4, 1, XHCI_USB2_PORTS);
	return supported_protocol(offset - 0x10, 3, 0, XHCI_USB3_FIRST_PORT, XHCI_USB3_PORTS);
}
