/* SPDX-License-Identifier: MIT */
/*
 * The xHCI device process: the contract between the VMM and the controller.
 *
 * The VMM creates two SOCK_SEQPACKET socketpairs (common/device_protocol.h),
 * forks, and the child calls xhci_process_main(request_sock, event_sock) and
 * _exit()s with its return value. The child owns nothing else of the VMM's.
 *
 * What the VMM sends on the request socket, every request answered by one
 * DEVPROTO_REPLY with the same seq, in order:
 *  1. DEVPROTO_HELLO (optional; OK).
 *  2. DEVPROTO_MEM_REGION for each guest RAM region, before the guest can
 *     start the controller (before the BAR is reachable). The memfd is
 *     mapped MAP_SHARED, PROT_READ|PROT_WRITE; the fd is closed after the
 *     mapping. Overlapping regions: E_INVALID.
 *  3. DEVPROTO_IRQ_FD, vector 0..3 (one per interrupter = MSI-X vector), and
 *     optionally DEVPROTO_IRQ_INTX: eventfds the VMM has made KVM irqfds. A
 *     later IRQ_FD for the same vector replaces the earlier one. Vectors >= 4
 *     are refused (E_INVALID).
 *  4. DEVPROTO_DOORBELL_FD, index 0..64: eventfds the VMM registered as KVM
 *     ioeventfds on the doorbell registers (BAR 0 offset 0x3000 + 4 * index,
 *     4 bytes, no datamatch). A signal on doorbell 0 rings the command ring;
 *     on doorbell n it kicks every Running or Stopped endpoint of slot n
 *     (the written value is not known, so DB Target cannot be honoured;
 *     DEVPROTO_BAR_WRITE doorbells keep their exact target).
 *  5. Config and BAR accesses as the guest makes them: CFG_READ/CFG_WRITE
 *     (4 KiB space), BAR_READ/BAR_WRITE on BAR 0 (64 KiB, 1/2/4/8 bytes).
 *     The BAR layout: capability 0x0, operational 0x40, ports 0x440,
 *     xECP 0x1000, runtime 0x2000, doorbells 0x3000, MSI-X table 0x4000,
 *     PBA 0x5000.
 *  6. USB_ATTACH (fd = disk image for DEVPROTO_ATTACH_IMAGE): the device is
 *     created and put on the first free port of its speed (USB 3 ports 9..16
 *     when one is free, else USB 2 ports 1..8); the reply carries the port.
 *     E_NO_AVAILABLE_PORT when none is free, E_FAILED_TO_OPEN_DEVICE when no
 *     device could be made.
 *     USB_DETACH (port): E_NO_SUCH_DEVICE if the port is empty.
 *     USB_PORT_INFO (port): vendor, product, speed, kind in reply.info, or
 *     E_NO_SUCH_DEVICE.
 *  7. DEVPROTO_SHUTDOWN: OK is replied, every device released, and
 *     xhci_process_main returns 0. EOF on the request socket does the same.
 *
 * What the process sends on the event socket (non-blocking; if the VMM does
 * not read, notices are coalesced to the latest state per vector/port):
 *  - DEVPROTO_MSIX_ROUTE whenever a vector's address, data or mask (vector
 *    mask, function mask, MSI-X enable) changes; masked = 1 while the vector
 *    must not fire. Messages raised while masked are held in the PBA and
 *    sent (eventfd) on unmask.
 *  - DEVPROTO_INTX_LEVEL on each change of the INTx line while MSI-X is off.
 *  - DEVPROTO_PORT_GONE when a device left its port by itself.
 *
 * After HCE (a hostile or broken guest) the process keeps serving requests;
 * the guest sees USBSTS.HCE and must reset the controller.
 */
#ifndef SVMM_XHCI_PROCESS_H
#define SVMM_XHCI_PROCESS_H

#include <stdint.h>

#include "device_protocol.h"
#include "usb_device.h"

/* Serves the VMM until SHUTDOWN or EOF; returns 0, or 1 on a setup failure. */
int xhci_process_main(int request_sock, int event_sock);

/*
 * What the process must do before its seccomp filter is loaded: the libusb
 * context for passthrough (libusb_init needs syscalls the filter forbids).
 * Called in the jailed child, in the empty root, without privileges; 0 or -1.
 */
int xhci_process_prepare(void);

/*
 * Creates the USB device for one attach kind from the fd the VMM sent; on
 * success the device owns fd. preferred is the speed of the free port kind
 * the controller would like (SuperSpeed if a USB 3 port is free); a device
 * may choose another. NULL on failure (the caller closes fd).
 */
typedef struct usb_device *(*xhci_attach_fn)(struct event_loop *loop, int fd,
					      const struct devproto_attach *a,
					      enum devproto_usb_speed preferred);

/*
 * Installs the constructor for an attach kind (the seam for usbfs
 * passthrough, and for tests); call before xhci_process_main. The image kind
 * defaults to the emulated mass-storage device when it is built.
 */
void xhci_process_set_attach(enum devproto_attach_kind kind, xhci_attach_fn fn);

#endif
