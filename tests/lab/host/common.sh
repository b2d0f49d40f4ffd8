# Shared by the host-side lab scripts (sourced, not run): logging, the cache
# location and the checks on paths that must be visible inside the lab host.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_CACHE=${SVMM_LAB_CACHE:-/var/cache/svmm-lab}

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

lab_need() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null ||
			lab_die "'$cmd' not found; run scripts/setup to install the lab packages"
	done
}

# The lab host sees this machine's root read-only, but with its own /tmp,
# /run, /proc, /sys and /dev on top; anything there is invisible inside.
# Spaces would break the kernel command line that carries some paths.
lab_check_visible() {
	local what=$1 path=$2
	case "$path" in
	/*) ;;
	*) lab_die "$what '$path' is not an absolute path" ;;
	esac
	case "$path" in
	*[[:space:]]*) lab_die "$what '$path' contains white space" ;;
	/tmp | /tmp/* | /run | /run/* | /proc/* | /sys/* | /dev/*)
		lab_die "$what '$path' is under a directory the lab host replaces (/tmp, /run, /proc, /sys, /dev); put it elsewhere (e.g. /var/tmp)" ;;
	esac
}

# An exclusive lock on the cache while images are fetched and built, so that
# two runs (a person and CI) never build the same file at once.
lab_lock() {
	mkdir -p "$LAB_CACHE"
	exec 9>"$LAB_CACHE/.lock"
	flock -w 1800 9 || lab_die "timed out waiting for the cache lock $LAB_CACHE/.lock"
}
lab_unlock() { exec 9>&-; }

# Keeps the newest 30 result directories under $LAB_CACHE/runs.
lab_prune_runs() {
	local d
	[ -d "$LAB_CACHE/runs" ] || return 0
	find "$LAB_CACHE/runs" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' |
		sort -rn | tail -n +31 | cut -d' ' -f2- | while read -r d; do rm -rf "$d"; done
}
