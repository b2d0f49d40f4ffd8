/* SPDX-License-Identifier: MIT */
/* Serial output of the benchmark guest (one system call per line) and the few libc pieces it needs. */
#ifndef BENCH_CONSOLE_H
#define BENCH_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* A line under construction: text is appended, con_end() sends it. */
struct line {
	char buf[256];
	size_t len;
};

void line_str(struct line *l, const char *s);
void line_dec(struct line *l, uint64_t v);
void line_hex(struct line *l, uint64_t v);
/* " key=decimal" */
void line_kv(struct line *l, const char *key, uint64_t v);
void line_end(struct line *l);

/* "bench-guest: <text>\n" */
void say(const char *s);
/* "bench-guest: <what> <value in hex>" */
void say_hex(const char *what, uint64_t value);
/* "bench-guest: FAIL <what> <value in hex>", then the guest resets. */
__attribute__((noreturn)) void fail(const char *what, uint64_t value);

/* The value of "key=" in the command line, or dflt. */
uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t dflt);

#endif
