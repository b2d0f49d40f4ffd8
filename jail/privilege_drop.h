/* SPDX-License-Identifier: MIT */
/* Giving up every privilege a process holds: used by the jail, the broker and the VMM after setup. */
#ifndef SVMM_PRIVILEGE_DROP_H
#define SVMM_PRIVILEGE_DROP_H

/*
 * In this order: locks the securebits (root gains nothing by exec or uid
 * change) and empties the bounding set when the process holds CAP_SETPCAP
 * (an unprivileged caller has neither to give up); clears the ambient,
 * inheritable, permitted and effective sets; sets no_new_privs; makes the
 * process non-dumpable (no core of a process holding guest memory or device
 * fds, no ptrace by same-uid processes). Returns 0, or -errno with *step
 * naming the step that failed.
 */
int privileges_drop_all(const char **step);

#endif
