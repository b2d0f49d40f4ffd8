/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the device protocol through devproto_recv(), the one
 * receive-and-decode both ends call: the device process on its request
 * socket (xhci/process.c), the VMM on the reply and event sockets
 * (vmm/device_process.c). Real SOCK_SEQPACKET socket, descriptors included.
 * And the register mirror page, which the device process writes and the
 * VMM answers guest reads from (vmm/bar_mirror.c).
 *
 * Input: byte 0 says how the message is sent, the rest is the message (cut
 * or zero-padded to 64 bytes unless bit 0 says keep the length as given):
 *   bit 0      the message is the input as is, whatever its length
 *   bits 1-3   descriptors sent with it (0..6)
 *   bit 7      not a message: the mirror page and the VMM's use of it
 *              (fuzz_mirror below says how the rest is read)
 *
 * Invariants beyond "no crash":
 *   - every descriptor sent is closed once the receiver is done, except the
 *     one an accepted message of a type that takes one hands over;
 *   - an accepted message is the bytes sent, of a known type, and every
 *     field a consumer indexes or maps with is within the bounds it relies
 *     on (an access inside config space or the BAR, a port, a vector, a
 *     doorbell, a memory region inside the physical address space);
 *   - the VMM answers a BAR read from the mirror only once the page says
 *     the device has run every posted write that could change it, with
 *     the value the page holds for that register, and reads nothing
 *     outside the page's structure (ASan: the page is allocated to size).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/bar_mirror.h"
#include "common/device_protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_wire.h"

/* A description the VMM accepts puts everything it maps or indexes inside the BAR and its arrays. */
static void check_desc(const struct devproto_desc *d)
{
	uint64_t db_end = d->db_offset + (uint64_t)d->db_stride * d->db_count;
	uint64_t blocks_end = d->mirror_block_base + (uint64_t)d->mirror_block_stride * d->mirror_nblocks;

	if (devproto_desc_check(d, NULL) < 0)
		return;
	FUZZ_CHECK(d->bar_size >= DEVPROTO_PAGE_SIZE && d->bar_size <= DEVPROTO_BAR_MAX_SIZE &&
		   (d->bar_size & (d->bar_size - 1)) == 0);
	FUZZ_CHECK(d->db_count <= DEVPROTO_MAX_DOORBELLS && d->db_value_first <= d->db_count);
	FUZZ_CHECK(d->db_count == 0 || (d->db_stride >= 4 && db_end <= d->bar_size));
	FUZZ_CHECK(d->nvectors <= DEVPROTO_MAX_VECTORS && d->nports <= DEVPROTO_MAX_PORTS);
	FUZZ_CHECK(d->mirror_nblocks <= DEVPROTO_MAX_MIRROR_BLOCKS && blocks_end <= d->bar_size);
	FUZZ_CHECK(d->mirror_status + 4ull <= d->bar_size);
	FUZZ_CHECK(d->posted_offset + (uint64_t)d->posted_size <= d->bar_size);
	FUZZ_CHECK(!(d->flags & DEVPROTO_DESC_DB_PAGE) ||
		   (d->db_offset % DEVPROTO_PAGE_SIZE == 0 && d->db_offset + DEVPROTO_PAGE_SIZE <= d->bar_size));
}

