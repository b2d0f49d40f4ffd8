/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the xHCI controller and emulated mass-storage devices,
 * in-process, driven by a guest whose every step comes from the input.
 *
 * Input encoding (all integers little endian; a field cut off by the end of
 * the input reads as 0 and ends the run after that operation):
 *
 *   byte 0: setup flags
 *     bit 0  the Linux init sequence (rings, ERST, RS) before the first op
 *     bit 1  a SuperSpeed disk on port 9 at start
 *     bit 2  a high-speed disk on port 1 at start
 *     bit 3  bring slot 1 up on port 9 (implies bits 0 and 1): reset, Enable
 *            Slot, Address Device, SET_CONFIGURATION, bulk DCIs 3 and 4
 *     bit 4  MSI-X on, every vector unmasked
 *     bit 5  interrupt moderation left at 1 ms instead of off
 *   then operations, one opcode byte (taken modulo OP_COUNT) and its fields:
 *     BAR_WRITE   off:u32 size:u8 value:u64   BAR 0 access, size 1<<(size&3)
 *     BAR_READ    off:u32 size:u8
 *     CFG_WRITE   off:u16 size:u8 value:u32   PCI config (size 1, 2 or 4)
 *     CFG_READ    off:u16 size:u8
 *     MEM_WRITE   where:u32 len:u8 bytes[len] guest RAM (bit 31 of where:
 *                                            the high region), offset modulo
 *     DOORBELL    index:u8 value:u32          BAR write to doorbell index
 *     DOORBELL_FD index:u8 (unused)           the command ring's bare ioeventfd signal
 *     TURNS       n:u8                        (n & 7) + 1 event-loop turns
 *     TIMERS                                  armed IMOD timers expire now
 *     EVENTS                                  consume events, move ERDP
 *     COMMAND     param:u64 status:u32 control:u32   on the command ring + doorbell 0
 *     CONTEXT     sel:u8 slot:u8 add:u32 drop:u32 port:u8 speed:u8 type:u8 mps:u16
 *                 Address Device (sel&3 == 0, bit 2: BSR), Configure
 *                 Endpoint (1, bit 2: DC), Evaluate Context (2) with an
 *                 input context built from the fields
 *     TRANSFER    slot:u8 dci:u8 flags:u8 param:u32 status:u32 control:u32
 *                 a TRB on the guest's ring for (slot, dci); flags bit 0:
 *                 param is an offset into the data area, bit 1: into the
 *                 high region, bit 2: ring the doorbell, bit 3: withhold
 *                 (wrong cycle bit)
 *     CONTROL     slot:u8 setup:u64 flags:u8  a control transfer (bit 0: no data stage)
 *     BOT         slot:u8 flags:u8 cdb[16] host_len:u24 chunk:u16
 *                 flags bit 0: IN, bits 1-4: CDB length - 1 (0: 10 bytes)
 *     HOTPLUG     which:u8                    attach or detach device which % 4
 *     PORT        port:u8 value:u32           PORTSC write of port (port % 16) + 1
 *     DRAIN                                   the VMM reads its event socket (the
 *                                            controller's backlog flushes)
 *
 * At most MAX_OPS operations run per input, each bounded by the
 * controller's own walk budgets, so no input can hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_guest.h"

#define MAX_OPS 256

enum {
	F_INIT = 1 << 0,
	F_SS_DISK = 1 << 1,
	F_HS_DISK = 1 << 2,
	F_BRING_UP = 1 << 3,
	F_MSIX = 1 << 4,
	F_MODERATE = 1 << 5,
};

enum op {
	OP_BAR_WRITE,
	OP_BAR_READ,
	OP_CFG_WRITE,
	OP_CFG_READ,
	OP_MEM_WRITE,
	OP_DOORBELL,
	OP_DOORBELL_FD,
	OP_TURNS,
	OP_TIMERS,
	OP_EVENTS,
	OP_COMMAND,
	OP_CONTEXT,
	OP_TRANSFER,
	OP_CONTROL,
	OP_BOT,
	OP_HOTPLUG,
	OP_PORT,
	OP_DRAIN,
	OP_COUNT,
};

struct input {
	const uint8_t *p;
	size_t left;
	bool ended;
};

static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		if (!in->left) {
			in->ended = true;
			return v;
		}
		v |= (uint64_t)*in->p << (8 * i);
		in->p++;
		in->left--;
	}
	return v;
}

static uint8_t u8(struct input *in) { return (uint8_t)take(in, 1); }
static uint16_t u16(struct input *in) { return (uint16_t)take(in, 2); }
static uint32_t u32(struct input *in) { return (uint32_t)take(in, 4); }
static uint64_t u64(struct input *in) { return take(in, 8); }

static void mem_write(struct fg *g, struct input *in)
{
	uint32_t where = u32(in);
	unsigned int len = u8(in);
	uint64_t base = where & 0x80000000u ? FG_HIGH_GPA : FG_RAM_GPA;
	uint64_t size = where & 0x80000000u ? FG_HIGH_SIZE : FG_RAM_SIZE;
	uint64_t off = (where & 0x7fffffffu) % size;
	uint8_t *dst;

	if (len > in->left)
		len = (unsigned int)in->left;
	if (len > size - off)
		len = (unsigned int)(size - off);
	dst = fg_ptr(g, base + off, len);
	if (dst && len)
		memcpy(dst, in->p, len);
	in->p += len;
	in->left -= len;
}

