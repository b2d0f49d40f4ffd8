/* SPDX-License-Identifier: MIT */
#include "tests/bench/native/bot.h"

#include "tests/bench/native/console.h"
#include "tests/bench/native/sys.h"

#define CSW_SIGNATURE	0x53425355u
#define CBW_LEN		31u
#define CSW_LEN		13u
#define SCSI_TEST_UNIT_READY 0x00
#define SCSI_REQUEST_SENSE 0x03
#define SCSI_READ_CAPACITY 0x25
#define SCSI_READ10	0x28
#define SCSI_WRITE10	0x2a
#define TRB_MAX		0x10000u	/* a TRB's buffer must not cross 64 KiB */
#define DESC_CONFIG	2
#define DESC_INTERFACE	4
#define DESC_ENDPOINT	5
#define DESC_SS_COMPANION 0x30

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Normal TRBs for len bytes at buf, chained, the last with IOC; returns the last one's address. */
static uint64_t queue_data(struct xhci_endpoint *ep, uint8_t *buf, uint32_t len)
{
	uint32_t done = 0;
	uint64_t at = 0;

	while (done < len) {
		uint32_t n = len - done < TRB_MAX ? len - done : TRB_MAX;
		uint32_t left = (len - done - n + ep->max_packet - 1) / ep->max_packet;
		bool last = done + n == len;

		at = xhci_ring_put(&ep->ring, (uintptr_t)(buf + done), n | trb_td_size_bits(left),
				   trb_type_bits(TRB_NORMAL) | (last ? TRB_IOC : TRB_CH));
		done += n;
	}
	return at;
}

static void ring(struct bot *b, struct xhci_endpoint *ep)
{
	xhci_ring_doorbell(b->x, b->dev.slot, ep->dci);
}

void bot_start(struct bot *b, const uint8_t *cdb, uint8_t cdb_len, bool in, uint32_t len, void *buf)
{
	uint8_t *c = b->cbw;

	if (b->stage != BOT_IDLE)
		fail("a command started while one is in flight, slot", b->dev.slot);
	memset(c, 0, CBW_LEN);
	c[0] = 0x55; c[1] = 0x53; c[2] = 0x42; c[3] = 0x43;	/* "USBC": the signature, little endian */
	b->tag++;
	c[4] = (uint8_t)b->tag; c[5] = (uint8_t)(b->tag >> 8);
	c[6] = (uint8_t)(b->tag >> 16); c[7] = (uint8_t)(b->tag >> 24);
	c[8] = (uint8_t)len; c[9] = (uint8_t)(len >> 8); c[10] = (uint8_t)(len >> 16); c[11] = (uint8_t)(len >> 24);
	c[12] = in ? 0x80 : 0;
	c[14] = cdb_len;
	memcpy(c + 15, cdb, cdb_len);
	b->data_in = in;
	b->data_len = len;
	b->data = buf;
	b->awaited = xhci_ring_put(&b->out.ring, (uintptr_t)c, CBW_LEN, trb_type_bits(TRB_NORMAL) | TRB_IOC);
	b->stage = BOT_CBW;
	ring(b, &b->out);
}

void bot_start_rw(struct bot *b, bool write, uint32_t lba, uint32_t count, void *buf)
{
	uint8_t cdb[10] = { write ? SCSI_WRITE10 : SCSI_READ10, 0 };

	put_be32(cdb + 2, lba);
	cdb[7] = (uint8_t)(count >> 8);
	cdb[8] = (uint8_t)count;
	bot_start(b, cdb, 10, !write, count * BOT_BLOCK, buf);
}

/*
 * The stages run as Linux's usb-storage runs them (BOT 5.3): the CBW, then
 * the data, then the CSW, each queued when the one before completed. (QEMU's
 * usb-storage does not serve a CSW TD queued behind data it is still
 * reading; neither VMM gets a head start.)
 */
bool bot_event(struct bot *b, const struct xhci_trb *ev)
{
	static const char *const failed[] = {
		[BOT_CBW] = "CBW failed, completion code",
		[BOT_DATA] = "data stage failed, completion code",
		[BOT_CSW] = "CSW failed, completion code",
	};

	if (b->stage == BOT_IDLE)
		fail("a transfer event with no command in flight, slot", b->dev.slot);
	if (trb_cc(ev) != CC_SUCCESS)
		fail(failed[b->stage], trb_cc(ev));
	if (ev->param != b->awaited)
		fail("transfer event for another TRB at", ev->param);
	xhci_ack_events(b->x);
	if (b->stage == BOT_CBW && b->data_len) {
		struct xhci_endpoint *ep = b->data_in ? &b->in : &b->out;

		b->awaited = queue_data(ep, b->data, b->data_len);
		b->stage = BOT_DATA;
		ring(b, ep);
		return false;
	}
	if (b->stage != BOT_CSW) {
		b->awaited = xhci_ring_put(&b->in.ring, (uintptr_t)b->csw, CSW_LEN,
					   trb_type_bits(TRB_NORMAL) | TRB_IOC);
		b->stage = BOT_CSW;
		ring(b, &b->in);
		return false;
	}
	b->stage = BOT_IDLE;
	if (get_le32(b->csw) != CSW_SIGNATURE || get_le32(b->csw + 4) != b->tag)
		fail("bad CSW signature or tag, tag", b->tag);
	b->status = b->csw[12];
	if (b->status == 0 && get_le32(b->csw + 8))
		fail("CSW residue", get_le32(b->csw + 8));
	return true;
}

