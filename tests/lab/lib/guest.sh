# Guests for lab scenarios (sourced by scenario.sh): boots the lab guest
# (Debian's kernel and images/guest, whose init prints "LAB: ..." lines) with
# a VMM, follows its serial console and hot-plugs USB devices into it.
#
#   lab_guest_boot NAME [--vmm V] [--mem MIB] [--actions A,B] [--params TEXT]
#       starts the guest in the background with VMM V (default $LAB_VMM);
#       --actions becomes lab.actions= (see images/guest/init), --params is
#       added to the kernel command line. The console goes to
#       $LAB_OUT/guest-NAME.log and, each line prefixed with the lab host's
#       clock in microseconds, $LAB_OUT/guest-NAME.stamped.
#   lab_guest_wait NAME REGEX [SECS] [FROM]
#       prints the first console line matching REGEX (extended) after line
#       FROM (default 0); fails after SECS (default 60) or if the VMM exits.
#   lab_guest_expect NAME REGEX [SECS] [FROM]
#       the same, but fails the scenario on timeout or if the guest prints
#       "LAB: error ..." (or "LAB: read-failed"/"write-failed", unless REGEX
#       asks for it) first
#   lab_guest_when_ms NAME REGEX [FROM]   the lab-host time (ms) that line arrived
#   lab_guest_mark NAME                   the number of console lines so far, for FROM
#   lab_guest_mark_after NAME REGEX [FROM]  the number of the first line matching REGEX
#                                         after FROM: a FROM for what comes after it
#   lab_guest_started_ms NAME             when the VMM was started
#   lab_guest_attach NAME ID BUS DEV      hot-plug the lab host's USB device BUS/DEV as ID
#   lab_guest_detach NAME ID
#   lab_guest_wait_exit NAME [SECS]       waits for the VMM to exit; returns its status
#   lab_guest_finish NAME                 fails unless the init ends with "LAB: done
#                                         status=ok" and the VMM then exits with 0
#   lab_guest_stop NAME                   kills the VMM (done for every guest at exit)
#   lab_guest_port_story NAME FROM SECS   after a device the guest did not see go:
#                                         waits up to SECS for its klog lines (an
#                                         action after the one still using the
#                                         device), logs the port-change messages
#                                         among them (lab.dyndbg) and svmm's last
#                                         Port Status Change Events (-v)
#   lab_guest_use_rebooting_initrd        boots a copy of the guest image that ends
#                                         with reboot -f instead of poweroff -f
#                                         (svmm has no ACPI to power off with)
#
# A VMM backend is lib/vmm-V.sh defining
#   lab_vmm_V_start NAME KERNEL INITRD PARAMS MEM CTL   exec the VMM: console on
#       stdout, its control socket (QMP, svmm's --control...) at CTL
#   lab_vmm_V_attach CTL ID BUS DEV
#   lab_vmm_V_detach CTL ID

# What on a guest's console says its kernel died.
LAB_GUEST_PANIC_RE='Kernel panic|BUG:|Oops:|general protection fault'

declare -A LAB_GUEST_PID=() LAB_GUEST_VMM=() LAB_GUEST_T0_US=() LAB_GUEST_EXPLAINED=()

lab__guest_known() { [ -n "${LAB_GUEST_PID[$1]:-}" ] || lab_fail "no guest named $1"; }
lab__guest_ctl() { echo "$LAB_TMP/guest-$1.ctl"; }
lab__guest_stamped() { echo "$LAB_OUT/guest-$1.stamped"; }

# Copies the console from stdin to the raw log ($1) and the stamped log ($2).
lab__guest_console() {
	local line
	exec 3>>"$1" 4>>"$2"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >&3
		printf '%s %s\n' "${EPOCHREALTIME/./}" "$line" >&4
	done
}

