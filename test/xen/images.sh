# Building the real-Xen tier's images from Debian packages (sourced by run.sh).
# Nothing is installed on the host: the .debs are fetched with apt-get download
# into a cache and unpacked with dpkg-deb -x.
# shellcheck shell=bash
# $top, $here and $work are set by run.sh.
# shellcheck disable=SC2154

# The Debian packages behind the images; the kernel is whatever
# linux-image-amd64 points at today.
xen_packages() {
	local kernel
	kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
	echo "${kernel:?no kernel package behind linux-image-amd64 (apt-get update?)}" \
		xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxenmisc4.17 libxenstore4 \
		libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxentoollog1 \
		libxentoolcore1 libxendevicemodel1 libxenhypfs1 libyajl2 busybox-static
}

# prepare_packages CACHE WORK: downloads what the cache lacks, unpacks into WORK/root.
prepare_packages() {
	local cache=$1 work=$2 package missing=()
	mkdir -p "$cache"
	for package in $(xen_packages); do
		compgen -G "$cache/${package}_*.deb" >/dev/null || missing+=("$package")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "# downloading ${missing[*]}"
		(cd "$cache" && apt-get download -q "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed') || return 1
	fi
	local stamp
	stamp=$(printf '%s\n' "$cache"/*.deb | md5sum | cut -d ' ' -f 1)
	if [ "$(cat "$work/root.stamp" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$work/root"
		for package in $(xen_packages); do
			local debs=("$cache/${package}_"*.deb) # glob order is sorted: the newest is last
			dpkg-deb -x "${debs[-1]}" "$work/root" || return 1
		done
		echo "$stamp" >"$work/root.stamp"
	fi
}

# build_kernels WORK: Xen as an ELF QEMU's multiboot loader takes, the dom0
# bzImage, and the domU kernel as a gzip-compressed ELF (decompressing XZ in
# the domain builder costs 5-8 s per xl create under emulation).
build_kernels() {
	local work=$1 kernels=("$1"/root/boot/vmlinuz-*)
	local vmlinuz=${kernels[0]}
	[ -s "$work/xen" ] || zcat "$work"/root/boot/xen-4.17-amd64.gz >"$work/xen" || return 1
	cp "$vmlinuz" "$work/vmlinuz"
	if [ ! -s "$work/guest-kernel.gz" ]; then
		local offset
		offset=$(grep -abo $'\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d : -f 1)
		[ -n "$offset" ] || { echo "xen-check: no XZ payload in $vmlinuz" >&2 && return 1; }
		# xz stops at the end of its stream and complains about the rest of the file.
		tail -c +$((offset + 1)) "$vmlinuz" | xz -dc 2>/dev/null | gzip -1 >"$work/guest-kernel.tmp"
		[ "$(zcat "$work/guest-kernel.tmp" 2>/dev/null | head -c 4 | tail -c 3)" = ELF ] ||
			{ echo "xen-check: no ELF in $vmlinuz" >&2 && return 1; }
		mv "$work/guest-kernel.tmp" "$work/guest-kernel.gz"
	fi
}

# modules_in_order DIR MODULE...: the .ko files with their dependencies first.
modules_in_order() {
	local dir=$1 module dep
	shift
	for module in "$@"; do
		local file
		file=$(find "$dir" -name "$module.ko" | head -n 1)
		[ -n "$file" ] || { echo "xen-check: module $module not found" >&2 && return 1; }
		for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
			modules_in_order "$dir" "$dep"
		done
		echo "$file"
	done
}

# add_modules STAGE MODULE...: copies modules and writes their load order.
add_modules() {
	local stage=$1 file
	shift
	mkdir -p "$stage/qmin/modules"
	: >"$stage/qmin/modules/order"
	for file in $(modules_in_order "$work/root/lib/modules" "$@" | awk '!seen[$0]++'); do
		cp "$file" "$stage/qmin/modules/"
		basename "$file" .ko >>"$stage/qmin/modules/order"
	done
}

# new_stage DIR: a root with busybox and the nodes the kernel needs before /init.
new_stage() {
	local stage=$1 applet
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/sbin,dev,proc,sys,run,tmp,etc,var/log,qmin}
	ln -s ../run "$stage/var/run"
	cp "$work/root/bin/busybox" "$stage/bin/busybox"
	for applet in $("$work/root/bin/busybox" --list); do
		[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
	done
	mknod -m 600 "$stage/dev/console" c 5 1
}

# add_qmin_binaries STAGE: the static tools under test, and the test helpers.
add_qmin_binaries() {
	cp "$top"/build/bin/* "$1/usr/local/sbin/"
	cp "$top/build/test/xsctl" "$top/build/test/vchan-probe" "$top/build/test/xen/qrx-hostile" "$1/usr/local/sbin/"
}

pack() { # pack STAGE IMAGE
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# build_guest_image IMAGE: busybox, the frontend modules, our binaries, roles.
build_guest_image() {
	local stage="$work/stage-guest"
	new_stage "$stage"
	add_modules "$stage" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netfront || return 1
	add_qmin_binaries "$stage"
	cp "$here/guest-init" "$stage/init"
	chmod 755 "$stage/init"
	cp -R "$here/guest" "$stage/qmin/guest"
	pack "$stage" "$1"
}

# add_with_libraries STAGE FILE...: dynamic binaries of the unpacked packages
# with everything ldd resolves for them, plus libgcc_s (xl aborts without it).
add_with_libraries() {
	local stage=$1 file lib
	shift
	local libpath="$work/root/usr/lib/x86_64-linux-gnu:$work/root/lib/x86_64-linux-gnu:$work/root/usr/lib/xen-4.17/lib"
	for file in "$@"; do
		mkdir -p "$stage/$(dirname "${file#"$work/root"}")"
		cp -a "$file" "$stage/${file#"$work/root"}"
		for lib in $(LD_LIBRARY_PATH=$libpath ldd "$file" | awk '/=> \// { print $3 } /^\t\/lib64/ { print $1 }'); do
			add_library "$stage" "$lib"
		done
	done
	add_library "$stage" /lib/x86_64-linux-gnu/libgcc_s.so.1
}

add_library() { # add_library STAGE PATH: at its own path, minus the unpacked root
	local target="${2#"$work/root"}"
	[ -e "$1$target" ] && return 0
	mkdir -p "$1$(dirname "$target")"
	cp -L "$2" "$1$target"
}

# build_dom0_image IMAGE SCENARIO...: the Xen toolstack from the packages,
# our binaries, the guest kernel and image, and this boot's scenarios.
build_dom0_image() {
	local image=$1 stage="$work/stage-dom0"
	shift
	new_stage "$stage"
	add_modules "$stage" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback || return 1
	local bin="$work/root/usr/lib/xen-4.17/bin"
	add_with_libraries "$stage" "$bin/xl" "$bin/xenstored" "$bin/xenconsoled" "$bin/xen-init-dom0" \
		"$work/root/usr/bin/xenstore"
	local tool
	for tool in read write rm ls list exists chmod watch; do
		ln -sf xenstore "$stage/usr/bin/xenstore-$tool"
	done
	add_qmin_binaries "$stage"
	# xl finds hotplug scripts named without a path here.
	mkdir -p "$stage/etc/xen/scripts"
	cp "$top/build/bin/vif-route" "$stage/etc/xen/scripts/vif-route"
	cp "$here/dom0-init" "$stage/init"
	chmod 755 "$stage/init"
	cp "$here/lib.sh" "$stage/qmin/lib.sh"
	mkdir -p "$stage/qmin/scenarios"
	cp "$@" "$stage/qmin/scenarios/"
	cp "$work/guest-kernel.gz" "$work/guest-initrd.gz" "$stage/qmin/"
	pack "$stage" "$image"
}
