# The svmm backend of lab_guest_boot (see guest.sh): the VMM under test, from
# the build tree ($LAB_BUILD/cli/svmm), with its control socket at CTL.
# svmm prints the guest's serial console on its stdout.
# LAB_SVMM_ARGS: extra arguments for `svmm run` (e.g. -v for debug logs in guest-NAME.vmm.log).
# LAB_SVMM_WRAP: a command `svmm run` runs under, for experiments (e.g. "taskset -c 0").

lab__svmm_bin() {
	[ -x "$LAB_BUILD/cli/svmm" ] ||
		{ lab_log "no svmm binary at $LAB_BUILD/cli/svmm (build it, or pass --build)"; return 1; }
	echo "$LAB_BUILD/cli/svmm"
}

lab_vmm_svmm_start() {
	local name=$1 kernel=$2 initrd=$3 params=$4 mem=$5 ctl=$6 bin
	bin=$(lab__svmm_bin) || exit 127
	exec ${LAB_SVMM_WRAP:-} "$bin" run ${LAB_SVMM_ARGS:-} --control "$ctl" --mem "$mem" --initrd "$initrd" --params "$params" "$kernel"
}

# svmm numbers ports itself; remember which port each ID got.
lab_vmm_svmm_attach() {
	local ctl=$1 id=$2 bus=$3 dev=$4 bin reply
	bin=$(lab__svmm_bin) || return 1
	lab_wait_until 20 "svmm control socket $ctl" test -S "$ctl" || return 1
	reply=$("$bin" usb attach 00:00:00:00 "$(printf '/dev/bus/usb/%03d/%03d' "$bus" "$dev")" "$ctl") || return 1
	case "$reply" in
	"ok "*) echo "${reply#ok }" >"$ctl.port-$id" ;;
	*) lab_log "svmm usb attach: unexpected reply '$reply'"; return 1 ;;
	esac
}

lab_vmm_svmm_detach() {
	local ctl=$1 id=$2 bin port
	bin=$(lab__svmm_bin) || return 1
	port=$(cat "$ctl.port-$id") || { lab_log "svmm: no port recorded for $id"; return 1; }
	"$bin" usb detach "$port" "$ctl" >/dev/null
}