lab_guest_boot() {
	local name=$1 vmm=$LAB_VMM mem=512 actions= params= cmdline
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--vmm) vmm=$2; shift ;;
		--mem) mem=$2; shift ;;
		--actions) actions=$2; shift ;;
		--params) params=$2; shift ;;
		*) lab_fail "lab_guest_boot: unknown argument $1" ;;
		esac
		shift
	done
	[ -z "${LAB_GUEST_PID[$name]:-}" ] || lab_fail "guest $name is already running"
	[ -f "$LAB_LIB/vmm-$vmm.sh" ] || lab_fail "no VMM backend $LAB_LIB/vmm-$vmm.sh"
	source "$LAB_LIB/vmm-$vmm.sh"
	# LAB_GUEST_VERBOSE=1 shows the guest kernel's messages (slower: each
	# console byte is a trap to the VMM).
	cmdline="console=ttyS0${LAB_GUEST_VERBOSE:+ earlyprintk=ttyS0}"
	[ "${LAB_GUEST_VERBOSE:-0}" = 1 ] || cmdline+=" quiet"
	cmdline+=" panic=-1${actions:+ lab.actions=$actions}${params:+ $params}"
	rm -f "$(lab__guest_ctl "$name")" "$LAB_OUT/guest-$name.log" "$(lab__guest_stamped "$name")"
	: >"$(lab__guest_stamped "$name")"
	lab_log "guest $name: booting with $vmm: $cmdline"
	LAB_GUEST_T0_US[$name]=$(lab_now_us)
	lab__page_moves_mark "$name"
	# Both outputs go through pipes: a VMM thread that writes to a file on
	# the lab host's 9p mount waits there for a round trip to the outer
	# QEMU. (A lab host panic in CI, "corrupted stack end", was in svmm's
	# 9p write to this log.)
	("lab_vmm_${vmm}_start" "$name" "$LAB_GUEST_KERNEL" "$LAB_GUEST_INITRD" "$cmdline" "$mem" \
		"$(lab__guest_ctl "$name")") \
		> >(lab__guest_console "$LAB_OUT/guest-$name.log" "$(lab__guest_stamped "$name")") \
		2> >(cat >"$LAB_OUT/guest-$name.vmm.log") </dev/null &
	LAB_GUEST_PID[$name]=$!
	LAB_GUEST_VMM[$name]=$vmm
	rm -f "$LAB_TMP/stopping-$name"
	lab_kvm_recorder_watch "$name" "${LAB_GUEST_PID[$name]}"
	lab_on_exit lab_guest_stop "$name"
}

# lab__guest_find NAME REGEX FROM: prints "USEC LINE" of the first match.
lab__guest_find() {
	RE=$2 awk -v from="$3" 'NR > from {
		line = substr($0, index($0, " ") + 1)
		if (line ~ ENVIRON["RE"]) { print; found = 1; exit }
	} END { exit !found }' "$(lab__guest_stamped "$1")"
}

lab__guest_alive() { kill -0 "${LAB_GUEST_PID[$1]}" 2>/dev/null; }

