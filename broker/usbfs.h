/* SPDX-License-Identifier: MIT */
/*
 * The few usbfs ioctls the broker issues on a device it opened
 * (Linux drivers/usb/core/devio.c):
 *
 *  - USBDEVFS_DROP_PRIVILEGES (Linux >= 4.17) on the fd the VM gets: from then
 *    on that open file can claim only the interfaces in its mask, and
 *    USBDEVFS_IOCTL (detaching a host driver) and resetting a device whose
 *    other interfaces a host driver holds both fail with EACCES. It is one
 *    way and per open file, which is why the broker keeps a second open of
 *    its own for the operations below.
 *  - USBDEVFS_IOCTL with USBDEVFS_DISCONNECT / USBDEVFS_CONNECT on the
 *    broker's own fd: unbind a host kernel driver from an interface, and later
 *    make the kernel probe drivers for it again. A VM that dies with drivers
 *    detached would otherwise leave the device dead to the host.
 */
#ifndef SVMM_USBFS_H
#define SVMM_USBFS_H

#include <stdint.h>

/*
 * The calls above as the broker makes them: usbfs_kernel issues the ioctls;
 * tests, whose stand-in nodes have no usbfs driver, record them instead
 * (struct broker_config.usbfs).
 */
struct usbfs_ops {
	int (*drop_privileges)(int fd, uint32_t allowed);
	int (*detach_drivers)(int fd, uint32_t mask, uint32_t *detached);
	unsigned int (*attach_drivers)(int fd, uint32_t mask);
	int (*connected)(int fd);
};

extern const struct usbfs_ops usbfs_kernel;

/* Limits fd to the interfaces in allowed; -ENOTTY or -EINVAL on kernels without it (or not usbfs). */
int usbfs_drop_privileges(int fd, uint32_t allowed);

/*
 * Detaches the host kernel driver of every interface in mask; *detached gets
 * those that had one. An interface held through usbfs by some host program is
 * not taken from it (-EBUSY). Returns 0 or the first error.
 */
int usbfs_detach_drivers(int fd, uint32_t mask, uint32_t *detached);

/*
 * Asks the kernel to bind drivers to every interface in mask that has none
 * (an interface still claimed, or a device gone, is left alone). Returns
 * how many interfaces failed otherwise.
 */
unsigned int usbfs_attach_drivers(int fd, uint32_t mask);

/* 0 while the device is plugged in, -ENODEV once it is gone, other -errno when unknown. */
int usbfs_connected(int fd);

#endif
