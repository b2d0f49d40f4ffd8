/* SPDX-License-Identifier: MIT */
#ifndef SVMM_VMM_H
#define SVMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

/* What a VM may be given; cli/args.c parses run_options within these. */
#define VMM_DEFAULT_MEM_MIB 512u
#define VMM_MIN_MEM_MIB 64u
#define VMM_MAX_MEM_MIB (1u << 20)	/* 1 TiB; the VMM checks what the host allows */
#define VMM_DEFAULT_CPUS 1u
#define VMM_MAX_CPUS 64u
#define VMM_PARAMS_MAX 2048u		/* Linux x86's COMMAND_LINE_SIZE */
#define VMM_MAX_BOOT_USB 16u		/* --usb and --usb-image: one per root port at most */

/* A device attached before the guest runs. */
struct run_usb {
	enum {
		RUN_USB_HOST = 1,	/* path: a /dev/bus/usb node, VID:PID[:SERIAL] or a port path */
		RUN_USB_IMAGE,		/* path: a disk image, as mass storage */
	} kind;
	bool read_only;		/* images only */
	const char *path;
};

/* `svmm run`'s options. */
struct run_options {
	const char *control;	/* control socket path, required */
	uint32_t mem_mib;
	uint32_t cpus;
	const char *initrd;
	char params[VMM_PARAMS_MAX];	/* every --params joined by spaces */
	const char *kernel;
	const char *broker;	/* system broker socket; NULL: fork our own */
	const char *policy;	/* policy for our own broker; NULL: built-in */
	const char *name;	/* --name: what the broker's `to` rules call this VM; NULL: none */
	struct run_usb usb[VMM_MAX_BOOT_USB];	/* in the order given */
	uint32_t nusb;
	bool verbose;
};

/*
 * `svmm run`: boots the guest and serves the control socket; returns the exit
 * status: 0 when the guest resets (reboot, i8042 or triple fault) or `svmm
 * stop` asks, 128 + N on signal N (SIGTERM, SIGINT, SIGHUP), 1 on bad input
 * or a VMM failure (a vCPU stuck in the VMM, which does not keep it from
 * ending, included). Without --params the kernel gets
 * "console=ttyS0 reboot=k panic=-1": its console on our serial port, reboot
 * and panic through the i8042 reset, which ends the VM. The guest has no
 * ACPI: it finds CPUs, IOAPIC and IRQ routing in the MP table, and cannot
 * power off (poweroff halts it; use reboot).
 */
int vmm_main(const struct run_options *o);

#endif
