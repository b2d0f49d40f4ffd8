/* SPDX-License-Identifier: MIT */
/*
 * Reading the guest's contexts: Input Contexts of Address Device, Configure
 * Endpoint and Evaluate Context, and the DCBAA entry that names a slot's
 * output Device Context. Contexts are 32 bytes (HCCPARAMS1.CSZ = 0). They
 * are copied out of guest memory once and checked on the copy; the
 * controller keeps its own state and never reads an output context back.
 */
#include <errno.h>
#include <string.h>

#include "devices/xhci/xhci.h"

#define CTX_SIZE 32u
#define DEVICE_CTX_SIZE (CTX_SIZE * XHCI_NUM_EPS)
#define MAX_PACKET_LIMIT 1024u

int xhci_ctx_read_input(struct xhci *x, uint64_t addr, uint32_t max_dci_mask,
			struct xhci_input_ctx *in)
{
	uint32_t ctrl[XHCI_CTX_DWORDS];

	memset(in, 0, sizeof(*in));
	if (addr & 0xf)
		return -EINVAL;
	if (guest_memory_read(&x->mem, addr, ctrl, sizeof(ctrl)) < 0 ||
	    guest_memory_read(&x->mem, addr + CTX_SIZE, in->slot, sizeof(in->slot)) < 0)
		return -EFAULT;
	in->drop = ctrl[0];
	in->add = ctrl[1];
	for (unsigned int dci = 1; dci < XHCI_NUM_EPS; dci++) {
		if (!(in->add & max_dci_mask & (1u << dci)))
			continue;
		if (guest_memory_read(&x->mem, addr + CTX_SIZE * (dci + 1), in->ep[dci],
				      sizeof(in->ep[dci])) < 0)
			return -EFAULT;
	}
	return 0;
}

/* Checks an endpoint context the guest wants to add at dci. */
enum xhci_cc xhci_ctx_check_ep(const uint32_t *ctx, unsigned int dci)
{
	unsigned int type = (ctx[1] >> 3) & 7;
	unsigned int mps = ctx[1] >> 16;
	unsigned int max_pstreams = (ctx[0] >> 10) & 0x1f;
	uint64_t deq = ((uint64_t)ctx[3] << 32 | ctx[2]) & ~0xfull;
	bool in = dci & 1;

	if (dci == 0 || dci >= XHCI_NUM_EPS)
		return CC_TRB_ERROR;
	if (dci == 1 && type != EP_TYPE_CONTROL)
		return CC_PARAMETER_ERROR;
	if (dci > 1 && type != EP_TYPE_CONTROL) {
		/* Odd DCIs are IN endpoints, even ones OUT; the type must agree. */
		if (type == EP_TYPE_INVALID || in != (type >= EP_TYPE_ISOCH_IN))
			return CC_PARAMETER_ERROR;
	}
	if (mps == 0 || mps > MAX_PACKET_LIMIT)
		return CC_PARAMETER_ERROR;
	/* Streams only where stream.c says (bulk, linear array); EP0 never. */
	if (max_pstreams && dci == 1)
		return CC_PARAMETER_ERROR;
	if (deq == 0)
		return CC_PARAMETER_ERROR;
	return CC_SUCCESS;
}

/* The output Device Context of slot, from the DCBAA; -EFAULT unless it is all in guest memory. */
int xhci_ctx_read_dcbaa(struct xhci *x, unsigned int slot, uint64_t *out)
{
	uint64_t v;

	if (guest_memory_read(&x->mem, x->dcbaap + 8ull * slot, &v, sizeof(v)) < 0)
		return -EFAULT;
	v &= ~0x3full;
	if (v == 0 || !guest_memory_valid(&x->mem, v, DEVICE_CTX_SIZE))
		return -EFAULT;
	*out = v;
	return 0;
}

unsigned int xhci_slot_ctx_port(const uint32_t *slot_ctx)
{
	return (slot_ctx[1] >> 16) & 0xff;
}
