# The lab's software stack (sourced): where the kernels (the lab host's and
# the guests') and QEMU (the lab host's and the reference VMM inside it)
# come from. SVMM_LAB_STACK picks it:
#   backports  (default) Debian 12's bookworm-backports: Linux 6.12 and
#              QEMU 10.0. QEMU is this machine's, which scripts/setup
#              installs from bookworm-backports.
#   bookworm   Debian 12 itself (with its security updates): Linux 6.1 and
#              QEMU 7.2, the lab as it ran until the move to backports, kept
#              to measure one against the other. This machine's QEMU is the
#              backports one, so QEMU 7.2 is fetched with apt-get download
#              and unpacked into the cache.
# Both are fetched by package name through apt; nothing by hand.
#
# lab_stack_prepare sets (and lab_kernel_prepare uses LAB_STACK_SUITES):
#   LAB_STACK         the stack's name
#   LAB_STACK_SUITES  an extended regex of the apt suites it takes packages from
#   LAB_QEMU          the qemu-system-x86_64 the lab host and the reference run
#   LAB_QEMU_DATA     firmware directories for -L (colon-separated; empty: QEMU's own)
#   LAB_QEMU_MODULES  its module directory (QEMU_MODULE_DIR; empty: its own)
#   LAB_QEMU_VERSION  its Debian version

# lab_apt_version PKG: the newest version of PKG apt knows in the stack's
# suites (empty if none).
lab_apt_version() {
	apt-cache madison "$1" 2>/dev/null |
		awk -F' *[|] *' -v re=" ($LAB_STACK_SUITES)/" '$3 ~ re { print $2; exit }'
}

# lab_apt_fetch PKG VERSION: the path of PKG's .deb in the cache, fetched
# with apt-get download if it is not there.
lab_apt_fetch() {
	local pkg=$1 ver=$2 deb name
	# apt-get download names it PKG_VERSION_ARCH.deb, an epoch's colon as %3a
	name="${pkg}_${ver//:/%3a}"
	mkdir -p "$LAB_CACHE/debs"
	deb=$(ls "$LAB_CACHE/debs/$name"_*.deb 2>/dev/null | head -n1)
	if [ ! -f "$deb" ]; then
		lab_log "downloading $pkg $ver"
		# apt drops to user _apt for downloads when it can.
		! id -u _apt >/dev/null 2>&1 || chown _apt "$LAB_CACHE/debs"
		(cd "$LAB_CACHE/debs" && apt-get download -q=2 "$pkg=$ver") ||
			lab_die "apt-get download $pkg=$ver failed"
		deb=$(ls "$LAB_CACHE/debs/$name"_*.deb 2>/dev/null | head -n1)
		[ -f "$deb" ] || lab_die "apt-get download $pkg=$ver left no .deb in $LAB_CACHE/debs"
	fi
	echo "$deb"
}

# The system's QEMU, if it is the stack's version (dpkg's).
lab__qemu_system() {
	local want=$1 have
	have=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
	[ "$have" = "$want" ] && [ "$(command -v qemu-system-x86_64)" = /usr/bin/qemu-system-x86_64 ]
}

# lab__qemu_unpack VERSION: QEMU VERSION and the firmware of the stack's
# suites unpacked into the cache, for a stack whose QEMU this machine does
# not have installed. Its modules (accel-tcg, hw-usb-host) and firmware are
# found through QEMU_MODULE_DIR and -L.
lab__qemu_unpack() {
	local ver=$1 dir="$LAB_CACHE/qemu/${1//:/%3a}" tmp pkg pver
	if [ ! -x "$dir/usr/bin/qemu-system-x86_64" ]; then
		tmp="$dir.partial"
		rm -rf "$tmp"
		mkdir -p "$tmp"
		for pkg in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
			case "$pkg" in
			qemu-system-data) pver=$(lab_apt_version "$pkg") ;; # arch all: no binNMU suffix
			seabios) pver=$(lab_apt_version seabios) ;;
			*) pver=$ver ;;
			esac
			[ -n "$pver" ] || lab_die "apt knows no $pkg in $LAB_STACK_SUITES (run apt-get update)"
			dpkg-deb -x "$(lab_apt_fetch "$pkg" "$pver")" "$tmp"
		done
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	LAB_QEMU=$dir/usr/bin/qemu-system-x86_64
	LAB_QEMU_DATA=$dir/usr/share/qemu:$dir/usr/share/seabios
	LAB_QEMU_MODULES=$dir/usr/lib/x86_64-linux-gnu/qemu
}

lab_stack_prepare() {
	LAB_STACK=${SVMM_LAB_STACK:-backports}
	case "$LAB_STACK" in
	backports) LAB_STACK_SUITES='bookworm-backports' ;;
	bookworm) LAB_STACK_SUITES='bookworm|bookworm-updates|bookworm-security' ;;
	*) lab_die "SVMM_LAB_STACK='$LAB_STACK': not a stack (backports or bookworm)" ;;
	esac
	LAB_QEMU_VERSION=$(lab_apt_version qemu-system-x86)
	LAB_QEMU=qemu-system-x86_64 LAB_QEMU_DATA='' LAB_QEMU_MODULES=''
	if [ -z "$LAB_QEMU_VERSION" ]; then
		LAB_QEMU_VERSION=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
		lab_log "apt knows no qemu-system-x86 in $LAB_STACK_SUITES (apt-get update, scripts/setup); using this machine's QEMU $LAB_QEMU_VERSION"
	elif ! lab__qemu_system "$LAB_QEMU_VERSION"; then
		[ "$LAB_STACK" != backports ] ||
			lab_die "this machine's QEMU is not $LAB_QEMU_VERSION from bookworm-backports; run scripts/setup"
		lab__qemu_unpack "$LAB_QEMU_VERSION"
	fi
	LAB_QEMU=$(command -v "$LAB_QEMU")
}
