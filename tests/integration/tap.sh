# SPDX-License-Identifier: MIT
# Minimal TAP for shell integration tests: source it, call the checks, then tap_done.
tap_n=0
tap_failed=0

tap_ok() {	# tap_ok DESCRIPTION
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1"
}

tap_not_ok() {	# tap_not_ok DESCRIPTION [DETAIL...]
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
	shift
	for line in "$@"; do echo "# $line"; done
}

# expect_run DESCRIPTION STATUS PATTERN STREAM -- COMMAND...
# Runs COMMAND; passes if it exits with STATUS and STREAM (stdout|stderr) matches the extended regex PATTERN.
expect_run() {
	local desc=$1 want=$2 pattern=$3 stream=$4
	shift 5
	local out err status
	out=$(mktemp "${TAP_TMP:?}/out.XXXXXX")
	err=$(mktemp "$TAP_TMP/err.XXXXXX")
	timeout 30 "$@" >"$out" 2>"$err" </dev/null
	status=$?
	local text
	if [ "$stream" = stdout ]; then text=$(cat "$out"); else text=$(cat "$err"); fi
	if [ "$status" -eq "$want" ] && grep -Eq -- "$pattern" <<<"$text"; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "exit status $status (want $want)" "stdout: $(head -c 300 "$out")" \
			"stderr: $(head -c 300 "$err")" "want $stream to match: $pattern"
	fi
	rm -f "$out" "$err"
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
