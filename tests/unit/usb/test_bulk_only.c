/* SPDX-License-Identifier: MIT */
/*
 * The Bulk-Only Transport as a hostile or confused host meets it: invalid
 * CBWs and Reset Recovery, the thirteen host/device expectation cases and
 * their residues, transfers queued ahead the way the controller pipelines
 * TDs, cancel, port reset and destroy with transfers outstanding.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"
#include "devices/event_loop.h"
#include "devices/usb/mass_storage.h"
#include "tests/unit/usb/usb_harness.h"

#define MIB (1u << 20)

static const uint8_t tur[6] = { 0x00 };
static const uint8_t inquiry36[6] = { 0x12, 0, 0, 0, 36, 0 };

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

/* After Reset Recovery the device must take commands again. */
static void assert_works(struct harness *h)
{
	struct csw c = h_command(h, tur, 6, false, 0, NULL, 0, NULL, NULL);

	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);
}

/* An invalid CBW: both pipes stall, clearing a halt alone does not help. */
static void check_invalid_cbw(const uint8_t *cbw, size_t len)
{
	struct harness h;
	uint8_t b[64];
	struct csw csw;
	size_t n;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	memcpy(b, cbw, len);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, b, len, &n), USB_TRANSFER_OK);
	cr_assert_eq(h_read_csw(&h, &csw), USB_TRANSFER_STALL);
	/* usb-storage clears the IN halt and retries the CSW once: still stalled. */
	h_clear_halt(&h, MASS_STORAGE_EP_IN);
	cr_assert_eq(h_read_csw(&h, &csw), USB_TRANSFER_STALL);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, b, 31, &n), USB_TRANSFER_STALL);
	cr_assert_eq(h.dev->ops->clear_halt(h.dev, MASS_STORAGE_EP_OUT), 0);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, b, 31, &n), USB_TRANSFER_STALL);
	h_reset_recovery(&h);
	assert_works(&h);
	h_teardown(&h);
}

static void good_cbw(uint8_t *cbw)
{
	h_cbw(cbw, 7, 0, false, 0, tur, 6);
}

Test(bulk_only, invalid_cbw_bad_signature)
{
	uint8_t cbw[31];

	good_cbw(cbw);
	cbw[0] ^= 1;
	check_invalid_cbw(cbw, 31);
}

Test(bulk_only, invalid_cbw_wrong_length)
{
	uint8_t cbw[64] = { 0 };

	good_cbw(cbw);
	check_invalid_cbw(cbw, 30);
	check_invalid_cbw(cbw, 32);
	check_invalid_cbw(cbw, 0);
}

Test(bulk_only, invalid_cbw_lun_and_cb_length)
{
	uint8_t cbw[31];

	good_cbw(cbw);
	cbw[13] = 1;
	check_invalid_cbw(cbw, 31);
	good_cbw(cbw);
	cbw[13] = 0x10;		/* reserved bits */
	check_invalid_cbw(cbw, 31);
	good_cbw(cbw);
	cbw[14] = 0;
	check_invalid_cbw(cbw, 31);
	good_cbw(cbw);
	cbw[14] = 17;
	check_invalid_cbw(cbw, 31);
}

Test(bulk_only, cases_1_to_3_host_expects_no_data)
{
	struct harness h;
	uint8_t cdb[10], data[512];
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	uint8_t *before = malloc(MIB);
	cr_assert_eq(pread(h.image, before, MIB, 0), MIB);
	/* 1: Hn = Dn. */
	c = h_command(&h, tur, 6, false, 0, NULL, 0, NULL, NULL);
	cr_assert_eq(c.status, 0);
	/* 2: Hn < Di. */
	c = h_command(&h, inquiry36, 6, true, 0, NULL, 0, NULL, NULL);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	/* 3: Hn < Do: nothing is written. */
	rw10(cdb, 0x2a, 0, 1);
	c = h_command(&h, cdb, 10, false, 0, data, 0, NULL, NULL);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	uint8_t *after = malloc(MIB);
	cr_assert_eq(pread(h.image, after, MIB, 0), MIB);
	cr_assert_arr_eq(before, after, MIB);
	free(before);
	free(after);
	assert_works(&h);
	h_teardown(&h);
}

