/* SPDX-License-Identifier: MIT */
/*
 * A SCSI direct-access block device (SBC/SPC subset) on a disk image fd:
 * the commands Linux sd_mod/usb-storage and Windows usbstor send to a USB
 * stick. Transport-neutral: the Bulk-Only Transport (mass_storage.c) asks
 * scsi_disk_start() what a CDB wants, then moves the data phase piecewise
 * with scsi_disk_read()/scsi_disk_write() straight between the image and the
 * transfer's buffer (no bounce buffer), then calls scsi_disk_finish().
 *
 * Every CDB field is guest-controlled: LBA and length are checked against
 * the image overflow-safely before any I/O, and no request can reach outside
 * [0, image size) of the fd.
 */
#ifndef SVMM_SCSI_DISK_H
#define SVMM_SCSI_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCSI_BLOCK_SIZE 512u
/* Largest READ/WRITE in blocks (8 MiB), advertised in the Block Limits VPD page. */
#define SCSI_MAX_TRANSFER_BLOCKS 16384u
/* Room for the largest response built in memory (VPD pages, MODE SENSE, ...). */
#define SCSI_RESPONSE_MAX 256u
#define SCSI_CDB_MAX 16u

enum scsi_status {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
};

enum scsi_sense_key {
	SCSI_SENSE_NO_SENSE = 0x0,
	SCSI_SENSE_NOT_READY = 0x2,
	SCSI_SENSE_MEDIUM_ERROR = 0x3,
	SCSI_SENSE_HARDWARE_ERROR = 0x4,
	SCSI_SENSE_ILLEGAL_REQUEST = 0x5,
	SCSI_SENSE_UNIT_ATTENTION = 0x6,
	SCSI_SENSE_DATA_PROTECT = 0x7,
};

/* Additional sense code and qualifier, as one value: asc << 8 | ascq. */
enum scsi_asc {
	SCSI_ASC_NONE = 0x0000,
	SCSI_ASC_WRITE_ERROR = 0x0c00,
	SCSI_ASC_UNRECOVERED_READ_ERROR = 0x1100,
	SCSI_ASC_INVALID_OPCODE = 0x2000,
	SCSI_ASC_LBA_OUT_OF_RANGE = 0x2100,
	SCSI_ASC_INVALID_FIELD_IN_CDB = 0x2400,
	SCSI_ASC_WRITE_PROTECTED = 0x2700,
	SCSI_ASC_SAVING_PARAMS_UNSUPPORTED = 0x3900,
	SCSI_ASC_MEDIUM_NOT_PRESENT = 0x3a00,
	SCSI_ASC_INTERNAL_TARGET_FAILURE = 0x4400,
	SCSI_ASC_MEDIUM_REMOVAL_PREVENTED = 0x5302,
};

enum scsi_data_dir {
	SCSI_DATA_NONE,
	SCSI_DATA_IN,	/* device to host */
	SCSI_DATA_OUT,	/* host to device */
};

struct scsi_sense {
	uint8_t key;
	uint16_t asc;	/* enum scsi_asc */
};

struct scsi_disk {
	int fd;
	uint64_t blocks;
	bool read_only;
	bool prevent_removal;
	bool ejected;		/* START STOP UNIT with LOEJ: "medium not present" */
	struct scsi_sense sense;	/* for the next REQUEST SENSE */
	char serial[33];	/* VPD 0x80, NUL-terminated */
};

/* One command, from scsi_disk_start() to scsi_disk_finish(). */
struct scsi_request {
	enum scsi_data_dir dir;
	uint32_t length;	/* bytes the command wants to move, 0 if none */
	uint8_t status;		/* enum scsi_status, may turn CHECK CONDITION during data */
	/* READ/WRITE: the data phase is image bytes [offset, offset + length). */
	bool media;
	bool fua;		/* WRITE with Force Unit Access: sync before GOOD */
	uint64_t offset;
	uint32_t moved;		/* media bytes read/written so far */
	/* Anything else with data in: the response, built by scsi_disk_start(). */
	uint8_t response[SCSI_RESPONSE_MAX];
};

/*
 * Takes an image fd (size from fstat: non-empty, a multiple of
 * SCSI_BLOCK_SIZE). 0 or -errno; on failure the fd stays the caller's.
 * serial (may be NULL) is the unit serial number reported in VPD 0x80.
 */
int scsi_disk_init(struct scsi_disk *d, int fd, bool read_only, const char *serial);
/* Closes the image fd. */
void scsi_disk_close(struct scsi_disk *d);
/* Power-on/reset state: no pending sense, medium loaded, removal allowed. */
void scsi_disk_reset(struct scsi_disk *d);

/*
 * Decodes cdb (cdb_len significant bytes, the rest zero) and fills r: the
 * direction and length of the data phase, or a CHECK CONDITION (length 0)
 * with the sense kept for REQUEST SENSE. Commands without a data phase
 * (TEST UNIT READY, SYNCHRONIZE CACHE, ...) are executed here.
 */
void scsi_disk_start(struct scsi_disk *d, struct scsi_request *r, const uint8_t *cdb,
		     size_t cdb_len);

/*
 * Copies the data-in bytes [pos, pos + len) of r into buf: preads the image
 * for READ, else copies the response. Returns the bytes delivered; fewer
 * than len only on an I/O error, which turns r into a CHECK CONDITION.
 * A range outside [0, r->length) delivers nothing (a caller bug, not I/O).
 */
size_t scsi_disk_read(struct scsi_disk *d, struct scsi_request *r, uint32_t pos, uint8_t *buf,
		      size_t len);

/* The same for data-out bytes of a WRITE: pwrites them to the image. */
size_t scsi_disk_write(struct scsi_disk *d, struct scsi_request *r, uint32_t pos,
		       const uint8_t *buf, size_t len);

/* Ends the command after its data phase (a FUA write syncs here). */
void scsi_disk_finish(struct scsi_disk *d, struct scsi_request *r);

#endif
