/* SPDX-License-Identifier: MIT */
/* Named constants a seccomp policy may use as argument values. */
#ifndef SVMM_SECCOMP_CONSTANTS_H
#define SVMM_SECCOMP_CONSTANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Looks up name (len bytes, not NUL-terminated); true and *value if known. */
bool seccomp_constant_lookup(const char *name, size_t len, uint64_t *value);

#endif
