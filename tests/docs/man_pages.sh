#!/usr/bin/env bash
# The man pages say what the code does: every command `svmm --help` lists
# has a synopsis, and every long option any command's --help shows has an
# entry, in svmm(1); every keyword the policy parser accepts (read from its
# own table: policy_keywords) has an entry in svmm-usb-policy(5); and groff
# and man-db find nothing to warn about.
set -u
. "$(dirname "$0")/../integration/tap.sh"
: "${SVMM:?set SVMM to the svmm binary}"
: "${SVMM_SOURCE_ROOT:?set SVMM_SOURCE_ROOT}"
: "${POLICY_KEYWORDS:?set POLICY_KEYWORDS to the policy_keywords program}"
TAP_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/svmm-man.XXXXXX")
trap 'rm -rf "$TAP_TMP"' EXIT
svmm1=$SVMM_SOURCE_ROOT/docs/svmm.1
policy5=$SVMM_SOURCE_ROOT/docs/svmm-usb-policy.5

for page in "$svmm1" "$policy5"; do
	name=$(basename "$page")
	out=$(groff -man -ww -z "$page" 2>&1)
	if [ -z "$out" ]; then tap_ok "groff -man -ww: $name has no warnings"; else tap_not_ok "groff -man -ww: $name has no warnings" "$out"; fi
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		if [ -z "$out" ]; then tap_ok "man --warnings: $name has no warnings"; else tap_not_ok "man --warnings: $name has no warnings" "$out"; fi
	else
		tap_n=$((tap_n + 1)); echo "ok $tap_n - man --warnings: $name # SKIP man-db is not installed"
	fi
done

# The pages as a reader sees them, in plain ASCII (\- is -, no overstriking).
render() { groff -man -Tascii -P-cbou "$1" 2>/dev/null; }
render "$svmm1" >"$TAP_TMP/svmm.txt"
render "$policy5" >"$TAP_TMP/policy.txt"
# has_entry FILE WORD: WORD is the tag of an entry (.TP) of FILE, alone or after its short form
# ("-s, --control SOCK"): tags stand at the text's left margin, their paragraphs further in.
has_entry() { grep -Eq -- "^       (-[A-Za-z], )?$2( |,|\$)" "$1"; }

# Every command of the overview, and every usb subcommand, has its synopsis line.
commands=$("$SVMM" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }')
usb_commands=$("$SVMM" usb --help | sed -n 's/^.*svmm usb \([a-z]*\) .*$/\1/p')
if [ "$(echo "$commands" | wc -w)" -ge 4 ] && [ "$(echo "$usb_commands" | wc -w)" -ge 3 ]; then
	tap_ok "svmm --help lists $(echo $commands), svmm usb --help $(echo $usb_commands)"
else
	tap_not_ok "svmm --help and svmm usb --help list the commands" "commands: $commands" "usb: $usb_commands"
fi
for c in $commands; do
	if [ "$c" = usb ]; then continue; fi
	if grep -Eq "^ *svmm $c( |\$)" "$TAP_TMP/svmm.txt"; then tap_ok "svmm.1 has a synopsis of svmm $c"; else tap_not_ok "svmm.1 has a synopsis of svmm $c"; fi
done
for c in $usb_commands; do
	if grep -Eq "^ *svmm usb $c( |\$)" "$TAP_TMP/svmm.txt"; then tap_ok "svmm.1 has a synopsis of svmm usb $c"; else tap_not_ok "svmm.1 has a synopsis of svmm usb $c"; fi
done

# Every long option of every command's --help (and the top level's).
options=$( { "$SVMM" --help
	for c in $commands; do "$SVMM" $c --help; done
	for c in $usb_commands; do "$SVMM" usb "$c" --help; done; } | grep -oE -- '--[a-z][a-z-]*' | sort -u)
if [ "$(echo "$options" | wc -w)" -ge 10 ]; then tap_ok "--help shows $(echo "$options" | wc -w) long options"; else tap_not_ok "--help shows the long options" "$options"; fi
for o in $options; do
	if has_entry "$TAP_TMP/svmm.txt" "$o"; then tap_ok "svmm.1 has an entry for $o"; else tap_not_ok "svmm.1 has an entry for $o"; fi
done

# Every keyword the policy parser accepts.
keywords=$("$POLICY_KEYWORDS")
if [ "$(echo "$keywords" | wc -w)" -ge 2 ]; then tap_ok "the parser accepts $(echo "$keywords" | wc -w) keywords"; else tap_not_ok "the parser lists its keywords" "$keywords"; fi
for k in $keywords; do
	if has_entry "$TAP_TMP/policy.txt" "$k"; then tap_ok "svmm-usb-policy.5 has an entry for $k"; else tap_not_ok "svmm-usb-policy.5 has an entry for $k"; fi
done
tap_done
