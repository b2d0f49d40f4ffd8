/* SPDX-License-Identifier: MIT */
/*
 * Why a jailed process ended, in one line for the VMM's log. A seccomp kill
 * (SIGSYS from SECCOMP_RET_KILL_PROCESS) leaves no syscall number in the wait
 * status; the kernel's audit record of it (type=1326, "syscall=N") does, in
 * the kernel log. The VMM opens /dev/kmsg at start (jail_kmsg_open), before
 * it gives up the right to, and reads the record when the child dies.
 */
#ifndef SVMM_DEATH_REPORT_H
#define SVMM_DEATH_REPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Opens the kernel log positioned at its end; -1 if it cannot (the report then says less). */
int jail_kmsg_open(void);

/*
 * Describes how pid ended from its wait status, e.g.
 * "killed by SIGSYS: seccomp violation, syscall openat (257)" or
 * "exited with status 3". kmsg_fd may be -1.
 */
void jail_describe_exit(pid_t pid, int status, int kmsg_fd, char *buf, size_t len);

/* Finds the syscall number of pid's seccomp kill in one kernel log record; -1 if it is not one. */
int jail_parse_seccomp_record(const char *record, pid_t pid);

#endif
