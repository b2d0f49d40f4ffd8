#!/usr/bin/env bash
# The real `svmm broker` as a service: a malformed policy stops it with FILE:LINE: reason;
# it starts, runs under its seccomp filter without privileges, makes its socket 0660, refuses a second broker, answers a request from a
# client with one logged decision line, refuses malformed requests and descriptors sent
# to it, replaces a stale socket, never touches a file that is not a socket, and
# exits 0 on SIGTERM, removing its socket.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-broker.XXXXXX")
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	rm -rf "$TAP_TMP"
}
trap cleanup EXIT

sock=$TAP_TMP/broker.sock
log=$TAP_TMP/broker.log
policy=$TAP_TMP/usb.policy

# A client speaking the broker protocol from outside svmm (broker_request.py SOCK KIND [ARG]).
client=$(dirname "$0")/broker_request.py

listening() {
	grep -c 'listening socket=' "$log" 2>/dev/null
}

start_broker() {	# start_broker [ARGS...]: runs the broker in the background, logging to $log
	local before
	before=$(listening)
	"$SVMM" broker --socket "$sock" "$@" 2>>"$log" &
	broker_pid=$!
	# Ready when it says so: a stale socket from a killed broker exists before it listens.
	for _ in $(seq 100); do
		[ "$(listening)" -gt "${before:-0}" ] && [ -S "$sock" ] && return 0
		sleep 0.1
	done
	return 1
}

stop_broker() {	# stop_broker: SIGTERM; sets stop_status to the exit status
	kill -TERM "$broker_pid"
	wait "$broker_pid"
	stop_status=$?
	broker_pid=
}

# --- A malformed policy never gets as far as a socket. ---
printf 'allow-detach all\n# the next rule is wrong\nallow id 12g4:0001\n' >"$policy"
expect_run "a malformed policy is refused with FILE:LINE: reason" 1 \
	"$policy:3: bad id '12g4:0001'" stderr -- "$SVMM" broker --socket "$sock" --policy "$policy"
printf 'permit all\n' >"$policy"
expect_run "an unknown keyword is refused with its line" 1 "$policy:1: unknown action 'permit'" \
	stderr -- "$SVMM" broker --socket "$sock" --policy "$policy"
if [ -e "$sock" ]; then tap_not_ok "no socket after a refused policy"; else tap_ok "no socket after a refused policy"; fi
printf 'allow-detach all\n' >"$policy"
chmod 0666 "$policy"
expect_run "a policy others may write is refused" 1 "$policy: writable by group or others" stderr -- \
	"$SVMM" broker --socket "$sock" --policy "$policy"
chmod 0644 "$policy"
expect_run "a missing policy file is refused" 1 "$TAP_TMP/none: No such file or directory" stderr -- \
	"$SVMM" broker --socket "$sock" --policy "$TAP_TMP/none"

# --- Start, serve, stop. ---
printf '# test policy\ndeny interface-class 03\nallow-detach all\n' >"$policy"
if start_broker --policy "$policy"; then tap_ok "the broker starts and listens"; else tap_not_ok "the broker starts and listens" "$(cat "$log")"; fi
# Its jail, seen from outside: its own seccomp filter, loaded before it reads a request, and no privileges.
bfield() { awk -v k="$1:" '$1 == k { print $2; exit }' "/proc/$broker_pid/status" 2>/dev/null; }
for _ in $(seq 50); do [ "$(bfield Seccomp)" = 2 ] && break; sleep 0.1; done
for f in Seccomp:2 NoNewPrivs:1 CapEff:0000000000000000 CapPrm:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000; do
	if [ "$(bfield "${f%%:*}")" = "${f#*:}" ]; then tap_ok "the broker runs with ${f%%:*} ${f#*:}"; else tap_not_ok "the broker runs with ${f%%:*} ${f#*:}" "got '$(bfield "${f%%:*}")'"; fi
done
mode=$(stat -c %a "$sock" 2>/dev/null)
if [ "$mode" = 660 ]; then tap_ok "the socket is mode 0660"; else tap_not_ok "the socket is mode 0660" "mode $mode"; fi
if grep -q "listening socket=$sock policy=$policy rules=2" "$log"; then tap_ok "the start is logged with the policy"; else tap_not_ok "the start is logged with the policy" "$(cat "$log")"; fi
expect_run "a second broker on a live socket is refused" 1 "another broker is listening there" stderr -- \
	"$SVMM" broker --socket "$sock"

