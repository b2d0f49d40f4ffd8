#!/usr/bin/env bash
# `meson install --destdir` puts what a user installs where svmm(1) says: the
# binary, both man pages, the example policy, the broker's systemd units and
# the svmm group's sysusers.d file. The installed binary runs and accepts the
# installed example policy; the service starts that binary and the socket
# listens where the man page says; systemd-analyze verify finds nothing wrong
# with the units (skipped where systemd-analyze is missing).
set -u
. "$(dirname "$0")/../integration/tap.sh"
: "${MESON:?set MESON}" "${BUILD_ROOT:?set BUILD_ROOT}" "${SVMM_SOURCE_ROOT:?set SVMM_SOURCE_ROOT}"
: "${PREFIX:?}" "${BINDIR:?}" "${MANDIR:?}" "${EXAMPLE_DIR:?}" "${UNIT_DIR:?}" "${SYSUSERS_DIR:?}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-install.XXXXXX")
trap 'rm -rf "$TAP_TMP"' EXIT
D=$TAP_TMP/dest
at() { echo "$D$1"; }	# where the absolute directory $1 is in DESTDIR

if out=$("$MESON" install -C "$BUILD_ROOT" --no-rebuild --destdir "$D" 2>&1); then
	tap_ok "meson install --destdir succeeds"
else
	tap_not_ok "meson install --destdir succeeds" "$(tail -5 <<<"$out")"
fi

svmm=$(at "$BINDIR")/svmm
unit_dir=$(at "$UNIT_DIR")
declare -A want=(
	["$svmm"]=""
	["$(at "$MANDIR")/man1/svmm.1"]=docs/svmm.1
	["$(at "$MANDIR")/man5/svmm-usb-policy.5"]=docs/svmm-usb-policy.5
	["$(at "$EXAMPLE_DIR")/usb.policy"]=policy/usb.policy
	["$unit_dir/svmm-broker.socket"]=systemd/svmm-broker.socket
	["$unit_dir/svmm-broker.service"]=""
	["$(at "$SYSUSERS_DIR")/svmm.conf"]=systemd/svmm.sysusers
)
for f in "${!want[@]}"; do
	rel=${f#"$D"}
	if [ ! -f "$f" ]; then
		tap_not_ok "$rel is installed" "$(cd "$D" && find . -type f)"
	elif [ -n "${want[$f]}" ] && ! cmp -s "$f" "$SVMM_SOURCE_ROOT/${want[$f]}"; then
		tap_not_ok "$rel is installed" "it differs from ${want[$f]}"
	else
		tap_ok "$rel is installed"
	fi
done
n=$(find "$D" -type f | wc -l)
if [ "$n" -eq "${#want[@]}" ]; then tap_ok "nothing else is installed"; else tap_not_ok "nothing else is installed" "$(cd "$D" && find . -type f)"; fi

expect_run "the installed svmm runs" 0 '^svmm [0-9]+\.[0-9]+' stdout -- "$svmm" --version
# The broker parses its policy before it looks for a socket: a malformed one ends it with 1 and FILE:LINE.
expect_run "the installed broker accepts the installed example policy" 2 '^broker: error: no socket' stderr -- \
	"$svmm" broker --policy "$(at "$EXAMPLE_DIR")/usb.policy"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit_dir/svmm-broker.service")
if [ "$exec_start" = "$BINDIR/svmm broker" ]; then
	tap_ok "the service starts the installed svmm ($exec_start)"
else
	tap_not_ok "the service starts the installed svmm" "ExecStart=$exec_start"
fi
listen=$(sed -n 's/^ListenSequentialPacket=//p' "$unit_dir/svmm-broker.socket")
man_text=$(groff -man -Tascii -P-cbou "$SVMM_SOURCE_ROOT/docs/svmm.1" 2>/dev/null)
if [ -n "$listen" ] && grep -q -- "^       $listen\$" <<<"$man_text"; then
	tap_ok "the socket listens where svmm.1 says ($listen)"
else
	tap_not_ok "the socket listens where svmm.1 says" "ListenSequentialPacket=$listen"
fi
# svmm.1's FILES name the installed files by their place under PREFIX (the default directories).
if [ "$UNIT_DIR" = "$PREFIX/lib/systemd/system" ] && [ "$SYSUSERS_DIR" = "$PREFIX/lib/sysusers.d" ]; then
	for f in "$unit_dir/svmm-broker.socket" "$unit_dir/svmm-broker.service" "$(at "$SYSUSERS_DIR")/svmm.conf" \
		"$(at "$EXAMPLE_DIR")/usb.policy"; do
		rel=PREFIX${f#"$D$PREFIX"}
		if grep -q -- "^       $rel\$" <<<"$man_text"; then tap_ok "svmm.1 names $rel"; else tap_not_ok "svmm.1 names $rel"; fi
	done
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n - svmm.1 names the installed units # SKIP unit or sysusers directory set by an option"
fi

# systemd-analyze verify reads the units as systemd would (no running systemd needed). It checks that
# ExecStart's program exists, so the service is verified with it pointing into DESTDIR, and that the
# Documentation= man pages exist, so MANPATH is the installed pages.
if command -v systemd-analyze >/dev/null; then
	mkdir "$TAP_TMP/units"
	cp "$unit_dir/svmm-broker.socket" "$TAP_TMP/units/"
	sed "s|^ExecStart=$BINDIR/svmm |ExecStart=$svmm |" "$unit_dir/svmm-broker.service" >"$TAP_TMP/units/svmm-broker.service"
	if out=$(MANPATH=$(at "$MANDIR") systemd-analyze verify "$TAP_TMP/units/svmm-broker.socket" \
		"$TAP_TMP/units/svmm-broker.service" 2>&1) && [ -z "$out" ]; then
		tap_ok "systemd-analyze verify finds nothing wrong with the units"
	else
		tap_not_ok "systemd-analyze verify finds nothing wrong with the units" "$out"
	fi
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n - systemd-analyze verify on the units # SKIP systemd-analyze is not installed (not a pass)"
fi
tap_done
