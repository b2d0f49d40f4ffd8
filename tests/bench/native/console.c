/* SPDX-License-Identifier: MIT */
#include "tests/bench/native/console.h"
#include "tests/bench/native/sys.h"

void *memset(void *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	return r;
}

void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

void line_dec(struct line *l, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--n];
}

void line_hex(struct line *l, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	while (shift > 0 && !(v >> shift))
		shift -= 4;
	line_str(l, "0x");
	for (; shift >= 0 && l->len < sizeof(l->buf) - 1; shift -= 4)
		l->buf[l->len++] = digits[(v >> shift) & 0xf];
}

void line_end(struct line *l)
{
	l->buf[l->len++] = '\n';
	sys_write(l->buf, l->len);
	l->len = 0;
}

void say(const char *s)
{
	struct line l = { .len = 0 };

	line_str(&l, "bench-guest: ");
	line_str(&l, s);
	line_end(&l);
}

void line_kv(struct line *l, const char *key, uint64_t v)
{
	line_str(l, " ");
	line_str(l, key);
	line_str(l, "=");
	line_dec(l, v);
}

void say_hex(const char *what, uint64_t value)
{
	struct line l = { .len = 0 };

	line_str(&l, "bench-guest: ");
	line_str(&l, what);
	line_str(&l, " ");
	line_hex(&l, value);
	line_end(&l);
}

void fail(const char *what, uint64_t value)
{
	struct line l = { .len = 0 };

	line_str(&l, "FAIL ");
	line_str(&l, what);
	say_hex(l.buf, value);
	sys_reset();
}

uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t dflt)
{
	size_t klen = 0;

	if (!cmdline)
		return dflt;
	while (key[klen])
		klen++;
	for (const char *p = cmdline; *p; p++) {
		size_t i = 0;
		uint64_t v = 0;

		if (p != cmdline && p[-1] != ' ')
			continue;
		while (i < klen && p[i] == key[i])
			i++;
		if (i < klen || p[i] != '=')
			continue;
		for (p += i + 1; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return dflt;
}
