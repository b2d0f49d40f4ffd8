/* SPDX-License-Identifier: MIT */
#include "common/device_protocol.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "common/wire_check.h"

static const char *const type_names[DEVPROTO_TYPE_END] = {
	[DEVPROTO_HELLO] = "HELLO",
	[DEVPROTO_MEM_REGION] = "MEM_REGION",
	[DEVPROTO_CFG_READ] = "CFG_READ",
	[DEVPROTO_CFG_WRITE] = "CFG_WRITE",
	[DEVPROTO_BAR_READ] = "BAR_READ",
	[DEVPROTO_BAR_WRITE] = "BAR_WRITE",
	[DEVPROTO_BAR_WRITE_POSTED] = "BAR_WRITE_POSTED",
	[DEVPROTO_REG_MIRROR] = "REG_MIRROR",
	[DEVPROTO_DOORBELL_FD] = "DOORBELL_FD",
	[DEVPROTO_IRQ_FD] = "IRQ_FD",
	[DEVPROTO_USB_ATTACH] = "USB_ATTACH",
	[DEVPROTO_USB_DETACH] = "USB_DETACH",
	[DEVPROTO_USB_PORT_INFO] = "USB_PORT_INFO",
	[DEVPROTO_SHUTDOWN] = "SHUTDOWN",
	[DEVPROTO_REPLY] = "REPLY",
	[DEVPROTO_MSIX_ROUTE] = "MSIX_ROUTE",
	[DEVPROTO_INTX_LEVEL] = "INTX_LEVEL",
	[DEVPROTO_PORT_GONE] = "PORT_GONE",
};

const char *devproto_type_name(unsigned int type)
{
	if (type >= DEVPROTO_TYPE_END || !type_names[type])
		return "?";
	return type_names[type];
}

unsigned int devproto_fds_expected(enum devproto_type type)
{
	switch (type) {
	case DEVPROTO_MEM_REGION:
	case DEVPROTO_DOORBELL_FD:
	case DEVPROTO_IRQ_FD:
	case DEVPROTO_USB_ATTACH:
	case DEVPROTO_REG_MIRROR:
		return 1;
	default:
		return 0;
	}
}

struct devproto_msg devproto_msg_init(enum devproto_type type, uint32_t seq)
{
	struct devproto_msg m;

	memset(&m, 0, sizeof(m));
	m.version = DEVPROTO_VERSION;
	m.type = type;
	m.seq = seq;
	return m;
}


static int valid_access_size(uint32_t size, int allow_8)
{
	return size == 1 || size == 2 || size == 4 || (allow_8 && size == 8);
}

/* Bytes of the union a type uses; everything after must be zero. */
static size_t payload_size(enum devproto_type type)
{
	switch (type) {
	case DEVPROTO_HELLO: return sizeof(struct devproto_hello);
	case DEVPROTO_MEM_REGION: return sizeof(struct devproto_mem_region);
	case DEVPROTO_CFG_READ:
	case DEVPROTO_CFG_WRITE: return sizeof(struct devproto_cfg);
	case DEVPROTO_BAR_READ:
	case DEVPROTO_BAR_WRITE:
	case DEVPROTO_BAR_WRITE_POSTED: return sizeof(struct devproto_bar);
	case DEVPROTO_REG_MIRROR: return sizeof(struct devproto_mirror);
	case DEVPROTO_DOORBELL_FD: return sizeof(struct devproto_doorbell);
	case DEVPROTO_IRQ_FD: return sizeof(struct devproto_irq);
	case DEVPROTO_USB_ATTACH: return sizeof(struct devproto_attach);
	case DEVPROTO_USB_DETACH:
	case DEVPROTO_USB_PORT_INFO:
	case DEVPROTO_PORT_GONE: return sizeof(struct devproto_port);
	case DEVPROTO_REPLY: return sizeof(struct devproto_reply);
	case DEVPROTO_MSIX_ROUTE: return sizeof(struct devproto_msix_route);
	case DEVPROTO_INTX_LEVEL: return sizeof(struct devproto_intx);
	default: return 0;
	}
}

struct devproto_msg devproto_bar_msg(bool write, uint64_t offset, uint32_t size, uint64_t value)
{
	struct devproto_msg m = devproto_msg_init(write ? DEVPROTO_BAR_WRITE : DEVPROTO_BAR_READ, 0);

