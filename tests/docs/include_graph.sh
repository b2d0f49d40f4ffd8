#!/usr/bin/env bash
# The source layout as the compiler sees it: every project header is
# included by its path from the repository root ("common/log.h"), no two
# headers share a name, and, from the compiler's dependency files of this
# build (ninja -t deps), the VMM's objects read no device header (the device
# describes itself in its HELLO) and no object of the VMM, the broker, the
# devices or common/ reads a header of the command line's cli/.
set -u
. "$(dirname "$0")/../integration/tap.sh"
: "${SVMM_SOURCE_ROOT:?set SVMM_SOURCE_ROOT}"
: "${SVMM_BUILD_ROOT:?set SVMM_BUILD_ROOT}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-layout.XXXXXX")
trap 'rm -rf "$TAP_TMP"' EXIT
cd "$SVMM_SOURCE_ROOT" || exit 1

sources=$(find . -path ./.git -prune -o -path ./tests/lab -prune -o \
	\( -name '*.c' -o -name '*.h' -o -name '*.S' \) -type f -print | sed 's#^\./##' | sort)
bad=$(for f in $sources; do
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
		case $inc in
		*/*) [ -f "$inc" ] || echo "$f: \"$inc\" is no file from the root" ;;
		*) echo "$f: \"$inc\" is not named from the root" ;;
		esac
	done
done)
if [ -z "$bad" ]; then
	tap_ok "every project header is included by its path from the root ($(wc -w <<<"$sources") files)"
else
	tap_not_ok "includes named from the root" "$(head -5 <<<"$bad")"
fi

dups=$(for f in $sources; do case $f in *.h) basename "$f" ;; esac; done | sort | uniq -d)
if [ -z "$dups" ]; then tap_ok "no two headers share a name"; else tap_not_ok "headers that share a name" "$dups"; fi

ninja -C "$SVMM_BUILD_ROOT" -t deps >"$TAP_TMP/deps" 2>/dev/null
# "OBJECT: #deps N, ..." then one indented path per line.
objects=$(grep -c '^[^ ].*: #deps' "$TAP_TMP/deps")
if [ "$objects" -gt 50 ]; then
	tap_ok "the dependency files of $objects objects are read"
else
	tap_not_ok "dependency files" "only $objects objects in ninja -t deps of $SVMM_BUILD_ROOT"
fi
# offenders PATTERN-OF-OBJECT PATTERN-OF-HEADER: "object header" pairs.
offenders() {
	awk -v obj="$1" -v hdr="$2" '
		/^[^ ].*: #deps/ { cur = $1; sub(/:$/, "", cur); keep = cur ~ obj; next }
		keep && $1 ~ hdr { print cur, $1 }' "$TAP_TMP/deps"
}
vmm_dev=$(offenders '^vmm/libsvmm-vmm' '/devices/')
if [ -z "$vmm_dev" ]; then tap_ok "vmm/ reads no device header"; else tap_not_ok "vmm/ reads device headers" "$(head -5 <<<"$vmm_dev")"; fi
core_cli=$(offenders '^(vmm/libsvmm-vmm|broker/|devices/|common/)' '/cli/')
if [ -z "$core_cli" ]; then
	tap_ok "vmm/, broker/, devices/ and common/ read no cli/ header"
else
	tap_not_ok "cli/ headers read by the core" "$(head -5 <<<"$core_cli")"
fi
tap_done
