/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between the VMM and a device process: its layout and
 * decoder. What the messages mean, the start-up sequence, doorbells, the
 * register mirror and posted writes are written once, in docs/protocol.md
 * ("Device protocol"); this header only names the fields.
 */
#ifndef SVMM_DEVICE_PROTOCOL_H
#define SVMM_DEVICE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define DEVPROTO_VERSION 2
#define DEVPROTO_MSG_SIZE 64

/* PCI Express configuration space of one function. */
#define DEVPROTO_CFG_SPACE_SIZE 4096u
/* Only BAR 0 is served by a device process; it is never larger than this. */
#define DEVPROTO_BAR_MAX_SIZE (1u << 20)
/* Doorbell registers a device may declare (struct devproto_desc). */
#define DEVPROTO_MAX_DOORBELLS 256u
/* MSI-X vectors a device may have; DEVPROTO_IRQ_INTX names the legacy line. */
#define DEVPROTO_MAX_VECTORS 64u
#define DEVPROTO_IRQ_INTX 0xffffu
/* Guest RAM regions in the memory map. */
#define DEVPROTO_MAX_MEM_REGIONS 8u
#define DEVPROTO_PAGE_SIZE 4096u
/* Ports a device may declare; they are numbered 1..nports. */
#define DEVPROTO_MAX_PORTS 255u
/* Register blocks the mirror tracks apart (struct devproto_desc). */
#define DEVPROTO_MAX_MIRROR_BLOCKS 16u

enum devproto_type {
	DEVPROTO_HELLO = 1,	/* both ways: version; the device's answer describes it */
	DEVPROTO_MEM_REGION,	/* VMM->dev, fd = memfd: one guest RAM region */
	DEVPROTO_CFG_READ,	/* VMM->dev: config space read, value in reply */
	DEVPROTO_CFG_WRITE,	/* VMM->dev: config space write */
	DEVPROTO_BAR_READ,	/* VMM->dev: BAR 0 read, value in reply */
	DEVPROTO_BAR_WRITE,	/* VMM->dev: BAR 0 write */
	DEVPROTO_DOORBELL_FD,	/* VMM->dev, fd = eventfd signalled for one doorbell */
	DEVPROTO_IRQ_FD,	/* VMM->dev, fd = eventfd the device signals for a vector */
	DEVPROTO_USB_ATTACH,	/* VMM->dev, fd = usbfs node or disk image */
	DEVPROTO_USB_DETACH,	/* VMM->dev: detach the device on a port */
	DEVPROTO_USB_PORT_INFO,	/* VMM->dev: what is on a port, in reply */
	DEVPROTO_SHUTDOWN,	/* VMM->dev: stop, release every device, exit */
	DEVPROTO_REPLY,		/* dev->VMM: the answer to request seq */
	DEVPROTO_MSIX_ROUTE,	/* dev->VMM event: a vector's address/data/mask changed */
	DEVPROTO_INTX_LEVEL,	/* dev->VMM event: the INTx line's level */
	DEVPROTO_PORT_GONE,	/* dev->VMM event: a device left a port on its own */
	DEVPROTO_BAR_WRITE_POSTED,	/* VMM->dev: BAR 0 write, not answered */
	DEVPROTO_REG_MIRROR,	/* VMM->dev, fd = memfd for struct devproto_reg_mirror */
	DEVPROTO_TYPE_END,
};

enum devproto_attach_kind {
	DEVPROTO_ATTACH_USBFS = 1,	/* fd is an opened /dev/bus/usb node */
	DEVPROTO_ATTACH_IMAGE,		/* fd is a disk image, emulated mass storage */
};

#define DEVPROTO_ATTACH_READONLY 0x1u	/* image: refuse guest writes */
#define DEVPROTO_ATTACH_MAY_DETACH 0x2u	/* usbfs: the policy lets host kernel drivers be detached */
#define DEVPROTO_ATTACH_RESTRICTED 0x4u	/* usbfs: only allowed_interfaces may be claimed */
#define DEVPROTO_ATTACH_FLAGS_ALL (DEVPROTO_ATTACH_READONLY | DEVPROTO_ATTACH_MAY_DETACH | \
				   DEVPROTO_ATTACH_RESTRICTED)

/* USB speeds, as xHCI PORTSC speed IDs (default Protocol Speed IDs). */
enum devproto_usb_speed {
	DEVPROTO_SPEED_NONE = 0,
	DEVPROTO_SPEED_FULL = 1,
	DEVPROTO_SPEED_LOW = 2,
	DEVPROTO_SPEED_HIGH = 3,
	DEVPROTO_SPEED_SUPER = 4,
	DEVPROTO_SPEED_SUPER_PLUS = 5,
};

/*
 * What a device process declares of itself in its answer to HELLO
 * (docs/protocol.md, "Self-description"). Offsets are in BAR 0. The VMM
 * checks it with devproto_desc_check() before using any field.
 */