	m.u.bar.offset = offset;
	m.u.bar.size = size;
	if (write)
		m.u.bar.value = value;
	return m;
}

static int check_mem(const struct devproto_mem_region *m, const char **why)
{
	if (m->size == 0)
		return wire_refuse(why, "memory region of size 0", -EBADMSG);
	if (m->gpa % DEVPROTO_PAGE_SIZE || m->size % DEVPROTO_PAGE_SIZE ||
	    m->offset % DEVPROTO_PAGE_SIZE)
		return wire_refuse(why, "memory region not page aligned", -EBADMSG);
	if (m->gpa + m->size < m->gpa || m->offset + m->size < m->offset)
		return wire_refuse(why, "memory region wraps around", -EBADMSG);
	/* 52 bits is x86's architectural limit on physical addresses. */
	if (m->gpa + m->size > (1ull << 52))
		return wire_refuse(why, "memory region beyond the physical address space", -EBADMSG);
	return 0;
}

static bool power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* [a, a + alen) and [b, b + blen) share a byte; every value is below 2^33, no wrap. */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static int check_desc_doorbells(const struct devproto_desc *d, const char **why)
{
	uint64_t end = d->db_offset + (uint64_t)d->db_stride * d->db_count;

	if (d->db_count == 0) {
		if (d->db_offset || d->db_stride || d->db_value_first || (d->flags & DEVPROTO_DESC_DB_PAGE))
			return wire_refuse(why, "doorbell fields without doorbells", -EBADMSG);
		return 0;
	}
	if (d->db_count > DEVPROTO_MAX_DOORBELLS)
		return wire_refuse(why, "more doorbells than the protocol allows", -EBADMSG);
	if (!power_of_two(d->db_stride) || d->db_stride < 4 || d->db_stride > DEVPROTO_PAGE_SIZE)
		return wire_refuse(why, "doorbell stride not a power of two of 4..4096 bytes", -EBADMSG);
	if (d->db_offset % 4)
		return wire_refuse(why, "doorbells not dword aligned", -EBADMSG);
	if (end > d->bar_size)
		return wire_refuse(why, "doorbells beyond the BAR", -EBADMSG);
	if (d->db_value_first > d->db_count)
		return wire_refuse(why, "value doorbells begin past the last doorbell", -EBADMSG);
	if ((d->flags & DEVPROTO_DESC_DB_PAGE) &&
	    (d->db_offset % DEVPROTO_PAGE_SIZE || end - d->db_offset > DEVPROTO_PAGE_SIZE ||
	     d->db_offset + (uint64_t)DEVPROTO_PAGE_SIZE > d->bar_size))
		return wire_refuse(why, "doorbell page not a page of the BAR holding the doorbells",
				   -EBADMSG);
	return 0;
}

static int check_desc_mirror(const struct devproto_desc *d, const char **why)
{
	uint64_t blocks = (uint64_t)d->mirror_block_stride * d->mirror_nblocks;
	uint64_t db_len = (uint64_t)d->db_stride * d->db_count;

	if (!(d->flags & DEVPROTO_DESC_MIRROR_RULES)) {
		if (d->mirror_status || d->mirror_block_base || d->mirror_block_stride ||
		    d->mirror_nblocks)
			return wire_refuse(why, "mirror rule fields without DEVPROTO_DESC_MIRROR_RULES",
					   -EBADMSG);
		return 0;
	}
	if (d->mirror_status % 4 || d->mirror_status + 4ull > d->bar_size)
		return wire_refuse(why, "mirror status register not a dword of the BAR", -EBADMSG);
	if (d->mirror_nblocks > DEVPROTO_MAX_MIRROR_BLOCKS)
		return wire_refuse(why, "more mirror blocks than the protocol allows", -EBADMSG);
	if (d->mirror_nblocks == 0 && (d->mirror_block_base || d->mirror_block_stride))
		return wire_refuse(why, "mirror block fields without blocks", -EBADMSG);
	if (d->mirror_nblocks &&
	    (!power_of_two(d->mirror_block_stride) || d->mirror_block_stride < 4 ||
	     d->mirror_block_stride > DEVPROTO_PAGE_SIZE || d->mirror_block_base % 4 ||
	     d->mirror_block_base + blocks > d->bar_size))
		return wire_refuse(why, "mirror blocks not power-of-two blocks inside the BAR", -EBADMSG);
	if (overlap(d->mirror_status, 4, d->mirror_block_base, blocks))
		return wire_refuse(why, "mirror status register inside a mirror block", -EBADMSG);
	if (overlap(d->db_offset, db_len, d->mirror_status, 4) ||
	    overlap(d->db_offset, db_len, d->mirror_block_base, blocks))
		return wire_refuse(why, "doorbells overlap a mirror rule's registers", -EBADMSG);
	if ((d->flags & DEVPROTO_DESC_DB_PAGE) &&
	    (overlap(d->db_offset, DEVPROTO_PAGE_SIZE, d->mirror_status, 4) ||
	     overlap(d->db_offset, DEVPROTO_PAGE_SIZE, d->mirror_block_base, blocks)))
		return wire_refuse(why, "doorbell page holds a mirror rule's registers", -EBADMSG);
	return 0;
}

