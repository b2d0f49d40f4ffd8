# Boots the lab host for one scenario attempt and judges how it ended
# (sourced). Needs lab_kernel_prepare and the labhost image.
#
# SVMM_LAB_MEM  lab host RAM in MiB (default 3072)
# SVMM_LAB_SMP  lab host vCPUs (default 2)
# SVMM_LAB_ACCEL, SVMM_LAB_CPU  QEMU's -accel (default tcg) and -cpu (default
#               max, which has SVM with nested paging), for experiments

# What in the lab host's console means its kernel broke (rather than the
# scenario failing): with oops=panic every oops ends in a panic.
LAB_CRASH_RE='Kernel panic - not syncing|Oops:|BUG: |kernel BUG at|general protection fault|soft lockup|hard LOCKUP'

# lab_host_boot OUT REPO IMAGE LIMIT: runs the lab host until it powers off
# or LIMIT seconds pass; returns QEMU's (or timeout's) exit status.
lab_host_boot() {
	local out=$1 repo=$2 image=$3 limit=$4
	timeout -k 10 "$limit" qemu-system-x86_64 \
		-name svmm-lab -machine q35 -accel "${SVMM_LAB_ACCEL:-tcg}" -cpu "${SVMM_LAB_CPU:-max}" \
		-smp "${SVMM_LAB_SMP:-2}" -m "${SVMM_LAB_MEM:-3072}" \
		-nodefaults -display none -no-reboot \
		-kernel "$LAB_KIMAGE" -initrd "$image" \
		-append "console=ttyS0 panic=-1 oops=panic lab.repo=$repo lab.out=$out" \
		-serial "file:$out/labhost-console.log" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
		</dev/null >"$out/labhost-qemu.log" 2>&1
}

# lab_host_verdict OUT QEMU_STATUS: prints "pass", "fail REASON" or
# "crash REASON". Only a crash (the lab host's kernel or QEMU broke, the lab
# host stopped answering, or its KVM killed a guest of the reference VMM) is
# worth a rerun.
lab_host_verdict() {
	local out=$1 qemu_rc=$2 console="$1/labhost-console.log" rc crash
	crash=$(grep -m1 -E "$LAB_CRASH_RE" "$console" 2>/dev/null || true)
	if [ -f "$out/status" ]; then
		rc=$(sed -n 's/^rc=//p' "$out/status")
		if [ "$rc" = 0 ]; then
			echo pass
		elif [ -n "$crash" ]; then
			echo "crash lab host kernel: $crash"
		elif [ -s "$out/lab-instability" ]; then
			# A reference guest died silently (lib/guest.sh, lab__guest_death).
			echo "crash lab host's nested KVM: $(head -1 "$out/lab-instability")"
		else
			echo "fail scenario exit status $rc"
		fi
	elif [ -n "$crash" ]; then
		echo "crash lab host kernel: $crash"
	elif grep -q 'LABHOST: setup-failed' "$console" 2>/dev/null; then
		echo "fail lab host setup: $(grep -m1 'LABHOST: setup-failed' "$console" | sed 's/.*setup-failed //')"
	elif [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		echo "crash lab host stopped responding (killed after its time limit)"
	else
		echo "crash lab host QEMU exited with status $qemu_rc before the scenario finished"
	fi
}
