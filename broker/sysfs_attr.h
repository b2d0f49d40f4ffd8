/* SPDX-License-Identifier: MIT */
/*
 * Reading sysfs attributes strictly. sysfs is the kernel's, but what it shows
 * of a USB device (its serial above all) comes from the device, which is as
 * untrusted as any requester: every value is bounded and parsed exactly.
 */
#ifndef SVMM_SYSFS_ATTR_H
#define SVMM_SYSFS_ATTR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads attribute name of directory dirfd into buf (NUL-terminated, the one
 * trailing newline removed). Returns the length, or -ENOENT, -EFBIG when it
 * does not fit in size - 1 bytes, -EILSEQ when it has a NUL, another newline
 * or a control character, or another negative errno.
 */
int sysfs_read(int dirfd, const char *name, char *buf, size_t size);

/* Exactly `digits` hex digits (no 0x, no sign): 0 and *out, or -EINVAL. */
int sysfs_parse_hex(const char *s, unsigned int digits, uint32_t *out);

/* A decimal number in [min, max], no sign, no leading zeros: 0 and *out, or -EINVAL. */
int sysfs_parse_dec(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* sysfs_read + sysfs_parse_hex; -EINVAL for a malformed value. */
int sysfs_read_hex(int dirfd, const char *name, unsigned int digits, uint32_t *out);

/* sysfs_read + sysfs_parse_dec; leading spaces (bNumInterfaces pads to 2) are skipped. */
int sysfs_read_dec(int dirfd, const char *name, uint32_t min, uint32_t max, uint32_t *out);

#endif