int devproto_desc_check(const struct devproto_desc *d, const char **why)
{
	int err;

	if (d->flags & ~DEVPROTO_DESC_FLAGS_ALL)
		return wire_refuse(why, "unknown description flags", -EBADMSG);
	if (!power_of_two(d->bar_size) || d->bar_size < DEVPROTO_PAGE_SIZE ||
	    d->bar_size > DEVPROTO_BAR_MAX_SIZE)
		return wire_refuse(why, "BAR size not a power of two of 4 KiB..1 MiB", -EBADMSG);
	if ((err = check_desc_doorbells(d, why)) < 0 || (err = check_desc_mirror(d, why)) < 0)
		return err;
	if (d->posted_offset + (uint64_t)d->posted_size > d->bar_size)
		return wire_refuse(why, "posted writes beyond the BAR", -EBADMSG);
	if (d->nvectors > DEVPROTO_MAX_VECTORS)
		return wire_refuse(why, "more MSI-X vectors than the protocol allows", -EBADMSG);
	if (d->nports > DEVPROTO_MAX_PORTS)
		return wire_refuse(why, "more ports than the protocol allows", -EBADMSG);
	return 0;
}

static int check_fields(const struct devproto_msg *m, const char **why)
{
	switch (m->type) {
	case DEVPROTO_HELLO:
		if (m->u.hello.version != DEVPROTO_VERSION)
			return wire_refuse(why, "hello with another protocol version", -EPROTO);
		return 0;
	case DEVPROTO_MEM_REGION:
		return check_mem(&m->u.mem, why);
	case DEVPROTO_CFG_READ:
	case DEVPROTO_CFG_WRITE:
		if (!valid_access_size(m->u.cfg.size, 0))
			return wire_refuse(why, "config access size not 1, 2 or 4", -EBADMSG);
		if (m->u.cfg.offset % m->u.cfg.size)
			return wire_refuse(why, "config access not naturally aligned", -EBADMSG);
		if (m->u.cfg.offset >= DEVPROTO_CFG_SPACE_SIZE)
			return wire_refuse(why, "config offset beyond config space", -EBADMSG);
		if (m->type == DEVPROTO_CFG_READ && m->u.cfg.value)
			return wire_refuse(why, "config read carries a value", -EBADMSG);
		if (m->u.cfg.size < 8 && m->u.cfg.value >> (8 * m->u.cfg.size))
			return wire_refuse(why, "config write value wider than its size", -EBADMSG);
		return 0;
	case DEVPROTO_BAR_READ:
	case DEVPROTO_BAR_WRITE:
	case DEVPROTO_BAR_WRITE_POSTED:
		if (m->u.bar.bar != 0)
			return wire_refuse(why, "BAR other than 0", -EBADMSG);
		if (!valid_access_size(m->u.bar.size, 1))
			return wire_refuse(why, "BAR access size not 1, 2, 4 or 8", -EBADMSG);
		if (m->u.bar.offset % m->u.bar.size)
			return wire_refuse(why, "BAR access not naturally aligned", -EBADMSG);
		if (m->u.bar.offset >= DEVPROTO_BAR_MAX_SIZE)
			return wire_refuse(why, "BAR offset beyond the largest BAR", -EBADMSG);
		if (m->type == DEVPROTO_BAR_READ && m->u.bar.value)
			return wire_refuse(why, "BAR read carries a value", -EBADMSG);
		if (m->u.bar.size < 8 && m->u.bar.value >> (8 * m->u.bar.size))
			return wire_refuse(why, "BAR write value wider than its size", -EBADMSG);
		return 0;
	case DEVPROTO_REG_MIRROR:
		if (m->u.mirror.size != DEVPROTO_MIRROR_SIZE)
			return wire_refuse(why, "register mirror of another size", -EBADMSG);
		return 0;
	case DEVPROTO_DOORBELL_FD:
		if (m->u.doorbell.index >= DEVPROTO_MAX_DOORBELLS)
			return wire_refuse(why, "doorbell index out of range", -EBADMSG);
		if (m->u.doorbell.flags & ~DEVPROTO_DOORBELL_VALUE)
			return wire_refuse(why, "unknown doorbell flags", -EBADMSG);
		if (!(m->u.doorbell.flags & DEVPROTO_DOORBELL_VALUE) && m->u.doorbell.value)
			return wire_refuse(why, "doorbell value without DEVPROTO_DOORBELL_VALUE", -EBADMSG);
		return 0;
	case DEVPROTO_IRQ_FD:
		if (m->u.irq.vector >= DEVPROTO_MAX_VECTORS && m->u.irq.vector != DEVPROTO_IRQ_INTX)
			return wire_refuse(why, "interrupt vector out of range", -EBADMSG);
		return 0;
	case DEVPROTO_USB_ATTACH:
		if (m->u.attach.kind != DEVPROTO_ATTACH_USBFS && m->u.attach.kind != DEVPROTO_ATTACH_IMAGE)
			return wire_refuse(why, "unknown attach kind", -EBADMSG);
		if (m->u.attach.flags & ~DEVPROTO_ATTACH_FLAGS_ALL)
			return wire_refuse(why, "unknown attach flags", -EBADMSG);
		if (m->u.attach.kind == DEVPROTO_ATTACH_IMAGE &&
		    (m->u.attach.flags & (DEVPROTO_ATTACH_MAY_DETACH | DEVPROTO_ATTACH_RESTRICTED)))
			return wire_refuse(why, "usbfs flags on an image attach", -EBADMSG);
		if (m->u.attach.kind == DEVPROTO_ATTACH_USBFS && (m->u.attach.flags & DEVPROTO_ATTACH_READONLY))
			return wire_refuse(why, "read-only flag on a usbfs attach", -EBADMSG);
		if (m->u.attach.allowed_interfaces && !(m->u.attach.flags & DEVPROTO_ATTACH_RESTRICTED))
			return wire_refuse(why, "allowed interfaces without RESTRICTED", -EBADMSG);
		if (m->u.attach.busnum > 255 || m->u.attach.devnum > 255)
			return wire_refuse(why, "usb bus or device number out of range", -EBADMSG);
		if (m->u.attach.port > DEVPROTO_MAX_PORTS || m->u.attach.reserved)
			return wire_refuse(why, "attach port out of range", -EBADMSG);
		return 0;
	case DEVPROTO_USB_DETACH:
	case DEVPROTO_USB_PORT_INFO:
	case DEVPROTO_PORT_GONE:
		if (m->u.port.port == 0 || m->u.port.port > DEVPROTO_MAX_PORTS)
			return wire_refuse(why, "port number out of range", -EBADMSG);
		return 0;
	case DEVPROTO_REPLY:
		if (m->u.reply.status >= SVMM_STATUS_END)
			return wire_refuse(why, "unknown reply status", -EBADMSG);
		if (m->u.reply.port > DEVPROTO_MAX_PORTS)
			return wire_refuse(why, "reply port out of range", -EBADMSG);
		if (m->u.reply.info.speed > DEVPROTO_SPEED_SUPER_PLUS)
			return wire_refuse(why, "reply speed out of range", -EBADMSG);
		return 0;
	case DEVPROTO_MSIX_ROUTE:
		if (m->u.msix.vector >= DEVPROTO_MAX_VECTORS)
			return wire_refuse(why, "MSI-X vector out of range", -EBADMSG);
		if (m->u.msix.masked > 1)
			return wire_refuse(why, "MSI-X mask not 0 or 1", -EBADMSG);
		return 0;
	case DEVPROTO_INTX_LEVEL:
		if (m->u.intx.level > 1)
			return wire_refuse(why, "INTx level not 0 or 1", -EBADMSG);
		return 0;
	case DEVPROTO_SHUTDOWN:
		return 0;
	default:
		return wire_refuse(why, "unknown message type", -EBADMSG);
	}
}

