/* SPDX-License-Identifier: MIT */
#include "devices/usb/scsi_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/usb/byteorder.h"

enum scsi_opcode {
	TEST_UNIT_READY = 0x00,
	REQUEST_SENSE = 0x03,
	READ_6 = 0x08,
	WRITE_6 = 0x0a,
	INQUIRY = 0x12,
	MODE_SENSE_6 = 0x1a,
	START_STOP_UNIT = 0x1b,
	PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e,
	READ_FORMAT_CAPACITIES = 0x23,
	READ_CAPACITY_10 = 0x25,
	READ_10 = 0x28,
	WRITE_10 = 0x2a,
	VERIFY_10 = 0x2f,
	SYNCHRONIZE_CACHE_10 = 0x35,
	MODE_SENSE_10 = 0x5a,
	READ_16 = 0x88,
	WRITE_16 = 0x8a,
	VERIFY_16 = 0x8f,
	SYNCHRONIZE_CACHE_16 = 0x91,
	SERVICE_ACTION_IN_16 = 0x9e,
	REPORT_LUNS = 0xa0,
	READ_12 = 0xa8,
	WRITE_12 = 0xaa,
};

#define SAI_READ_CAPACITY_16 0x10

/* INQUIRY identity: fixed-width, space-padded ASCII fields. */
static const char inquiry_vendor[8] = "svmm    ";
static const char inquiry_product[16] = "USB image disk  ";
static const char inquiry_revision[4] = "0001";

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1 };

