/* SPDX-License-Identifier: MIT */
/*
 * USB 3 bulk streams as the Linux driver uses them (xhci_alloc_streams): a
 * linear Primary Stream Context Array (LSA = 1) named by the bulk IN
 * endpoint's context, one transfer ring per stream, the stream ID in the
 * doorbell. The test device fills stream IN data with the stream ID, so the
 * guest sees which stream reached the device.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/xhci/test_device.h"
#include "tests/xhci_driver/xhci_driver.h"

#define DCI_IN 3
#define NORMAL_IOC (trb_type_bits(TRB_NORMAL) | TRB_IOC)
/* MaxPStreams 2: an array of 8 contexts, stream IDs 1..7. */
#define MAX_PSTREAMS 2u
#define NSTREAMS (2u << MAX_PSTREAMS)

static struct drv d;
static struct drv_ring sring[NSTREAMS];
static uint64_t psca;

static unsigned int bring_up(char mode, bool mass_storage)
{
	struct devproto_reply r;
	unsigned int slot, cc;

	drv_start(&d, mass_storage ? NULL : test_device_attach);
	drv_init(&d);
	if (mass_storage) {
		int img = memfd_create("disk", MFD_CLOEXEC);

		cr_assert_eq(ftruncate(img, 1 << 20), 0);
		r = drv_attach(&d, img, 0);
	} else {
		r = drv_attach(&d, test_device_image('S', mode), 0);
	}
	cr_assert_eq(r.status, SVMM_OK);
	drv_port_reset(&d, r.port, true);
	slot = drv_enable_address(&d, r.port, 4, false, &cc);
	cr_assert_eq(cc, CC_SUCCESS);
	return slot;
}

/*
 * Configure Endpoint adding bulk IN at DCI 3 whose dequeue field is array,
 * with dword 0 as given (MaxPStreams, LSA). Stream contexts 1..valid-1 get
 * rings (SCT 1, DCS 1), the rest stay zero (SCT 0: invalid).
 */
static unsigned int configure(unsigned int slot, uint32_t dw0, uint64_t array, unsigned int valid)
{
	uint64_t in = drv_alloc(&d, 33 * 32, 64);
	uint32_t *ctx = drv_ptr(&d, in), *ep = ctx + 8 * (DCI_IN + 1);

	if (array >= DRV_RAM_GPA && array + 16 * NSTREAMS <= DRV_RAM_GPA + DRV_RAM_SIZE) {
		for (unsigned int i = 1; i < valid; i++) {
			uint32_t *sc = drv_ptr(&d, array + 16ull * i);

			drv_ring_init(&d, &sring[i], 32);
			sc[0] = (uint32_t)sring[i].base | (1u << 1) | 1u;
			sc[1] = (uint32_t)(sring[i].base >> 32);
		}
	}
	ctx[INPUT_CTX_ADD] = 1;
	drv_input_slot(ctx, DCI_IN, 0, 0);
	drv_input_ep(ctx, DCI_IN, EP_TYPE_BULK_IN, 1024, array, 1024);
	ep[0] = dw0;
	return drv_command(&d, in, 0, trb_type_bits(TRB_CMD_CONFIGURE_EP) | trb_slot_bits(slot), NULL);
}

static unsigned int configure_streams(unsigned int slot)
{
	psca = drv_alloc(&d, 16 * NSTREAMS, 64);
	return configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, psca, NSTREAMS);
}

static uint32_t out_ctx(unsigned int slot, unsigned int dci, unsigned int dw)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)drv_ptr(&d, d.out_ctx[slot]) + 32 * dci + 4 * dw, 4);
	return v;
}

static uint64_t stream_ctx_dequeue(unsigned int id, uint32_t *dw0)
{
	uint32_t *sc = drv_ptr(&d, psca + 16ull * id);

	*dw0 = sc[0];
	return ((uint64_t)sc[1] << 32 | sc[0]) & ~0xfull;
}

static uint64_t push_in(unsigned int stream, uint64_t buf, uint32_t len)
{
	return drv_ring_push(&d, &sring[stream], buf, len, NORMAL_IOC);
}

static void ring_stream(unsigned int slot, unsigned int stream)
{
	drv_doorbell(&d, slot, DCI_IN | (stream << 16));
}

static void expect_event(uint64_t trb, unsigned int cc)
{
	struct xhci_trb ev;

	cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "no transfer event for %#llx",
		  (unsigned long long)trb);
	cr_assert_eq(ev.param, trb, "event for %#llx, expected %#llx", (unsigned long long)ev.param,
		     (unsigned long long)trb);
	cr_assert_eq(trb_cc(&ev), cc, "cc %u, expected %u", trb_cc(&ev), cc);
	cr_assert_eq((ev.control >> 16) & 0x1f, DCI_IN);
}

static void expect_no_event(void)
{
	struct xhci_trb ev;

	cr_assert_not(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 30), "a transfer event from nowhere");
}

static void assert_filled(uint64_t buf, uint32_t len, uint8_t stream)
{
	const uint8_t *p = drv_ptr(&d, buf);

	for (uint32_t i = 0; i < len; i++)
		cr_assert_eq(p[i], stream, "byte %u came from stream %u, not %u", i, p[i], stream);
}

