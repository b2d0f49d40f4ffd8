#!/usr/bin/env bash
# The lab runner's verdict (tests/lab/host/labhost.sh), fed fake results of
# a scenario attempt, without a lab host: the first thing that went wrong
# decides. A scenario that failed before the lab host crashed is reported
# failed and not rerun; a crash with no earlier failure is rerun once.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM_SOURCE_ROOT:?set SVMM_SOURCE_ROOT to the svmm checkout}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-lab-verdict.XXXXXX")
trap 'rm -rf "$TAP_TMP"' EXIT
. "$SVMM_SOURCE_ROOT/tests/lab/host/common.sh"
. "$SVMM_SOURCE_ROOT/tests/lab/host/labhost.sh"

# The lines a crashed lab host leaves on its console (kernel timestamps).
panic_at_735='[  735.214316] BUG: TASK stack guard page was hit at 00000000a4d1c0f7 (stack is 00000000e4b0d8f4..00000000c0b9b2e1)'
lockup_at_735='[  735.000912] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [svmm:1423]'
stall_at_735='[  735.104277] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:'
stalled_watch="$stall_at_735; the scenario's log then stood still for 90 s"
svmm_stall='guest vm (svmm) said nothing for 300s waiting for /^LAB: read-md5 /'
svmm_stall_re='guest vm \(svmm\) said nothing for 300s waiting for /\^LAB: read-md5 / \(at 412\.57s\)'

# result DIR [status=RC] [first-failure=LINE] [console=LINE] [stalled=LINE]
# [instability=LINE]: a fake result directory as lib/enter, the scenario and
# the lab host's console would leave it.
result() {
	local dir=$1 arg
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	printf 'Linux version 6.1.0-57-amd64\r\nLABHOST: root-ready uptime=5.01\r\n' >"$dir/labhost-console.log"
	for arg in "$@"; do
		case "$arg" in
		status=*) echo "rc=${arg#*=}" >"$dir/status" ;;
		first-failure=*) echo "${arg#*=}" >"$dir/first-failure" ;;
		console=*) printf '%s\r\n' "${arg#*=}" >>"$dir/labhost-console.log" ;;
		stalled=*) echo "${arg#*=}" >"$dir/labhost-stalled" ;;
		instability=*) echo "${arg#*=}" >"$dir/lab-instability" ;;
		esac
	done
}

# verdict_is DESCRIPTION QEMU_STATUS REGEX RESULT-ARGS...
verdict_is() {
	local desc=$1 qrc=$2 want=$3 got
	shift 3
	result "$TAP_TMP/r" "$@"
	got=$(lab_host_verdict "$TAP_TMP/r" "$qrc" 2>&1)
	if [[ $got =~ $want ]]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "verdict: $got" "want: $want"
	fi
}

verdict_is "a scenario that passed passes" 0 '^pass$' status=0
verdict_is "a scenario that passed passes though the lab host oopsed at shutdown" 0 '^pass$' \
	status=0 "console=$panic_at_735"
verdict_is "a failed check without a crash is a failure, saying what failed" 0 \
	'^fail md5 the guest read: got .x., want .y. \(at 88\.20s\)$' \
	status=1 "first-failure=88.20 scenario md5 the guest read: got 'x', want 'y'"
verdict_is "svmm's guest stalled, then the lab host crashed in the post-mortem: failed" 0 \
	"^fail $svmm_stall_re; the lab host crashed later: .*BUG: TASK stack guard page" \
	"first-failure=412.57 scenario $svmm_stall" "console=$panic_at_735"
verdict_is "a failure, then a crash after the scenario exited: failed" 0 \
	"^fail $svmm_stall_re" \
	status=1 "first-failure=412.57 scenario $svmm_stall" "console=$lockup_at_735"
verdict_is "a failure, then a lab host stall: failed" 137 \
	"^fail $svmm_stall_re" \
	"first-failure=412.57 scenario $svmm_stall" "console=$stall_at_735" "stalled=$stalled_watch"
verdict_is "a failure, then a lab host that stopped answering: failed" 124 \
	"^fail $svmm_stall_re" "first-failure=412.57 scenario $svmm_stall"
verdict_is "a failure, then a reference guest's death: failed" 0 \
	"^fail $svmm_stall_re" status=1 "first-failure=412.57 scenario $svmm_stall" \
	"instability=guest ref died silently under QEMU"
verdict_is "a lab host crash with no earlier failure is a crash" 0 \
	'^crash lab host kernel: .*BUG: TASK stack guard page' "console=$panic_at_735"
verdict_is "a lab host crash before the scenario's failure is a crash" 0 \
	'^crash lab host kernel: .*soft lockup' \
	status=124 "first-failure=1190.00 scenario timed out after 1190s" "console=$lockup_at_735"
verdict_is "a lab host stall before the failure is a crash" 137 '^crash lab host stalled: ' \
	"first-failure=800.00 scenario $svmm_stall" "console=$stall_at_735" "stalled=$stalled_watch"
verdict_is "a lab host that stopped answering, no failure before: a crash" 124 \
	'^crash lab host stopped responding'
verdict_is "a reference guest broken by the nested KVM first is the lab's" 0 \
	"^crash lab host's nested KVM: guest ref \(qemu\) died" \
	status=1 "first-failure=60.10 lab guest ref (qemu) died waiting for /^LAB: ready/"

# The rerun: attempt (tests/lab/run's, faked) leaves the results in
# FAKE_TRY1 (an array of result()'s arguments) in try1 and a pass in try2,
# and prints the verdict.
attempt() {
	local dir=$1
	if [ "${dir##*/}" = try1 ]; then
		result "$dir" "${FAKE_TRY1[@]}"
	else
		result "$dir" status=0
	fi
	lab_host_verdict "$dir" 0
}

runs=0
# attempts_are DESCRIPTION WANT-VERDICT-REGEX WANT-TRIES: lab_host_attempts
# decides on a verdict matching WANT-VERDICT-REGEX after WANT-TRIES attempts.
attempts_are() {
	local desc=$1 want=$2 tries=$3 base="$TAP_TMP/runs/$((++runs))" got=0
	LAB_VERDICT='' LAB_ATTEMPT_DIR=''
	lab_host_attempts "$base" scenario 600 2>/dev/null
	[ ! -d "$base/try1" ] || got=1
	[ ! -d "$base/try2" ] || got=2
	if [[ $LAB_VERDICT =~ $want ]] && [ "$got" = "$tries" ] && [ "$LAB_ATTEMPT_DIR" = "$base/try$tries" ]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "verdict '$LAB_VERDICT' after $got attempt(s), deciding: $LAB_ATTEMPT_DIR" \
			"want /$want/ after $tries"
	fi
}

FAKE_TRY1=("first-failure=412.57 scenario $svmm_stall" "console=$panic_at_735")
attempts_are "a scenario that failed before the lab host crashed is not rerun" "^fail $svmm_stall_re" 1
FAKE_TRY1=("console=$panic_at_735")
attempts_are "a lab host crash with no earlier failure is rerun once" '^pass$' 2
FAKE_TRY1=(status=0)
attempts_are "a scenario that passed is not rerun" '^pass$' 1
FAKE_TRY1=(status=1 "first-failure=88.20 scenario exit status 1")
attempts_are "a scenario that failed is not rerun" '^fail exit status 1' 1
tap_done
