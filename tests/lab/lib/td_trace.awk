# The per-TD timeline of a read, from the lab host's ftrace (tests/lab/scenarios/td-trace).
#
# Input: the trace file of kvm_exit, kvm_mmio, kvm_msi_set_irq, sched_switch
# and sched_wakeup events. A TD starts at the guest's doorbell write for slot
# 1 (the only device: a kvm_mmio write whose address ends in 0x004 within its
# page, the first slot doorbell in both svmm's and QEMU's BAR), and its
# interrupt is the next kvm_msi_set_irq. Two parts per TD:
#   device: doorbell -> interrupt (the VMM's device model, usbfs, dummy_hcd)
#   guest:  interrupt -> next doorbell (the guest's handler, usb-storage, block layer)
# A doorbell rung again before the interrupt ends no TD of its own.
#
# Output: one line of KEY=VALUE for lab_figure: TDs, milliseconds and exits
# per TD in each part, all exits and the nested page faults among them, and
# how often the vCPU thread (comm VCPU, set with -v vcpu=) was preempted by
# the device process (comm DEVICE, -v device=; empty for QEMU), and the
# device process's CPU time per TD.

function ms(x) { return sprintf("%.2f", 1000 * x) }

# "  comm-pid  [cpu]  flags  12.345678: event: ..." -> the timestamp in seconds.
function stamp(   i) {
	for (i = 1; i <= NF; i++)
		if ($i ~ /^[0-9]+\.[0-9]+:$/)
			return substr($i, 1, length($i) - 1) + 0
	return -1
}

/ kvm_exit: / {
	exits++
	if (/reason npf/)
		npf++
	if (state == "device")
		dev_exits++
	else if (state == "guest")
		guest_exits++
	next
}

/ kvm_mmio: mmio write / {
	for (i = 1; i <= NF; i++)
		if ($i == "gpa")
			gpa = $(i + 1)
	if (gpa !~ /004$/)
		next
	t = stamp()
	if (state == "guest") {
		guest_ms += t - t_irq
		guest_tds++
		guest_sum_exits += guest_exits
	}
	if (state != "device") {
		t_db = t
		dev_exits = 0
	}
	state = "device"
	next
}

/ kvm_msi_set_irq: / {
	if (state != "device")
		next
	t_irq = stamp()
	dev_ms += t_irq - t_db
	dev_tds++
	dev_sum_exits += dev_exits
	guest_exits = 0
	state = "guest"
	next
}

/ sched_switch: / && device != "" {
	if (index($0, "prev_comm=" vcpu " ") && / prev_state=R / && index($0, "next_comm=" device " "))
		preempted++
	# The device process's CPU time: from its switch in to its switch out, on each CPU.
	cpu = $0
	sub(/^.*\[/, "", cpu)
	sub(/\].*$/, "", cpu)
	t = stamp()
	if (index($0, "prev_comm=" device " ") && (cpu in device_in)) {
		device_cpu += t - device_in[cpu]
		delete device_in[cpu]
	}
	if (index($0, "next_comm=" device " "))
		device_in[cpu] = t
}

END {
	if (dev_tds == 0 || guest_tds == 0) {
		print "tds=0"
		exit
	}
	printf "tds=%d device_ms=%s device_exits=%.1f guest_ms=%s guest_exits=%.1f exits=%d npf=%d",
	       dev_tds, ms(dev_ms / dev_tds), dev_sum_exits / dev_tds, ms(guest_ms / guest_tds),
	       guest_sum_exits / guest_tds, exits, npf
	if (device != "")
		printf " vcpu_preempted_by_device=%d device_cpu_ms=%s", preempted, ms(device_cpu / dev_tds)
	printf "\n"
}