# This machine has no /dev/bus/usb: the request is answered no_such_device; in the lab it opens.
expect_run "a client's OPEN is answered" 0 "^620 0 (no_such_device|ok|failed_to_open_device) " stdout -- \
	python3 "$client" "$sock" open /dev/bus/usb/001/002
if grep -Eq 'decision peer=[0-9]+ pid=[0-9]+ uid=[0-9]+ op=OPEN id=42 target=node path="/dev/bus/usb/001/002" .* verdict=(deny|allow) status=[a-z_]+ rule=[^ ]+ .*reason="[^"]*"$' "$log"; then
	tap_ok "the decision is one structured log line"
else
	tap_not_ok "the decision is one structured log line" "$(tail -3 "$log")"
fi
expect_run "an OPEN outside /dev/bus/usb is refused" 0 "^620 0 failed_to_open_device not a device node under /dev/bus/usb" \
	stdout -- python3 "$client" "$sock" open /dev/null
if grep -q 'path="/dev/null" .*verdict=deny status=failed_to_open_device' "$log"; then tap_ok "the refusal is logged"; else tap_not_ok "the refusal is logged" "$(tail -2 "$log")"; fi
expect_run "a malformed request is answered invalid_request" 0 "^620 0 invalid_request malformed request: request has the wrong size" \
	stdout -- python3 "$client" "$sock" junk
# Refused by the broker, or (where the kernel has SO_PASSRIGHTS) by the kernel at the sender, with no decision.
decisions=4
out=$(timeout 30 python3 "$client" "$sock" fd /dev/bus/usb/001/002 2>&1)
case $out in
"620 0 invalid_request malformed request: a descriptor was sent to the broker"*)
	tap_ok "a descriptor sent to the broker is refused" ;;
"refused by the kernel")
	decisions=3
	tap_ok "a descriptor sent to the broker is refused (by the kernel: SO_PASSRIGHTS)" ;;
*)
	tap_not_ok "a descriptor sent to the broker is refused" "$out" ;;
esac
# A call its filter lacks would have killed it on one of the requests above.
state=$(awk '{ print $3 }' "/proc/$broker_pid/stat" 2>/dev/null)
if [ -n "$state" ] && [ "$state" != Z ]; then tap_ok "the broker served every request under its filter"; else tap_not_ok "the broker died under its filter" "$(tail -3 "$log")"; fi
n=$(grep -c 'decision ' "$log")
if [ "$n" -eq "$decisions" ]; then tap_ok "every request got exactly one decision line"; else tap_not_ok "every request got exactly one decision line" "$n lines"; fi
# A log line cannot be forged through the path: control characters are escaped.
python3 "$client" "$sock" open "$(printf '/dev/bus/usb/001/002\nbroker: info: decision forged')" >/dev/null
if grep -q '^broker: info: decision forged' "$log"; then tap_not_ok "a newline in a path cannot forge a log line"; else tap_ok "a newline in a path cannot forge a log line"; fi
stop_broker
if [ "$stop_status" = 0 ]; then tap_ok "SIGTERM stops the broker with status 0"; else tap_not_ok "SIGTERM stops the broker with status 0" "status $stop_status"; fi
if [ -e "$sock" ]; then tap_not_ok "the socket is removed on exit"; else tap_ok "the socket is removed on exit"; fi
if grep -q "broker: info: stopped" "$log"; then tap_ok "the stop is logged"; else tap_not_ok "the stop is logged"; fi

# --- A stale socket (a broker killed hard) is replaced; a plain file is never touched. ---
start_broker
kill -KILL "$broker_pid"
wait "$broker_pid" 2>/dev/null
broker_pid=
if [ -S "$sock" ] && start_broker; then tap_ok "a stale socket is replaced"; else tap_not_ok "a stale socket is replaced" "$(tail -3 "$log")"; fi
stop_broker
if [ "$stop_status" = 0 ]; then tap_ok "the restarted broker stops cleanly"; else tap_not_ok "the restarted broker stops cleanly" "status $stop_status"; fi
echo "precious" >"$sock"
expect_run "a file that is not a socket is left alone" 1 "exists and is not a socket" stderr -- \
	"$SVMM" broker --socket "$sock"
if [ "$(cat "$sock")" = precious ]; then tap_ok "the file is intact"; else tap_not_ok "the file is intact"; fi
tap_done
