/* SPDX-License-Identifier: MIT */
/*
 * The mass-storage device as a guest sees it through the controller: the
 * command sequence Linux sd_mod/usb-storage sends when the stick appears,
 * data read and written through the image, and the SCSI errors (sense) a
 * guest gets for what it should not do.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"
#include "devices/usb/mass_storage.h"
#include "tests/unit/usb/usb_harness.h"

#define MIB (1u << 20)

static struct csw scsi_in(struct harness *h, const uint8_t *cdb, uint8_t len, uint32_t host_len,
			  void *buf)
{
	return h_command(h, cdb, len, true, host_len, buf, 0, NULL, NULL);
}

static struct csw scsi_none(struct harness *h, const uint8_t *cdb, uint8_t len)
{
	return h_command(h, cdb, len, false, 0, NULL, 0, NULL, NULL);
}

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

static void rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, blocks);
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint8_t *image_bytes(struct harness *h, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len);

	cr_assert_not_null(b);
	cr_assert_eq(pread(h->image, b, len, (off_t)off), (ssize_t)len);
	return b;
}

Test(mass_storage, linux_sd_probe_sequence)
{
	struct harness h;
	uint8_t b[256], sector[512];
	size_t n;
	struct csw c;
	uint64_t blocks = 8 * MIB / 512;

	h_setup(&h, 8 * MIB, false, DEVPROTO_SPEED_HIGH, true);
	/* usb-storage: Get Max LUN. */
	cr_assert_eq(h_control(&h, 0xa1, 0xfe, 0, 0, 1, b, &n), USB_TRANSFER_OK);
	cr_assert_eq(b[0], 0);

	/* scsi_scan: INQUIRY, 36 bytes. */
	uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
	c = scsi_in(&h, inquiry, 6, 36, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);
	cr_assert_eq(b[0], 0x00, "direct-access block device");
	cr_assert_eq(b[1], 0x80, "removable");
	cr_assert_eq(b[4], 31);
	cr_assert_eq(memcmp(b + 8, "svmm    ", 8), 0);

	/* sd_spinup_disk: TEST UNIT READY. */
	uint8_t tur[6] = { 0 };
	c = scsi_none(&h, tur, 6);
	cr_assert_eq(c.status, 0);

	/* sd_read_capacity: (10), then (16). */
	uint8_t rc10[10] = { 0x25 };
	c = scsi_in(&h, rc10, 10, 8, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be32(b), blocks - 1);
	cr_assert_eq(get_be32(b + 4), 512);
	uint8_t rc16[16] = { 0x9e, 0x10 };
	put_be32(rc16 + 10, 32);
	c = scsi_in(&h, rc16, 16, 32, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be64(b), blocks - 1);
	cr_assert_eq(get_be32(b + 8), 512);

	/* sd_read_write_protect_flag: MODE SENSE(6) all pages, 192 bytes (then 4). */
	uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 192, 0 };
	c = scsi_in(&h, ms6, 6, 192, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(b[0] + 1u, 4 + 8 + 20 + 12, "header, block descriptor, pages 08h and 0Ah");
	cr_assert_eq(c.residue, 192 - (b[0] + 1u));
	cr_assert_eq(b[2] & 0x80, 0, "not write protected");
	cr_assert_eq(b[3], 8);
	cr_assert_eq(get_be32(b + 4), blocks);
	cr_assert_eq(b[12], 0x08);
	ms6[4] = 4;
	c = scsi_in(&h, ms6, 6, 4, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);

	/* sd_read_cache_type: caching page, write cache on (so it will sync). */
	uint8_t ms_cache[6] = { 0x1a, 0x08, 0x08, 0, 32, 0 };
	c = scsi_in(&h, ms_cache, 6, 32, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(b[3], 0, "DBD: no block descriptor");
	cr_assert_eq(b[4] & 0x3f, 0x08);
	cr_assert_eq(b[4 + 2] & 0x04, 0x04, "WCE");

	/* VPD: supported pages, serial, block limits, characteristics. */
	uint8_t vpd[6] = { 0x12, 0x01, 0x00, 0, 255, 0 };
	c = scsi_in(&h, vpd, 6, 255, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(b[1], 0x00);
	cr_assert_eq(get_be16(b + 2), 5);
	cr_assert_eq(memcmp(b + 4, "\x00\x80\x83\xb0\xb1", 5), 0);
	vpd[2] = 0x80;
	c = scsi_in(&h, vpd, 6, 255, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be16(b + 2), 16);
	vpd[2] = 0xb0;
	c = scsi_in(&h, vpd, 6, 255, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be16(b + 2), 0x3c);
	cr_assert_eq(get_be32(b + 8), 16384, "maximum transfer length");
	vpd[2] = 0xb1;
	c = scsi_in(&h, vpd, 6, 255, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be16(b + 4), 1, "non-rotating");
	vpd[2] = 0x42;
	c = scsi_in(&h, vpd, 6, 255, b);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(h_sense(&h), 0x052400);

	/* Nothing pending now. */
	cr_assert_eq(h_sense(&h), 0);

	/* Partition table scan: READ(10) of LBA 0. */
	uint8_t rd[10];
	rw10(rd, 0x28, 0, 1);
	c = scsi_in(&h, rd, 10, 512, sector);
	cr_assert_eq(c.status, 0);
	uint8_t *want = image_bytes(&h, 0, 512);
	cr_assert_arr_eq(sector, want, 512);
	free(want);

	/* Removable medium: the door is locked while mounted. */
	uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1, 0 };
	cr_assert_eq(scsi_none(&h, prevent, 6).status, 0);
	uint8_t eject[6] = { 0x1b, 0, 0, 0, 0x02, 0 };
	cr_assert_eq(scsi_none(&h, eject, 6).status, 1);
	cr_assert_eq(h_sense(&h), 0x055302, "medium removal prevented");
	prevent[4] = 0;
	cr_assert_eq(scsi_none(&h, prevent, 6).status, 0);

	uint8_t luns[12] = { 0xa0 };
	put_be32(luns + 6, 64);
	c = scsi_in(&h, luns, 12, 64, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 48);
	cr_assert_eq(get_be32(b), 8, "one LUN");

	/* Windows asks READ FORMAT CAPACITIES. */
	uint8_t rfc[10] = { 0x23 };
	put_be16(rfc + 7, 252);
	c = scsi_in(&h, rfc, 10, 252, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 252 - 12);
	cr_assert_eq(get_be32(b + 4), blocks);
	cr_assert_eq(b[8] & 3, 2, "formatted media");

	uint8_t ms10[10] = { 0x5a, 0, 0x3f };
	put_be16(ms10 + 7, 128);
	c = scsi_in(&h, ms10, 10, 128, b);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(get_be16(b) + 2u, 8 + 8 + 20 + 12);

	uint8_t sync[10] = { 0x35 };
	cr_assert_eq(scsi_none(&h, sync, 10).status, 0);
	uint8_t start[6] = { 0x1b, 0, 0, 0, 0x01, 0 };
	cr_assert_eq(scsi_none(&h, start, 6).status, 0);
	uint8_t verify[10];
	rw10(verify, 0x2f, 0, 64);
	cr_assert_eq(scsi_none(&h, verify, 10).status, 0);
	h_teardown(&h);
}

Test(mass_storage, eject_makes_the_medium_not_present_until_loaded)
{
	struct harness h;
	uint8_t b[512];

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	uint8_t eject[6] = { 0x1b, 0, 0, 0, 0x02, 0 }, tur[6] = { 0 }, rd[10];
	cr_assert_eq(scsi_none(&h, eject, 6).status, 0);
	cr_assert_eq(scsi_none(&h, tur, 6).status, 1);
	cr_assert_eq(h_sense(&h), 0x023a00);
	rw10(rd, 0x28, 0, 1);
	cr_assert_eq(scsi_in(&h, rd, 10, 512, b).status, 1);
	eject[4] = 0x03;	/* LOEJ + START: load */
	cr_assert_eq(scsi_none(&h, eject, 6).status, 0);
	cr_assert_eq(scsi_none(&h, tur, 6).status, 0);
	h_teardown(&h);
}

/* Writes 3 MiB with WRITE(10) commands of 128 KiB split in 64 KiB transfers, reads it back three ways. */
static void write_then_read(enum devproto_usb_speed speed)
{
	const uint32_t lba0 = 1000, total = 3 * MIB, per_cmd = 128 * 1024;
	struct harness h;
	uint8_t *data = malloc(total), *back = calloc(1, total), *img, cdb[16];
	size_t moved;
	struct csw c;

	cr_assert(data && back);
	h_setup(&h, 8 * MIB, false, speed, true);
	for (uint32_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	for (uint32_t off = 0; off < total; off += per_cmd) {
		rw10(cdb, 0x2a, lba0 + off / 512, per_cmd / 512);
		c = h_command(&h, cdb, 10, false, per_cmd, data + off, 64 * 1024, &moved, NULL);
		cr_assert_eq(c.status, 0);
		cr_assert_eq(c.residue, 0);
		cr_assert_eq(moved, per_cmd);
	}
	/* What the image file holds now, checked behind the device's back. */
	img = image_bytes(&h, (uint64_t)lba0 * 512, total);
	cr_assert_eq(fnv(img, total), fnv(data, total));
	free(img);

	/* READ(10) in 64 KiB transfers. */
	for (uint32_t off = 0; off < total; off += per_cmd) {
		rw10(cdb, 0x28, lba0 + off / 512, per_cmd / 512);
		c = h_command(&h, cdb, 10, true, per_cmd, back + off, 64 * 1024, &moved, NULL);
		cr_assert_eq(c.status, 0);
		cr_assert_eq(moved, per_cmd);
	}
	cr_assert_eq(fnv(back, total), fnv(data, total));

	/* READ(16), 1 MiB commands, transfers that split blocks (3000 bytes). */
	memset(back, 0, total);
	for (uint32_t off = 0; off < total; off += MIB) {
		rw16(cdb, 0x88, lba0 + off / 512, MIB / 512);
		c = h_command(&h, cdb, 16, true, MIB, back + off, 3000, &moved, NULL);
		cr_assert_eq(c.status, 0);
	}
	cr_assert_eq(fnv(back, total), fnv(data, total));

	/* READ(12) of the whole 3 MiB in one transfer. */
	memset(back, 0, total);
	uint8_t rd12[12] = { 0xa8 };
	put_be32(rd12 + 2, lba0);
	put_be32(rd12 + 6, total / 512);
	c = h_command(&h, rd12, 12, true, total, back, 0, &moved, NULL);
	cr_assert_eq(c.status, 0);
	cr_assert_arr_eq(back, data, total);

	/* WRITE(16) with FUA and WRITE(6) at the end of the image. */
	rw16(cdb, 0x8a, 8 * MIB / 512 - 2, 2);
	cdb[1] = 0x08;
	cr_assert_eq(h_command(&h, cdb, 16, false, 1024, data, 0, NULL, NULL).status, 0);
	uint8_t w6[6] = { 0x0a, 0, 0, 7, 1, 0 };
	cr_assert_eq(h_command(&h, w6, 6, false, 512, data + 4096, 0, NULL, NULL).status, 0);
	img = image_bytes(&h, 8 * MIB - 1024, 1024);
	cr_assert_arr_eq(img, data, 1024);
	free(img);
	img = image_bytes(&h, 7 * 512, 512);
	cr_assert_arr_eq(img, data + 4096, 512);
	free(img);

	struct stat st;
	cr_assert_eq(fstat(h.image, &st), 0);
	cr_assert_eq(st.st_size, 8 * MIB, "the image did not grow");
	free(data);
	free(back);
	h_teardown(&h);
}

Test(mass_storage, write_and_read_back_high_speed)
{
	write_then_read(DEVPROTO_SPEED_HIGH);
}

Test(mass_storage, write_and_read_back_super_speed)
{
	write_then_read(DEVPROTO_SPEED_SUPER);
}

Test(mass_storage, read_only_image_refuses_writes)
{
	struct harness h;
	uint8_t data[1024], b[64], cdb[16];
	size_t moved;
	struct csw c;

	memset(data, 0x5a, sizeof(data));
	h_setup(&h, MIB, true, DEVPROTO_SPEED_HIGH, true);
	uint8_t *before = image_bytes(&h, 0, MIB);

	uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 64, 0 };
	cr_assert_eq(scsi_in(&h, ms6, 6, 64, b).status, 0);
	cr_assert_eq(b[2] & 0x80, 0x80, "WP");

	/* The data the host sends anyway is taken and dropped; the CSW fails it. */
	rw10(cdb, 0x2a, 0, 2);
	c = h_command(&h, cdb, 10, false, 1024, data, 512, &moved, NULL);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(c.residue, 1024);
	cr_assert_eq(moved, 1024);
	cr_assert_eq(h_sense(&h), 0x072700, "DATA PROTECT, WRITE PROTECTED");
	rw16(cdb, 0x8a, 4, 1);
	cr_assert_eq(h_command(&h, cdb, 16, false, 512, data, 0, NULL, NULL).status, 1);
	cr_assert_eq(h_sense(&h), 0x072700);

	/* Reads still work, and the sync is harmless. */
	rw10(cdb, 0x28, 0, 2);
	cr_assert_eq(scsi_in(&h, cdb, 10, 1024, data).status, 0);
	cr_assert_arr_eq(data, before, 1024);
	uint8_t sync[10] = { 0x35 };
	cr_assert_eq(scsi_none(&h, sync, 10).status, 0);

	uint8_t *after = image_bytes(&h, 0, MIB);
	cr_assert_arr_eq(before, after, MIB);
	free(before);
	free(after);
	h_teardown(&h);
}

Test(mass_storage, out_of_range_lba_is_check_condition_not_io)
{
	struct harness h;
	uint64_t blocks = MIB / 512;
	uint8_t cdb[16], buf[2048];
	bool stalled;
	size_t moved;
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	uint8_t *before = image_bytes(&h, 0, MIB);

	/* One block past the end: the IN pipe stalls, the CSW fails, nothing is read. */
	rw10(cdb, 0x28, (uint32_t)blocks - 1, 2);
	c = h_command(&h, cdb, 10, true, 1024, buf, 0, &moved, &stalled);
	cr_assert(stalled);
	cr_assert_eq(moved, 0);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(c.residue, 1024);
	cr_assert_eq(h_sense(&h), 0x052100, "LBA OUT OF RANGE");

	/* LBA + length wrapping around 2^64. */
	rw16(cdb, 0x88, UINT64_MAX, 2);
	c = h_command(&h, cdb, 16, true, 1024, buf, 0, NULL, &stalled);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(h_sense(&h), 0x052100);
	rw16(cdb, 0x8a, UINT64_MAX - 1, 4);
	c = h_command(&h, cdb, 16, false, 2048, buf, 0, NULL, NULL);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(h_sense(&h), 0x052100);
	uint8_t rd12[12] = { 0xa8 };
	put_be32(rd12 + 2, 0xffffffff);
	put_be32(rd12 + 6, 0xffffffff);
	cr_assert_eq(scsi_in(&h, rd12, 12, 512, buf).status, 1);
	cr_assert_eq(h_sense(&h), 0x052100);

	/* Zero blocks at the very end is fine (SBC); one past it is not. */
	rw10(cdb, 0x28, (uint32_t)blocks, 0);
	cr_assert_eq(scsi_none(&h, cdb, 10).status, 0);
	rw10(cdb, 0x28, (uint32_t)blocks + 1, 0);
	cr_assert_eq(scsi_none(&h, cdb, 10).status, 1);

	/* More than the advertised maximum transfer length, inside the image. */
	h_teardown(&h);
	h_setup(&h, 16 * MIB, false, DEVPROTO_SPEED_HIGH, true);
	rw10(cdb, 0x28, 0, 16385);
	cr_assert_eq(scsi_none(&h, cdb, 10).status, 1);
	cr_assert_eq(h_sense(&h), 0x052400);

	/* Synchronize cache and verify check their range too. */
	uint8_t sync16[16] = { 0x91 };
	put_be64(sync16 + 2, 16 * MIB / 512 + 1);
	cr_assert_eq(scsi_none(&h, sync16, 16).status, 1);
	cr_assert_eq(h_sense(&h), 0x052100);
	free(before);
	h_teardown(&h);
}

Test(mass_storage, unknown_opcode_and_invalid_fields)
{
	struct harness h;
	uint8_t b[64];
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	uint8_t bad[6] = { 0xc7 };
	c = scsi_none(&h, bad, 6);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(h_sense(&h), 0x052000, "INVALID COMMAND OPERATION CODE");
	/* The sense went with the REQUEST SENSE that read it. */
	cr_assert_eq(h_sense(&h), 0);

	/* ATA PASS-THROUGH(12), as hdparm/smartctl try: not a SAT device. */
	uint8_t ata[12] = { 0xa1 };
	c = scsi_in(&h, ata, 12, 64, b);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(c.residue, 64);
	cr_assert_eq(h_sense(&h), 0x052000);

	/* MODE SENSE saved values, unknown page, INQUIRY page without EVPD. */
	uint8_t ms6[6] = { 0x1a, 0, 0xc0 | 0x08, 0, 64, 0 };
	cr_assert_eq(scsi_in(&h, ms6, 6, 64, b).status, 1);
	cr_assert_eq(h_sense(&h), 0x053900);
	ms6[2] = 0x19;
	cr_assert_eq(scsi_in(&h, ms6, 6, 64, b).status, 1);
	cr_assert_eq(h_sense(&h), 0x052400);
	uint8_t inq[6] = { 0x12, 0, 0x80, 0, 64, 0 };
	cr_assert_eq(scsi_in(&h, inq, 6, 64, b).status, 1);
	cr_assert_eq(h_sense(&h), 0x052400);

	/* A READ(10) CDB announced as 6 bytes long. */
	uint8_t rd[10];
	rw10(rd, 0x28, 0, 1);
	cr_assert_eq(h_command(&h, rd, 6, true, 512, b, 0, NULL, NULL).status, 1);
	cr_assert_eq(h_sense(&h), 0x052400);

	/* A failing command after a failure replaces the sense, TUR clears it. */
	cr_assert_eq(scsi_none(&h, bad, 6).status, 1);
	uint8_t tur[6] = { 0 };
	cr_assert_eq(scsi_none(&h, tur, 6).status, 0);
	cr_assert_eq(h_sense(&h), 0);
	h_teardown(&h);
}

/* The image shrinks under the device (the host truncated it): a read error, not garbage. */
Test(mass_storage, read_error_is_medium_error)
{
	struct harness h;
	uint8_t cdb[10], buf[4096];
	bool stalled;
	size_t moved;
	struct csw c;

	h_setup(&h, MIB, false, DEVPROTO_SPEED_HIGH, true);
	cr_assert_eq(ftruncate(h.image, MIB / 2), 0);
	/* Straddling the new end: the first block reads, then the data phase stalls. */
	rw10(cdb, 0x28, MIB / 2 / 512 - 1, 8);
	c = h_command(&h, cdb, 10, true, sizeof(buf), buf, 0, &moved, &stalled);
	cr_assert(stalled);
	cr_assert_eq(moved, 512);
	cr_assert_eq(c.status, 1);
	cr_assert_eq(c.residue, sizeof(buf) - 512);
	cr_assert_eq(h_sense(&h), 0x031100, "MEDIUM ERROR, UNRECOVERED READ ERROR");
	/* Before the end all is well. */
	rw10(cdb, 0x28, 0, 8);
	c = h_command(&h, cdb, 10, true, sizeof(buf), buf, 0, &moved, &stalled);
	cr_assert_eq(c.status, 0);
	cr_assert_eq(c.residue, 0);
	h_teardown(&h);
}
