# Boots the lab host for one scenario attempt and judges how it ended
# (sourced). Needs lab_kernel_prepare and the labhost image.
#
# SVMM_LAB_MEM  lab host RAM in MiB (default 3072)
# SVMM_LAB_SMP  lab host vCPUs (default 2)
# SVMM_LAB_ACCEL, SVMM_LAB_CPU  QEMU's -accel (default tcg) and -cpu (default
#               max, which has SVM with nested paging), for experiments
# SVMM_LAB_STALL_GRACE  seconds the scenario's log may stand still after the
#               lab host's kernel reported a stall, before it is stopped
#               (default 90)

# What in the lab host's console means its kernel broke (rather than the
# scenario failing): with oops=panic every oops ends in a panic.
LAB_CRASH_RE='Kernel panic - not syncing|Oops:|BUG: |kernel BUG at|general protection fault|soft lockup|hard LOCKUP'

# What in the lab host's console means one of its CPUs stopped (nested KVM
# under TCG does this): the kernel goes on, but the scenario may not.
LAB_STALL_RE='soft lockup|hard LOCKUP|rcu_[a-z]+ (self-)?detected stall'

# lab__watch_stall OUT PID: stops the lab host (the QEMU under timeout PID)
# once its kernel has reported a stall and the scenario's log then stands
# still for SVMM_LAB_STALL_GRACE seconds, and says why in OUT/labhost-stalled.
# Without it a stalled lab host was seen only at the scenario's limit
# (900-1200 s), long after it stopped.
lab__watch_stall() {
	local out=$1 tpid=$2 console="$1/labhost-console.log" log="$1/scenario.log"
	local grace=${SVMM_LAB_STALL_GRACE:-90} stall= since=0 size last=
	while kill -0 "$tpid" 2>/dev/null; do
		sleep 5
		if [ -z "$stall" ]; then
			stall=$(grep -m1 -aE "$LAB_STALL_RE" "$console" 2>/dev/null || true)
			since=$SECONDS
			last=$(stat -c %s "$log" 2>/dev/null || echo 0)
			continue
		fi
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size since=$SECONDS
		elif [ $((SECONDS - since)) -ge "$grace" ]; then
			echo "${stall//$'\r'/}; the scenario's log then stood still for $((SECONDS - since)) s" \
				>"$out/labhost-stalled"
			pkill -KILL -P "$tpid" 2>/dev/null || true
			return 0
		fi
	done
}

# lab_host_boot OUT REPO IMAGE LIMIT: runs the lab host until it powers off,
# LIMIT seconds pass or it stalls (lab__watch_stall); returns QEMU's (or
# timeout's) exit status.
lab_host_boot() {
	local out=$1 repo=$2 image=$3 limit=$4 tpid wpid rc=0
	timeout -k 10 "$limit" qemu-system-x86_64 \
		-name svmm-lab -machine q35 -accel "${SVMM_LAB_ACCEL:-tcg}" -cpu "${SVMM_LAB_CPU:-max}" \
		-smp "${SVMM_LAB_SMP:-2}" -m "${SVMM_LAB_MEM:-3072}" \
		-nodefaults -display none -no-reboot \
		-kernel "$LAB_KIMAGE" -initrd "$image" \
		-append "console=ttyS0 panic=-1 oops=panic lab.repo=$repo lab.out=$out" \
		-serial "file:$out/labhost-console.log" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
		</dev/null >"$out/labhost-qemu.log" 2>&1 &
	tpid=$!
	lab__watch_stall "$out" "$tpid" &
	wpid=$!
	wait "$tpid" || rc=$?
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	return "$rc"
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
	elif [ -s "$out/labhost-stalled" ]; then
		echo "crash lab host stalled: $(head -1 "$out/labhost-stalled")"
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
