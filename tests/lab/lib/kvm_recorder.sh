# The lab host's KVM flight recorder, sourced by scenario.sh.
#
# A guest that dies silently in this lab (a triple fault, nothing on its
# console) leaves no registers: the lab host's KVM is AMD's, which resets
# the vCPU when it intercepts the shutdown, before svmm can read them. But
# KVM's own kvm_exit tracepoint fires first, with the guest's rip and the
# exit's information. So every scenario keeps the lab host's ftrace of
# kvm_exit, kvm_inj_exception and kvm_page_fault running in a small ring
# buffer that overwrites itself, and a death or a stall (lib/guest.sh) saves
# it and logs the dying VMM's last exits. The ring stops the moment a guest's
# VMM exits unasked (lab_kvm_recorder_watch), so what other guests do after
# that does not overwrite it. LAB_KVM_RECORDER=0 turns it off.
# The cost is one ring-buffer write per exit, alike for both VMMs.

LAB__KVM_TRACE=/sys/kernel/tracing
LAB__KVM_EVENTS="kvm/kvm_exit kvm/kvm_inj_exception kvm/kvm_page_fault"

lab_kvm_recorder_start() {
	local t=$LAB__KVM_TRACE e
	[ "${LAB_KVM_RECORDER:-1}" = 1 ] || return 0
	if [ ! -e $t/trace ] && ! mount -t tracefs tracefs $t 2>/dev/null; then
		lab_log "warning: no tracefs in the lab host: no KVM flight recorder"
		return 0
	fi
	echo 0 >$t/tracing_on
	# Per CPU: some 30000 exits, several seconds of a busy guest.
	echo 2048 >$t/buffer_size_kb
	echo 1 >$t/options/overwrite
	: >$t/trace
	for e in $LAB__KVM_EVENTS; do
		[ -e "$t/events/$e/enable" ] && echo 1 >"$t/events/$e/enable"
	done
	echo 1 >$t/tracing_on
	lab_on_exit lab_kvm_recorder_stop
}

lab_kvm_recorder_stop() {
	local t=$LAB__KVM_TRACE e
	[ -e $t/tracing_on ] || return 0
	echo 0 >$t/tracing_on
	for e in $LAB__KVM_EVENTS; do
		[ -e "$t/events/$e/enable" ] && echo 0 >"$t/events/$e/enable"
	done
	return 0
}

# lab_kvm_recorder_watch NAME PID: stops the ring when guest NAME's VMM
# (PID) exits unasked (lab__guest_ended_as_asked, lib/guest.sh). tail
# --pid waits without a fork per poll.
lab_kvm_recorder_watch() {
	local name=$1 pid=$2
	[ "${LAB_KVM_RECORDER:-1}" = 1 ] && [ -e $LAB__KVM_TRACE/tracing_on ] || return 0
	(
		tail --pid="$pid" -f /dev/null 2>/dev/null
		lab__guest_ended_as_asked "$name" || echo 0 >$LAB__KVM_TRACE/tracing_on
	) </dev/null >/dev/null 2>&1 &
}

# lab_kvm_recorder_dump NAME VMM: keeps the recorder's buffer as
# $LAB_OUT/kvm-trace-NAME and logs the last exits of VMM's vCPU threads
# (svmm's are named svmm, QEMU's qemu-system-x86, or "CPU N/KVM" with
# debug-threads), the exception injections among them, and a shutdown (the
# triple fault) if KVM saw one.
lab_kvm_recorder_dump() {
	local name=$1 vmm=$2 t=$LAB__KVM_TRACE out="$LAB_OUT/kvm-trace-$1" re mine shutdown
	[ "${LAB_KVM_RECORDER:-1}" = 1 ] && [ -e $t/trace ] || return 0
	# A copy, while the recorder runs on for the other guests.
	cat $t/trace >"$out" 2>/dev/null || return 0
	case "$vmm" in
	svmm) re=' svmm-[0-9]+ ' ;;
	*) re=' (qemu-system-x86|CPU [0-9]+/KVM)-[0-9]+ ' ;;
	esac
	mine=$(grep -E "$re" "$out" | grep -E 'kvm_exit|kvm_inj_exception|kvm_page_fault')
	lab_log "guest $name: the lab host's KVM, last exits of its $vmm vCPUs (all in kvm-trace-$name):"
	[ -z "$mine" ] || tail -8 <<<"$mine" | sed -E 's/^ *//; s/ +/ /g' | while IFS= read -r line; do lab_log "  $line"; done
	shutdown=$(grep 'reason shutdown' <<<"$mine" | tail -1 | sed -E 's/.*reason //')
	[ -z "$shutdown" ] || lab_log "guest $name: KVM saw its shutdown (a triple fault): $shutdown"
}