# lab__guest_next FD: reads the stamped console's lines that have come
# on FD; prints the first (without its stamp) after line FROM matching RE
# and returns 0, else returns 1 when none has. Uses lab__gw_* of
# lab_guest_wait: the line count and a line still being written.
lab__guest_next() {
	local line
	while :; do
		if IFS= read -r -u "$1" line; then
			line=$lab__gw_part$line lab__gw_part=
		else
			lab__gw_part+=$line # the rest of it is still to come
			return 1
		fi
		lab__gw_n=$((lab__gw_n + 1))
		[ "$lab__gw_n" -gt "$lab__gw_from" ] || continue
		line=${line#* }
		if [[ $line =~ $lab__gw_re ]]; then
			echo "$line"
			return 0
		fi
	done
}

# Waiting costs the lab host no fork: it keeps the console open and reads
# what has come, five times a second. The way it was before (awk over the
# whole console, sleep and a subshell on each poll) took 4 of the 15 CPU
# seconds a traced 8 MiB read had on the lab host's two CPUs, more than
# svmm's device process, and the scheduler then ran the device on its
# vCPU's CPU for want of an idle one (td-trace, session 6).
lab_guest_wait() {
	local name=$1 re=$2 secs=${3:-60} from=${4:-0} end fd found
	local lab__gw_re=$2 lab__gw_from=${4:-0} lab__gw_n=0 lab__gw_part=
	lab__guest_known "$name"
	end=$((SECONDS + secs))
	exec {fd}<"$(lab__guest_stamped "$name")"
	while :; do
		if lab__guest_next "$fd"; then
			exec {fd}<&-
			return 0
		fi
		if ! lab__guest_alive "$name"; then
			exec {fd}<&-
			sleep 1 # the console copy may lag behind the VMM's exit
			if found=$(lab__guest_find "$name" "$re" "$from"); then
				echo "${found#* }"
				return 0
			fi
			lab_log "guest $name: the VMM exited before /$re/ appeared on the console (see $LAB_OUT/guest-$name.log, .vmm.log)"
			[ -z "${lab__gw_fatal:-}" ] || lab__guest_first_failure "$name" death "waiting for /$re/"
			lab__guest_death "$name"
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			exec {fd}<&-
			lab_log "guest $name: timed out after ${secs}s waiting for /$re/ on the console (see $LAB_OUT/guest-$name.log)"
			[ -z "${lab__gw_fatal:-}" ] || lab__guest_first_failure "$name" silent "${secs}s waiting for /$re/"
			lab__guest_silent "$name"
			return 1
		fi
		lab_sleep 0.2
	done
}

# lab__guest_first_failure NAME silent|death WHILE: records a guest that
# stopped talking or died as the scenario's first failure, before the
# post-mortem (lab__guest_silent, lab__guest_death), which can take minutes
# under TCG. Only for waits whose caller fails on it (lab__gw_fatal, set by
# lab_guest_expect and lab_guest_finish): guest-stability counts deaths and
# passthrough-write polls with a limit of 0. The kind follows the rules of
# the post-mortem: a reference guest (QEMU) that died silently, or stalled
# before its init was ready, is the lab's.
lab__guest_first_failure() {
	local name=$1 how=$2 while=$3 vmm=${LAB_GUEST_VMM[$1]} kind=scenario
	if [ "$vmm" = qemu ]; then
		case "$how" in
		silent) lab__guest_find "$name" '^LAB: ready' 0 >/dev/null || kind=lab ;;
		death) grep -qE "$LAB_GUEST_PANIC_RE" "$LAB_OUT/guest-$name.log" 2>/dev/null || kind=lab ;;
		esac
	fi
	case "$how" in
	silent) lab_first_failure "$kind" "guest $name ($vmm) said nothing for $while" ;;
	death) lab_first_failure "$kind" "guest $name ($vmm) died $while" ;;
	esac
}

# lab__guest_silent NAME: a guest stopped talking. Under svmm: where it is
# (svmm logs its vCPUs' registers on SIGUSR2 and runs on); never excused.
# Under the reference VMM before its init said "ready" (stock QEMU, stock
# kernel, no USB device given yet): the lab host's nested KVM stalled it, as
# it kills one now and then (lab__guest_death); recorded as lab instability.
lab__guest_silent() {
	local name=$1 vmmlog="$LAB_OUT/guest-$1.vmm.log"
	LAB_GUEST_EXPLAINED[$name]=1
	lab_kvm_recorder_dump "$name" "${LAB_GUEST_VMM[$name]}"
	if [ "${LAB_GUEST_VMM[$name]}" = qemu ] && ! lab__guest_find "$name" '^LAB: ready' 0 >/dev/null; then
		lab_log "guest $name: the reference guest (QEMU) stalled in its own boot, before any USB device: the lab host's nested KVM stalled it"
		echo "guest $name stalled in boot under QEMU" >>"$LAB_OUT/lab-instability"
		return 0
	fi
	[ "${LAB_GUEST_VMM[$name]}" = svmm ] && lab__guest_alive "$name" || return 0
	kill -USR2 "${LAB_GUEST_PID[$name]}" 2>/dev/null || return 0
	lab_wait_until 5 "svmm to say where the guest is" grep -q 'where the guest is' "$vmmlog" || true
	lab_log "guest $name: $(grep 'where the guest is' "$vmmlog" 2>/dev/null | tail -1 || echo 'svmm did not say where the guest is')"
}