struct devproto_desc {
	uint32_t bar_size;		/* power of two, 4 KiB..DEVPROTO_BAR_MAX_SIZE */
	uint32_t db_offset;		/* doorbell registers: db_count of 4 bytes each, */
	uint16_t db_count;		/* db_stride bytes apart (a power of two) */
	uint16_t db_stride;
	uint16_t db_value_first;	/* doorbells from this index on are value doorbells */
	uint16_t nvectors;		/* MSI-X vectors */
	uint16_t nports;		/* ports 1..nports */
	uint16_t mirror_nblocks;	/* with DEVPROTO_DESC_MIRROR_RULES: */
	uint32_t mirror_status;		/*   the status register (4 bytes) */
	uint32_t mirror_block_base;	/*   mirror_nblocks register blocks, */
	uint32_t mirror_block_stride;	/*   mirror_block_stride bytes each (a power of two) */
	uint32_t posted_offset;		/* BAR writes wholly in [posted_offset, +posted_size) are posted */
	uint32_t posted_size;
	uint32_t flags;			/* DEVPROTO_DESC_* */
};

/* The mirror's narrow-effect rules are declared (mirror_* fields); else they are 0. */
#define DEVPROTO_DESC_MIRROR_RULES 0x1u
/* The doorbells' page (db_offset page aligned) holds nothing else: it may read as zeros. */
#define DEVPROTO_DESC_DB_PAGE 0x2u
#define DEVPROTO_DESC_FLAGS_ALL (DEVPROTO_DESC_MIRROR_RULES | DEVPROTO_DESC_DB_PAGE)

/* The VMM's HELLO carries a zero desc; the device answers with a HELLO carrying its own. */
struct devproto_hello {
	uint32_t version;
	uint32_t reserved;
	struct devproto_desc desc;
};

struct devproto_mem_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;		/* bytes, page aligned */
	uint64_t offset;	/* offset of gpa in the memfd, page aligned */
};

struct devproto_cfg {
	uint32_t offset;
	uint32_t size;		/* 1, 2 or 4; offset aligned to it */
	uint64_t value;
};

struct devproto_bar {
	uint32_t bar;		/* always 0 */
	uint32_t size;		/* 1, 2, 4 or 8; offset aligned to it */
	uint64_t offset;
	uint64_t value;
};

/* REG_MIRROR: the memfd holds DEVPROTO_MIRROR_SIZE bytes. */
struct devproto_mirror {
	uint32_t size;		/* DEVPROTO_MIRROR_SIZE */
	uint32_t reserved;
};

/*
 * DOORBELL_FD: an eventfd for doorbell register index; with
 * DEVPROTO_DOORBELL_VALUE, for writes of value only (docs/protocol.md, "Doorbells").
 */
#define DEVPROTO_DOORBELL_VALUE 1u
/* Value doorbells a device keeps at once; each is one (register, value) pair. */
#define DEVPROTO_MAX_VALUE_DOORBELLS 64u

struct devproto_doorbell {
	uint32_t index;		/* doorbell register, < DEVPROTO_MAX_DOORBELLS */
	uint32_t flags;		/* DEVPROTO_DOORBELL_VALUE or 0 */
	uint32_t value;		/* with DEVPROTO_DOORBELL_VALUE: the write it stands for; else 0 */
	uint32_t reserved;
};

struct devproto_irq {
	uint32_t vector;	/* < DEVPROTO_MAX_VECTORS, or DEVPROTO_IRQ_INTX */
	uint32_t reserved;
};

struct devproto_attach {
	uint32_t kind;		/* enum devproto_attach_kind */
	uint32_t flags;		/* DEVPROTO_ATTACH_* */
	uint32_t busnum;	/* usbfs: the node's bus and device number, for usb list */
	uint32_t devnum;
	uint32_t allowed_interfaces;	/* RESTRICTED: bit n allows interface n; else 0 */
	uint32_t port;		/* 0: a free port of the device's speed; else this port, free */
	uint32_t reserved;
};

struct devproto_port {
	uint32_t port;		/* 1-based root port number */
	uint32_t reserved;
};

struct devproto_port_info {
	uint16_t vendor;
	uint16_t product;
	uint8_t speed;		/* enum devproto_usb_speed */
	uint8_t kind;		/* enum devproto_attach_kind */
	uint16_t reserved;
	uint32_t busnum;
	uint32_t devnum;
};

struct devproto_reply {
	uint32_t status;	/* enum svmm_status */
	uint32_t port;		/* attach/detach/info: the port */
	uint64_t value;		/* reads: the value read */
	struct devproto_port_info info;	/* USB_PORT_INFO */
};

struct devproto_msix_route {
	uint32_t vector;
	uint32_t masked;	/* 0 or 1 */
	uint64_t address;
	uint32_t data;
	uint32_t reserved;
};

