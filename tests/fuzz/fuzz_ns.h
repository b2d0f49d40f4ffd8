/* SPDX-License-Identifier: MIT */
/*
 * A private tmpfs where production code looks for a kernel interface
 * (/dev/bus/usb for libusb, /sys for the broker): the target enters a user
 * and mount namespace of its own and mounts an empty tmpfs there, so what
 * the code reads is what the input wrote, and nothing outside the process
 * sees it. Needs unprivileged user namespaces; aborts, saying so, without.
 */
#ifndef SVMM_FUZZ_NS_H
#define SVMM_FUZZ_NS_H

/* Enters the namespace (once); paths opened before it belong to the host's mounts. */
void fuzz_ns_enter(void);

/* Mounts an empty tmpfs on dir (an existing directory) in the process's own namespace. */
void fuzz_ns_tmpfs(const char *dir);

/* Reports what failed, with errno, and aborts. */
void fuzz_ns_die(const char *what) __attribute__((noreturn));

#endif