# The lab host's counters of page movement (/proc/vmstat: THP collapses and
# splits, compaction, migration). A guest that dies silently in this lab is
# not understood yet; one lead is the lab host's KVM remapping guest memory
# (a huge page collapsed or split, a page migrated) under TCG's emulation of
# nested paging. A death is logged with what moved since that guest started.
lab__page_moves_mark() {
	grep -E '^(thp_|compact_|pgmigrate_)' /proc/vmstat >"$LAB_TMP/vmstat-$1" 2>/dev/null || true
}
lab__page_moves_since() {
	grep -E '^(thp_|compact_|pgmigrate_)' /proc/vmstat 2>/dev/null |
		awk 'NR == FNR { was[$1] = $2; next } $2 != was[$1] { printf "%s%s=%d", sep, $1, $2 - was[$1]; sep = " " }
			END { print "" }' "$LAB_TMP/vmstat-$1" - 2>/dev/null || true
}

# lab__guest_death NAME: says how a guest that was not asked to end died.
# A guest that dies silently under the reference VMM (stock QEMU, stock
# kernel) can only have been broken by the lab host's nested KVM: that is
# recorded in $LAB_OUT/lab-instability, which makes tests/lab/run treat the
# attempt like a lab-host crash (one rerun). A death under svmm is never
# excused; svmm's own last words are shown. (svmm logs a triple fault's
# registers, but the lab host's KVM is AMD's, which resets the vCPU at a
# triple fault: here they are lost, and svmm says so.)
lab__guest_death() {
	local name=$1 console="$LAB_OUT/guest-$1.log" vmmlog="$LAB_OUT/guest-$1.vmm.log" panic
	LAB_GUEST_EXPLAINED[$name]=1
	lab_log "guest $name: lab host page moves since it started: $(lab__page_moves_since "$name")"
	lab_kvm_recorder_dump "$name" "${LAB_GUEST_VMM[$name]}"
	panic=$(grep -m1 -E "$LAB_GUEST_PANIC_RE" "$console" 2>/dev/null || true)
	if [ -n "$panic" ]; then
		lab_log "guest $name: the guest kernel died: $panic"
		return 0
	fi
	case "${LAB_GUEST_VMM[$name]}" in
	qemu)
		lab_log "guest $name: the reference guest (QEMU) died without a word: a triple fault that stock QEMU and a stock kernel do not cause, so the lab host's nested KVM broke"
		echo "guest $name died silently under QEMU" >>"$LAB_OUT/lab-instability"
		;;
	svmm)
		lab_log "guest $name: svmm's last words: $(grep -E 'error|triple' "$vmmlog" 2>/dev/null | tail -2 | paste -sd'|')"
		;;
	esac
}

lab_guest_expect() {
	local line lab__gw_fatal=1
	line=$(lab_guest_wait "$1" "$2|^LAB: error|^LAB: (read|write)-failed " "${3:-60}" "${4:-0}") ||
		lab_fail "guest $1: no console line matched /$2/"
	# An I/O failure is an error only when it is not what was asked for.
	[[ $line =~ $2 ]] || lab_fail "guest $1: ${line#LAB: }"
	echo "$line"
}

lab_guest_when_ms() {
	local found
	found=$(lab__guest_find "$1" "$2" "${3:-0}") || lab_fail "guest $1: no console line matches /$2/"
	echo $((${found%% *} / 1000))
}

lab_guest_mark() { wc -l <"$(lab__guest_stamped "$1")"; }

lab_guest_mark_after() {
	RE=$2 awk -v from="${3:-0}" 'NR > from && substr($0, index($0, " ") + 1) ~ ENVIRON["RE"] { print NR; found = 1; exit }
		END { exit !found }' "$(lab__guest_stamped "$1")" || lab_fail "guest $1: no console line matches /$2/"
}

lab_guest_started_ms() { lab__guest_known "$1"; echo $((LAB_GUEST_T0_US[$1] / 1000)); }

