/* SPDX-License-Identifier: MIT */
/* The driver itself, whatever transport reaches the controller (xhci_driver.h). */
#include "tests/xhci_driver/xhci_driver.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESET_POLLS 1000	/* of 100 us: HCRST and CNR clear within 100 ms */
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSIX_ENABLE 0x8000	/* Message Control bit 15 */

void drv_fail(struct drv *d, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->fail(msg);
}

uint64_t drv_read(struct drv *d, uint64_t off, unsigned int size)
{
	return d->t->read(d, off, size);
}

void drv_write(struct drv *d, uint64_t off, unsigned int size, uint64_t v)
{
	d->t->write(d, off, size, v);
}

void drv_read_layout(struct drv *d)
{
	d->op = (uint32_t)drv_read(d, CAP_CAPLENGTH, 4) & CAPLENGTH_MASK;
	d->rt = (uint32_t)drv_read(d, CAP_RTSOFF, 4) & RTSOFF_MASK;
	d->db = (uint32_t)drv_read(d, CAP_DBOFF, 4) & DBOFF_MASK;
}

uint32_t drv_op_read(struct drv *d, uint32_t reg)
{
	return (uint32_t)drv_read(d, d->op + reg, 4);
}

void drv_op_write(struct drv *d, uint32_t reg, uint32_t v)
{
	drv_write(d, d->op + reg, 4, v);
}

void drv_ir_write(struct drv *d, unsigned int ir, uint32_t reg, unsigned int size, uint64_t v)
{
	drv_write(d, d->rt + RT_IR0 + RT_IR_SIZE * ir + reg, size, v);
}

uint32_t drv_portsc(struct drv *d, unsigned int port)
{
	return drv_op_read(d, OP_PORTSC(port));
}

void drv_portsc_write(struct drv *d, unsigned int port, uint32_t v)
{
	drv_op_write(d, OP_PORTSC(port), v);
}

void drv_doorbell(struct drv *d, unsigned int index, uint32_t target)
{
	drv_write(d, d->db + DB_SIZE_BYTES * index, 4, target);
}

void *drv_ptr(struct drv *d, uint64_t gpa)
{
	return d->t->ptr(d, gpa, 1);
}

void drv_ring_place(struct drv *d, struct drv_ring *r, uint64_t base, unsigned int size)
{
	void *host = d->t->ptr(d, base, 16ull * size);

	r->base = base;
	r->size = size;
	r->idx = 0;
	r->cycle = true;
	if (host)
		memset(host, 0, 16ull * size);
}

static void put_trb(uint8_t *p, uint64_t param, uint32_t status, uint32_t control)
{
	memcpy(p, &param, 8);
	memcpy(p + 8, &status, 4);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(p + 12, &control, 4);
}

uint64_t drv_push(struct drv *d, struct drv_ring *r, uint64_t param, uint32_t status,
		  uint32_t control, bool withhold)
{
	uint8_t *host = d->t->ptr(d, r->base, 16ull * r->size);
	uint64_t at = r->base + 16ull * r->idx;
	bool c = withhold ? !r->cycle : r->cycle;

	if (!host || r->idx >= r->size)
		return 0;
	put_trb(host + 16ull * r->idx, param, status, (control & ~TRB_C) | (c ? TRB_C : 0));
	if (++r->idx == r->size - 1) {
		put_trb(host + 16ull * r->idx, r->base, 0,
			trb_type_bits(TRB_LINK) | TRB_LINK_TC | (r->cycle ? TRB_C : 0));
		r->idx = 0;
		r->cycle = !r->cycle;
	}
	return at;
}

void drv_place_event_ring(struct drv *d, uint64_t evt, unsigned int size)
{
	struct xhci_erst_entry *e = d->t->ptr(d, d->erst, sizeof(*e));
	void *ring = d->t->ptr(d, evt, 16ull * size);

	d->evt = evt;
	d->evt_size = size;
	d->evt_idx = 0;
	d->evt_cycle = true;
	d->unacked = false;
	if (ring)
		memset(ring, 0, 16ull * size);
	if (e)
		*e = (struct xhci_erst_entry){ .base = evt, .size = size };
	drv_ir_write(d, 0, IR_ERSTSZ, 4, 1);
	drv_ir_write(d, 0, IR_ERSTBA_LO, 8, d->erst);
	drv_ir_write(d, 0, IR_ERDP_LO, 8, evt);
}

