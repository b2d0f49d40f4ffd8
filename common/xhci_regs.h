/* SPDX-License-Identifier: MIT */
/*
 * Register offsets the xHCI 1.2 specification fixes (sections 5.3-5.5):
 * the device process implements them (devices/xhci/), the VMM reads the
 * few it needs to find its way in BAR 0 (vmm/pci_proxy.c). Where the
 * operational and runtime registers start is the device's choice, read
 * from CAPLENGTH and RTSOFF.
 */
#ifndef SVMM_XHCI_REGS_H
#define SVMM_XHCI_REGS_H

/* Capability registers, offsets in BAR 0. */
#define CAP_CAPLENGTH	0x00	/* CAPLENGTH (7:0), HCIVERSION (31:16) */
#define CAP_HCSPARAMS1	0x04	/* MaxSlots (7:0), MaxIntrs (18:8), MaxPorts (31:24) */
#define CAP_HCSPARAMS2	0x08
#define CAP_HCSPARAMS3	0x0c
#define CAP_HCCPARAMS1	0x10
#define CAP_DBOFF	0x14
#define CAP_RTSOFF	0x18

/* Operational registers, offsets from the operational base (CAPLENGTH). */
#define OP_USBCMD	0x00
#define OP_USBSTS	0x04
#define OP_PAGESIZE	0x08
#define OP_DNCTRL	0x14
#define OP_CRCR_LO	0x18
#define OP_CRCR_HI	0x1c
#define OP_DCBAAP_LO	0x30
#define OP_DCBAAP_HI	0x34
#define OP_CONFIG	0x38

/* Runtime registers, offsets from the runtime base (RTSOFF): MFINDEX, then one set per interrupter. */
#define RT_MFINDEX	0x00
#define RT_IR0		0x20
#define RT_IR_SIZE	0x20

/* An interrupter's registers, offsets in its set. */
#define IR_IMAN		0x00
#define IR_IMOD		0x04
#define IR_ERSTSZ	0x08
#define IR_ERSTBA_LO	0x10
#define IR_ERSTBA_HI	0x14
#define IR_ERDP_LO	0x18
#define IR_ERDP_HI	0x1c

#endif
