/* SPDX-License-Identifier: MIT */
#ifndef SVMM_VMM_H
#define SVMM_VMM_H

#include "args.h"

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
