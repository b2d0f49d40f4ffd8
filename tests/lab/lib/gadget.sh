# USB gadgets for lab scenarios (sourced by scenario.sh). A gadget is a
# configfs gadget on dummy_hcd: bound to a free dummy_udc.N, the lab host sees
# it as a real USB device under /dev/bus/usb, which a VMM can pass through.
#
#   lab_udc_setup [--udcs N] [--no-super]   (re)load dummy_hcd (done on first use)
#   lab_gadget_mass_storage NAME FILE [--ro] [--speed S]
#   lab_gadget_keyboard NAME [--speed S]     boot-protocol keyboard (hid)
#   lab_gadget_acm NAME [--speed S]          CDC ACM serial
#   lab_gadget_sourcesink NAME [--speed S]   gadget zero's source/sink: pattern 1
#                                    ("mod63": byte i of each packet is i % 63; the
#                                    sink halts its OUT endpoint on a byte that is
#                                    not), 8 requests of 16 KiB queued per direction
#       S is full, high (default) or super; each call binds the gadget and
#       waits until the lab host has enumerated it.
#   lab_gadget_busdev NAME           prints "BUS DEV" (from sysfs, by VID/PID/serial)
#   lab_gadget_node NAME             prints /dev/bus/usb/BBB/DDD
#   lab_gadget_reenumerated NAME OLD waits for a released gadget's new node and prints it
#   lab_gadget_unplug NAME           unbind from its UDC: the device disappears
#   lab_gadget_plug NAME             bind again (the device gets a new DEV)
#   lab_gadget_remove NAME           unbind and delete
#   lab_keyboard_type NAME TEXT      press and release each key of TEXT on the gadget side
#   lab_acm_write NAME TEXT          write TEXT and a newline to the gadget's serial port
#   lab_acm_request NAME TEXT BYTES FILE [SECS]
#                                    open the gadget's serial port (raw, no echo), write
#                                    TEXT and a newline, read BYTES bytes back into FILE
#                                    (fails after SECS, default 30)
#
# Each gadget has serial number "lab-NAME"; its VID:PID are Netchip's
# (0525) gadget IDs: a4a5 mass storage, a4ac keyboard, a4a7 ACM, a4a0
# source/sink.

LAB_GADGETS=/sys/kernel/config/usb_gadget
LAB_GADGET_VID=0x0525

lab_udc_setup() {
	local udcs=4 super=Y
	while [ $# -gt 0 ]; do
		case "$1" in
		--udcs) udcs=$2; shift ;;
		--no-super) super=N ;;
		*) lab_fail "lab_udc_setup: unknown argument $1" ;;
		esac
		shift
	done
	if [ -d /sys/module/dummy_hcd ]; then
		[ "$(cat /sys/module/dummy_hcd/parameters/is_super_speed)" != "$super" ] ||
			[ "$(cat /sys/module/dummy_hcd/parameters/num)" != "$udcs" ] || return 0
		rmmod dummy_hcd || lab_fail "cannot unload dummy_hcd (is a gadget still bound?)"
	fi
	lab_modprobe dummy_hcd is_super_speed="$super" num="$udcs" ||
		lab_fail "cannot load dummy_hcd"
	lab_log "dummy_hcd: $udcs UDCs, SuperSpeed=$super"
}

lab__gadget_dir() { echo "$LAB_GADGETS/$1"; }

# lab__gadget_new NAME PID PRODUCT SPEED: the gadget with one configuration.
lab__gadget_new() {
	local g speed
	g=$(lab__gadget_dir "$1")
	case "$4" in
	full | high | super) speed=$4-speed ;;
	*) lab_fail "gadget $1: speed '$4' is not full, high or super" ;;
	esac
	[ -d /sys/module/dummy_hcd ] || lab_udc_setup
	[ ! -e "$g" ] || lab_fail "gadget $1 already exists"
	mkdir "$g"
	echo "$LAB_GADGET_VID" >"$g/idVendor"
	echo "$2" >"$g/idProduct"
	echo 0x0100 >"$g/bcdDevice"
	echo "$speed" >"$g/max_speed"
	mkdir "$g/strings/0x409"
	echo "svmm lab" >"$g/strings/0x409/manufacturer"
	echo "$3" >"$g/strings/0x409/product"
	echo "lab-$1" >"$g/strings/0x409/serialnumber"
	mkdir -p "$g/configs/c.1/strings/0x409"
	echo "lab $1" >"$g/configs/c.1/strings/0x409/configuration"
	echo 100 >"$g/configs/c.1/MaxPower"
}

