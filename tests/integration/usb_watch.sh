#!/usr/bin/env bash
# `svmm usb watch` and devices attached at boot, as a script meets them: the
# watcher sees what is on the ports, then every attach, refusal, detach and
# the VM's end, in order, as text and as JSON; a watcher that never reads does
# not hold the VM up; `svmm run --usb-image` puts the image on a port before
# the guest runs, and a boot device that cannot be attached stops the start
# with a clear error.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
: "${SVMM_TEST_GUEST:?set SVMM_TEST_GUEST to the test guest (vmm_guest.bin)}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-watch.XXXXXX")
T=$TAP_TMP
trap 'pkill -KILL -f -- "--control $T/" 2>/dev/null; pkill -KILL -f -- "watch.* $T/" 2>/dev/null; rm -rf "$T"' EXIT
sock=$T/vm.sock

# wait_for FILE REGEX: up to 30 s (a lab next door can keep both cores busy).
wait_for() {
	for _ in $(seq 300); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

expect_run "usb watch without a socket is a usage error" 2 'missing SOCK|SOCK' stderr -- "$SVMM" usb watch
expect_run "usb watch of no VM fails with the reason" 1 "cannot connect to control socket $T/none.sock" stderr -- \
	"$SVMM" usb watch "$T/none.sock"
expect_run "svmm run --usb-image of a missing file stops the start" 1 "--usb-image $T/missing.img: No such file" stderr -- \
	"$SVMM" run --control "$sock" --usb-image "$T/missing.img" "$SVMM_TEST_GUEST"
mkdir "$T/dir"
expect_run "svmm run --usb-image of a directory stops the start" 1 "--usb-image $T/dir: not a regular file" stderr -- \
	"$SVMM" run --control "$sock" --usb-image "$T/dir" "$SVMM_TEST_GUEST"
args=()
for i in $(seq 17); do args+=(--usb-image "$T/x$i"); done
expect_run "more boot devices than ports is a usage error" 2 'at most 16 devices at boot' stderr -- \
	"$SVMM" run --control "$sock" "${args[@]}" "$SVMM_TEST_GUEST"

expect_run "svmm run --name with a name no policy can hold is a usage error" 2 '--name' stderr -- \
	"$SVMM" run --control "$sock" --name 'a b' "$SVMM_TEST_GUEST"

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	for t in boot-host-refused boot-image watch-text watch-json watch-stuck name-taken; do
		tap_n=$((tap_n + 1)); echo "ok $tap_n - $t # SKIP no usable /dev/kvm"
	done
	tap_done
	exit
fi

expect_run "svmm run --usb of a device the host lacks stops the start with the broker's reason" 1 \
	'cannot attach /dev/bus/usb/001/001 at boot: no_such_device: ' stderr -- \
	"$SVMM" run --control "$sock" --usb /dev/bus/usb/001/001 "$SVMM_TEST_GUEST"
if [ ! -S "$sock" ]; then tap_ok "the refused start leaves no socket file"; else tap_not_ok "socket file left"; fi

truncate -s 8M "$T/boot.img" "$T/late.img"
"$SVMM" run --control "$sock" --usb-image-ro "$T/boot.img" --params echo "$SVMM_TEST_GUEST" \
	>"$T/vm.out" 2>"$T/vm.err" </dev/null &
vm=$!
wait_for "$T/vm.out" 'waiting for a byte'
list=$("$SVMM" usb list "$sock")
if grep -Eq '^[0-9]+ [0-9a-f]{4}:[0-9a-f]{4} [a-z-]+ image ' <<<"$list" &&
	grep -q "attached $T/boot.img at boot on port" "$T/vm.err"; then
	tap_ok "--usb-image-ro puts the image on a port before the guest runs"
else
	tap_not_ok "boot image" "list: $list" "$(tail -5 "$T/vm.err")"
fi
boot_port=$(awk '{ print $1; exit }' <<<"$list")

"$SVMM" usb watch "$sock" >"$T/watch.txt" 2>"$T/watch.err" &
watch_text=$!
"$SVMM" usb watch --json "$sock" >"$T/watch.json" 2>"$T/watchj.err" &
watch_json=$!
# A watcher that connects and never reads: it must not hold the VM up (the
# kernel's default socket buffer holds about 150 events; this run makes 300).
python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
req = struct.pack("<HHIIIII", 1, 5, 0, 0, 0, 0, 0) + bytes(4096)
s.send(req); open(sys.argv[2], "w").close(); time.sleep(60)' "$sock" "$T/stuck.ready" &
stuck=$!
wait_for "$T/watch.txt" '^present' && wait_for "$T/watch.json" 'present'
for _ in $(seq 50); do [ -e "$T/stuck.ready" ] && break; sleep 0.1; done

"$SVMM" usb attach 00:00:00:00 /dev/bus/usb/001/001 "$sock" >/dev/null 2>&1
late=$("$SVMM" usb attach --image 00:00:00:00 "$T/late.img" "$sock" | awk '{ print $2 }')
for _ in $(seq 150); do
	"$SVMM" usb detach "$late" "$sock" >/dev/null
	"$SVMM" usb attach --image 00:00:00:00 "$T/late.img" "$sock" >/dev/null
done
"$SVMM" usb detach "$boot_port" "$sock" >/dev/null
"$SVMM" stop "$sock" >/dev/null
wait "$vm"
vm_status=$?
timeout 20 tail --pid="$watch_text" -f /dev/null
wait "$watch_text"
text_status=$?
wait "$watch_json"
json_status=$?

# present, refused, attached, 150 x (detached, attached), detached (boot image), stopped.
events=$(awk '{ print $1 }' "$T/watch.txt" | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
want="presentx1 refusedx1 attachedx1 "
for _ in $(seq 150); do want+="detachedx1 attachedx1 "; done
want+="detachedx1 stoppedx1 "
if [ "$text_status" -eq 0 ] && [ "$vm_status" -eq 0 ] && [ "$events" = "$want" ] &&
	grep -q "^present $boot_port .* image " "$T/watch.txt" &&
	grep -q "^refused /dev/bus/usb/001/001 no_such_device: " "$T/watch.txt" &&
	grep -q "^attached $late [0-9a-f]*:[0-9a-f]* [a-z-]* image [0-9/]* $T/late.img\$" "$T/watch.txt" &&
	grep -q "^detached $boot_port .* $T/boot.img\$" "$T/watch.txt"; then
	tap_ok "usb watch prints the ports, then every refusal, attach and detach in order, then stopped, and exits 0"
else
	tap_not_ok "usb watch text" "watch $text_status vm $vm_status" "got:  $events" "want: $want" \
		"$(head -5 "$T/watch.txt")" "$(cat "$T/watch.err")"
fi

if [ "$json_status" -eq 0 ] && python3 - "$T/watch.json" "$T/watch.txt" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
text = [l.split()[0] for l in open(sys.argv[2])]
assert [l["event"] for l in lines] == text, "the same events as the text watcher"
refused = [l for l in lines if l["event"] == "refused"][0]
assert refused["status"] == "no_such_device" and refused["path"] == "/dev/bus/usb/001/001"
att = [l for l in lines if l["event"] == "attached"][0]
assert att["kind"] == "image" and att["path"].endswith("late.img") and att["port"] >= 1
assert all(isinstance(l["time_ms"], int) for l in lines if l["event"] != "present")
EOF
then
	tap_ok "usb watch --json prints one valid JSON object per event, the same events"
else
	tap_not_ok "usb watch json" "status $json_status" "$(head -3 "$T/watch.json")" "$(cat "$T/watchj.err")"
fi

if grep -q "control: dropped a watcher: it does not read its events" "$T/vm.err"; then
	tap_ok "a watcher that never reads is dropped; the VM and the other watchers go on"
else
	tap_not_ok "stuck watcher" "$(grep control "$T/vm.err" | tail -3)"
fi
kill "$stuck" 2>/dev/null
wait "$stuck" 2>/dev/null

# Names are one VM's at a time on a broker: the second VM that asks for one does not start.
"$SVMM" broker --socket "$T/broker.sock" 2>"$T/broker.err" &
broker=$!
wait_for_socket() { for _ in $(seq 300); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_for_socket "$T/broker.sock"
"$SVMM" run --control "$sock" --broker "$T/broker.sock" --name build --params echo "$SVMM_TEST_GUEST" \
	>"$T/vm1.out" 2>"$T/vm1.err" </dev/null &
vm1=$!
wait_for "$T/broker.err" 'op=NAME .*path="build"' || echo "# vm1 never named itself: $(tail -3 "$T/vm1.err")"
expect_run "a second VM asking the broker for a name another VM holds does not start" 1 \
	'the broker refused the name build: the name build is taken by another VM' stderr -- \
	"$SVMM" run --control "$T/vm2.sock" --broker "$T/broker.sock" --name build "$SVMM_TEST_GUEST"
if grep -q 'op=NAME .*path="build" .*verdict=allow' "$T/broker.err"; then
	tap_ok "the broker logs the name it gave"
else
	tap_not_ok "the broker's NAME decision" "$(grep NAME "$T/broker.err")" "$(tail -5 "$T/vm1.err")"
fi
"$SVMM" stop "$sock" >/dev/null
wait "$vm1"
kill -TERM "$broker"
wait "$broker"

tap_done
