# The lab's QEMU (host/stack.sh picks it), sourced on both sides: on this
# machine it is the lab host's, inside the lab host the reference VMM.
# LAB_QEMU, LAB_QEMU_DATA and LAB_QEMU_MODULES come from lab_stack_prepare
# (inside the lab host through job.env); unset, it is the
# qemu-system-x86_64 on PATH with its own firmware and modules.
#
# lab_qemu_command: sets LAB_QEMU_CMD, the array to run QEMU with, then its
# arguments: env (so that exec and timeout keep one process), the module
# directory, the binary and a -L per firmware directory.
lab_qemu_command() {
	local dirs=() d
	LAB_QEMU_CMD=(env)
	[ -z "${LAB_QEMU_MODULES:-}" ] || LAB_QEMU_CMD+=("QEMU_MODULE_DIR=$LAB_QEMU_MODULES")
	LAB_QEMU_CMD+=("${LAB_QEMU:-qemu-system-x86_64}")
	[ -z "${LAB_QEMU_DATA:-}" ] || IFS=: read -ra dirs <<<"$LAB_QEMU_DATA"
	for d in "${dirs[@]}"; do LAB_QEMU_CMD+=(-L "$d"); done
}