static void check_fields(const struct devproto_msg *m)
{
	switch (m->type) {
	case DEVPROTO_HELLO:
		FUZZ_CHECK(m->u.hello.version == DEVPROTO_VERSION);
		check_desc(&m->u.hello.desc);
		break;
	case DEVPROTO_MEM_REGION:
		FUZZ_CHECK(m->u.mem.size > 0 && m->u.mem.size % DEVPROTO_PAGE_SIZE == 0);
		FUZZ_CHECK(m->u.mem.gpa % DEVPROTO_PAGE_SIZE == 0);
		FUZZ_CHECK(m->u.mem.offset % DEVPROTO_PAGE_SIZE == 0);
		FUZZ_CHECK(m->u.mem.gpa < (1ull << 52) && m->u.mem.size <= (1ull << 52) - m->u.mem.gpa);
		FUZZ_CHECK(m->u.mem.offset <= UINT64_MAX - m->u.mem.size);
		break;
	case DEVPROTO_CFG_READ:
	case DEVPROTO_CFG_WRITE:
		FUZZ_CHECK(m->u.cfg.size == 1 || m->u.cfg.size == 2 || m->u.cfg.size == 4);
		FUZZ_CHECK(m->u.cfg.offset + m->u.cfg.size <= DEVPROTO_CFG_SPACE_SIZE);
		FUZZ_CHECK(m->u.cfg.offset % m->u.cfg.size == 0);
		FUZZ_CHECK((m->u.cfg.value >> (8 * m->u.cfg.size)) == 0);
		break;
	case DEVPROTO_BAR_READ:
	case DEVPROTO_BAR_WRITE:
	case DEVPROTO_BAR_WRITE_POSTED:
		FUZZ_CHECK(m->u.bar.bar == 0);
		FUZZ_CHECK(m->u.bar.size == 1 || m->u.bar.size == 2 || m->u.bar.size == 4 ||
			   m->u.bar.size == 8);
		FUZZ_CHECK(m->u.bar.offset + m->u.bar.size <= DEVPROTO_BAR_MAX_SIZE);
		FUZZ_CHECK(m->u.bar.size == 8 || (m->u.bar.value >> (8 * m->u.bar.size)) == 0);
		break;
	case DEVPROTO_REG_MIRROR:
		FUZZ_CHECK(m->u.mirror.size == DEVPROTO_MIRROR_SIZE);
		break;
	case DEVPROTO_DOORBELL_FD:
		FUZZ_CHECK(m->u.doorbell.index < DEVPROTO_MAX_DOORBELLS);
		break;
	case DEVPROTO_IRQ_FD:
		FUZZ_CHECK(m->u.irq.vector < DEVPROTO_MAX_VECTORS || m->u.irq.vector == DEVPROTO_IRQ_INTX);
		break;
	case DEVPROTO_USB_ATTACH:
		FUZZ_CHECK(m->u.attach.kind == DEVPROTO_ATTACH_USBFS ||
			   m->u.attach.kind == DEVPROTO_ATTACH_IMAGE);
		FUZZ_CHECK((m->u.attach.flags & ~DEVPROTO_ATTACH_FLAGS_ALL) == 0);
		FUZZ_CHECK(m->u.attach.busnum <= 255 && m->u.attach.devnum <= 255);
		break;
	case DEVPROTO_USB_DETACH:
	case DEVPROTO_USB_PORT_INFO:
	case DEVPROTO_PORT_GONE:
		FUZZ_CHECK(m->u.port.port >= 1 && m->u.port.port <= DEVPROTO_MAX_PORTS);
		break;
	case DEVPROTO_REPLY:
		FUZZ_CHECK(strcmp(svmm_status_name(m->u.reply.status), "?") != 0);
		FUZZ_CHECK(m->u.reply.port <= DEVPROTO_MAX_PORTS);
		FUZZ_CHECK(m->u.reply.info.speed <= DEVPROTO_SPEED_SUPER_PLUS);
		break;
	case DEVPROTO_MSIX_ROUTE:
		FUZZ_CHECK(m->u.msix.vector < DEVPROTO_MAX_VECTORS && m->u.msix.masked <= 1);
		break;
	case DEVPROTO_INTX_LEVEL:
		FUZZ_CHECK(m->u.intx.level <= 1);
		break;
	case DEVPROTO_SHUTDOWN:
		break;
	default:
		FUZZ_CHECK(!"an unknown type was accepted");
	}
}

struct input {
	const uint8_t *p;
	size_t left;
};

static uint32_t take(struct input *in, unsigned int bytes)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint32_t)*in->p++ << (8 * i);
	return v;
}

