# Builds the initramfs images (sourced). Each image is a directory under
# tests/lab/images/<name>/:
#   init      becomes /init (a busybox sh script)
#   modules   kernel module names, one a line; they and their dependencies
#             are copied in, and /lab/modules lists them in load order;
#             "!name" leaves out a module a dependency would pull in
#   NAME.c    a C program, compiled static (gcc -static -O2, libc.a from
#             libc6-dev) to /lab/NAME: the guest has no libc of its own
#   other     any other file is copied to /lab/<file>
# plus the static busybox from busybox-static. An image is rebuilt only when
# the kernel, busybox, its directory, this file or (for an image with C
# programs) the compiler and libc.a change: the cache key is a hash of all of
# them. Needs lab_kernel_prepare first.

lab_image_key() {
	local name=$1 src="$LAB_DIR/images/$1"
	{
		echo "$LAB_KID"
		# contents only: the same image from any checkout
		sha256sum </bin/busybox
		sha256sum <"${BASH_SOURCE[0]}"
		(cd "$src" && sha256sum $(ls))
		if ls "$src"/*.c >/dev/null 2>&1; then
			gcc --version | head -n 1
			sha256sum <"$(gcc -print-file-name=libc.a)"
		fi
	} | sha256sum | cut -c1-12
}

# Prints the insmod paths (relative to lib/modules/$LAB_KVER) for the modules
# listed in $1, dependencies first, each once.
lab_image_module_paths() {
	local list=$1 mod skip
	skip=$(sed -n 's/^!\([^ #]*\).*/\1/p' "$list" | tr - _)
	sed -e 's/#.*//' -e '/^!/d' "$list" | while read -r mod; do
		[ -n "$mod" ] || continue
		modprobe --show-depends -d "$LAB_KROOT" -S "$LAB_KVER" "$mod" ||
			lab_die "module $mod (from $list) not found in $LAB_KID"
	done | sed -n "s|^insmod $LAB_KROOT/lib/modules/$LAB_KVER/\([^ ]*\).*|\1|p" |
		awk -v skip="$skip" 'BEGIN { n = split(skip, s, "\n"); for (i = 1; i <= n; i++) drop[s[i] ".ko"] = 1 }
			{ base = $0; sub(/.*\//, "", base); gsub(/-/, "_", base) }
			!drop[base] && !seen[$0]++'
}

lab_image_assemble() {
	local name=$1 out=$2 src="$LAB_DIR/images/$1" stage f applet
	stage="$out.stage"
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lab,lib/modules}
	cp /bin/busybox "$stage/bin/busybox"
	for applet in $(/bin/busybox --list-full); do
		[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
	done
	install -m 0755 "$src/init" "$stage/init"
	for f in "$src"/*; do
		case "$(basename "$f")" in
		init | modules) ;;
		*.c)
			gcc -static -O2 -Wall -Wextra -Werror -o "$stage/lab/$(basename "$f" .c)" "$f" ||
				lab_die "cannot compile $f for image $name"
			;;
		*) install -m 0755 "$f" "$stage/lab/" ;;
		esac
	done
	if [ -f "$src/modules" ]; then
		lab_image_module_paths "$src/modules" >"$stage/lab/modules"
		while read -r f; do
			install -D -m 0644 "$LAB_KROOT/lib/modules/$LAB_KVER/$f" "$stage/lib/modules/$f"
		done <"$stage/lab/modules"
	fi
	echo "$LAB_KVER" >"$stage/lab/kernel-release"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
		zstd -q -10 -o "$out.partial"
	rm -rf "$stage"
	mv "$out.partial" "$out"
}

# Prints the path of image $1, building it if its inputs changed.
lab_image() {
	local name=$1 key out
	[ -f "$LAB_DIR/images/$name/init" ] || lab_die "no image '$name' in $LAB_DIR/images"
	key=$(lab_image_key "$name")
	out="$LAB_CACHE/images/$name-$LAB_KVER-$key.cpio.zst"
	if [ ! -f "$out" ]; then
		mkdir -p "$LAB_CACHE/images"
		lab_log "building image $name ($key)"
		lab_image_assemble "$name" "$out"
	fi
	# Keep the three last used: a run from another checkout (CI's clone, a
	# person's tree) may be booting an older one right now.
	touch "$out"
	ls -t "$LAB_CACHE/images/$name"-*.cpio.zst | tail -n +4 | while read -r old; do rm -f "$old"; done
	echo "$out"
}