Test(bulk_only, cases_4_to_8_host_expects_to_receive)
{
	struct harness h;
	uint8_t b[2048], cdb[10], want[512];
	bool stalled;
	size_t moved;
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	/* 4: Hi > Dn, command passed: padding, full residue. */
	memset(b, 0xee, sizeof(b));
	c = h_command(&h, tur, 6, true, 512, b, 0, &moved, &stalled);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 512);
	cr_assert_not(stalled);
	cr_assert_eq(moved, 512);
	cr_assert_eq(b[0], 0);
	/* 5: Hi > Di. */
	memset(b, 0xee, sizeof(b));
	c = h_command(&h, inquiry36, 6, true, 64, b, 0, &moved, &stalled);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 64 - 36);
	cr_assert_eq(b[1], 0x80);
	cr_assert_eq(b[40], 0, "padding, not stale memory");
	rw10(cdb, 0x28, 3, 1);
	c = h_command(&h, cdb, 10, true, 1024, b, 256, &moved, &stalled);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 512);
	cr_assert_eq(pread(h.image, want, 512, 3 * 512), 512);
	cr_assert_arr_eq(b, want, 512);
	/* 6: Hi = Di. */
	c = h_command(&h, inquiry36, 6, true, 36, b, 0, &moved, &stalled);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);
	/* 7: Hi < Di: a stall and a phase error; the host then resets. */
	rw10(cdb, 0x28, 0, 2);
	c = h_command(&h, cdb, 10, true, 512, b, 0, &moved, &stalled);
	cr_assert(stalled);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	/* 8: Hi <> Do. */
	rw10(cdb, 0x2a, 0, 1);
	c = h_command(&h, cdb, 10, true, 512, b, 0, &moved, &stalled);
	cr_assert(stalled);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	assert_works(&h);
	h_teardown(&h);
}

Test(bulk_only, cases_9_to_13_host_expects_to_send)
{
	struct harness h;
	uint8_t data[1024], cdb[10], img[1024];
	size_t moved;
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	memset(data, 0xa5, sizeof(data));
	/* 9: Ho > Dn: taken, dropped, full residue. */
	c = h_command(&h, tur, 6, false, 512, data, 0, &moved, NULL);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 512);
	cr_assert_eq(moved, 512);
	/* 10: Ho <> Di. */
	c = h_command(&h, inquiry36, 6, false, 512, data, 0, &moved, NULL);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	/* 11: Ho > Do: only the command's block lands. */
	cr_assert_eq(pread(h.image, img, 1024, 0), 1024);
	uint8_t second[512];
	memcpy(second, img + 512, 512);
	rw10(cdb, 0x2a, 0, 1);
	c = h_command(&h, cdb, 10, false, 1024, data, 0, &moved, NULL);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 512);
	cr_assert_eq(pread(h.image, img, 1024, 0), 1024);
	cr_assert_arr_eq(img, data, 512);
	cr_assert_arr_eq(img + 512, second, 512);
	/* 12: Ho = Do. */
	rw10(cdb, 0x2a, 4, 2);
	c = h_command(&h, cdb, 10, false, 1024, data, 0, &moved, NULL);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);
	/* 13: Ho < Do: phase error, no partial write. */
	memset(data, 0x3c, sizeof(data));
	cr_assert_eq(pread(h.image, img, 1024, 10 * 512), 1024);
	rw10(cdb, 0x2a, 10, 2);
	c = h_command(&h, cdb, 10, false, 512, data, 0, &moved, NULL);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	uint8_t now[1024];
	cr_assert_eq(pread(h.image, now, 1024, 10 * 512), 1024);
	cr_assert_arr_eq(now, img, 1024);
	assert_works(&h);
	h_teardown(&h);
}

Test(bulk_only, more_out_data_than_announced_stalls)
{
	struct harness h;
	uint8_t cbw[31], data[1024] = { 0 }, cdb[10];
	struct csw c;
	size_t n;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	rw10(cdb, 0x2a, 0, 1);
	h_cbw(cbw, 99, 512, false, 0, cdb, 10);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, cbw, 31, &n), USB_TRANSFER_OK);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, data, 1024, &n), USB_TRANSFER_STALL);
	h_clear_halt(&h, MASS_STORAGE_EP_OUT);
	cr_assert_eq(h_read_csw(&h, &c), USB_TRANSFER_OK);
	cr_assert_eq(c.tag, 99);
	cr_assert_eq(c.status, 2);
	h_reset_recovery(&h);
	assert_works(&h);
	h_teardown(&h);
}