const char *drv_init_layout(struct drv *d, const struct drv_layout *l)
{
	int polls;

	/* Linux xhci_reset(): halt, HCRST, wait for HCRST and CNR to clear. */
	drv_op_write(d, OP_USBCMD, 0);
	if (!(drv_op_read(d, OP_USBSTS) & USBSTS_HCH))
		return "not halted (HCH) after clearing RS";
	drv_op_write(d, OP_USBCMD, USBCMD_HCRST);
	for (polls = 0; polls < RESET_POLLS && (drv_op_read(d, OP_USBCMD) & USBCMD_HCRST ||
						drv_op_read(d, OP_USBSTS) & USBSTS_CNR); polls++)
		usleep(100);
	if (polls == RESET_POLLS)
		return "HCRST/CNR never cleared";
	drv_op_write(d, OP_CONFIG, l->slots);
	d->dcbaa = l->dcbaa;
	drv_write(d, d->op + OP_DCBAAP_LO, 8, l->dcbaa);
	drv_ring_place(d, &d->cmd, l->cmd_ring, l->cmd_trbs);
	drv_write(d, d->op + OP_CRCR_LO, 8, l->cmd_ring | CRCR_RCS);
	d->erst = l->erst;
	drv_place_event_ring(d, l->evt_ring, l->evt_trbs);
	drv_ir_write(d, 0, IR_IMOD, 4, l->imod);
	drv_ir_write(d, 0, IR_IMAN, 4, IMAN_IE);
	drv_op_write(d, OP_USBCMD, USBCMD_RS | USBCMD_INTE);
	if (drv_op_read(d, OP_USBSTS) & USBSTS_HCH)
		return "still halted after RS";
	return NULL;
}

uint32_t drv_cfg_read(struct drv *d, uint32_t off, uint32_t size)
{
	return d->t->cfg_read(d, off, size);
}

void drv_cfg_write(struct drv *d, uint32_t off, uint32_t size, uint32_t v)
{
	d->t->cfg_write(d, off, size, v);
}

void drv_enable_msix(struct drv *d, unsigned int vectors)
{
	uint32_t cap = drv_cfg_read(d, PCI_CAP_PTR, 1) & 0xfc, table = 0;

	/* The capability list, bounded: at most 48 capabilities fit in config space. */
	for (int n = 0; cap && n < 48; n++, cap = drv_cfg_read(d, cap + 1, 1) & 0xfc) {
		if (drv_cfg_read(d, cap, 1) == PCI_CAP_ID_MSIX) {
			table = drv_cfg_read(d, cap + 4, 4);
			break;
		}
	}
	if (!cap || (table & 7) != 0)
		drv_fail(d, "no MSI-X capability with its table in BAR 0");
	for (unsigned int v = 0; v < vectors; v++) {
		uint64_t entry = (table & ~7u) + 16ull * v;

		drv_write(d, entry, 4, 0xfee00000u);	/* message address: the local APIC */
		drv_write(d, entry + 8, 4, DRV_MSI_VECTOR + v);
		drv_write(d, entry + 12, 4, 0);		/* unmasked */
	}
	drv_cfg_write(d, cap + 2, 2, PCI_MSIX_ENABLE | (vectors - 1));
}

bool drv_take_event(struct drv *d, struct xhci_trb *out)
{
	const uint8_t *p = d->t->ptr(d, d->evt + 16ull * d->evt_idx, 16);
	uint32_t control;

	if (!p)
		return false;
	control = __atomic_load_n((const uint32_t *)(p + 12), __ATOMIC_ACQUIRE);
	if (!!(control & TRB_C) != d->evt_cycle)
		return false;
	memcpy(&out->param, p, 8);
	memcpy(&out->status, p + 8, 4);
	out->control = control;
	if (++d->evt_idx == d->evt_size) {
		d->evt_idx = 0;
		d->evt_cycle = !d->evt_cycle;
	}
	d->unacked = true;
	return true;
}

void drv_ack_events(struct drv *d)
{
	/* ERDP at the next event to read, EHB cleared, as the guest's handler does. */
	drv_ir_write(d, 0, IR_ERDP_LO, 8, (d->evt + 16ull * d->evt_idx) | ERDP_EHB);
	d->unacked = false;
}

bool drv_wait_event(struct drv *d, unsigned int type, struct xhci_trb *out, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms;) {
		struct xhci_trb e;

		if (drv_take_event(d, &e)) {
			if (!d->lazy_ack)
				drv_ack_events(d);
			if (type && trb_type(&e) != type)
				continue;
			if (out)
				*out = e;
			return true;
		}
		if (d->unacked) {
			/* EHB clear again: the controller interrupts for what comes next. */
			drv_ack_events(d);
			continue;
		}
		if (!d->t->idle(d, timeout_ms))
			return false;
		waited++;
	}
	return false;
}

