#!/usr/bin/env bash
# The svmm binary's command line as a user meets it: help, version, usage errors (exit 2),
# and clear errors (exit 1) when the control socket is missing.
set -u
. "$(dirname "$0")/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-cli.XXXXXX")
trap 'rm -rf "$TAP_TMP"' EXIT

expect_run "--version prints the version" 0 '^svmm [0-9]+\.[0-9]+\.[0-9]+$' stdout -- "$SVMM" --version
expect_run "--help lists the commands" 0 'usb +attach, detach, list or watch' stdout -- "$SVMM" --help
for cmd in run "usb attach" "usb detach" "usb list" "usb watch" stop broker; do
	# shellcheck disable=SC2086
	expect_run "$cmd --help prints its usage" 0 '^usage: svmm' stdout -- "$SVMM" $cmd --help
done
expect_run "no command is a usage error" 2 '^svmm: missing command' stderr -- "$SVMM"
expect_run "an unknown command is a usage error" 2 "unknown command 'boot'" stderr -- "$SVMM" boot
expect_run "an unknown option is a usage error" 2 'unknown option --frob' stderr -- \
	"$SVMM" run --frob --control s k
expect_run "run without --control is a usage error" 2 'missing --control SOCK' stderr -- "$SVMM" run k
expect_run "run without a kernel prints run's usage" 2 'usage: svmm run' stderr -- "$SVMM" run -s s
expect_run "attach with two arguments is a usage error" 2 'missing PLACEHOLDER, PATH or SOCK' stderr -- \
	"$SVMM" usb attach 00:00:00:00 /dev/bus/usb/002/022
expect_run "detach of port 0 is a usage error" 2 "PORT '0' is not a number" stderr -- \
	"$SVMM" usb detach 0 "$TAP_TMP/s"
expect_run "attach to a missing control socket fails clearly" 1 \
	"cannot connect to control socket $TAP_TMP/none.sock: No such file or directory" stderr -- \
	"$SVMM" usb attach 00:00:00:00 /dev/bus/usb/002/022 "$TAP_TMP/none.sock"
expect_run "detach from a missing control socket fails clearly" 1 'cannot connect to control socket' stderr -- \
	"$SVMM" usb detach 9 "$TAP_TMP/none.sock"
expect_run "list from a missing control socket fails clearly" 1 'cannot connect to control socket' stderr -- \
	"$SVMM" usb list "$TAP_TMP/none.sock"
expect_run "stop on a plain file fails clearly" 1 'cannot connect to control socket .*: Connection refused' stderr -- \
	bash -c ': >"$1/plain"; exec "$2" stop "$1/plain"' _ "$TAP_TMP" "$SVMM"
tap_done