/* Rings stream's doorbell: td completes, its buffer holds the stream's data. */
static void run_td(unsigned int slot, unsigned int stream, uint64_t td, uint64_t buf, uint32_t len)
{
	ring_stream(slot, stream);
	expect_event(td, CC_SUCCESS);
	assert_filled(buf, len, (uint8_t)stream);
}

Test(xhci_streams, controller_advertises_256_primary_streams)
{
	drv_start(&d, test_device_attach);
	cr_assert_eq((drv_read(&d, 0x10, 4) >> 12) & 0xf, 7, "MaxPSASize");
	cr_assert(drv_read(&d, 0x10, 4) & (1u << 7), "NSS: no secondary stream arrays");
	drv_stop(&d);
}

Test(xhci_streams, configure_endpoint_with_streams)
{
	unsigned int slot = bring_up(0, false);

	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	cr_assert_eq(out_ctx(slot, 0, 3) >> 27, 3, "slot Configured");
	cr_assert_eq(out_ctx(slot, DCI_IN, 0) & 7, 1, "Running");
	cr_assert_eq(out_ctx(slot, DCI_IN, 2) & ~0xfu, (uint32_t)psca, "dequeue field names the array");
	cr_assert_eq((out_ctx(slot, DCI_IN, 0) >> 10) & 0x1f, MAX_PSTREAMS);
	drv_stop(&d);
}

/*
 * Two streams, TDs on both: stream 1's are held at the device until stream
 * 2 moved ('R'), so stream 2 completes first; each stream in its ring order,
 * each TD with its own stream's data.
 */
Test(xhci_streams, two_streams_complete_each_in_ring_order)
{
	unsigned int slot = bring_up('R', false);
	uint64_t buf = drv_alloc(&d, 4 * 512, 64), a1, a2, b1, b2;

	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	a1 = push_in(1, buf, 512);
	b1 = push_in(2, buf + 512, 512);
	a2 = push_in(1, buf + 1024, 512);
	b2 = push_in(2, buf + 1536, 512);
	ring_stream(slot, 1);
	ring_stream(slot, 2);
	expect_event(b1, CC_SUCCESS);
	expect_event(b2, CC_SUCCESS);
	expect_event(a1, CC_SUCCESS);
	expect_event(a2, CC_SUCCESS);
	assert_filled(buf, 512, 1);
	assert_filled(buf + 512, 512, 2);
	assert_filled(buf + 1024, 512, 1);
	assert_filled(buf + 1536, 512, 2);
	drv_stop(&d);
}

Test(xhci_streams, doorbell_stream_zero_out_of_range_or_invalid_is_ignored)
{
	unsigned int slot = bring_up(0, false);
	uint64_t buf = drv_alloc(&d, 512, 64), td;

	psca = drv_alloc(&d, 16 * NSTREAMS, 64);
	/* Contexts 1..3 valid, 4..7 SCT 0. */
	cr_assert_eq(configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, psca, 4), CC_SUCCESS);
	td = push_in(1, buf, 64);
	ring_stream(slot, 0);
	ring_stream(slot, NSTREAMS);
	ring_stream(slot, 0xffff);
	ring_stream(slot, 5);
	drv_doorbell(&d, slot, DCI_IN);
	expect_no_event();
	run_td(slot, 1, td, buf, 64);
	drv_stop(&d);
}

Test(xhci_streams, set_tr_dequeue_on_a_stream)
{
	unsigned int slot = bring_up(0, false);
	uint64_t buf = drv_alloc(&d, 512, 64), td, deq;
	struct drv_ring fresh;
	uint32_t dw0;

	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	td = push_in(2, buf, 64);
	ring_stream(slot, 2);
	expect_event(td, CC_SUCCESS);
	/* Stop: each stream's position is written back to its context. */
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	deq = stream_ctx_dequeue(2, &dw0);
	cr_assert_eq(deq, td + 16, "stream 2 context not past its TD");
	cr_assert_eq((dw0 >> 1) & 7, 1, "SCT");
	/* Stream IDs Set TR Dequeue does not take, and a wrong SCT. */
	drv_ring_init(&d, &fresh, 32);
	cr_assert_eq(drv_command(&d, fresh.base | (1u << 1) | 1, 0,
				 trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL), CC_INVALID_STREAM_ID);
	cr_assert_eq(drv_command(&d, fresh.base | (1u << 1) | 1, NSTREAMS << 16,
				 trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL), CC_INVALID_STREAM_ID);
	cr_assert_eq(drv_command(&d, fresh.base | 1, 2u << 16,
				 trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL), CC_INVALID_STREAM_TYPE);
	/* Stream 2 moves to a fresh ring; its context says so. */
	cr_assert_eq(drv_command(&d, fresh.base | (1u << 1) | 1, 2u << 16,
				 trb_type_bits(TRB_CMD_SET_TR_DEQ) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL), CC_SUCCESS);
	deq = stream_ctx_dequeue(2, &dw0);
	cr_assert_eq(deq, fresh.base);
	cr_assert_eq(dw0 & 1, 1, "DCS");
	sring[2] = fresh;
	td = push_in(2, buf, 128);
	run_td(slot, 2, td, buf, 128);
	drv_stop(&d);
}