# lab__gadget_add_function NAME FUNCTION.INSTANCE: creates it and prints its
# directory. Its attributes must be set before lab_gadget_plug links it into
# the configuration (most are read-only after that).
lab__gadget_add_function() {
	local f
	f="$(lab__gadget_dir "$1")/functions/$2"
	mkdir "$f" || lab_fail "gadget $1: cannot create function $2 (module not loaded?)"
	echo "$f"
}

lab__free_udc() {
	local udc used
	used=$(cat "$LAB_GADGETS"/*/UDC 2>/dev/null || true)
	for udc in $(ls /sys/class/udc); do
		grep -qx "$udc" <<<"$used" || { echo "$udc"; return 0; }
	done
	return 1
}

# lab__gadget_sysfs NAME: the lab host's sysfs directory of the device.
# (bash's read, not cat: each fork costs under TCG)
lab__gadget_sysfs() {
	local g d vid pid v p s
	g=$(lab__gadget_dir "$1")
	[ -d "$g" ] || return 1
	read -r vid <"$g/idVendor"
	read -r pid <"$g/idProduct"
	for d in /sys/bus/usb/devices/*; do
		[ -f "$d/serial" ] || continue
		read -r v <"$d/idVendor"
		read -r p <"$d/idProduct"
		read -r s <"$d/serial"
		[ "0x$v" = "$vid" ] && [ "0x$p" = "$pid" ] && [ "$s" = "lab-$1" ] && { echo "$d"; return 0; }
	done
	return 1
}

lab_gadget_plug() {
	local g udc d f
	g=$(lab__gadget_dir "$1")
	for f in "$g"/functions/*; do
		[ -e "$g/configs/c.1/${f##*/}" ] || ln -s "$f" "$g/configs/c.1/"
	done
	udc=$(cat "$LAB_TMP/gadget-$1.udc" 2>/dev/null || lab__free_udc) ||
		lab_fail "gadget $1: no free UDC (lab_udc_setup --udcs N for more)"
	echo "$udc" >"$g/UDC" || lab_fail "gadget $1: cannot bind to $udc"
	echo "$udc" >"$LAB_TMP/gadget-$1.udc"
	lab_wait_until 20 "gadget $1 to enumerate on the lab host" lab__gadget_sysfs "$1" >/dev/null ||
		lab_fail "gadget $1 bound to $udc but never appeared in /sys/bus/usb/devices"
	d=$(lab__gadget_sysfs "$1")
	lab_log "gadget $1: $(cat "$d/idVendor"):$(cat "$d/idProduct") on $udc, bus $(cat "$d/busnum") dev $(cat "$d/devnum") speed $(cat "$d/speed")"
}

lab_gadget_unplug() {
	echo "" >"$(lab__gadget_dir "$1")/UDC" || lab_fail "gadget $1: cannot unbind"
	lab_log "gadget $1: unplugged"
}

lab_gadget_busdev() {
	local d
	d=$(lab__gadget_sysfs "$1") || lab_fail "gadget $1 is not enumerated on the lab host"
	echo "$(cat "$d/busnum") $(cat "$d/devnum")"
}

lab_gadget_node() {
	local bus dev
	read -r bus dev <<<"$(lab_gadget_busdev "$1")"
	printf '/dev/bus/usb/%03d/%03d\n' "$bus" "$dev"
}