/* Reserved fields and the unused tail of the union must be zero. */
static int check_reserved(const struct devproto_msg *m, const char **why)
{
	size_t used = payload_size(m->type);
	uint32_t reserved = 0;

	for (size_t i = used; i < sizeof(m->u.raw); i++) {
		if (m->u.raw[i])
			return wire_refuse(why, "bytes after the payload are not zero", -EBADMSG);
	}
	switch (m->type) {
	case DEVPROTO_HELLO: reserved = m->u.hello.reserved; break;
	case DEVPROTO_DOORBELL_FD: reserved = m->u.doorbell.reserved; break;
	case DEVPROTO_REG_MIRROR: reserved = m->u.mirror.reserved; break;
	case DEVPROTO_IRQ_FD: reserved = m->u.irq.reserved; break;
	case DEVPROTO_USB_DETACH:
	case DEVPROTO_USB_PORT_INFO:
	case DEVPROTO_PORT_GONE: reserved = m->u.port.reserved; break;
	case DEVPROTO_REPLY: reserved = m->u.reply.info.reserved; break;
	case DEVPROTO_MSIX_ROUTE: reserved = m->u.msix.reserved; break;
	case DEVPROTO_INTX_LEVEL: reserved = m->u.intx.reserved; break;
	default: break;
	}
	if (reserved)
		return wire_refuse(why, "reserved field is not zero", -EBADMSG);
	return 0;
}

