#!/usr/bin/env bash
# The real xHCI device process forked by `svmm run`, seen from outside: what
# /proc says about its jail (docs/security.md), and that it ends with the VMM;
# the VMM's and its broker's own filters and privileges.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
: "${SVMM_TEST_GUEST:?set SVMM_TEST_GUEST to the test guest (vmm_guest.bin)}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-jail.XXXXXX")
T=$TAP_TMP
trap 'pkill -KILL -f -- "--control $T/" 2>/dev/null; rm -rf "$T"' EXIT
sock=$T/vm.sock

if ! [ -w /dev/kvm ] || [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root and /dev/kvm"
	exit 0
fi

"$SVMM" run --control "$sock" --params echo "$SVMM_TEST_GUEST" >"$T/vm.out" 2>"$T/vm.err" </dev/null &
vm=$!
for _ in $(seq 100); do
	grep -q 'waiting for a byte' "$T/vm.out" 2>/dev/null && break
	sleep 0.1
done
dev=$(pgrep -x -P "$vm" svmm-xhci)
if [ -z "$dev" ]; then
	tap_not_ok "the VMM forked a device process" "$(cat "$T/vm.err")"
	tap_done
	exit
fi
tap_ok "the VMM forked its device process ($dev)"

field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^[ \t]+/, ""); print; exit }' "/proc/$dev/status"; }
check() {	# check DESCRIPTION ACTUAL EXPECTED
	if [ "$2" = "$3" ]; then tap_ok "$1"; else tap_not_ok "$1" "got '$2', want '$3'"; fi
}

check "Seccomp: 2 (filter mode)" "$(field Seccomp)" 2
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
	check "$cap is empty" "$(field "$cap")" 0000000000000000
done
check "NoNewPrivs: 1" "$(field NoNewPrivs)" 1
check "runs as nobody outside its user namespace" "$(field Uid)" "65534 65534 65534 65534"
check "no supplementary groups" "$(field Groups)" ""
for ns in user pid net mnt ipc uts cgroup; do
	a=$(readlink "/proc/$vm/ns/$ns")
	b=$(readlink "/proc/$dev/ns/$ns")
	if [ -n "$b" ] && [ "$a" != "$b" ]; then tap_ok "own $ns namespace"; else tap_not_ok "own $ns namespace" "VMM $a, device $b"; fi
done
check "its root is empty" "$(ls -A "/proc/$dev/root" | wc -l)" 0
check "its root is read-only" "$(awk '$5 == "/" { print $6; exit }' "/proc/$dev/mountinfo" | cut -d, -f1)" ro

# Its fds: /dev/null as stdin and stdout (never the VMM's terminal), the VMM's stderr,
# the two sockets, and what the protocol handed it (eventfds, epoll, timerfds): no file.
fds=$(for f in /proc/"$dev"/fd/*; do readlink "$f"; done | sort | uniq -c | awk '{ printf "%s x%s, ", $2, $1 }')
stdin=$(readlink "/proc/$dev/fd/0")
stdout=$(readlink "/proc/$dev/fd/1")
if [ "$stdin" = /dev/null ] && [ "$stdout" = /dev/null ]; then
	tap_ok "stdin and stdout are /dev/null"
else
	tap_not_ok "stdin and stdout are /dev/null" "stdin $stdin, stdout $stdout"
fi
other=$(for f in /proc/"$dev"/fd/*; do
	n=${f##*/}
	t=$(readlink "$f")
	case "$n:$t" in
	0:/dev/null | 1:/dev/null | 2:*) ;;
	*:socket:* | *:anon_inode:\[eventfd\] | *:anon_inode:\[eventpoll\] | *:anon_inode:\[timerfd\]) ;;
	*) echo "$n -> $t" ;;
	esac
done)
if [ -z "$other" ]; then
	tap_ok "only its sockets, eventfds, epoll and timerfds are open ($fds)"
else
	tap_not_ok "unexpected fds" "$other"
