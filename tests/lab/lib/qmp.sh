# QEMU's QMP for lab scenarios (sourced by scenario.sh), spoken through socat.
#
#   lab_qmp SOCK COMMAND [ARGUMENTS-JSON]
# Connects, negotiates capabilities, runs COMMAND and prints its reply line
# ({"return": ...}); fails with QEMU's error message if it answered with an
# error, or if there is no reply within 20 s. Events are skipped.

lab_qmp() {
	local sock=$1 cmd=$2 args=${3:-} line in out pid rc=0
	lab_wait_until 20 "QMP socket $sock" test -S "$sock" || return 1
	coproc QMP { socat - "UNIX-CONNECT:$sock" 2>&1; }
	# copies: bash unsets QMP when socat exits
	in=${QMP[0]} out=${QMP[1]} pid=$QMP_PID
	LAB_QMP_REPLY=
	if ! read -r -t 20 line <&"$in"; then
		lab_log "QMP $sock: no greeting"
		rc=1
	elif ! { echo '{"execute":"qmp_capabilities"}' >&"$out" && lab__qmp_reply "$in"; }; then
		lab_log "QMP $sock: no answer to qmp_capabilities: $LAB_QMP_REPLY"
		rc=1
	else
		if [ -n "$args" ]; then
			echo "{\"execute\":\"$cmd\",\"arguments\":$args}" >&"$out"
		else
			echo "{\"execute\":\"$cmd\"}" >&"$out"
		fi
		if ! lab__qmp_reply "$in"; then
			lab_log "QMP $sock: $cmd: ${LAB_QMP_REPLY:-no reply within 20 s}"
			rc=1
		fi
	fi
	exec {out}>&- {in}<&-
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ "$rc" -eq 0 ] && echo "$LAB_QMP_REPLY"
	return "$rc"
}

# Reads lines from fd $1 until a reply; sets LAB_QMP_REPLY and succeeds if
# it was a "return".
lab__qmp_reply() {
	local line
	while read -r -t 20 line <&"$1"; do
		case "$line" in
		*'"return"'*) LAB_QMP_REPLY=$line; return 0 ;;
		*'"error"'*) LAB_QMP_REPLY=$line; return 1 ;;
		esac
	done
	return 1
}
