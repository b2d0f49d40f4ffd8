# Boots the lab host for one scenario attempt and judges how it ended
# (sourced). Needs lab_stack_prepare, lab_kernel_prepare and the labhost
# image.
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
	lab_qemu_command
	timeout -k 10 "$limit" "${LAB_QEMU_CMD[@]}" \
		-name svmm-lab -machine q35 -accel "${SVMM_LAB_ACCEL:-tcg}" -cpu "${SVMM_LAB_CPU:-max}" \
		-smp "${SVMM_LAB_SMP:-2}" -m "${SVMM_LAB_MEM:-3072}" \
		-nodefaults -display none -no-reboot \
		-kernel "$LAB_KIMAGE" -initrd "$image" \
		-append "console=ttyS0 printk.time=1 panic=-1 oops=panic lab.repo=$repo lab.out=$out" \
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

# lab__console_time LINE: the kernel's timestamp ("[  12.345678] ...") of a
# lab host console line, in seconds; nothing if it has none.
lab__console_time() {
	sed -n 's/^[^[]*\[ *\([0-9][0-9]*\.[0-9]*\)\].*/\1/p' <<<"$1" | head -n1
}

# lab__failed_first FAILURE_UPTIME [CRASH_LINE...]: whether the scenario's
# first failure came before each of the lab host's crash lines (console
# lines; empty ones are skipped). A crash line without a timestamp counts as
# later: the failure is on record, and the scenario could only record it
# while the lab host was running.
lab__failed_first() {
	local failed=$1 line crash_t
	shift
	for line in "$@"; do
		crash_t=$(lab__console_time "$line")
		[ -n "$crash_t" ] || continue
		awk -v f="$failed" -v c="$crash_t" 'BEGIN { exit !(f + 0 <= c + 0) }' || return 1
	done
}

# lab_host_verdict OUT QEMU_STATUS: prints "pass", "fail REASON" or
# "crash REASON". The first thing that went wrong decides: a scenario that
# failed (OUT/first-failure, lib/first_failure.sh) before the lab host
# crashed has failed, whatever the lab host did afterwards. Only a crash
# that came first (the lab host's kernel or QEMU broke, the lab host stopped
# answering, or its KVM killed a guest of the reference VMM) is worth a rerun.
lab_host_verdict() {
	local out=$1 qemu_rc=$2 console="$1/labhost-console.log" rc= crash stalled=
	local ff_t= ff_kind= ff_what=
	crash=$(grep -m1 -aE "$LAB_CRASH_RE" "$console" 2>/dev/null || true)
	crash=${crash//$'\r'/}
	[ ! -s "$out/labhost-stalled" ] || stalled=$(head -1 "$out/labhost-stalled")
	[ ! -s "$out/first-failure" ] || read -r ff_t ff_kind ff_what <"$out/first-failure" || true
	[ ! -f "$out/status" ] || rc=$(sed -n 's/^rc=//p' "$out/status")
	if [ "$rc" = 0 ]; then
		echo pass
		return
	fi
	if [ -n "$ff_kind" ] && lab__failed_first "$ff_t" "$crash" "$stalled"; then
		case "$ff_kind" in
		lab)
			echo "crash lab host's nested KVM: $ff_what"
			;;
		*)
			local later=${crash:-$stalled}
			echo "fail $ff_what (at ${ff_t}s)${later:+; the lab host crashed later: $later}"
			;;
		esac
		return
	fi
	if [ -n "$rc" ]; then
		if [ -n "$crash" ]; then
			echo "crash lab host kernel: $crash"
		elif [ -s "$out/lab-instability" ]; then
			# A reference guest died silently (lib/guest.sh, lab__guest_death).
			echo "crash lab host's nested KVM: $(head -1 "$out/lab-instability")"
		else
			echo "fail scenario exit status $rc"
		fi
	elif [ -n "$stalled" ]; then
		echo "crash lab host stalled: $stalled"
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

# lab_host_attempts BASE NAME LIMIT: runs the caller's "attempt DIR NAME
# LIMIT" (which boots the lab host and prints lab_host_verdict's verdict) in
# BASE/try1 and, only if the lab host crashed there before anything else
# went wrong, once more in BASE/try2. Sets LAB_VERDICT, LAB_ATTEMPT_DIR (the
# attempt that decides) and LAB_ATTEMPT_NOTE (why there was a second).
lab_host_attempts() {
	local base=$1 name=$2 limit=$3
	LAB_ATTEMPT_DIR=$base/try1 LAB_ATTEMPT_NOTE=
	LAB_VERDICT=$(attempt "$LAB_ATTEMPT_DIR" "$name" "$limit")
	[ "${LAB_VERDICT%% *}" = crash ] || return 0
	lab_log "$name: ${LAB_VERDICT#crash } -- the lab host crashed before the scenario failed; rerunning it once (first attempt kept in $LAB_ATTEMPT_DIR)"
	LAB_ATTEMPT_DIR=$base/try2
	LAB_ATTEMPT_NOTE=" (second attempt: the lab host crashed in the first)"
	LAB_VERDICT=$(attempt "$LAB_ATTEMPT_DIR" "$name" "$limit")
}