fi
nsock=$(for f in /proc/"$dev"/fd/*; do readlink "$f"; done | grep -c '^socket:')
check "exactly two sockets (request and event)" "$nsock" 2

limit() { awk -v k="$1" 'index($0, k) == 1 { print $(NF - 2), $(NF - 1); exit }' "/proc/$dev/limits"; }
check "no core dumps" "$(limit 'Max core file size')" "0 0"
check "no new processes" "$(limit 'Max processes')" "0 0"
check "a small fd limit" "$(limit 'Max open files')" "256 256"

# The VMM itself, after setup: its own filter on every thread, no capabilities.
vfield() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^[ \t]+/, ""); print; exit }' "/proc/$vm/status"; }
check "the VMM runs under seccomp (Seccomp: 2)" "$(vfield Seccomp)" 2
check "the VMM's effective capabilities are empty" "$(vfield CapEff)" 0000000000000000
check "the VMM's bounding set is empty" "$(vfield CapBnd)" 0000000000000000
check "the VMM has no_new_privs" "$(vfield NoNewPrivs)" 1
unfiltered=$(for t in /proc/"$vm"/task/*; do
	awk '$1 == "Seccomp:" && $2 != 2 { print FILENAME }' "$t/status"
done)
check "every VMM thread (vCPUs included) is filtered" "$unfiltered" ""

# The VM's own broker (forked before the VMM drops its privileges): root's uid, no capabilities,
# its own filter, loaded before it reads the VMM's first request.
broker=$(pgrep -x -P "$vm" svmm-broker)
if [ -n "$broker" ]; then tap_ok "the VMM forked its broker ($broker)"; else tap_not_ok "the VMM forked its broker"; fi
bfield() { awk -v k="$1:" '$1 == k { print $2; exit }' "/proc/$broker/status" 2>/dev/null; }
for _ in $(seq 50); do [ "$(bfield Seccomp)" = 2 ] && break; sleep 0.1; done
check "the broker runs under seccomp (Seccomp: 2)" "$(bfield Seccomp)" 2
check "the broker has no_new_privs" "$(bfield NoNewPrivs)" 1
check "the broker's effective capabilities are empty" "$(bfield CapEff)" 0000000000000000
check "the broker's bounding set is empty" "$(bfield CapBnd)" 0000000000000000
# A node attach goes VMM -> broker -> VMM: here there is no such node, in the lab the node may
# open or be refused; either way the answer comes back through both filters (a call either
# lacks would kill one of them).
out=$("$SVMM" usb attach 00:00:00:00 /dev/bus/usb/001/002 "$sock" 2>&1)
case "$out" in
*"broker did not answer"* | *"no broker"*) tap_not_ok "node attach through the broker" "$out" ;;
no_such_device:* | failed_to_open_device:* | ok\ *) tap_ok "a node attach is answered by the broker ($out)" ;;
*) tap_not_ok "node attach through the broker" "$out" ;;
esac
# Alive, not a zombie its VMM has yet to reap.
state=$(awk '{ print $3 }' "/proc/$broker/stat" 2>/dev/null)
if [ -n "$state" ] && [ "$state" != Z ]; then tap_ok "the broker is alive after the request"; else tap_not_ok "the broker died" "state '$state'" "$(tail -3 "$T/vm.err")"; fi

# An image attach works inside the jail (pread/pwrite under the filter).
truncate -s 4M "$T/disk.img"
out=$("$SVMM" usb attach --image 00:00:00:00 "$T/disk.img" "$sock" 2>&1)
case "$out" in ok\ *) tap_ok "an image attaches inside the jail ($out)" ;; *) tap_not_ok "image attach in the jail" "$out" ;; esac
if kill -0 "$dev" 2>/dev/null; then tap_ok "the device process is alive after the attach"; else tap_not_ok "device died" "$(cat "$T/vm.err")"; fi

# Killing the VMM (no chance to clean up) ends the device process too.
kill -KILL "$vm"
wait "$vm" 2>/dev/null
gone=no
for _ in $(seq 50); do
	if ! kill -0 "$dev" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$dev/stat" 2>/dev/null)" = Z ]; then
		gone=yes
		break
	fi
	sleep 0.1
done
check "killing the VMM ends the device process" "$gone" yes
tap_done
