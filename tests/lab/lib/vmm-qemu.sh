# The QEMU backend of lab_guest_boot (see guest.sh): the reference VMM, with
# KVM, a qemu-xhci controller with nothing on it, and QMP at CTL. The xHCI
# gets 8 ports (QEMU's default is 4 USB 2 + 4 USB 3 sharing 4 bus ports, and
# it plugs a full-speed hub into the last free one).
# The guest's CPU is -cpu host, KVM's supported CPUID: the model svmm (like
# crosvm) gives its guests, so that the two VMMs run the same guest (QEMU's
# default, qemu64, has no AVX and no XSAVE, and under TCG the CPU model
# decides which code glibc and the kernel run).
# LAB_QEMU_CPU overrides it (e.g. qemu64).
# The QEMU is the lab's stack's (lib/qemu.sh, host/stack.sh).

source "$LAB_LIB/qemu.sh"

lab_vmm_qemu_start() {
	local name=$1 kernel=$2 initrd=$3 params=$4 mem=$5 ctl=$6
	lab_qemu_command
	exec "${LAB_QEMU_CMD[@]}" -name "lab-$name" -machine q35 -accel kvm -cpu "${LAB_QEMU_CPU:-host}" -smp 1 -m "$mem" \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$kernel" -initrd "$initrd" -append "$params" \
		-device qemu-xhci,id=xhci,p2=8,p3=8 \
		-chardev stdio,id=console,signal=off -serial chardev:console \
		-qmp "unix:$ctl,server=on,wait=off" \
		-d guest_errors,cpu_reset -D "$LAB_OUT/guest-$name.qemu-debug.log"
}

# By node (hostdevice), not by bus and address: QEMU's libusb learns of
# devices that enumerate after it started only from udev, which the lab host
# does not run, and svmm's broker re-enumerates every device it releases.
lab_vmm_qemu_attach() {
	local ctl=$1 id=$2 bus=$3 dev=$4 node
	node=$(printf '/dev/bus/usb/%03d/%03d' "$bus" "$dev")
	lab_qmp "$ctl" device_add \
		"{\"driver\":\"usb-host\",\"id\":\"$id\",\"bus\":\"xhci.0\",\"hostdevice\":\"$node\"}" >/dev/null
}

lab_vmm_qemu_detach() {
	lab_qmp "$1" device_del "{\"id\":\"$2\"}" >/dev/null
}