Test(bulk_only, short_csw_buffer_babbles)
{
	struct harness h;
	uint8_t cbw[31], b[8];
	size_t n;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	h_cbw(cbw, 5, 0, false, 0, tur, 6);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, cbw, 31, &n), USB_TRANSFER_OK);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_IN, b, sizeof(b), &n), USB_TRANSFER_BABBLE);
	cr_assert_eq(n, sizeof(b));
	/* The status went out; the next CBW is taken. */
	assert_works(&h);
	h_teardown(&h);
}

/*
 * Everything queued before the device runs once: CBW, a READ split into two
 * data TDs, the CSW's TD, then a second command. Each endpoint completes in
 * order and each transfer carries what it should.
 */
Test(bulk_only, pipelined_transfers_complete_in_order)
{
	struct harness h;
	uint8_t cbw1[31], cbw2[31], cdb[10], data[128 * 1024], csw1[13], csw2[13];
	uint8_t *want = malloc(sizeof(data));
	struct xfer x[6];

	h_setup(&h, MIB, false, DEVPROTO_SPEED_SUPER, true);
	rw10(cdb, 0x28, 16, 256);
	h_cbw(cbw1, 0x111, sizeof(data), true, 0, cdb, 10);
	h_cbw(cbw2, 0x222, 0, false, 0, tur, 6);
	/* IN first, as a controller may ring the IN doorbell before the OUT one. */
	cr_assert_eq(h_submit(&h, &x[1], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, data, 64 * 1024), 0);
	cr_assert_eq(h_submit(&h, &x[2], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, data + 64 * 1024,
			      64 * 1024), 0);
	cr_assert_eq(h_submit(&h, &x[3], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, csw1, 13), 0);
	cr_assert_eq(h_submit(&h, &x[5], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, csw2, 13), 0);
	cr_assert_eq(h_submit(&h, &x[0], USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, cbw1, 31), 0);
	cr_assert_eq(h_submit(&h, &x[4], USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, cbw2, 31), 0);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(x[i].done_calls, 0);
	h_run(&h);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(x[i].done_calls, 1, "transfer %d", i);
		cr_assert_eq(x[i].t.status, USB_TRANSFER_OK, "transfer %d", i);
	}
	cr_assert_eq(x[1].t.actual, 64 * 1024);
	cr_assert_eq(x[2].t.actual, 64 * 1024);
	cr_assert_eq(pread(h.image, want, sizeof(data), 16 * 512), (ssize_t)sizeof(data));
	cr_assert_arr_eq(data, want, sizeof(data));
	cr_assert_eq(get_le32(csw1 + 4), 0x111);
	cr_assert_eq(get_le32(csw1 + 8), 0);
	cr_assert_eq(csw1[12], 0);
	cr_assert_eq(get_le32(csw2 + 4), 0x222);
	cr_assert_eq(csw2[12], 0);
	free(want);
	h_teardown(&h);
}

