# Fetches Debian's kernel package into the cache and unpacks it (sourced).
# lab_kernel_prepare sets:
#   LAB_KVER    kernel release, e.g. 6.1.0-56-amd64
#   LAB_KROOT   the unpacked package (boot/, lib/modules/$LAB_KVER with depmod run)
#   LAB_KIMAGE  the bzImage both the lab host and the guest boot
#   LAB_KID     package_version, part of every image's cache key
#
# SVMM_LAB_KERNEL_PKG picks the package (default linux-image-amd64, the
# metapackage, which is resolved to the concrete linux-image-<abi>-amd64).
# Without apt metadata or network, the newest kernel already unpacked in the
# cache is used.

lab_kernel_resolve() {
	local name=$1
	case "$name" in
	linux-image-[0-9]*) echo "$name" ;;
	*) apt-cache depends "$name" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1 ;;
	esac
}

lab_kernel_candidate() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}

lab_kernel_unpack() {
	local deb=$1 dest=$2 tmp kver
	tmp="$dest.partial"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	lab_log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$tmp"
	kver=$(ls "$tmp/lib/modules")
	[ -f "$tmp/boot/vmlinuz-$kver" ] || lab_die "$deb has no boot/vmlinuz-$kver"
	depmod -b "$tmp" "$kver"
	mv "$tmp" "$dest"
}

lab_kernel_prepare() {
	local pkg ver id deb dir
	pkg=$(lab_kernel_resolve "${SVMM_LAB_KERNEL_PKG:-linux-image-amd64}")
	ver=
	[ -z "$pkg" ] || ver=$(lab_kernel_candidate "$pkg")
	if [ -n "$ver" ]; then
		id="${pkg}_$ver"
		dir="$LAB_CACHE/kernel/$id"
		if [ ! -d "$dir" ]; then
			mkdir -p "$LAB_CACHE/debs"
			deb="$LAB_CACHE/debs/${id}_amd64.deb"
			if [ ! -f "$deb" ]; then
				lab_log "downloading $pkg $ver"
				# apt drops to user _apt for downloads when it can.
				! id -u _apt >/dev/null 2>&1 || chown _apt "$LAB_CACHE/debs"
				(cd "$LAB_CACHE/debs" && apt-get download -q=2 "$pkg=$ver") ||
					lab_die "apt-get download $pkg=$ver failed"
			fi
			lab_kernel_unpack "$deb" "$dir"
			lab_kernel_prune "$id"
		fi
	else
		dir=$(ls -d "$LAB_CACHE"/kernel/linux-image-*/ 2>/dev/null | sort -V | tail -n1)
		[ -n "$dir" ] || lab_die "cannot resolve ${SVMM_LAB_KERNEL_PKG:-linux-image-amd64} with apt-cache (run apt-get update) and no kernel is cached in $LAB_CACHE/kernel"
		dir=${dir%/}
		id=$(basename "$dir")
		lab_log "apt cannot resolve the kernel package; using cached $id"
	fi
	LAB_KID=$id
	LAB_KROOT=$dir
	LAB_KVER=$(ls "$dir/lib/modules")
	LAB_KIMAGE="$dir/boot/vmlinuz-$LAB_KVER"
}

# Keeps only the kernel in use: each unpacked tree is ~400 MB.
lab_kernel_prune() {
	local keep=$1 d
	for d in "$LAB_CACHE"/kernel/* "$LAB_CACHE"/debs/*.deb; do
		[ -e "$d" ] || continue
		case "$(basename "$d")" in
		"$keep" | "${keep}_amd64.deb") ;;
		*) lab_log "removing old $(basename "$d")"; rm -rf "$d" ;;
		esac
	done
}
