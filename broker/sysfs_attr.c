/* SPDX-License-Identifier: MIT */
#include "broker/sysfs_attr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* No attribute the broker reads is longer than a serial (at most 126 UTF-16 characters). */
#define SYSFS_READ_MAX 1024

int sysfs_read(int dirfd, const char *name, char *buf, size_t size)
{
	char tmp[SYSFS_READ_MAX + 1];
	ssize_t n;
	size_t len;
	int fd;

	if (size == 0)
		return -EINVAL;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, tmp, sizeof(tmp));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	len = (size_t)n;
	if (len > 0 && tmp[len - 1] == '\n')
		len--;
	if (len >= size || len >= SYSFS_READ_MAX)
		return -EFBIG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tmp[i];

		/* UTF-8 bytes (>= 0x80) pass; controls would corrupt a log line or a policy match. */
		if (c < 0x20 || c == 0x7f)
			return -EILSEQ;
	}
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	return (int)len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sysfs_parse_hex(const char *s, unsigned int digits, uint32_t *out)
{
	uint32_t v = 0;

	if (digits == 0 || digits > 8 || strlen(s) != digits)
		return -EINVAL;
	for (unsigned int i = 0; i < digits; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

int sysfs_parse_dec(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 10 || (s[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int sysfs_read_hex(int dirfd, const char *name, unsigned int digits, uint32_t *out)
{
	char buf[16];
	int n = sysfs_read(dirfd, name, buf, sizeof(buf));

	if (n < 0)
		return n == -EFBIG || n == -EILSEQ ? -EINVAL : n;
	return sysfs_parse_hex(buf, digits, out);
}

int sysfs_read_dec(int dirfd, const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	char buf[16];
	const char *p = buf;
	int n = sysfs_read(dirfd, name, buf, sizeof(buf));

	if (n < 0)
		return n == -EFBIG || n == -EILSEQ ? -EINVAL : n;
	while (*p == ' ')
		p++;
	return sysfs_parse_dec(p, min, max, out);
}
