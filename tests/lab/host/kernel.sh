# Fetches Debian's kernel package into the cache and unpacks it (sourced).
# lab_kernel_prepare sets:
#   LAB_KVER    kernel release, e.g. 6.1.0-56-amd64
#   LAB_KROOT   the unpacked package (boot/, lib/modules/$LAB_KVER with depmod run)
#   LAB_KIMAGE  the bzImage both the lab host and the guest boot
#   LAB_KID     package_version, part of every image's cache key
#
# SVMM_LAB_KERNEL_PKG picks the package (default linux-image-amd64, the
# metapackage, which is resolved to the concrete linux-image-<abi>-amd64),
# in its newest version in the stack's suites (host/stack.sh: Linux 6.12
# from bookworm-backports, or Debian 12's 6.1). Without apt metadata or
# network, the newest kernel already unpacked in the cache is used.

lab_kernel_resolve() {
	local name=$1 ver
	case "$name" in
	linux-image-[0-9]*) echo "$name" ;;
	*)
		ver=$(lab_apt_version "$name")
		[ -n "$ver" ] || return 0
		apt-cache show "$name=$ver" 2>/dev/null |
			sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1
		;;
	esac
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
	[ -z "$pkg" ] || ver=$(lab_apt_version "$pkg")
	if [ -n "$ver" ]; then
		id="${pkg}_$ver"
		dir="$LAB_CACHE/kernel/$id"
		if [ ! -d "$dir" ]; then
			deb=$(lab_apt_fetch "$pkg" "$ver")
			lab_kernel_unpack "$deb" "$dir"
		fi
		touch "$dir"
		lab_kernel_prune
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

# Keeps the two kernels used last (one per stack, host/stack.sh), and their
# packages: each unpacked tree is ~400 MB.
lab_kernel_prune() {
	local d id
	ls -dt "$LAB_CACHE"/kernel/*/ 2>/dev/null | tail -n +3 | while read -r d; do
		id=$(basename "$d")
		lab_log "removing old $id"
		rm -rf "$d" "$LAB_CACHE/debs/${id}_"*.deb
	done
}