Test(bulk_only, cancel_a_waiting_transfer)
{
	struct harness h;
	uint8_t b[13];
	struct xfer x, y;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	/* No CBW yet: an IN transfer waits (NAK) until it is cancelled. */
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	cr_assert_eq(h_submit(&h, &y, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	h_run(&h);
	cr_assert_eq(x.done_calls, 0);
	h.dev->ops->cancel(h.dev, &x.t);
	h.dev->ops->cancel(h.dev, &x.t);
	cr_assert_eq(x.done_calls, 0, "done() from inside cancel()");
	h_run(&h);
	cr_assert_eq(x.done_calls, 1);
	cr_assert_eq(x.t.status, USB_TRANSFER_CANCELLED);
	cr_assert_eq(x.t.actual, 0);
	/* The one behind it is now first, and still just waiting. */
	cr_assert_eq(y.done_calls, 0);
	h.dev->ops->cancel(h.dev, &y.t);
	h_run(&h);
	cr_assert_eq(y.done_calls, 1);
	/* Cancelling what is already done is nothing. */
	h.dev->ops->cancel(h.dev, &x.t);
	h_run(&h);
	cr_assert_eq(x.done_calls, 1);
	assert_works(&h);
	h_teardown(&h);
}

/* A cancelled transfer still completes after the ones ahead of it on its endpoint. */
Test(bulk_only, cancel_keeps_endpoint_order)
{
	struct harness h;
	uint8_t b[13];
	struct xfer x, y;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_submit(&h, &x, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	cr_assert_eq(h_submit(&h, &y, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	h.dev->ops->cancel(h.dev, &y.t);
	h_run(&h);
	cr_assert_eq(y.done_calls, 0, "y completed before x, which is ahead of it");
	/* x gets the CSW of a command; then y's cancellation is delivered. */
	uint8_t cbw[31];
	h_cbw(cbw, 3, 0, false, 0, tur, 6);
	cr_assert_eq(h_bulk(&h, MASS_STORAGE_EP_OUT, cbw, 31, NULL), USB_TRANSFER_OK);
	h_run(&h);
	cr_assert_eq(x.done_calls, 1);
	cr_assert_eq(x.t.status, USB_TRANSFER_OK);
	cr_assert_eq(x.t.actual, 13);
	cr_assert_eq(y.done_calls, 1);
	cr_assert_eq(y.t.status, USB_TRANSFER_CANCELLED);
	assert_works(&h);
	h_teardown(&h);
}

Test(bulk_only, destroy_with_transfers_pending)
{
	struct harness h;
	uint8_t a[13], b[13], c[8], cbw[31];
	struct xfer x[4];

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(h_submit(&h, &x[0], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, a, 13), 0);
	cr_assert_eq(h_submit(&h, &x[1], USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, b, 13), 0);
	h_run(&h);
	/* Queued but never run: a control transfer and a CBW. */
	h_prepare(&x[2], USB_TRANSFER_CONTROL, 0, c, 8);
	x[2].t.setup = (struct usb_setup){ 0x80, 6, 0x0100, 0, 8 };
	cr_assert_eq(h.dev->ops->submit(h.dev, &x[2].t), 0);
	h_cbw(cbw, 1, 0, false, 0, tur, 6);
	cr_assert_eq(h_submit(&h, &x[3], USB_TRANSFER_BULK, MASS_STORAGE_EP_OUT, cbw, 31), 0);
	h.dev->ops->destroy(h.dev);
	h.dev = NULL;
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(x[i].done_calls, 1, "transfer %d", i);
		cr_assert_eq(x[i].t.status, USB_TRANSFER_CANCELLED, "transfer %d", i);
	}
	/* Nothing left to run that could touch the freed device. */
	h_run(&h);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(x[i].done_calls, 1);
	h_teardown(&h);
}

static struct harness *reentrant_h;

static void destroy_from_done(struct usb_transfer *t)
{
	struct xfer *x = t->opaque;

	x->done_calls++;
	reentrant_h->dev->ops->destroy(reentrant_h->dev);
	reentrant_h->dev = NULL;
}

Test(bulk_only, destroy_from_inside_done)
{
	struct harness h;
	uint8_t b[8], csw[13];
	struct xfer ctl, in;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	reentrant_h = &h;
	cr_assert_eq(h_submit(&h, &in, USB_TRANSFER_BULK, MASS_STORAGE_EP_IN, csw, 13), 0);
	h_prepare(&ctl, USB_TRANSFER_CONTROL, 0, b, 8);
	ctl.t.setup = (struct usb_setup){ 0x80, 6, 0x0100, 0, 8 };
	ctl.t.done = destroy_from_done;
	cr_assert_eq(h.dev->ops->submit(h.dev, &ctl.t), 0);
	h_run(&h);
	cr_assert_eq(ctl.done_calls, 1);
	cr_assert_eq(ctl.t.status, USB_TRANSFER_OK);
	cr_assert_eq(in.done_calls, 1);
	cr_assert_eq(in.t.status, USB_TRANSFER_CANCELLED);
	cr_assert_null(h.dev);
	h_teardown(&h);
}

/* Resubmits itself from done(), as a controller walking its ring would. */
static int resubmits;

static void resubmit_from_done(struct usb_transfer *t)
{
	struct xfer *x = t->opaque;

	x->done_calls++;
	if (resubmits-- > 0)
		cr_assert_eq(reentrant_h->dev->ops->submit(reentrant_h->dev, t), 0);
}

Test(bulk_only, submit_from_inside_done_does_not_starve_the_loop)
{
	struct harness h;
	uint8_t b[18];
	struct xfer ctl;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	reentrant_h = &h;
	resubmits = 200000;
	h_prepare(&ctl, USB_TRANSFER_CONTROL, 0, b, sizeof(b));
	ctl.t.setup = (struct usb_setup){ 0x80, 6, 0x0100, 0, 18 };
	ctl.t.done = resubmit_from_done;
	cr_assert_eq(h.dev->ops->submit(h.dev, &ctl.t), 0);
	/* One turn of the loop does a bounded amount, then returns to the fds. */
	event_loop_run_once(h.loop, 0);
	cr_assert_gt(ctl.done_calls, 0);
	cr_assert_lt(ctl.done_calls, 200001);
	for (int i = 0; i < 1000 && resubmits >= 0; i++)
		event_loop_run_once(h.loop, 0);
	cr_assert_eq(ctl.done_calls, 200001);
	cr_assert_eq(ctl.t.actual, 18);
	h_teardown(&h);
}

/*
 * Random bytes from a hostile guest: random CBWs (mostly well-formed, with
 * random CDBs and lengths) and random transfers on both pipes. Every
 * transfer gets exactly one done(), never more bytes than it has, and the
 * image never grows.
 */
Test(bulk_only, random_traffic_is_survived)
{
	struct harness h;
	static uint8_t bufs[8][4096];
	struct xfer x[8];
	uint32_t r = 12345;
	struct stat st;

	h_setup(&h, 64 * 1024, false, DEVPROTO_SPEED_HIGH, true);
	for (int round = 0; round < 3000; round++) {
		int nx = 0;

		for (int k = 0; k < 8; k++) {
			r = r * 1103515245u + 12345u;
			uint32_t v = r >> 8;
			bool in = v & 1;
			size_t len = (v >> 1) % 4096;

			for (size_t i = 0; i < sizeof(bufs[k]); i++)
				bufs[k][i] = (uint8_t)(r >> (i % 24));
			if (!in && (v & 0x30)) {
				/* A CBW with a random CDB, random length and direction. */
				uint8_t cdb[16];
				static const uint8_t ops[] = { 0x00, 0x03, 0x12, 0x1a, 0x25, 0x28,
							       0x2a, 0x88, 0x8a, 0x9e, 0x5a, 0xa0 };
				for (int i = 0; i < 16; i++)
					cdb[i] = (uint8_t)(r >> (i + 3)) ^ (uint8_t)round;
				cdb[0] = ops[(v >> 8) % sizeof(ops)];
				h_cbw(bufs[k], (uint32_t)round, (v >> 12) % 3000, v & 0x40, 0, cdb,
				      (uint8_t)(6 + (v >> 20) % 11));
				len = (v & 0x80) ? 31 : len;
			}
			cr_assert_eq(h_submit(&h, &x[nx], USB_TRANSFER_BULK,
					      in ? MASS_STORAGE_EP_IN : MASS_STORAGE_EP_OUT,
					      bufs[k], len), 0);
			nx++;
		}
		h_run(&h);
		/* Whatever is left waiting is cancelled, as a controller would on a timeout. */
		for (int k = 0; k < nx; k++)
			h.dev->ops->cancel(h.dev, &x[k].t);
		h_run(&h);
		for (int k = 0; k < nx; k++) {
			cr_assert_eq(x[k].done_calls, 1, "round %d transfer %d", round, k);
			cr_assert_leq(x[k].t.actual, x[k].t.length);
		}
		/* Now and then the host gives up and recovers the transport. */
		if (round % 7 == 0) {
			h_reset_recovery(&h);
			assert_works(&h);
		}
	}
	cr_assert_eq(fstat(h.image, &st), 0);
	cr_assert_eq(st.st_size, 64 * 1024);
	h_teardown(&h);
}
