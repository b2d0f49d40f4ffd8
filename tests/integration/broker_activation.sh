#!/usr/bin/env bash
# `svmm broker` started the way systemd starts svmm-broker.service from
# svmm-broker.socket (socket_activate.py: a pre-bound socket at fd 3,
# LISTEN_PID, LISTEN_FDS), with what the unit leaves it (no capability in any
# set, no_new_privs: setpriv): it serves that socket under its seccomp
# filter, answers a request through it (and a VM's attach, where /dev/kvm
# works), leaves the socket file to systemd when it stops, and refuses a
# socket of the wrong type, two sockets, and --socket with a passed socket,
# with a clear message.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
here=$(dirname "$0")
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-activation.XXXXXX")
T=$TAP_TMP
broker_pid= vm=
cleanup() {
	[ -n "$vm" ] && kill -KILL "$vm" 2>/dev/null
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
sock=$T/broker.sock
log=$T/broker.log
activate=(python3 "$here/socket_activate.py")

# --- What a wrong unit, or a wrong command line, gets. ---
expect_run "a stream socket from systemd is refused" 1 \
	"socket passed by systemd: fd 3 is a SOCK_STREAM socket, not SOCK_SEQPACKET" stderr -- \
	"${activate[@]}" --type stream "$sock" "$SVMM" broker
rm -f "$sock"
expect_run "two sockets from systemd are refused" 1 "systemd passed 2 sockets; the broker listens on one" stderr -- \
	"${activate[@]}" --fds 2 "$sock" "$SVMM" broker
rm -f "$sock"
expect_run "--socket with a socket from systemd is refused" 2 "--socket $T/other.sock given, but systemd passed a socket" \
	stderr -- "${activate[@]}" "$sock" "$SVMM" broker --socket "$T/other.sock"
if [ -e "$T/other.sock" ]; then tap_not_ok "nothing listens at --socket then"; else tap_ok "nothing listens at --socket then"; fi
rm -f "$sock"
expect_run "variables for another process are not taken" 2 "LISTEN_PID=[0-9]+ is not this process" stderr -- \
	"${activate[@]}" --other-pid "$sock" "$SVMM" broker
rm -f "$sock"
expect_run "without --socket and without systemd the broker says what it lacks" 2 \
	"no socket: give --socket PATH, or start the broker from svmm-broker.socket" stderr -- "$SVMM" broker

# --- The good case, with the unit's privileges: none. ---
setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs \
	python3 "$here/socket_activate.py" "$sock" "$SVMM" broker 2>"$log" &
broker_pid=$!
for _ in $(seq 100); do grep -q 'listening socket=' "$log" && break; sleep 0.1; done
if grep -q "listening socket=$sock from=systemd policy=built-in rules=1" "$log"; then
	tap_ok "the broker serves the socket systemd passes"
else
	tap_not_ok "the broker serves the socket systemd passes" "$(cat "$log")"
fi
bfield() { awk -v k="$1:" '$1 == k { print $2; exit }' "/proc/$broker_pid/status" 2>/dev/null; }
for _ in $(seq 50); do [ "$(bfield Seccomp)" = 2 ] && break; sleep 0.1; done
for f in Seccomp:2 NoNewPrivs:1 CapEff:0000000000000000 CapBnd:0000000000000000; do
	if [ "$(bfield "${f%%:*}")" = "${f#*:}" ]; then tap_ok "it runs with ${f%%:*} ${f#*:}"; else tap_not_ok "it runs with ${f%%:*} ${f#*:}" "got '$(bfield "${f%%:*}")'"; fi
done
# This machine has no /dev/bus/usb: the request is answered no_such_device; in the lab it opens.
expect_run "a request through the passed socket is answered" 0 "^620 0 (no_such_device|ok|failed_to_open_device) " \
	stdout -- python3 "$here/broker_request.py" "$sock" open /dev/bus/usb/001/002
if grep -Eq 'decision .*op=OPEN id=42 .*path="/dev/bus/usb/001/002" .*verdict=(deny|allow)' "$log"; then
	tap_ok "and its decision is logged"
else
	tap_not_ok "and its decision is logged" "$(tail -3 "$log")"
fi

# A VM using the activated broker: its attach goes through it (refused here: no such node).
if [ -n "${SVMM_TEST_GUEST:-}" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	"$SVMM" run --control "$T/vm.sock" --broker "$sock" --params echo "$SVMM_TEST_GUEST" >"$T/vm.out" 2>"$T/vm.err" </dev/null &
	vm=$!
	for _ in $(seq 300); do grep -q 'waiting for a byte' "$T/vm.out" 2>/dev/null && break; sleep 0.1; done
	expect_run "a VM's usb attach goes through the activated broker" 1 '^no_such_device: cannot open /dev/bus/usb' \
		stderr -- "$SVMM" usb attach 00:00:00:00 /dev/bus/usb/001/003 "$T/vm.sock"
	if grep -q 'op=OPEN .*path="/dev/bus/usb/001/003"' "$log"; then tap_ok "the broker logged the VM's request"; else tap_not_ok "the broker logged the VM's request" "$(tail -3 "$log")"; fi
	"$SVMM" stop "$T/vm.sock" >/dev/null 2>&1
	wait "$vm"
	vm=
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n - a VM's usb attach goes through the activated broker # SKIP no usable /dev/kvm or no test guest"
fi

kill -TERM "$broker_pid"
wait "$broker_pid"
status=$?
broker_pid=
if [ "$status" = 0 ]; then tap_ok "SIGTERM stops it with status 0"; else tap_not_ok "SIGTERM stops it with status 0" "status $status" "$(tail -3 "$log")"; fi
# systemd keeps the socket (and its file) for the next start: the broker must not remove it.
if [ -S "$sock" ]; then tap_ok "the socket file stays: it is systemd's"; else tap_not_ok "the socket file stays: it is systemd's"; fi
tap_done