int devproto_decode(const void *buf, size_t len, size_t nfds, struct devproto_msg *out,
		    const char **why)
{
	struct devproto_msg m;
	int err;

	if (len != DEVPROTO_MSG_SIZE)
		return wire_refuse(why, "message is not 64 bytes", -EMSGSIZE);
	memcpy(&m, buf, sizeof(m));
	if (m.version != DEVPROTO_VERSION)
		return wire_refuse(why, "unsupported protocol version", -EPROTO);
	if (m.type == 0 || m.type >= DEVPROTO_TYPE_END)
		return wire_refuse(why, "unknown message type", -EBADMSG);
	if (nfds != devproto_fds_expected(m.type))
		return wire_refuse(why, nfds ? "unexpected file descriptor" : "missing file descriptor",
			   -EBADF);
	err = check_fields(&m, why);
	if (!err)
		err = check_reserved(&m, why);
	if (err)
		return err;
	*out = m;
	return 0;
}

int devproto_send(int sock, const struct devproto_msg *m, int fd)
{
	struct devproto_msg check;
	size_t nfds = fd >= 0 ? 1 : 0;

	if (devproto_decode(m, sizeof(*m), nfds, &check, NULL) < 0)
		return -EINVAL;
	return fdpass_send(sock, m, sizeof(*m), &fd, nfds);
}

int devproto_recv(int sock, struct devproto_msg *m, int *fd, const char **why)
{
	unsigned char buf[DEVPROTO_MSG_SIZE];
	int fds[1] = { -1 };
	size_t nfds = 0;
	ssize_t n;
	int err;

	/*
	 * The VMM (fd NULL) gives no room at all: its device process may be
	 * compromised. The device process gives room for one, the most any type
	 * carries, without peeking at the type first (a syscall more per
	 * message): its only sender is the VMM, which sends one only with the
	 * types that carry one, and checked what it relays.
	 */
	if (fd)
		*fd = -1;
	n = fdpass_recv(sock, buf, sizeof(buf), fds, fd ? 1 : 0, &nfds);
	if (n == 0 && nfds == 0)
		return 0;
	if (n < 0)
		return wire_refuse(why, n == -EMSGSIZE ? "message larger than 64 bytes" :
			   n == -EBADF ? "unexpected file descriptor" :
			   n == -EBADMSG ? "control data that is not a descriptor" :
			   "receive failed", (int)n);
	err = devproto_decode(buf, (size_t)n, nfds, m, why);
	if (err) {
		if (nfds)
			fdpass_drop(fds[0]);
		return err;
	}
	if (fd)
		*fd = fds[0];
	return 1;
}
