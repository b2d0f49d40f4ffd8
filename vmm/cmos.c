/* SPDX-License-Identifier: MIT */
#include "vmm/cmos.h"

#include <string.h>
#include <time.h>

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

void cmos_init(struct cmos *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->ram[RTC_REG_A] = 0x26;	/* 32.768 kHz, 1024 Hz, no update in progress */
	c->ram[RTC_REG_B] = 0x02;	/* 24-hour, BCD */
	c->ram[RTC_REG_D] = 0x80;	/* battery good */
}

static uint8_t cmos_read(struct cmos *c, uint8_t reg)
{
	struct tm tm;
	time_t now;

	if (reg > RTC_YEAR && reg != RTC_CENTURY)
		return reg == RTC_REG_C ? 0 : c->ram[reg];
	now = time(NULL);
	gmtime_r(&now, &tm);
	switch (reg) {
	case RTC_SECONDS: return bcd(tm.tm_sec);
	case RTC_MINUTES: return bcd(tm.tm_min);
	case RTC_HOURS: return bcd(tm.tm_hour);
	case RTC_DAY_OF_WEEK: return bcd(tm.tm_wday + 1);
	case RTC_DAY_OF_MONTH: return bcd(tm.tm_mday);
	case RTC_MONTH: return bcd(tm.tm_mon + 1);
	case RTC_YEAR: return bcd(tm.tm_year % 100);
	case RTC_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	default: return c->ram[reg];	/* the alarm registers */
	}
}

void cmos_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct cmos *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (offset == 0) {
		if (is_write)
			c->index = data[0] & 0x7f;	/* bit 7 is the NMI mask */
		else
			data[0] = 0xff;
	} else if (is_write) {
		/* The clock is the host's; only plain CMOS RAM and the alarm are writable. */
		if (c->index > RTC_REG_D && c->index != RTC_CENTURY)
			c->ram[c->index] = data[0];
	} else {
		data[0] = cmos_read(c, c->index);
	}
	for (uint32_t i = 1; i < len; i++)
		if (!is_write)
			data[i] = 0xff;
	pthread_mutex_unlock(&c->lock);
}