int scsi_disk_init(struct scsi_disk *d, int fd, bool read_only, const char *serial)
{
	struct stat st;
	off_t size;
	int flags;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		size = st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		/* st_size is 0 for block devices; the end is where the device ends. */
		size = lseek(fd, 0, SEEK_END);
		if (size < 0)
			return -errno;
	} else {
		return -EINVAL;
	}
	if (size <= 0 || size % SCSI_BLOCK_SIZE)
		return -EINVAL;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	/* A writable disk on an fd that cannot write would fail every WRITE. */
	if (!read_only && (flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;

	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->blocks = (uint64_t)size / SCSI_BLOCK_SIZE;
	d->read_only = read_only;
	if (serial) {
		strncpy(d->serial, serial, sizeof(d->serial) - 1);
		d->serial[sizeof(d->serial) - 1] = '\0';
	}
	return 0;
}

void scsi_disk_close(struct scsi_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

void scsi_disk_reset(struct scsi_disk *d)
{
	d->sense = (struct scsi_sense){ 0 };
	d->prevent_removal = false;
	d->ejected = false;
}

static void fail(struct scsi_disk *d, struct scsi_request *r, uint8_t key, uint16_t asc)
{
	d->sense.key = key;
	d->sense.asc = asc;
	r->status = SCSI_STATUS_CHECK_CONDITION;
	r->dir = SCSI_DATA_NONE;
	r->length = 0;
	r->media = false;
}

static void invalid_field(struct scsi_disk *d, struct scsi_request *r)
{
	fail(d, r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

/* A response of size bytes built in r->response, cut to the allocation length. */
static void respond(struct scsi_request *r, size_t size, uint32_t alloc)
{
	r->dir = SCSI_DATA_IN;
	r->length = (uint32_t)(size < alloc ? size : alloc);
	if (r->length == 0)
		r->dir = SCSI_DATA_NONE;
}

static bool medium_ready(struct scsi_disk *d, struct scsi_request *r)
{
	if (!d->ejected)
		return true;
	fail(d, r, SCSI_SENSE_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT);
	return false;
}

static void request_sense(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	struct scsi_sense s = d->sense;
	uint8_t *p = r->response;

	/* Descriptor-format sense is optional; fixed format is all we produce. */
	if (cdb[1] & 0x01) {
		invalid_field(d, r);
		return;
	}
	if (s.key == SCSI_SENSE_NO_SENSE && d->ejected)
		s = (struct scsi_sense){ SCSI_SENSE_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT };
	memset(p, 0, 18);
	p[0] = 0x70;		/* current error, fixed format */
	p[2] = s.key;
	p[7] = 10;		/* additional sense length */
	p[12] = (uint8_t)(s.asc >> 8);
	p[13] = (uint8_t)s.asc;
	d->sense = (struct scsi_sense){ 0 };
	respond(r, 18, cdb[4]);
}

static size_t vpd_page(struct scsi_disk *d, uint8_t page, uint8_t *p)
{
	size_t n;

	memset(p, 0, SCSI_RESPONSE_MAX);
	p[1] = page;
	switch (page) {
	case 0x00:		/* supported pages */
		memcpy(p + 4, vpd_pages, sizeof(vpd_pages));
		n = sizeof(vpd_pages);
		break;
	case 0x80:		/* unit serial number */
		n = strlen(d->serial);
		memcpy(p + 4, d->serial, n);
		break;
	case 0x83:		/* device identification: one T10 vendor ID designator */
		n = strlen(d->serial);
		p[4] = 0x02;	/* code set: ASCII */
		p[5] = 0x01;	/* associated with the LU, type: T10 vendor ID */
		p[7] = (uint8_t)(sizeof(inquiry_vendor) + n);
		memcpy(p + 8, inquiry_vendor, sizeof(inquiry_vendor));
		memcpy(p + 8 + sizeof(inquiry_vendor), d->serial, n);
		n += 4 + sizeof(inquiry_vendor);
		break;
	case 0xb0:		/* block limits */
		n = 0x3c;
		put_be16(p + 6, 1);	/* optimal transfer length granularity */
		put_be32(p + 8, SCSI_MAX_TRANSFER_BLOCKS);
		put_be32(p + 12, SCSI_MAX_TRANSFER_BLOCKS);
		break;
	case 0xb1:		/* block device characteristics */
		n = 0x3c;
		put_be16(p + 4, 1);	/* medium rotation rate: non-rotating */
		break;
	default:
		return 0;
	}
	put_be16(p + 2, (uint16_t)n);
	return n + 4;
}

static void inquiry(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	uint32_t alloc = get_be16(cdb + 3);
	uint8_t *p = r->response;
	size_t n;

	if (cdb[1] & 0x01) {
		n = vpd_page(d, cdb[2], p);
		if (!n)
			invalid_field(d, r);
		else
			respond(r, n, alloc);
		return;
	}
	/* CMDDT is obsolete; a page code without EVPD is invalid (SPC-3). */
	if ((cdb[1] & 0x02) || cdb[2]) {
		invalid_field(d, r);
		return;
	}
	memset(p, 0, 36);
	p[0] = 0x00;		/* connected direct-access block device */
	p[1] = 0x80;		/* removable, like a USB stick: sd_mod then locks the door */
	p[2] = 0x05;		/* SPC-3 */
	p[3] = 0x02;		/* response data format 2 */
	p[4] = 36 - 5;		/* additional length */
	memcpy(p + 8, inquiry_vendor, sizeof(inquiry_vendor));
	memcpy(p + 16, inquiry_product, sizeof(inquiry_product));
	memcpy(p + 32, inquiry_revision, sizeof(inquiry_revision));
	respond(r, 36, alloc);
}

/* Appends a mode page at p for page control pc; returns its size, 0 if unknown. */
static size_t mode_page(uint8_t page, uint8_t pc, uint8_t *p)
{
	switch (page) {
	case 0x08:		/* caching */
		memset(p, 0, 20);
		p[0] = 0x08;
		p[1] = 18;
		/*
		 * Writes land in the host page cache: write cache enabled, so
		 * the guest sends SYNCHRONIZE CACHE, which we turn into
		 * fdatasync. Nothing is changeable (pc 1: an all-zero mask).
		 */
		if (pc != 1)
			p[2] = 0x04;	/* WCE */
		return 20;
	case 0x0a:		/* control: every field at its default, zero */
		memset(p, 0, 12);
		p[0] = 0x0a;
		p[1] = 10;
		return 12;
	default:
		return 0;
	}
}

static void mode_sense(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	bool ten = cdb[0] == MODE_SENSE_10;
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
	bool dbd = cdb[1] & 0x08;
	size_t hdr = ten ? 8 : 4, n, pg;
	uint32_t alloc = ten ? get_be16(cdb + 7) : cdb[4];
	uint8_t *p = r->response;

	if (pc == 3) {
		fail(d, r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_UNSUPPORTED);
		return;
	}
	if (subpage && !(page == 0x3f && subpage == 0xff)) {
		invalid_field(d, r);
		return;
	}
	memset(p, 0, SCSI_RESPONSE_MAX);
	n = hdr;
	if (!dbd) {
		/* SBC short LBA block descriptor: a count that does not fit reads FFFFFFFFh. */
		put_be32(p + n, d->blocks > 0xffffffff ? 0xffffffff : (uint32_t)d->blocks);
		put_be32(p + n + 4, SCSI_BLOCK_SIZE);	/* byte 4 reserved, 5..7 length */
		n += 8;
	}
	if (page == 0x3f) {
		n += mode_page(0x08, pc, p + n);
		n += mode_page(0x0a, pc, p + n);
	} else {
		pg = mode_page(page, pc, p + n);
		if (!pg) {
			invalid_field(d, r);
			return;
		}
		n += pg;
	}
	if (ten) {
		put_be16(p, (uint16_t)(n - 2));
		p[3] = d->read_only ? 0x80 : 0;	/* WP */
		put_be16(p + 6, dbd ? 0 : 8);
	} else {
		p[0] = (uint8_t)(n - 1);
		p[2] = d->read_only ? 0x80 : 0;
		p[3] = dbd ? 0 : 8;
	}
	respond(r, n, alloc);
}

static void start_stop_unit(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	bool loej = cdb[4] & 0x02, start = cdb[4] & 0x01;

	/* A power condition (cdb[4] >> 4) changes nothing for an image. */
	if (!loej)
		return;
	if (start) {
		d->ejected = false;
	} else if (d->prevent_removal) {
		fail(d, r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
	} else {
		d->ejected = true;
	}
}

static void prevent_allow(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	/* 2 and 3 are the obsolete medium-changer values. */
	if (cdb[4] & 0x02) {
		invalid_field(d, r);
		return;
	}
	d->prevent_removal = cdb[4] & 0x01;
}

static void read_format_capacities(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	uint8_t *p = r->response;

	memset(p, 0, 12);
	p[3] = 8;		/* capacity list length: one descriptor */
	put_be32(p + 4, d->blocks > 0xffffffff ? 0xffffffff : (uint32_t)d->blocks);
	p[8] = d->ejected ? 0x03 : 0x02;	/* no media / formatted media */
	put_be24(p + 9, SCSI_BLOCK_SIZE);
	respond(r, 12, get_be16(cdb + 7));
}

static void read_capacity_10(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	uint64_t last = d->blocks - 1;
	uint8_t *p = r->response;

	(void)cdb;	/* PMI is obsolete: always the last LBA */
	if (!medium_ready(d, r))
		return;
	/* FFFFFFFFh tells the host to ask READ CAPACITY(16). */
	put_be32(p, last > 0xffffffff ? 0xffffffff : (uint32_t)last);
	put_be32(p + 4, SCSI_BLOCK_SIZE);
	respond(r, 8, 8);
}

static void read_capacity_16(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	uint8_t *p = r->response;

	/* Other service actions of SERVICE ACTION IN(16) are not implemented. */
	if ((cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
		invalid_field(d, r);
		return;
	}
	if (!medium_ready(d, r))
		return;
	memset(p, 0, 32);
	put_be64(p, d->blocks - 1);
	put_be32(p + 8, SCSI_BLOCK_SIZE);
	respond(r, 32, get_be32(cdb + 10));
}

static void report_luns(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	uint32_t alloc = get_be32(cdb + 6);
	uint8_t *p = r->response;

	/* SPC: fewer than 16 bytes of allocation length is an invalid CDB. */
	if (cdb[2] > 0x02 || alloc < 16) {
		invalid_field(d, r);
		return;
	}
	memset(p, 0, 16);
	put_be32(p, 8);		/* LUN list length: LUN 0 only */
	respond(r, 16, alloc);
}

/*
 * Checks an LBA range against the image without overflowing: lba may be any
 * 64-bit value the guest wrote. Transfer length 0 is valid at any lba up to
 * the end (SBC).
 */
static bool range_ok(struct scsi_disk *d, struct scsi_request *r, uint64_t lba, uint64_t count)
{
	if (lba > d->blocks || count > d->blocks - lba) {
		fail(d, r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

static void read_write(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	bool write = cdb[0] == WRITE_6 || cdb[0] == WRITE_10 || cdb[0] == WRITE_12 ||
		     cdb[0] == WRITE_16;
	uint64_t lba;
	uint32_t count;
	bool fua = false;

	switch (cdb[0]) {
	case READ_6:
	case WRITE_6:
		lba = (uint64_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		count = cdb[4] ? cdb[4] : 256;	/* 0 means 256 in the 6-byte form */
		break;
	case READ_10:
	case WRITE_10:
		lba = get_be32(cdb + 2);
		count = get_be16(cdb + 7);
		fua = cdb[1] & 0x08;
		break;
	case READ_12:
	case WRITE_12:
		lba = get_be32(cdb + 2);
		count = get_be32(cdb + 6);
		fua = cdb[1] & 0x08;
		break;
	default:		/* READ_16, WRITE_16 */
		lba = get_be64(cdb + 2);
		count = get_be32(cdb + 10);
		fua = cdb[1] & 0x08;
		break;
	}
	/* RDPROTECT/WRPROTECT: there is no protection information to check. */
	if (cdb[0] != READ_6 && cdb[0] != WRITE_6 && (cdb[1] & 0xe0)) {
		invalid_field(d, r);
		return;
	}
	if (!medium_ready(d, r))
		return;
	if (write && d->read_only) {
		fail(d, r, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (!range_ok(d, r, lba, count))
		return;
	if (count > SCSI_MAX_TRANSFER_BLOCKS) {
		invalid_field(d, r);
		return;
	}
	if (!count)
		return;
	r->media = true;
	r->fua = write && fua;
	r->offset = lba * SCSI_BLOCK_SIZE;
	r->length = count * SCSI_BLOCK_SIZE;
	r->dir = write ? SCSI_DATA_OUT : SCSI_DATA_IN;
}

/*
 * pread/pwrite of the whole range; only an error or the end of the image
 * (it shrank under us) ends it early. *done says how far it got.
 */
static bool image_io(int fd, bool write, uint8_t *buf, size_t len, uint64_t off, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = write ? pwrite(fd, buf + *done, len - *done, (off_t)(off + *done)) :
				    pread(fd, buf + *done, len - *done, (off_t)(off + *done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		*done += (size_t)n;
	}
	return true;
}

/* VERIFY with BYTCHK 0: a medium check, i.e. the blocks can be read. */
static void verify(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	bool sixteen = cdb[0] == VERIFY_16;
	uint64_t lba = sixteen ? get_be64(cdb + 2) : get_be32(cdb + 2);
	uint64_t count = sixteen ? get_be32(cdb + 10) : get_be16(cdb + 7);
	uint8_t buf[4096];
	size_t got;

	if (cdb[1] & 0x06) {	/* BYTCHK: comparing guest data is not supported */
		invalid_field(d, r);
		return;
	}
	if (!medium_ready(d, r) || !range_ok(d, r, lba, count))
		return;
	if (count > SCSI_MAX_TRANSFER_BLOCKS) {
		invalid_field(d, r);
		return;
	}
	for (uint64_t off = lba * SCSI_BLOCK_SIZE, end = off + count * SCSI_BLOCK_SIZE; off < end;
	     off += sizeof(buf)) {
		size_t len = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);

		if (!image_io(d->fd, false, buf, len, off, &got)) {
			fail(d, r, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR);
			return;
		}
	}
}

static void synchronize_cache(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	bool sixteen = cdb[0] == SYNCHRONIZE_CACHE_16;
	uint64_t lba = sixteen ? get_be64(cdb + 2) : get_be32(cdb + 2);
	uint64_t count = sixteen ? get_be32(cdb + 10) : get_be16(cdb + 7);

	/* Count 0 means "to the last block": only the start must be inside. */
	if (!medium_ready(d, r) || !range_ok(d, r, lba, count))
		return;
	if (!d->read_only && fdatasync(d->fd) < 0)
		fail(d, r, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
}

static void test_unit_ready(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb)
{
	(void)cdb;
	medium_ready(d, r);
}

struct scsi_command {
	uint8_t opcode;
	uint8_t cdb_size;
	void (*run)(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb);
};

static const struct scsi_command commands[] = {
	{ TEST_UNIT_READY, 6, test_unit_ready },
	{ REQUEST_SENSE, 6, request_sense },
	{ READ_6, 6, read_write },
	{ WRITE_6, 6, read_write },
	{ INQUIRY, 6, inquiry },
	{ MODE_SENSE_6, 6, mode_sense },
	{ START_STOP_UNIT, 6, start_stop_unit },
	{ PREVENT_ALLOW_MEDIUM_REMOVAL, 6, prevent_allow },
	{ READ_FORMAT_CAPACITIES, 10, read_format_capacities },
	{ READ_CAPACITY_10, 10, read_capacity_10 },
	{ READ_10, 10, read_write },
	{ WRITE_10, 10, read_write },
	{ VERIFY_10, 10, verify },
	{ SYNCHRONIZE_CACHE_10, 10, synchronize_cache },
	{ MODE_SENSE_10, 10, mode_sense },
	{ READ_16, 16, read_write },
	{ WRITE_16, 16, read_write },
	{ VERIFY_16, 16, verify },
	{ SYNCHRONIZE_CACHE_16, 16, synchronize_cache },
	{ SERVICE_ACTION_IN_16, 16, read_capacity_16 },
	{ REPORT_LUNS, 12, report_luns },
	{ READ_12, 12, read_write },
	{ WRITE_12, 12, read_write },
};

void scsi_disk_start(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb_in,
		     size_t cdb_len)
{
	const struct scsi_command *cmd = NULL;
	uint8_t cdb[SCSI_CDB_MAX] = { 0 };
	uint8_t op;

	r->dir = SCSI_DATA_NONE;
	r->length = 0;
	r->status = SCSI_STATUS_GOOD;
	r->media = false;
	r->fua = false;
	r->offset = 0;
	r->moved = 0;
	if (cdb_len > SCSI_CDB_MAX)
		cdb_len = SCSI_CDB_MAX;
	memcpy(cdb, cdb_in, cdb_len);
	op = cdb[0];

	/* These report state and must not lose the sense of an earlier failure (SPC). */
	if (op != REQUEST_SENSE && op != INQUIRY && op != REPORT_LUNS)
		d->sense = (struct scsi_sense){ 0 };
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].opcode == op)
			cmd = &commands[i];
	}
	if (!cmd) {
		fail(d, r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
		return;
	}
	/* The CBW said fewer CDB bytes than the command has. */
	if (cdb_len < cmd->cdb_size) {
		invalid_field(d, r);
		return;
	}
	cmd->run(d, r, cdb);
}

/* The data phase may only touch [0, r->length) of what the command announced. */
static bool data_range_ok(struct scsi_disk *d, struct scsi_request *r, enum scsi_data_dir dir,
			  uint32_t pos, size_t len)
{
	if (r->status != SCSI_STATUS_GOOD)
		return false;
	if (r->dir != dir || pos > r->length || len > r->length - pos) {
		fail(d, r, SCSI_SENSE_HARDWARE_ERROR, SCSI_ASC_INTERNAL_TARGET_FAILURE);
		return false;
	}
	return true;
}

size_t scsi_disk_read(struct scsi_disk *d, struct scsi_request *r, uint32_t pos, uint8_t *buf,
		      size_t len)
{
	size_t done;

	if (!data_range_ok(d, r, SCSI_DATA_IN, pos, len))
		return 0;
	if (!r->media) {
		memcpy(buf, r->response + pos, len);
		return len;
	}
	if (!image_io(d->fd, false, buf, len, r->offset + pos, &done))
		fail(d, r, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR);
	r->moved += (uint32_t)done;
	return done;
}

size_t scsi_disk_write(struct scsi_disk *d, struct scsi_request *r, uint32_t pos,
		       const uint8_t *buf, size_t len)
{
	size_t done;

	if (!data_range_ok(d, r, SCSI_DATA_OUT, pos, len))
		return 0;
	/* pwrite does not write through buf; image_io takes one pointer type for both. */
	if (!image_io(d->fd, true, (uint8_t *)buf, len, r->offset + pos, &done))
		fail(d, r, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
	r->moved += (uint32_t)done;
	return done;
}

void scsi_disk_finish(struct scsi_disk *d, struct scsi_request *r)
{
	if (r->status == SCSI_STATUS_GOOD && r->fua && fdatasync(d->fd) < 0)
		fail(d, r, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
}
