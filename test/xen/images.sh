# Building the real-Xen tier's images from Debian packages (sourced by run.sh),
# with image/lib.sh's staging: nothing is installed on the host.
# shellcheck shell=bash
# $top, $here and $work are set by run.sh.
# shellcheck disable=SC2154

# shellcheck source=image/lib.sh
. "$top/image/lib.sh"
unpacked="$work/root"

# The Debian packages behind the images; the kernel is whatever
# linux-image-amd64 points at today.
xen_packages() {
	kernel_package || return 1
	echo xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxenmisc4.17 libxenstore4 \
		libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxentoollog1 \
		libxentoolcore1 libxendevicemodel1 libxenhypfs1 libyajl2 busybox-static
}

# prepare_packages CACHE WORK: downloads what the cache lacks, unpacks into WORK/root.
prepare_packages() {
	local packages
	packages=$(xen_packages) || return 1
	# shellcheck disable=SC2086 # a list of package names
	fetch_and_unpack "$1" "$2/root" $packages
}

# build_kernels WORK: Xen as an ELF QEMU's multiboot loader takes, the dom0
# bzImage, and the domU kernel as a gzip-compressed ELF (decompressing XZ in
# the domain builder costs 5-8 s per xl create under emulation).
build_kernels() {
	local work=$1 kernels=("$1"/root/boot/vmlinuz-*)
	local vmlinuz=${kernels[0]}
	[ -s "$work/xen" ] || zcat "$work"/root/boot/xen-4.17-amd64.gz >"$work/xen" || return 1
	cp "$vmlinuz" "$work/vmlinuz"
	[ -s "$work/guest-kernel.gz" ] || domu_kernel "$vmlinuz" "$work/guest-kernel.gz"
}

# add_module_files STAGE MODULE...: the modules and their dependencies in
# /qmin/modules, with their load order for the /init scripts' insmod.
add_module_files() {
	local stage=$1 file files
	shift
	files=$(modules_with_dependencies "$@") || return 1
	mkdir -p "$stage/qmin/modules"
	: >"$stage/qmin/modules/order"
	for file in $(echo "$files" | awk '!seen[$0]++'); do
		cp "$file" "$stage/qmin/modules/"
		basename "$file" .ko >>"$stage/qmin/modules/order"
	done
}

# new_stage DIR: a root with busybox, the nodes the kernel needs before /init,
# and the image's users (qrx runs services as root or as a named user).
new_stage() {
	new_root "$1" && mkdir -p "$1/qmin" && cp "$top/image/rootfs/etc/passwd" "$top/image/rootfs/etc/group" "$1/etc/"
}

# add_qmin_binaries STAGE: the static tools under test, and the test helpers.
add_qmin_binaries() {
	cp "$top"/build/bin/* "$1/usr/local/sbin/"
	cp "$top/build/test/xsctl" "$top/build/test/vchan-probe" "$top/build/test/xen/qrx-hostile" "$1/usr/local/sbin/"
}

# build_guest_image IMAGE: busybox, the frontend modules, our binaries, roles.
build_guest_image() {
	local stage="$work/stage-guest"
	new_stage "$stage"
	add_module_files "$stage" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netfront || return 1
	add_qmin_binaries "$stage"
	cp "$here/guest-init" "$stage/init"
	chmod 755 "$stage/init"
	cp -R "$here/guest" "$stage/qmin/guest"
	cp "$here/lib.sh" "$stage/qmin/lib.sh"
	pack "$stage" "$1"
}

# build_dom0_image IMAGE SCENARIO...: the Xen toolstack from the packages,
# our binaries, the guest kernel and image, and this boot's scenarios.
build_dom0_image() {
	local image=$1 stage="$work/stage-dom0"
	shift
	new_stage "$stage"
	add_module_files "$stage" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback || return 1
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