lab_guest_attach() {
	local name=$1 id=$2 bus=$3 dev=$4
	lab__guest_known "$name"
	lab_log "guest $name: attaching USB $bus/$dev as $id"
	"lab_vmm_${LAB_GUEST_VMM[$name]}_attach" "$(lab__guest_ctl "$name")" "$id" "$bus" "$dev" ||
		lab_fail "guest $name: attaching $bus/$dev failed"
}

lab_guest_detach() {
	lab__guest_known "$1"
	lab_log "guest $1: detaching $2"
	"lab_vmm_${LAB_GUEST_VMM[$1]}_detach" "$(lab__guest_ctl "$1")" "$2" ||
		lab_fail "guest $1: detaching $2 failed"
}

lab_guest_wait_exit() {
	local name=$1 secs=${2:-60} rc=0
	lab__guest_known "$name"
	lab_wait_until "$secs" "guest $name to power off" eval '! lab__guest_alive "$name"' || return 1
	wait "${LAB_GUEST_PID[$name]}" || rc=$?
	# The scenario waited for this exit and judges its status: not a death
	# for lab_guest_stop to explain (svmm stop in attach-cycles).
	LAB_GUEST_EXPLAINED[$name]=1
	lab_log "guest $name: VMM exited with status $rc"
	return "$rc"
}

lab_guest_finish() {
	local lab__gw_fatal=1
	lab_guest_wait "$1" '^LAB: done status=ok' 120 >/dev/null || lab_fail "guest $1: the init did not finish cleanly"
	lab_guest_wait_exit "$1" 60 || lab_fail "guest $1: the VMM did not exit cleanly after the guest ended"
}

# lab__guest_ended_as_asked NAME: whether guest NAME's VMM, once it has
# exited, did so as asked: stopped by lab_guest_stop, or its guest's init
# ended ("LAB: done").
lab__guest_ended_as_asked() {
	[ -e "$LAB_TMP/stopping-$1" ] || grep -q '^LAB: done' "$LAB_OUT/guest-$1.log" 2>/dev/null
}

lab_guest_stop() {
	local pid=${LAB_GUEST_PID[$1]:-}
	[ -n "$pid" ] || return 0
	if ! kill -0 "$pid" 2>/dev/null; then
		# Died unasked, and no wait on its console saw it (a scenario
		# that failed on something else first): say how.
		[ -n "${LAB_GUEST_EXPLAINED[$1]:-}" ] || lab__guest_ended_as_asked "$1" || lab__guest_death "$1"
		return 0
	fi
	: >"$LAB_TMP/stopping-$1"
	kill "$pid" 2>/dev/null || true
	lab_wait_until 10 "guest $1's VMM to exit" eval '! kill -0 "$pid" 2>/dev/null' ||
		kill -KILL "$pid" 2>/dev/null || true
}

lab_guest_use_rebooting_initrd() {
	local root="$LAB_TMP/guest-reboot-root" out="$LAB_TMP/guest-reboot.cpio"
	if [ ! -f "$out" ]; then
		mkdir -p "$root"
		(cd "$root" && zstd -dc "$LAB_GUEST_INITRD" | cpio -id --quiet) ||
			lab_fail "cannot unpack $LAB_GUEST_INITRD"
		grep -q 'poweroff -f' "$root/init" || lab_fail "the guest init no longer powers off with 'poweroff -f'"
		sed -i 's/poweroff -f/reboot -f/' "$root/init"
		(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out"
	fi
	LAB_GUEST_INITRD=$out
}

lab_guest_port_story() {
	local name=$1 from=$2 secs=$3 line
	lab_guest_wait "$name" '^LAB: klog ' "$secs" "$from" >/dev/null || return 0
	lab_sleep 3 # the rest of the klog lines
	tail -n +$((from + 1)) "$LAB_OUT/guest-$name.log" |
		grep -a -E '^LAB: klog .*(Port change event|port polling|USB disconnect|new .*USB device)' |
		tail -n 12 | while IFS= read -r line; do lab_log "guest $name: ${line#LAB: }"; done
	grep -a 'Port Status Change Event' "$LAB_OUT/guest-$name.vmm.log" | tail -n 4 |
		while IFS= read -r line; do lab_log "guest $name: svmm: $line"; done
}
