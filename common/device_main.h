/* SPDX-License-Identifier: MIT */
/*
 * The device process's entry points: the VMM forks the process and runs
 * these in the jailed child (vmm/device_process.h); the device built into
 * the binary defines them (devices/xhci/process.c). What the two ends say
 * to each other is docs/protocol.md.
 */
#ifndef SVMM_DEVICE_MAIN_H
#define SVMM_DEVICE_MAIN_H

/* The device's short name, e.g. "xhci": its log role; its process is named "svmm-NAME". */
extern const char device_name[];

/* Before the seccomp filter is loaded, in the empty root without privileges: 0, or it fails. */
int device_prepare(void);

/* Serves the VMM until SHUTDOWN or EOF; returns 0, or non-zero on a setup failure. */
int device_main(int request_sock, int event_sock);

#endif
