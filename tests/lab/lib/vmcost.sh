# What a guest's VMM spends (sourced by scenario.sh): the lab host's KVM
# counters of the guest's VM and the CPU time of the VMM's processes. A
# benchmark takes a snapshot before and after its transfer and reports the
# difference per unit of work, so that svmm and QEMU can be compared on why,
# not only on how fast.
#
#   lab_vmcost_snapshot NAME
#       prints one line of KEY=VALUE: the VM's KVM exit counters (summed over
#       its vCPUs; from the lab host's debugfs, mounted by images/labhost/init),
#       cpu_vmm_ms (the VMM process, vCPU threads and their guest time
#       included) and cpu_helpers_ms (its descendants: svmm's device process
#       and broker; none for QEMU), vmm_preempted (times the VMM's threads,
#       the vCPUs among them, were switched out while runnable) and
#       vmm_migrations (times they moved to another lab host CPU)
#   lab_vmcost_per BEFORE AFTER UNITS
#       prints KEY=VALUE for each counter of the two snapshots: its growth
#       divided by UNITS (one decimal)
#   lab_vmcost_huge_kib NAME
#       prints the KiB of guest NAME's VMM process mapped in 2 MiB pages
#       (AnonHugePages plus ShmemPmdMapped of its smaps_rollup): QEMU's
#       anonymous guest RAM, svmm's memfd. Guest RAM in 4 KiB pages costs a
#       nested page fault per 4 KiB the guest touches first.

# The KVM counters that say where exits go. mmio_exit_user is an exit to the
# VMM's own code; halt_wakeup is a halted vCPU woken (an interrupt came).
LAB_VMCOST_KVM=(exits mmio_exit_user io_exits halt_exits halt_wakeup irq_injections
	signal_exits host_state_reload)

# lab__vmcost_kvm_dir PID: the debugfs directory of the VM that PID made.
lab__vmcost_kvm_dir() {
	local d
	for d in /sys/kernel/debug/kvm/"$1"-*; do
		[ -f "$d/exits" ] && { echo "$d"; return 0; }
	done
	return 1
}

# lab__vmcost_cpu PID: "OWN_MS HELPERS_MS", CPU time of PID and of its descendants.
lab__vmcost_cpu() {
	local hz
	hz=$(getconf CLK_TCK)
	# /proc/N/stat: field 2 is "(comm)", which may hold spaces: cut after the last ')'.
	for s in /proc/[0-9]*/stat; do
		{ read -r line <"$s"; } 2>/dev/null || continue
		echo "${s//[^0-9]/} ${line##*) }"
	done | awk -v root="$1" -v hz="$hz" '
		# after "(comm) ": state ppid ... utime is the 12th, stime the 13th
		{ parent[$1] = $3; ticks[$1] = $13 + $14 }
		END {
			for (p in parent) {
				for (q = p; q in parent && q != root && q > 1; q = parent[q])
					;
				if (q != root)
					continue
				if (p == root) own += ticks[p]; else helpers += ticks[p]
			}
			printf "%d %d\n", own * 1000 / hz, helpers * 1000 / hz
		}'
}

# lab__vmcost_sched PID: "PREEMPTED MIGRATIONS" summed over PID's threads
# (nonvoluntary_ctxt_switches of /proc/PID/task/*/status, nr_migrations of
# .../sched). A vCPU preempted is a guest that stood still; svmm's runs were
# seen to come in a fast and a slow kind, and this says whether the slow
# kind is the scheduler's.
lab__vmcost_sched() {
	awk '/^nonvoluntary_ctxt_switches:/ { pre += $2 }
		/^se.nr_migrations/ { mig += $NF }
		END { printf "%d %d\n", pre, mig }' \
		/proc/"$1"/task/*/status /proc/"$1"/task/*/sched 2>/dev/null || echo "0 0"
}

lab_vmcost_snapshot() {
	local pid=${LAB_GUEST_PID[$1]} dir key out= own helpers preempted migrations
	if dir=$(lab__vmcost_kvm_dir "$pid"); then
		for key in "${LAB_VMCOST_KVM[@]}"; do
			[ -r "$dir/$key" ] && out+="$key=$(cat "$dir/$key") "
		done
	fi
	read -r own helpers <<<"$(lab__vmcost_cpu "$pid")"
	read -r preempted migrations <<<"$(lab__vmcost_sched "$pid")"
	echo "${out}cpu_vmm_ms=$own cpu_helpers_ms=$helpers vmm_preempted=$preempted vmm_migrations=$migrations"
}

lab_vmcost_per() {
	local kv key before out=
	for kv in $2; do
		key=${kv%%=*}
		before=$(sed -n "s/.*\(^\| \)$key=\([0-9]*\).*/\2/p" <<<"$1")
		[ -n "$before" ] || continue
		out+="$key=$(lab_ratio "$((${kv#*=} - before))" "$3") "
	done
	echo "${out% }"
}

lab_vmcost_huge_kib() {
	awk '/^(AnonHugePages|ShmemPmdMapped):/ { kib += $2 } END { print kib + 0 }' \
		"/proc/${LAB_GUEST_PID[$1]}/smaps_rollup" 2>/dev/null || echo 0
}
