# The helpers a lab scenario sources first:
#   source "$LAB_LIB/scenario.sh"
# Scenarios run inside the lab host (see lib/enter), chrooted into this
# machine's read-only root, as root, with /tmp and /run on tmpfs. They get:
#   LAB_REPO LAB_BUILD   the svmm checkout and its build tree (same paths as outside)
#   LAB_OUT              the result directory (writable; figures, logs)
#   LAB_TMP              scratch space on the lab host's tmpfs
#   LAB_CACHE LAB_KROOT LAB_KVER   the cache and the unpacked Debian kernel
#   LAB_GUEST_KERNEL LAB_GUEST_INITRD   what lab_guest_boot boots
#   LAB_VMM              the VMM lab_guest_boot uses unless told (qemu, svmm)
#   LAB_SCENARIO LAB_TIMEOUT, and any LAB_* variable given to tests/lab/run
# This file sources gadget.sh (USB gadgets), guest.sh (guests), vmcost.sh
# (what a guest's VMM spends), qmp.sh and kvm_recorder.sh (the lab host's
# KVM flight recorder, started here).
set -eEuo pipefail
LAB_LIB=${LAB_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
source "$LAB_LIB/first_failure.sh"
# A command that fails outside a condition ends the scenario: say which.
lab__err() {
	local what="\"$1\" failed with status $2 ($3)"
	lab_first_failure scenario "$what"
	lab_log "FAIL: $what"
}
trap 'lab__err "$BASH_COMMAND" $? "${BASH_SOURCE[0]##*/}:$LINENO"' ERR
LAB_T0_US=${EPOCHREALTIME/./}

# Microseconds and milliseconds on the lab host's clock.
lab_now_us() { echo "${EPOCHREALTIME/./}"; }
lab_now_ms() { echo $(($(lab_now_us) / 1000)); }

# lab_log MSG: a line of the scenario's log (on stderr, so that functions
# whose output is captured can log), stamped with seconds since its start.
lab_log() {
	local d=$(($(lab_now_us) - LAB_T0_US))
	printf '[%4d.%03d] %s\n' $((d / 1000000)) $((d / 1000 % 1000)) "$*" >&2
}
# lab_fail MSG: the scenario failed.
lab_fail() {
	trap - ERR
	lab_first_failure scenario "$*"
	lab_log "FAIL: $*"
	exit 1
}
# lab_expect WHAT GOT WANT: fails unless GOT = WANT.
lab_expect() {
	[ "$2" = "$3" ] || lab_fail "$1: got '$2', want '$3'"
	lab_log "ok: $1 = $2"
}
# lab_figure SUBJECT KEY=VALUE...: a measurement, printed by tests/lab/run
# as "FIGURE SUBJECT KEY=VALUE...".
lab_figure() {
	echo "FIGURE $*" >>"$LAB_OUT/figures"
	lab_log "FIGURE $*"
}
# lab_field LINE KEY: the VALUE of " KEY=VALUE" in LINE (a guest console line).
lab_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# lab_random_file PATH MIB: fills PATH with MIB MiB of random data; prints its MD5.
lab_random_file() {
	head -c $(($2 << 20)) /dev/urandom >"$1"
	md5sum <"$1" | cut -d' ' -f1
}
# lab_ratio A B [DECIMALS]: A / B as a decimal number.
lab_ratio() { awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { printf "%.*f\n", d, (b ? a / b : 0) }'; }

# lab_on_exit CMD...: run CMD when the scenario ends (last registered, first run).
LAB_EXIT_CMDS=()
lab_on_exit() { LAB_EXIT_CMDS+=("$*"); }
lab__run_exit_cmds() {
	local rc=$? i
	# The scenario has ended: nothing here is one of its checks (and
	# "return $rc" would otherwise set off the ERR trap).
	trap - ERR
	set +e
	for ((i = ${#LAB_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${LAB_EXIT_CMDS[i]}"
	done
	return $rc
}
trap lab__run_exit_cmds EXIT

# lab_wait_until SECS WHAT CMD...: runs CMD every 0.2 s until it succeeds;
# fails the call (not the scenario) with a message after SECS seconds.
# lab_sleep SECS: sleeps without forking or running a program (a read that
# times out on a pipe no one writes to): under TCG, starting sleep(1) costs
# the lab host more CPU than the wait it stands for.
lab__sleep_fd=
lab_sleep() {
	[ -n "$lab__sleep_fd" ] || exec {lab__sleep_fd}<> <(:)
	read -r -t "$1" -u "$lab__sleep_fd" _ || true
}

lab_wait_until() {
	local secs=$1 what=$2 end=$((SECONDS + $1))
	shift 2
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			lab_log "timed out after ${secs}s waiting for $what"
			return 1
		fi
		lab_sleep 0.2
	done
}

# lab_modprobe MODULE [PARAMS]: loads a module of the lab kernel (the lab
# host's initramfs has only the few it loads at boot).
lab_modprobe() { modprobe -d "$LAB_KROOT" "$@"; }

source "$LAB_LIB/qmp.sh"
source "$LAB_LIB/gadget.sh"
source "$LAB_LIB/guest.sh"
source "$LAB_LIB/vmcost.sh"
source "$LAB_LIB/kvm_recorder.sh"
lab_kvm_recorder_start

# The jail needs a new user namespace, which the kernel refuses to a
# chrooted process (EPERM). Lab hosts from before 7202c74 ran scenarios
# chrooted into this machine's root; lab_unchrooted CMD... runs CMD as the
# lab host's init now does for every scenario: in a private copy of PID 1's
# mount namespace, the 9p root (with all mounted on it) moved onto / and
# entered. Where a user namespace can be made already, CMD runs as it is.
lab_unchrooted() {
	if unshare --user true 2>/dev/null; then
		"$@"
		return
	fi
	nsenter --target 1 --mount --root -- /bin/busybox unshare --mount --propagation private -- \
		/bin/busybox sh -c 'cd /host && mount -o move /host / && exec /bin/busybox chroot . "$@"' \
		lab_unchrooted "$@"
}