struct devproto_intx {
	uint32_t level;		/* 0 or 1 */
	uint32_t reserved;
};

struct devproto_msg {
	uint16_t version;	/* DEVPROTO_VERSION */
	uint16_t type;		/* enum devproto_type */
	uint32_t seq;		/* request number, echoed in the reply */
	union {
		struct devproto_hello hello;
		struct devproto_mem_region mem;
		struct devproto_cfg cfg;
		struct devproto_bar bar;
		struct devproto_doorbell doorbell;
		struct devproto_mirror mirror;
		struct devproto_irq irq;
		struct devproto_attach attach;
		struct devproto_port port;
		struct devproto_reply reply;
		struct devproto_msix_route msix;
		struct devproto_intx intx;
		uint8_t raw[DEVPROTO_MSG_SIZE - 8];
	} u;
};

_Static_assert(sizeof(struct devproto_msg) == DEVPROTO_MSG_SIZE, "devproto message size");

/*
 * The register mirror page (docs/protocol.md, "Register mirror"). Nothing in
 * it is trusted by the VMM: count is clamped and a value is only ever handed
 * back to the guest.
 */
#define DEVPROTO_MIRROR_SIZE 4096u
#define DEVPROTO_MIRROR_MAX_REGS 256u
#define DEVPROTO_MIRROR_CFG_DWORDS 64u	/* config space bytes 0..255 */

struct devproto_mirror_reg {
	uint32_t offset;	/* BAR 0 offset of a 32-bit register */
	uint32_t value;
};

/*
 * A register that counts time: while it runs, a read is
 * ((CLOCK_MONOTONIC ns - base_ns) / period_ns) & mask, else frozen. gen is
 * odd while the device rewrites the other fields (a sequence lock);
 * period_ns 0: no counter.
 */
struct devproto_mirror_counter {
	uint32_t gen;
	uint32_t offset;	/* BAR 0 offset of the 32-bit register */
	uint32_t period_ns;
	uint32_t mask;
	uint32_t running;
	uint32_t frozen;
	uint64_t base_ns;
};

struct devproto_reg_mirror {
	uint32_t done_seq;	/* the last request the device has finished */
	uint32_t count;		/* regs in use */
	struct devproto_mirror_reg regs[DEVPROTO_MIRROR_MAX_REGS];
	uint32_t cfg_valid;	/* 1 once cfg holds config space */
	uint32_t cfg[DEVPROTO_MIRROR_CFG_DWORDS];
	struct devproto_mirror_counter counter;
};

_Static_assert(sizeof(struct devproto_reg_mirror) <= DEVPROTO_MIRROR_SIZE, "mirror fits its page");

/*
 * Checks a device's self-description: every region inside the BAR, counts
 * within the protocol's caps, strides powers of two, no doorbell overlapping
 * a mirror rule's register, no unknown flag. 0, or -EBADMSG with *why (if
 * not NULL) set to a static reason.
 */
int devproto_desc_check(const struct devproto_desc *d, const char **why);

/* Number of descriptors a message of this type must carry (0 or 1). */
unsigned int devproto_fds_expected(enum devproto_type type);

/* The type's name, e.g. "BAR_WRITE", or "?" when unknown. */
const char *devproto_type_name(unsigned int type);


/* A zeroed message of this type, with the current version. */
struct devproto_msg devproto_msg_init(enum devproto_type type, uint32_t seq);

/* A BAR 0 read (value ignored: a read carries none) or write of size bytes at offset. */
struct devproto_msg devproto_bar_msg(bool write, uint64_t offset, uint32_t size, uint64_t value);

/*
 * Checks len bytes of buf, that arrived with nfds descriptors, and copies
 * them to *out if they are a well-formed message. Returns 0, or a negative
 * errno with *why (if not NULL) set to a static reason:
 *   -EMSGSIZE wrong size, -EPROTO wrong version, -EBADMSG unknown type or a
 *   field out of range or reserved bits set, -EBADF wrong number of fds.
 */
int devproto_decode(const void *buf, size_t len, size_t nfds, struct devproto_msg *out,
		    const char **why);

/*
 * Sends m with fd (or -1) on sock. Refuses (-EINVAL) a message that its own
 * decoder would reject, so a bug shows at the sender.
 */
int devproto_send(int sock, const struct devproto_msg *m, int fd);

/*
 * Receives and decodes one message. *fd is set to the received descriptor or
 * -1; fd NULL means the caller takes none (the VMM: nothing the device
 * process sends carries one, and it may be compromised), so the kernel drops
 * any descriptor sent, never installed (fdpass.h: closing a peer's file can
 * block). Otherwise there is room for one. Returns 1 on a message, 0 when
 * the peer closed, or a negative errno (with *why set) for a malformed
 * message; a descriptor that came with one goes to fdpass_drop().
 */
int devproto_recv(int sock, struct devproto_msg *m, int *fd, const char **why);

#endif
