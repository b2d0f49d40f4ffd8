/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the broker protocol, through the receive functions
 * production calls on a real SOCK_SEQPACKET socket, descriptors included.
 *   - broker_request_recv(): what the privileged broker does with a message
 *     from any local user (system broker) or a compromised VMM;
 *   - broker_reply_recv(): what the VMM accepts from the broker.
 *
 * Input: byte 0 picks the direction and the ancillary facts, the rest is
 * the message (cut or zero-padded to its size unless bit 1 says keep the
 * length as given):
 *   bit 0      0: request to the broker, 1: reply to the VMM
 *   bit 1      the message is the input as is, whatever its length
 *   bits 2-4   descriptors sent with it (0..6)
 *   bit 5      reply: the VMM waits for a RELEASE answer, else for an OPEN
 *   bit 6      reply: the VMM waits for another id than the message's
 *
 * Invariants beyond "no crash":
 *   - every descriptor sent is closed once the receiver is done, unless it
 *     was handed over with an accepted OPEN reply (then exactly one);
 *   - an accepted request carries no descriptor and is the canonical
 *     encoding broker_request_open/_release would build from its fields;
 *   - an accepted OPEN by id goes on to usb_spec_parse, as the broker's
 *     OPEN does: a name it takes is a valid port path or VID:PID[:SERIAL]
 *     that a device with that identity matches, and one with another
 *     vendor does not;
 *   - an accepted reply answers the request the VMM sent, grants only
 *     interfaces the device has, and has terminated strings.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/broker_protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_wire.h"
#include "broker/usb_identity.h"
#include "broker/usb_resolve.h"

static size_t terminated_len(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);

	FUZZ_CHECK(nul != NULL);
	return (size_t)(nul - s);
}

/* What broker_request.c does next with an OPEN by id. */
static void check_spec(const char *name)
{
	static struct broker_device d;
	struct usb_spec spec;

	if (usb_spec_parse(name, &spec) < 0)
		return;
	memset(&d, 0, sizeof(d));
	if (spec.by_port) {
		FUZZ_CHECK(strlen(spec.port) < sizeof(d.port_path) && usb_port_path_valid(spec.port));
		strcpy(d.port_path, spec.port);
		FUZZ_CHECK(usb_spec_matches(&spec, &d));
		return;
	}
	FUZZ_CHECK(strlen(spec.serial) < sizeof(d.serial));
	d.vendor = spec.vendor;
	d.product = spec.product;
	strcpy(d.serial, spec.serial[0] ? spec.serial : "any");
	FUZZ_CHECK(usb_spec_matches(&spec, &d));
	d.vendor ^= 1;
	FUZZ_CHECK(!usb_spec_matches(&spec, &d));
}

static void fuzz_request(void)
{
	static struct broker_request r, again;
	const char *why = NULL;
	int n = broker_request_recv(fuzz_wire.rx, &r, &why);

	FUZZ_CHECK(fuzz_wire_drained(&fuzz_wire));
	FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
	if (n <= 0) {
		FUZZ_CHECK(n == 0 || why != NULL);
		return;
	}
	FUZZ_CHECK(n == 1);
	FUZZ_CHECK(strcmp(broker_type_name(r.type), "?") != 0);
	FUZZ_CHECK(terminated_len(r.path, sizeof(r.path)) == r.path_len);
	if (r.type == BROKER_OPEN) {
		FUZZ_CHECK(broker_request_open(&again, r.id, r.target, r.path) == 0);
		FUZZ_CHECK(!(r.flags & BROKER_OPEN_FOLLOW) || r.target == BROKER_TARGET_ID);
		again.flags = r.flags;
	} else if (r.type == BROKER_NAME) {
		FUZZ_CHECK(broker_vm_name_ok(r.path));
		FUZZ_CHECK(broker_request_name(&again, r.id, r.path) == 0);
	} else {
		FUZZ_CHECK(r.type == BROKER_RELEASE);
		FUZZ_CHECK(broker_request_release(&again, r.id, r.handle, r.flags) == 0);
	}
	FUZZ_CHECK(memcmp(&again, &r, sizeof(r)) == 0);
	if (r.type == BROKER_OPEN && r.target == BROKER_TARGET_ID)
		check_spec(r.path);
}

static void fuzz_reply(uint16_t type, uint32_t id)
{
	static struct broker_reply p;
	const char *why = NULL;
	int fd = -1;
	int n = broker_reply_recv(fuzz_wire.rx, type, id, &p, &fd, &why);
	bool opened;

	FUZZ_CHECK(fuzz_wire_drained(&fuzz_wire));
	if (n <= 0) {
		FUZZ_CHECK(fd == -1);
		FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
		FUZZ_CHECK(n == 0 || why != NULL);
		return;
	}
	FUZZ_CHECK(n == 1);
	FUZZ_CHECK(p.type == type && p.id == id);
	FUZZ_CHECK(strcmp(svmm_status_name(p.status), "?") != 0);
	opened = p.type == BROKER_OPEN && p.status == SVMM_OK;
	FUZZ_CHECK(opened == (fd >= 0));
	if (fd >= 0)
		close(fd);
	FUZZ_CHECK(fuzz_wire_all_closed(&fuzz_wire));
	FUZZ_CHECK((p.allowed & ~p.device.interfaces) == 0);
	FUZZ_CHECK((p.flags & ~BROKER_FLAGS_ALL) == 0);
	FUZZ_CHECK(!opened || p.handle != 0);
	FUZZ_CHECK(p.device.speed <= BROKER_SPEED_MAX);
	terminated_len(p.reason, sizeof(p.reason));
	terminated_len(p.device.serial, sizeof(p.device.serial));
	terminated_len(p.device.port_path, sizeof(p.device.port_path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[sizeof(struct broker_request) + 16];
	uint16_t type;
	uint32_t id;
	uint8_t sel;
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	len = fuzz_message(data + 1, size - 1, sel & 2,
			   sel & 1 ? sizeof(struct broker_reply) : sizeof(struct broker_request),
			   msg, sizeof(msg));
	if (!fuzz_wire_send(&fuzz_wire, msg, len, (sel >> 2) & 7))
		return 0;
	if (!(sel & 1)) {
		fuzz_request();
		return 0;
	}
	type = sel & 0x20 ? BROKER_RELEASE : BROKER_OPEN;
	memcpy(&id, msg + offsetof(struct broker_reply, id), sizeof(id));
	if (sel & 0x40)
		id++;
	fuzz_reply(type, id);
	return 0;
}