static void context(struct fg *g, struct input *in)
{
	static const unsigned int types[] = { TRB_CMD_ADDRESS_DEVICE, TRB_CMD_CONFIGURE_EP,
					      TRB_CMD_EVALUATE_CTX, TRB_CMD_ADDRESS_DEVICE };
	uint8_t sel = u8(in), slot = u8(in);
	uint32_t add = u32(in), drop = u32(in);
	uint8_t port = u8(in), speed = u8(in), type = u8(in);
	uint16_t mps = u16(in);

	/* Bit 9 is BSR for Address Device and DC for Configure Endpoint. */
	fg_context_command(g, types[sel & 3], slot, add, drop, port, speed, type, mps,
			   sel & 4 ? (1u << 9) : 0);
}

static void transfer(struct fg *g, struct input *in)
{
	uint8_t slot = u8(in), dci = u8(in), flags = u8(in);
	uint64_t param = u32(in);
	uint32_t status = u32(in), control = u32(in);
	struct drv_ring *r = fg_xfer_ring(g, slot, dci, false);

	if (flags & 1)
		param = FG_DATA + param % FG_DATA_SIZE;
	else if (flags & 2)
		param = FG_HIGH_GPA + param % FG_HIGH_SIZE;
	if (r)
		drv_push(&g->d, r, param, status, control, flags & 8);
	if (flags & 4)
		drv_doorbell(&g->d, slot, dci);
}

static void bot(struct fg *g, struct input *in)
{
	uint8_t slot = u8(in), flags = u8(in);
	uint8_t cdb[16];
	unsigned int cdb_len = (flags >> 1) & 0xf;
	uint32_t host_len;
	uint16_t chunk;

	for (unsigned int i = 0; i < sizeof(cdb); i++)
		cdb[i] = u8(in);
	host_len = (uint32_t)take(in, 3);
	chunk = u16(in);
	fg_bot(g, slot, cdb, cdb_len ? cdb_len + 1 : 10, flags & 1, host_len, chunk);
}

static void run_op(struct fg *g, struct input *in)
{
	switch (u8(in) % OP_COUNT) {
	case OP_BAR_WRITE: {
		uint32_t off = u32(in);
		unsigned int size = 1u << (u8(in) & 3);

		drv_write(&g->d, off, size, u64(in));
		break;
	}
	case OP_BAR_READ: {
		uint32_t off = u32(in);

		xhci_bar_read(&g->x, off, 1u << (u8(in) & 3));
		break;
	}
	case OP_CFG_WRITE: {
		uint16_t off = u16(in);
		unsigned int size = 1u << (u8(in) % 3);

		xhci_pci_write(&g->x, off, size, u32(in));
		break;
	}
	case OP_CFG_READ: {
		uint16_t off = u16(in);

		xhci_pci_read(&g->x, off, 1u << (u8(in) % 3));
		break;
	}
	case OP_MEM_WRITE:
		mem_write(g, in);
		break;
	case OP_DOORBELL: {
		uint8_t index = u8(in);

		drv_doorbell(&g->d, index, u32(in));
		break;
	}
	case OP_DOORBELL_FD:
		/* The command ring's bare eventfd (a write of 0); a slot's come by value, as DOORBELL does. */
		(void)u8(in);
		xhci_doorbell(&g->x, 0, 0);
		break;
	case OP_TURNS:
		fg_turns(g, (u8(in) & 7) + 1);
		break;
	case OP_TIMERS:
		fg_fire_timers(g);
		break;
	case OP_EVENTS:
		fg_consume_events(g);
		break;
	case OP_COMMAND: {
		uint64_t param = u64(in);
		uint32_t status = u32(in);

		drv_queue_command(&g->d, param, status, u32(in));
		break;
	}
	case OP_CONTEXT:
		context(g, in);
		break;
	case OP_TRANSFER:
		transfer(g, in);
		break;
	case OP_CONTROL: {
		uint8_t slot = u8(in);
		uint64_t setup = u64(in);

		fg_control(g, slot, setup, !(u8(in) & 1));
		break;
	}
	case OP_BOT:
		bot(g, in);
		break;
	case OP_HOTPLUG:
		fg_hotplug(g, u8(in));
		break;
	case OP_PORT: {
		uint8_t port = u8(in);

		drv_write(&g->d, XHCI_OP_BASE + OP_PORTSC(port % XHCI_NUM_PORTS + 1), 4, u32(in));
		break;
	}
	case OP_DRAIN:
		fg_drain_event_socket(g);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fg_global_init() < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .left = size };
	static struct fg g;	/* large (every slot's endpoints): not on the stack */
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = u8(&in);
	if (flags & F_BRING_UP)
		flags |= F_INIT | F_SS_DISK;
	if (fg_start(&g) < 0)
		abort();
	if (flags & F_SS_DISK)
		fg_hotplug(&g, 0);
	if (flags & F_HS_DISK)
		fg_hotplug(&g, 1);
	if (flags & F_INIT)
		fg_init_sequence(&g, flags & F_MODERATE);
	if (flags & F_MSIX)
		fg_enable_msix(&g);
	if (flags & F_BRING_UP)
		fg_bring_up(&g, g.dev_port[0] ? g.dev_port[0] : 9, 1);
	for (unsigned int n = 0; n < MAX_OPS && in.left && !in.ended; n++)
		run_op(&g, &in);
	fg_turns(&g, 4);
	fg_stop(&g);
	return 0;
}