uint64_t drv_queue_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control)
{
	uint64_t at = drv_push(d, &d->cmd, param, status, control, false);

	drv_doorbell(d, DB_HOST_COMMAND, 0);
	return at;
}

unsigned int drv_command(struct drv *d, uint64_t param, uint32_t status, uint32_t control,
			 unsigned int *slot)
{
	uint64_t at = drv_queue_command(d, param, status, control);
	struct xhci_trb ev;

	if (!drv_wait_event(d, TRB_EV_CMD_COMPLETION, &ev, DRV_EVENT_TIMEOUT))
		drv_fail(d, "no command completion");
	if (ev.param != at)
		drv_fail(d, "completion for another command (0x%llx, not 0x%llx)",
			 (unsigned long long)ev.param, (unsigned long long)at);
	if (slot)
		*slot = trb_slot(&ev);
	return trb_cc(&ev);
}

void drv_input_slot(uint32_t *in, unsigned int entries, unsigned int speed, unsigned int port)
{
	uint32_t *slot = in + CTX_DWORDS;

	slot[0] = SLOT_CTX_ENTRIES(entries) | SLOT_CTX_SPEED(speed & 0xf);
	slot[1] = SLOT_CTX_ROOT_PORT(port);
}

void drv_input_ep(uint32_t *in, unsigned int dci, unsigned int type, unsigned int mps,
		  uint64_t dequeue, uint32_t avg_trb_len)
{
	uint32_t *ep = in + CTX_DWORDS * (dci + 1);

	in[INPUT_CTX_ADD] |= 1u << dci;
	ep[1] = EP_CTX_CERR(3) | EP_CTX_TYPE(type) | EP_CTX_MAX_PACKET(mps);
	ep[2] = (uint32_t)dequeue;
	ep[3] = (uint32_t)(dequeue >> 32);
	ep[4] = avg_trb_len;
}

unsigned int drv_ep0_max_packet(unsigned int speed)
{
	if (speed >= SPEED_SUPER)
		return 512;
	return speed == SPEED_LOW ? 8 : 64;
}

void drv_port_reset_start(struct drv *d, unsigned int port, bool warm)
{
	/* Keep PP, write PR (or WPR); no change bit is written back. */
	drv_portsc_write(d, port, PORTSC_PP | (warm ? PORTSC_WPR : PORTSC_PR));
}

uint64_t drv_setup_packet(uint8_t type, uint8_t req, uint16_t value, uint16_t index,
			  uint16_t length)
{
	return type | ((uint64_t)req << 8) | ((uint64_t)value << 16) | ((uint64_t)index << 32) |
	       ((uint64_t)length << 48);
}

uint64_t drv_queue_control(struct drv *d, struct drv_ring *r, uint64_t setup, uint64_t buf,
			   uint32_t buf_len)
{
	bool in = setup & 0x80;
	unsigned int trt = buf_len ? (in ? TRB_TRT_IN : TRB_TRT_OUT) : TRB_TRT_NO_DATA;

	drv_push(d, r, setup, 8, trb_type_bits(TRB_SETUP) | TRB_IDT | (trt << TRB_TRT_SHIFT), false);
	if (buf_len)
		drv_push(d, r, buf, buf_len,
			 trb_type_bits(TRB_DATA) | (in ? TRB_DATA_DIR_IN | TRB_ISP : 0), false);
	/* The status stage goes the other way from the data (IN when there is none). */
	return drv_push(d, r, 0, 0, trb_type_bits(TRB_STATUS) | TRB_IOC |
			(in && buf_len ? 0 : TRB_DATA_DIR_IN), false);
}

void drv_bot_cbw(uint8_t *cbw, uint32_t tag, uint32_t data_len, bool in, const uint8_t *cdb,
		 unsigned int cdb_len)
{
	uint32_t sig = BOT_CBW_SIGNATURE;

	memset(cbw, 0, BOT_CBW_LEN);
	memcpy(cbw, &sig, 4);
	memcpy(cbw + 4, &tag, 4);
	memcpy(cbw + 8, &data_len, 4);
	cbw[12] = in ? 0x80 : 0;
	cbw[14] = (uint8_t)cdb_len;
	memcpy(cbw + 15, cdb, cdb_len > 16 ? 16 : cdb_len);
}