# lab_gadget_reenumerated NAME OLD_NODE: waits until the broker's revocation
# of a released device (its port disabled, then enabled) has made it enumerate
# again at another address, and prints its new node.
lab_gadget_reenumerated() {
	local t0 node
	t0=$(lab_now_ms)
	lab_wait_until 30 "gadget $1 to come back at a node other than $2" lab__gadget_moved "$1" "$2" ||
		lab_fail "gadget $1 did not enumerate again after its release (still at $2, or gone)"
	node=$(lab_gadget_node "$1")
	lab_log "gadget $1: revoked, back at $node after $(($(lab_now_ms) - t0)) ms"
	echo "$node"
}

lab__gadget_moved() {
	local d bus dev
	d=$(lab__gadget_sysfs "$1") || return 1
	read -r bus <"$d/busnum" && read -r dev <"$d/devnum" || return 1
	[ "$(printf '/dev/bus/usb/%03d/%03d' "$bus" "$dev")" != "$2" ]
}

lab_gadget_remove() {
	local g f
	g=$(lab__gadget_dir "$1")
	[ -d "$g" ] || return 0
	[ -z "$(cat "$g/UDC")" ] || echo "" >"$g/UDC"
	rm -f "$g"/configs/c.1/*.* "$LAB_TMP/gadget-$1.udc"
	rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1"
	for f in "$g"/functions/*; do rmdir "$f"; done
	rmdir "$g/strings/0x409" "$g"
}

# lab__gadget_args NAME ARGS...: parses --speed/--ro into SPEED and RO.
lab__gadget_args() {
	local name=$1
	shift
	SPEED=high RO=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--speed) SPEED=${2:?--speed needs full, high or super}; shift ;;
		--ro) RO=1 ;;
		*) lab_fail "gadget $name: unknown argument $1" ;;
		esac
		shift
	done
}

lab_gadget_mass_storage() {
	local name=$1 file=$2 f SPEED RO
	shift 2
	lab__gadget_args "$name" "$@"
	[ -f "$file" ] || lab_fail "gadget $name: no backing file $file"
	lab__gadget_new "$name" 0xa4a5 "lab mass storage" "$SPEED"
	f=$(lab__gadget_add_function "$name" mass_storage.0)
	echo 0 >"$f/lun.0/removable"
	echo "$RO" >"$f/lun.0/ro"
	echo "$file" >"$f/lun.0/file"
	lab_gadget_plug "$name"
}

# The boot keyboard report descriptor (HID 1.11, appendix B.1): 8-byte
# reports of modifiers, a reserved byte and up to six key usages.
LAB_KEYBOARD_DESC='\x05\x01\x09\x06\xa1\x01\x05\x07\x19\xe0\x29\xe7\x15\x00\x25\x01\x75\x01\x95\x08\x81\x02\x95\x01\x75\x08\x81\x03\x95\x05\x75\x01\x05\x08\x19\x01\x29\x05\x91\x02\x95\x01\x75\x03\x91\x03\x95\x06\x75\x08\x15\x00\x25\x65\x05\x07\x19\x00\x29\x65\x81\x00\xc0'

lab_gadget_keyboard() {
	local name=$1 f SPEED RO
	shift
	lab__gadget_args "$name" "$@"
	lab__gadget_new "$name" 0xa4ac "lab keyboard" "$SPEED"
	f=$(lab__gadget_add_function "$name" hid.usb0)
	echo 1 >"$f/protocol"
	echo 1 >"$f/subclass"
	echo 8 >"$f/report_length"
	printf "$LAB_KEYBOARD_DESC" >"$f/report_desc"
	lab_gadget_plug "$name"
}

lab_gadget_acm() {
	local name=$1 SPEED RO
	shift
	lab__gadget_args "$name" "$@"
	lab__gadget_new "$name" 0xa4a7 "lab serial" "$SPEED"
	lab__gadget_add_function "$name" acm.usb0 >/dev/null
	lab_gadget_plug "$name"
	stty -F "$(lab__gadget_chardev "$name" acm.usb0)" raw -echo
}

lab_gadget_sourcesink() {
	local name=$1 f SPEED RO
	shift
	lab__gadget_args "$name" "$@"
	lab__gadget_new "$name" 0xa4a0 "lab source/sink" "$SPEED"
	f=$(lab__gadget_add_function "$name" SourceSink.0)
	# Explicit, not the module's defaults: the guest's usb-bulk checks mod63.
	echo 1 >"$f/pattern"
	echo 16384 >"$f/bulk_buflen"
	echo 8 >"$f/bulk_qlen"
	[ "$(cat "$f/pattern")" = 1 ] || lab_fail "gadget $name: pattern is $(cat "$f/pattern"), not 1"
	lab_gadget_plug "$name"
}

# lab__gadget_chardev NAME FUNCTION: the gadget-side device node of a hid
# (/dev/hidgN) or acm (/dev/ttyGSN) function.
lab__gadget_chardev() {
	local f
	f="$(lab__gadget_dir "$1")/functions/$2"
	case "$2" in
	hid.*) echo "/dev/$(sed -n 's/^DEVNAME=//p' "/sys/dev/char/$(cat "$f/dev")/uevent")" ;;
	acm.*) echo "/dev/ttyGS$(cat "$f/port_num")" ;;
	esac
}

# lab__hid_usage CHAR: prints "MODIFIER USAGE" for a character.
lab__hid_usage() {
	local c=$1 lower=abcdefghijklmnopqrstuvwxyz upper=ABCDEFGHIJKLMNOPQRSTUVWXYZ digits=1234567890 i
	for ((i = 0; i < 26; i++)); do
		[ "$c" = "${lower:i:1}" ] && { echo "0 $((4 + i))"; return 0; }
		[ "$c" = "${upper:i:1}" ] && { echo "2 $((4 + i))"; return 0; }
	done
	for ((i = 0; i < 10; i++)); do
		[ "$c" = "${digits:i:1}" ] && { echo "0 $((30 + i))"; return 0; }
	done
	case "$c" in
	$'\n') echo "0 40" ;;
	' ') echo "0 44" ;;
	-) echo "0 45" ;;
	.) echo "0 55" ;;
	*) lab_fail "lab_keyboard_type: no key for '$c'" ;;
	esac
}

# A report is written whole; the write blocks until the host polls, hence
# the time limit.
lab__hid_report() { printf "$(printf '\\x%02x\\x00\\x%02x\\x00\\x00\\x00\\x00\\x00' "$2" "$3")" | timeout 10 dd of="$1" bs=8 count=1 status=none; }

lab_keyboard_type() {
	local dev text=$2 i mod usage
	dev=$(lab__gadget_chardev "$1" hid.usb0)
	for ((i = 0; i < ${#text}; i++)); do
		usage=$(lab__hid_usage "${text:i:1}")
		read -r mod usage <<<"$usage"
		lab__hid_report "$dev" "$mod" "$usage" && lab__hid_report "$dev" 0 0 ||
			lab_fail "keyboard $1: the host did not take the report for '${text:i:1}' within 10 s"
	done
}

lab_acm_write() {
	printf '%s\n' "$2" | timeout 10 dd of="$(lab__gadget_chardev "$1" acm.usb0)" status=none ||
		lab_fail "acm $1: write did not complete within 10 s"
}

# The port stays open from before TEXT goes out until the reply is in (a
# closed gadget port does not take what the host sends), and is set raw while
# open: no echo back to the host, no CR/NL or flow-control translation.
lab_acm_request() {
	local name=$1 text=$2 bytes=$3 file=$4 secs=${5:-30} dev fd rc=0
	dev=$(lab__gadget_chardev "$name" acm.usb0)
	exec {fd}<>"$dev" || lab_fail "acm $name: cannot open $dev"
	stty raw -echo <&"$fd" || lab_fail "acm $name: stty raw -echo on $dev failed"
	printf '%s\n' "$text" >&"$fd"
	timeout "$secs" head -c "$bytes" <&"$fd" >"$file" || rc=$?
	exec {fd}<&-
	[ "$rc" = 0 ] || lab_fail "acm $name: $(wc -c <"$file") of $bytes bytes came back within $secs s (status $rc)"
}
