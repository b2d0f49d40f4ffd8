/* SPDX-License-Identifier: MIT */
/*
 * What the broker gives up once its socket exists and its policy is loaded.
 *
 * It keeps its uid: usbfs nodes are root's (0664 or 0660) and the owner's
 * bits are what let it open them read-write. It needs no capability at all:
 * opening a node it owns, reading sysfs, SO_PEERCRED and the usbfs ioctls it
 * issues (DROP_PRIVILEGES, IOCTL/CONNECT, IOCTL/DISCONNECT) check none. So
 * every capability goes, from every set, the bounding set included, and
 * no_new_privs makes sure nothing it could exec gets any back.
 */
#ifndef SVMM_BROKER_PRIVILEGES_H
#define SVMM_BROKER_PRIVILEGES_H

/* Drops every capability, sets no_new_privs and non-dumpable. 0 or -errno (logged). */
int broker_drop_privileges(void);

#endif