/* Serial-number order, as request seqs wrap. */
static bool seq_before_or_at(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* The value of the first register the page lists at dword offset, as the mirror must answer. */
static bool page_value(const struct devproto_reg_mirror *page, uint64_t dword, uint32_t *value)
{
	uint32_t count = page->count < DEVPROTO_MIRROR_MAX_REGS ? page->count : DEVPROTO_MIRROR_MAX_REGS;

	for (uint32_t i = 0; i < count; i++) {
		if (page->regs[i].offset == dword) {
			*value = page->regs[i].value;
			return true;
		}
	}
	return false;
}

/* Whether the page's counter of time, not its register list, answers this read. */
static bool counter_answers(const struct devproto_reg_mirror *page, uint64_t offset, uint32_t size)
{
	const struct devproto_mirror_counter *c = &page->counter;

	return size <= 4 && !(c->gen & 1u) && c->period_ns != 0 && c->offset == (offset & ~3u);
}

/*
 * Mirror mode. Layout: the device's read rules, status:u16 block_base:u16
 * blocks:u8 (count in bits 0-4, stride 4 << bits 5-7; a description
 * devproto_desc_check refuses means no rules), nregs:u8, nregs
 * registers (offset:u16 value:u32), lag:u16 count:u16 cfg_valid:u8
 * cfg_fill:u32 first_seq:u32, the counter of time (gen:u8 offset:u16
 * period_ns:u32 mask:u32 running:u8 frozen:u32 base_ns:u64), then operations of 8 bytes, kind:u8
 * offset:u16 size:u8 arg:u32, by kind % 4:
 *   0  the VMM posts a BAR write (the next seq, arg % 256 + 1 past the last)
 *   1  a BAR read, all requests so far sent
 *   2  the device stores done_seq = the last seq sent - (int16_t)arg
 *   3  a config space read
 * Seqs only grow, as the VMM's do, and may wrap past 2^32; the first one
 * stands for any number of requests before (the mirror's slots start at
 * 0). done_seq stays within 2^15 of what was sent: a device 2^31 behind
 * (or ahead) is beyond serial arithmetic, and would only mislead its own
 * guest.
 */
static void fuzz_mirror(struct input *in)
{
	struct devproto_reg_mirror *page = calloc(1, sizeof(*page));
	struct bar_mirror m = { 0 };
	struct devproto_desc d = { .bar_size = DEVPROTO_BAR_MAX_SIZE, .flags = DEVPROTO_DESC_MIRROR_RULES };
	uint64_t status, block_base, block_end;
	uint32_t blocks;
	uint32_t nregs, lag, cfg_fill, sent, last_any = 0;
	bool any_posted = false;

	FUZZ_CHECK(page != NULL);
	m.page = page;
	d.mirror_status = take(in, 2);
	d.mirror_block_base = take(in, 2);
	blocks = take(in, 1);
	d.mirror_nblocks = blocks & 0x1f;
	d.mirror_block_stride = d.mirror_nblocks ? 4u << (blocks >> 5) : 0;
	if (devproto_desc_check(&d, NULL) < 0)
		d = (struct devproto_desc){ .bar_size = DEVPROTO_BAR_MAX_SIZE };
	bar_mirror_set_rules(&m, &d);
	status = d.mirror_status;
	block_base = d.mirror_block_base;
	block_end = block_base + (uint64_t)d.mirror_block_stride * d.mirror_nblocks;
	nregs = take(in, 1);
	for (uint32_t i = 0; i < nregs && i < DEVPROTO_MIRROR_MAX_REGS; i++) {
		page->regs[i].offset = take(in, 2);
		page->regs[i].value = take(in, 4);
	}
	lag = take(in, 2);
	page->count = take(in, 2);
	page->cfg_valid = take(in, 1);
	cfg_fill = take(in, 4);
	for (unsigned int i = 0; i < DEVPROTO_MIRROR_CFG_DWORDS; i++)
		page->cfg[i] = cfg_fill + i;
	sent = take(in, 4);
	page->done_seq = sent - lag % 0x8000;
	page->counter.gen = take(in, 1);
	page->counter.offset = take(in, 2);
	page->counter.period_ns = take(in, 4);
	page->counter.mask = take(in, 4);
	page->counter.running = take(in, 1);
	page->counter.frozen = take(in, 4);
	page->counter.base_ns = take(in, 4) | (uint64_t)take(in, 4) << 32;
	for (unsigned int n = 0; n < 256 && in->left; n++) {
		uint32_t kind = take(in, 1) % 4, offset = take(in, 2), size = 1u << (take(in, 1) & 3);
		uint32_t arg = take(in, 4), v32, lo, hi;
		bool special = m.has_rules && ((offset < status + 4 && offset + size > status) ||
					       (offset < block_end && offset + size > block_base));
		uint64_t value;

		switch (kind) {
		case 0:
			sent += arg % 256 + 1;
			bar_mirror_posted(&m, sent, offset, size);
			/* Touching neither the status register nor a block: every read waits for it. */
			if (!special) {
				last_any = sent;
				any_posted = true;
			}
			break;
		case 1:
			if (!bar_mirror_read(&m, sent, offset, size, &value))
				break;
			FUZZ_CHECK(!any_posted || seq_before_or_at(last_any, page->done_seq));
			if (!special)
				FUZZ_CHECK(seq_before_or_at(sent, page->done_seq));
			if (counter_answers(page, offset, size)) {
				/* Computed from the clock: within the mask; stopped, the frozen value. */
				lo = page->counter.running ? (uint32_t)(value << (8 * (offset % 4))) :
				     page->counter.frozen & page->counter.mask;
				FUZZ_CHECK((lo & ~page->counter.mask) == 0 || size < 4);
				FUZZ_CHECK(value == ((lo >> (8 * (offset % 4))) &
						     (uint32_t)((1ull << (8 * size)) - 1)));
				break;
			}
			FUZZ_CHECK(page_value(page, offset & ~3u, &lo));
			if (size == 8) {
				FUZZ_CHECK(page_value(page, offset + 4, &hi));
				FUZZ_CHECK(value == ((uint64_t)hi << 32 | lo));
			} else {
				FUZZ_CHECK(value == ((lo >> (8 * (offset % 4))) &
						     (uint32_t)((1ull << (8 * size)) - 1)));
			}
			break;
		case 2:
			page->done_seq = sent - (uint32_t)(int32_t)(int16_t)arg;
			break;
		default:
			if (!bar_mirror_cfg_read(&m, sent, offset, size, &v32))
				break;
			FUZZ_CHECK(page->cfg_valid && seq_before_or_at(sent, page->done_seq));
			FUZZ_CHECK(offset + size <= 4 * DEVPROTO_MIRROR_CFG_DWORDS);
			FUZZ_CHECK(size == 4 || (v32 >> (8 * size)) == 0);
			break;
		}
	}
	free(page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t msg[2 * DEVPROTO_MSG_SIZE];
	struct devproto_msg m;
	const char *why = NULL;
	size_t len;
	uint8_t sel;
	int fd = -1, n;

	if (size < 1)
		return 0;
	sel = data[0];
	if (sel & 0x80) {
		struct input in = { data + 1, size - 1 };

		fuzz_mirror(&in);
		return 0;
	}
	len = fuzz_message(data + 1, size - 1, sel & 1, DEVPROTO_MSG_SIZE, msg, sizeof(msg));
	if (!fuzz_wire_send(&fuzz_wire, msg, len, (sel >> 1) & 7))
		return 0;
	n = devproto_recv(fuzz_wire.rx, &m, &fd, &why);
	FUZZ_CHECK(fuzz_wire_drained(&fuzz_wire));
	if (n <= 0) {
		FUZZ_CHECK(fd == -1);
		FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
		FUZZ_CHECK(n == 0 || why != NULL);
		return 0;
	}
	FUZZ_CHECK(n == 1);
	FUZZ_CHECK(len == DEVPROTO_MSG_SIZE && memcmp(&m, msg, sizeof(m)) == 0);
	FUZZ_CHECK(strcmp(devproto_type_name(m.type), "?") != 0);
	FUZZ_CHECK((fd >= 0) == (devproto_fds_expected(m.type) == 1));
	if (fd >= 0)
		close(fd);
	FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
	check_fields(&m);
	return 0;
}