/* Runs one command to its end; returns the CSW status, 0 when good. */
static unsigned int command(struct bot *b, const uint8_t *cdb, uint8_t cdb_len, bool in, uint32_t len,
			    void *buf)
{
	bot_start(b, cdb, cdb_len, in, len, buf);
	for (int n = 0; n < 16; n++) {
		struct xhci_trb ev = xhci_next_event(b->x);

		if (trb_type(&ev) != TRB_EV_TRANSFER)
			continue;
		if (trb_slot(&ev) != b->dev.slot)
			fail("a transfer event of another slot", trb_slot(&ev));
		if (bot_event(b, &ev))
			return b->status;
	}
	fail("command not done after 16 events, tag", b->tag);
}

/* One command, waited for; sense data is read and dropped on CHECK CONDITION. */
static unsigned int bot_simple(struct bot *b, uint8_t op, bool in, uint32_t len, void *buf)
{
	uint8_t cdb[10] = { op, 0 };
	uint8_t sense[6] = { SCSI_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	unsigned int status;

	status = command(b, cdb, op == SCSI_READ_CAPACITY ? 10 : 6, in, len, buf);
	if (status == 1)
		command(b, sense, 6, true, 18, buf);
	return status;
}

static void find_endpoints(struct bot *b, uint8_t *config, unsigned int len, uint8_t *value)
{
	bool storage = false;

	*value = config[5];
	b->in.addr = b->out.addr = 0;
	for (unsigned int at = 0; at + 2 <= len && config[at] >= 2; at += config[at]) {
		uint8_t *d = config + at;

		if (d[1] == DESC_INTERFACE && at + 9 <= len)
			storage = d[5] == 8 && d[7] == 0x50;	/* mass storage, bulk-only */
		if (d[1] == DESC_ENDPOINT && storage && at + 7 <= len && (d[3] & 3) == 2) {
			struct xhci_endpoint *ep = d[2] & 0x80 ? &b->in : &b->out;

			if (!ep->addr) {
				ep->addr = d[2];
				ep->max_packet = (d[4] | d[5] << 8) & 0x7ff;
				ep->max_burst = 0;
			}
		}
		/* A SuperSpeed endpoint companion follows its endpoint. */
		if (d[1] == DESC_SS_COMPANION && at + 3 <= len && at >= 7 && config[at - 7] == 7 &&
		    config[at - 6] == DESC_ENDPOINT) {
			struct xhci_endpoint *ep = config[at - 5] == b->in.addr ? &b->in :
						   config[at - 5] == b->out.addr ? &b->out : NULL;

			if (ep)
				ep->max_burst = d[2];
		}
	}
	if (!b->in.addr || !b->out.addr || !b->in.max_packet || !b->out.max_packet)
		fail("no bulk-only mass storage interface; config length", len);
	xhci_configure_bulk(b->x, &b->dev, &b->in, &b->out);
}

void bot_init(struct bot *b, struct xhci *x)
{
	uint8_t *buf = dma_alloc(4096, 4096);
	unsigned int cc, len;
	uint8_t value;
	int tries;

	b->x = x;
	b->cbw = dma_alloc(64, 64);
	b->csw = dma_alloc(64, 64);
	cc = xhci_control(x, &b->dev, 0x80, 6, DESC_CONFIG << 8, 0, buf, 9);
	if (cc != CC_SUCCESS && cc != CC_SHORT_PACKET)
		fail("GET_DESCRIPTOR(config) failed, completion code", cc);
	len = buf[2] | buf[3] << 8;
	if (len < 9 || len > 1024)
		fail("config descriptor length", len);
	cc = xhci_control(x, &b->dev, 0x80, 6, DESC_CONFIG << 8, 0, buf, (uint16_t)len);
	if (cc != CC_SUCCESS && cc != CC_SHORT_PACKET)
		fail("GET_DESCRIPTOR(config) failed, completion code", cc);
	find_endpoints(b, buf, len, &value);
	cc = xhci_control(x, &b->dev, 0x00, 9, value, 0, NULL, 0);
	if (cc != CC_SUCCESS)
		fail("SET_CONFIGURATION failed, completion code", cc);

	/* A disk may report a unit attention (power on, medium change) before it is ready. */
	for (tries = 0; tries < 8; tries++)
		if (bot_simple(b, SCSI_TEST_UNIT_READY, false, 0, NULL) == 0)
			break;
	if (tries == 8)
		fail("TEST UNIT READY never succeeded; tries", tries);
	if (bot_simple(b, SCSI_READ_CAPACITY, true, 8, buf))
		fail("READ CAPACITY failed", 0);
	b->blocks = ((uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3]) + 1;
	if ((buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7]) != BOT_BLOCK)
		fail("block size is not 512", buf[7]);
}
