# The first thing that went wrong in a scenario (sourced by enter and
# scenario.sh, inside the lab host). tests/lab/run reads it to tell a
# scenario that failed from a lab host that crashed: a scenario that failed
# before the lab host crashed stays failed (host/labhost.sh,
# lab_host_verdict). Written the moment a failure is seen, not when the
# scenario exits, because a post-mortem can take minutes and the lab host
# may crash during it.
#
# $LAB_OUT/first-failure is one line, "UPTIME KIND WHAT":
#   UPTIME  the lab host's /proc/uptime in seconds, comparable with the
#           timestamps of its kernel's console lines
#   KIND    "scenario" (a failed check, a guest of the VMM under test that
#           stalled or died, the time limit) or "lab" (a guest of the
#           reference VMM broken by the lab host's nested KVM)
#   WHAT    one line saying what

# lab_first_failure KIND WHAT: records the failure unless one is on record
# already (noclobber: O_EXCL, so of two at once only the first is kept).
lab_first_failure() {
	local up rest
	read -r up rest </proc/uptime || up=0
	(set -o noclobber; printf '%s %s %s\n' "$up" "$1" "${2//$'\n'/ }" >"$LAB_OUT/first-failure") 2>/dev/null || true
}