/* Stop Endpoint with TDs held on two streams: each stream stops on its own first TD. */
Test(xhci_streams, stop_endpoint_per_stream)
{
	unsigned int slot = bring_up('H', false);
	uint64_t buf = drv_alloc(&d, 512, 64), a, b;
	struct xhci_trb ev;
	uint32_t dw0;
	bool seen_a = false, seen_b = false;

	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	a = push_in(1, buf, 64);
	push_in(1, buf, 64);
	b = push_in(3, buf, 64);
	ring_stream(slot, 1);
	ring_stream(slot, 3);
	drv_ring_push(&d, &d.cmd, 0, 0, trb_type_bits(TRB_CMD_STOP_EP) | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot));
	drv_doorbell(&d, 0, 0);
	for (int i = 0; i < 2; i++) {
		cr_assert(drv_wait_event(&d, TRB_EV_TRANSFER, &ev, 5000), "no Stopped event");
		cr_assert_eq(trb_cc(&ev), CC_STOPPED_LENGTH_INVALID);
		seen_a |= ev.param == a;
		seen_b |= ev.param == b;
	}
	cr_assert(seen_a && seen_b, "a Stopped event per stream, on its first TD");
	cr_assert(drv_wait_event(&d, TRB_EV_CMD_COMPLETION, &ev, 5000));
	cr_assert_eq(trb_cc(&ev), CC_SUCCESS);
	cr_assert_eq(out_ctx(slot, DCI_IN, 0) & 7, 3, "Stopped");
	cr_assert_eq(stream_ctx_dequeue(1, &dw0), a, "stream 1 resumes at its cancelled TD");
	cr_assert_eq(stream_ctx_dequeue(3, &dw0), b, "stream 3 resumes at its cancelled TD");
	drv_stop(&d);
}

/* A failed TD halts the endpoint on its stream's TD; Reset Endpoint and a doorbell run it again. */
Test(xhci_streams, reset_endpoint_retries_the_stream_td)
{
	unsigned int slot = bring_up('E', false);
	uint64_t buf = drv_alloc(&d, 512, 64), td;
	uint32_t dw0;

	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	td = push_in(2, buf, 64);
	ring_stream(slot, 2);
	expect_event(td, 4);
	cr_assert_eq(out_ctx(slot, DCI_IN, 0) & 7, 2, "Halted");
	cr_assert_eq(stream_ctx_dequeue(2, &dw0), td, "stream 2 stays on the failed TD");
	cr_assert_eq(drv_command(&d, 0, 0, trb_type_bits(TRB_CMD_RESET_EP) | TRB_TSP | trb_ep_id_bits(DCI_IN) | trb_slot_bits(slot), NULL),
		     CC_SUCCESS);
	run_td(slot, 2, td, buf, 64);
	drv_stop(&d);
}

Test(xhci_streams, secondary_arrays_and_too_many_streams_are_refused)
{
	unsigned int slot = bring_up(0, false);

	psca = drv_alloc(&d, 16 * 512, 64);
	cr_assert_eq(configure(slot, MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT, psca, NSTREAMS), CC_PARAMETER_ERROR, "LSA=0");
	cr_assert_eq(configure(slot, (8u << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, psca, NSTREAMS), CC_PARAMETER_ERROR,
		     "MaxPStreams above MaxPSASize");
	cr_assert_eq(out_ctx(slot, DCI_IN, 0) & 7, 0, "endpoint enabled by a refused command");
	cr_assert_eq(out_ctx(slot, 0, 3) >> 27, 2, "slot left Addressed");
	cr_assert_eq(configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, psca, NSTREAMS), CC_SUCCESS);
	drv_stop(&d);
}

Test(xhci_streams, stream_array_outside_guest_memory)
{
	unsigned int slot = bring_up(0, false);
	uint64_t end = DRV_RAM_GPA + DRV_RAM_SIZE;

	cr_assert_eq(configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, 0x7fff00000000ull, 0), CC_PARAMETER_ERROR);
	/* Starts inside RAM, ends past it. */
	cr_assert_eq(configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, end - 32, 0), CC_PARAMETER_ERROR);
	cr_assert_eq(configure(slot, (MAX_PSTREAMS << EP_CTX_MAX_PSTREAMS_SHIFT) | EP_CTX_LSA, 0xfffffffffffffff0ull, 0), CC_PARAMETER_ERROR);
	drv_alive(&d);
	cr_assert_eq(configure_streams(slot), CC_SUCCESS);
	drv_stop(&d);
}

Test(xhci_streams, device_without_streams_refuses_them)
{
	unsigned int slot = bring_up(0, true);

	cr_assert_eq(configure_streams(slot), CC_RESOURCE_ERROR);
	cr_assert_eq(out_ctx(slot, DCI_IN, 0) & 7, 0, "Disabled");
	drv_stop(&d);
}
