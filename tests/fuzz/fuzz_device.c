/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the device protocol through devproto_recv(), the one
 * receive-and-decode both ends call: the device process on its request
 * socket (xhci/process.c), the VMM on the reply and event sockets
 * (vmm/device_process.c). Real SOCK_SEQPACKET socket, descriptors included.
 *
 * Input: byte 0 says how the message is sent, the rest is the message (cut
 * or zero-padded to 64 bytes unless bit 0 says keep the length as given):
 *   bit 0      the message is the input as is, whatever its length
 *   bits 1-3   descriptors sent with it (0..6)
 *
 * Invariants beyond "no crash":
 *   - every descriptor sent is closed once the receiver is done, except the
 *     one an accepted message of a type that takes one hands over;
 *   - an accepted message is the bytes sent, of a known type, and every
 *     field a consumer indexes or maps with is within the bounds it relies
 *     on (an access inside config space or the BAR, a port, a vector, a
 *     doorbell, a memory region inside the physical address space).
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "device_protocol.h"
#include "fuzz_check.h"
#include "fuzz_wire.h"

static void check_fields(const struct devproto_msg *m)
{
	switch (m->type) {
	case DEVPROTO_HELLO:
		FUZZ_CHECK(m->u.hello.version == DEVPROTO_VERSION);
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
		FUZZ_CHECK(strcmp(devproto_status_name(m->u.reply.status), "?") != 0);
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
	len = fuzz_message(data + 1, size - 1, sel & 1, DEVPROTO_MSG_SIZE, msg, sizeof(msg));
	if (!fuzz_wire_send(&fuzz_wire, msg, len, (sel >> 1) & 7))
		return 0;
	n = devproto_recv(fuzz_wire.rx, &m, &fd, &why);
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
