#!/usr/bin/env bash
# make image SITE=FILE: qmin's RAM-only dom0 and its three VMs for the host
# the site file describes (qmin-site(5)), built from Debian 12 packages
# (apt's current candidates, checked against apt's signed index, fetched
# with apt-get download, never installed) and qmin's static binaries.
#   image/build.sh --site FILE
# Output in build/image/ (QMIN_IMAGE_OUT):
#   xen.gz vmlinuz dom0.cpio.gz grub.cfg qmin.iso   what GRUB boots
#   dom0-and-vms.cpio       with IMAGES=boot: dom0.cpio.gz, then the VM images
#   vm/vmlinuz vm/{net-vm,sa-vm,workload-vm}.cpio.gz vm/SHA256SUMS
#                           the VM images (served over HTTP with IMAGES=http://)
#   MANIFEST                every Debian package in them: name, version, SHA-256
#   SHA256SUMS              every artefact
# The same inputs give the same bytes: file times are SOURCE_DATE_EPOCH
# (default: the last commit's time), owners root, archives sorted.
# Environment: QMIN_XEN_CACHE (the .deb cache, default /var/cache/qmin/xen-debs),
# QMIN_IMAGE_OUT, QMIN_DOM0_BUDGET_KB (default 13312: dom0.cpio.gz may not be bigger).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
here="$top/image"
out=${QMIN_IMAGE_OUT:-$top/build/image}
cache=${QMIN_XEN_CACHE:-/var/cache/qmin/xen-debs}
unpacked="$out/tree"
budget_kb=${QMIN_DOM0_BUDGET_KB:-13312}
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH=$epoch

# shellcheck source=image/lib.sh
. "$here/lib.sh"
# shellcheck source=image/site.sh
. "$here/site.sh"

# The NICs servers and clouds have: Intel, Broadcom, Mellanox, Realtek,
# virtio. hwdrivers loads the ones whose hardware is there; the site file
# may add more (NIC_DRIVERS).
SERVER_NICS="e1000 e1000e igb igc ixgbe i40e ice tg3 bnxt_en bnx2x mlx4_en mlx5_core r8169 virtio_pci virtio_net"
nic_modules() { echo "$SERVER_NICS ${SITE_NIC_DRIVERS//,/ }"; }

say() { printf 'image: %s\n' "$*" >&2; }

# Device nodes need root: run the whole build under fakeroot otherwise.
if [ "$(id -u)" -ne 0 ] && [ -z "${FAKEROOTKEY:-}" ]; then
	command -v fakeroot >/dev/null || { say "needs root or fakeroot" && exit 111; }
	exec fakeroot -- "$0" "$@"
fi

packages() {
	kernel_package
	echo xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxenmisc4.17 libxenstore4 \
		libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxentoollog1 \
		libxentoolcore1 libxendevicemodel1 libxenhypfs1 libyajl2 libgcc-s1 liblzma5 zlib1g
	openrc_packages
}

# What every root has: busybox, OpenRC and its libraries, the stand-ins for
# Alpine's modules/hwdrivers/syslog services, mkxendev, the console getty.
stage_common() { # stage_common ROOT HOSTNAME
	local root=$1
	new_root "$root"
	cp -R "$here/rootfs/." "$root/"
	printf 'root:%s:0:0:99999:7:::\n' "$SITE_ROOT_PASSWORD_HASH" >"$root/etc/shadow"
	chmod 600 "$root/etc/shadow"
	echo "$2" >"$root/etc/hostname"
	add_openrc "$root"
	cp "$here"/init.d/* "$root/etc/init.d/"
	chmod 755 "$root"/etc/init.d/*
	add_init_script "$root" mkxendev "$top"
	cp "$top/build/bin/mkxendev" "$root/usr/sbin/"
	ln -s /sbin/init "$root/init"
	enable "$root" sysinit modules mkxendev
	enable "$root" boot hostname hwdrivers syslog
	add_with_libraries "$root" "$unpacked/usr/bin/xenstore"
	local tool
	for tool in read write rm ls list exists chmod watch; do
		ln -sf xenstore "$root/usr/bin/xenstore-$tool"
	done
}

# The Xen toolstack at Alpine's paths: /usr/sbin/xl and friends.
add_toolstack() { # add_toolstack ROOT TOOL...
	local root=$1 tool bin=/usr/lib/xen-4.17/bin
	shift
	for tool in "$@"; do
		add_with_libraries "$root" "$unpacked$bin/$tool"
		ln -sfn "$bin/$tool" "$root/usr/sbin/$tool"
	done
	mkdir -p "$root/etc/xen/scripts" "$root/var/lib/xen" "$root/var/log/xen"
	cp "$top/hotplug/xl.conf" "$root/etc/xen/xl.conf"
	cp "$top/build/bin/vif-route" "$root/etc/xen/scripts/vif-route"
}

stage_vm() { # stage_vm ROLE ROOT
	local role=$1 root=$2
	stage_common "$root" "$role"
	cp -R "$here/vm/." "$root/"
	[ -d "$here/$role" ] && cp -R "$here/$role/." "$root/"
	cp "$top/build/bin/qrx-agent" "$top/build/bin/qrx-call" "$root/usr/sbin/"
	ln -s ../sbin/qrx-call "$root/usr/bin/qrx-call"
	local script
	for script in vm-network qrx-agent; do add_init_script "$root" "$script" "$top"; done
	enable "$root" default vm-network qrx-agent
	case "$role" in
	net-vm)
		add_toolstack "$root" xl
		add_init_script "$root" xendriverdomain "$top"
		enable "$root" default xendriverdomain
		# shellcheck disable=SC2046 # module names are words
		add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netfront \
			xen-pcifront xen-netback $(nic_modules)
		;;
	sa-vm)
		add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netfront \
			xen-pcifront uhci-hcd ehci-pci ohci-pci xhci-pci usbhid
		;;
	*)
		add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netfront xen-pcifront
		;;
	esac
}

stage_dom0() { # stage_dom0 ROOT VM-SUMS
	local root=$1 script derived="$out/site"
	stage_common "$root" dom0
	cp -R "$here/dom0/." "$root/"
	add_toolstack "$root" xl xenstored xenconsoled xen-init-dom0
	local tool
	for tool in nic-handoff qrx-broker qrx-call xvm-start; do
		cp "$top/build/bin/$tool" "$root/usr/sbin/"
	done
	ln -s ../sbin/qrx-call "$root/usr/bin/qrx-call"
	for script in xenstored xenconsoled net-handoff qrx-broker xvm; do add_init_script "$root" "$script" "$top"; done
	enable "$root" boot xenstored xenconsoled
	enable "$root" default net-handoff qrx-broker xvm
	cp "$top"/etc/conf.d/* "$root/etc/conf.d/"
	mkdir -p "$root/etc/xvm" "$root/etc/qubes/policy.d" "$root/var/lib/xvm" "$root/etc/qmin"
	rm -rf "$derived" && site_derive "$derived"
	cp -R "$derived/etc/." "$root/etc/"
	cp "$top"/etc/policy.d/*.policy "$root/etc/qubes/policy.d/"
	# The pin: dom0 hands its NIC over only after getting exactly these.
	cp "$2" "$root/etc/xvm/SHA256SUMS"
	cp "$unpacked.manifest" "$root/etc/qmin/MANIFEST"
	# shellcheck disable=SC2046 # module names are words
	add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-pciback \
		$(nic_modules)
	add_manual "$root"
	if [ -n "${SITE_OVERLAY:-}" ]; then
		say "adding the layer $(site_overlay) (OVERLAY in ${SITE_FILE##*/})"
		cp -R "$(site_overlay)/." "$root/"
	fi
}

# add_manual ROOT: qmin's man pages, formatted here (dom0 has no formatter)
# as plain text for its /usr/bin/man; man qmin is the overview.
add_manual() {
	local page section
	command -v mandoc >/dev/null || { say "no mandoc: the image has no man pages" && return 0; }
	for page in "$top"/man/*.[1-8]; do
		section=${page##*.}
		mkdir -p "$1/usr/share/man/cat$section"
		mandoc -T ascii "$page" | sed 's/.\x08//g' >"$1/usr/share/man/cat$section/${page##*/}"
	done
}

# boot_module: with IMAGES=boot, dom0's root and then the VM images in one
# file: Xen hands dom0 a single initrd, and Linux unpacks each archive in it
# in turn. An uncompressed archive must start on a 4-byte boundary; the zero
# bytes before it are skipped.
boot_module() {
	[ "$SITE_IMAGES" = boot ] || return 0
	local stage="$out/stage-images" bytes
	rm -rf "$stage" && mkdir -p "$stage/var/lib/xvm"
	cp "$out"/vm/vmlinuz "$out"/vm/*.cpio.gz "$stage/var/lib/xvm/"
	bytes=$(wc -c <"$out/dom0.cpio.gz")
	{
		cat "$out/dom0.cpio.gz"
		head -c $(((4 - bytes % 4) % 4)) /dev/zero
		find "$stage" -exec touch -h -d "@$epoch" {} +
		(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio -o -0 -H newc -R 0:0 --reproducible --quiet)
	} >"$out/$SITE_DOM0_AND_VMS"
}

grub_config() {
	cat <<-CFG
		# qmin: Xen, then the RAM-only dom0, from the site file ${SITE_FILE##*/}
		# (dom0_mem, the serial console, xen-pciback.hide for the sa-vm's USB
		# controller, and where the VM images come from).
		set timeout=3
	CFG
	cat "$out/site/grub-entry"
}

make_iso() {
	local tool
	for tool in grub-mkrescue xorriso faketime; do
		command -v "$tool" >/dev/null || { say "no $tool: skipping qmin.iso" && return 0; }
	done
	local iso="$out/iso"
	rm -rf "$iso" && mkdir -p "$iso/boot/grub"
	cp "$out/xen.gz" "$out/vmlinuz" "$out/$(site_boot_module)" "$iso/boot/"
	cp "$out/grub.cfg" "$iso/boot/grub/grub.cfg"
	find "$iso" -exec touch -h -d "@$epoch" {} +
	# grub-mkrescue stamps the ISO with the time of day (GRUB finds its
	# volume by it): a clock stopped at the epoch makes it the same each time.
	TZ=UTC faketime -f "$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S')" \
		grub-mkrescue -o "$out/qmin.iso" "$iso" -- -volid QMIN >/dev/null 2>&1 || { say "grub-mkrescue failed" && return 1; }
}

sizes() { # one line per artefact: name, bytes, bytes unpacked
	local file unpacked_bytes
	for file in "$@"; do
		unpacked_bytes=$({ gzip -dc "$file" 2>/dev/null || true; } | wc -c)
		[ "$unpacked_bytes" -gt 0 ] || unpacked_bytes=$(wc -c <"$file")
		printf 'image: %-24s %9d bytes  %9d unpacked\n' "${file#"$out"/}" "$(wc -c <"$file")" "$unpacked_bytes"
	done
}

# load_site ARGS: --site FILE, read and checked; refuses the build otherwise.
load_site() {
	if [ $# -ne 2 ] || [ "$1" != --site ] || [ -z "$2" ]; then
		say "usage: build.sh --site FILE (make image SITE=FILE; site/server.site is an example, qmin-site(5))"
		exit 2
	fi
	site_load "$2" >&2 || { say "$2: fix the site file and build again" && exit 1; }
	[ -z "${SITE_ROOT_PASSWORDLESS:-}" ] ||
		say "root logs in WITHOUT A PASSWORD on every console (ROOT_PASSWORDLESS=yes in $2)"
}

main() {
	load_site "$@"
	[ -x "$top/build/bin/qrx-broker" ] || { say "build the tools first (make all)" && exit 111; }
	rm -f "$out/$SITE_DOM0_AND_VMS"
	mkdir -p "$out/vm"
	local wanted
	read -r -a wanted <<<"$(packages | tr '\n' ' ')"
	fetch_and_unpack "$cache" "$unpacked" "${wanted[@]}" || exit 111
	local kernels=("$unpacked"/boot/vmlinuz-*)
	cp "${kernels[0]}" "$out/vmlinuz"
	gzip -dc "$unpacked/boot/xen-4.17-amd64.gz" | gzip -9 -n >"$out/xen.gz"
	domu_kernel "${kernels[0]}" "$out/vm/vmlinuz" -9 || exit 111
	# The images of the VMs the site defines, and no others.
	local role roles=(net-vm)
	[ -n "$SITE_USB_PCI" ] && roles+=(sa-vm)
	[ -n "$SITE_WORKLOAD_ADDRESS" ] && roles+=(workload-vm)
	rm -f "$out"/vm/*.cpio.gz
	for role in "${roles[@]}"; do
		stage_vm "$role" "$out/stage-$role"
		pack "$out/stage-$role" "$out/vm/$role.cpio.gz" "$epoch"
	done
	(cd "$out/vm" && sha256sum vmlinuz "${roles[@]/%/.cpio.gz}" >SHA256SUMS)
	stage_dom0 "$out/stage-dom0" "$out/vm/SHA256SUMS"
	pack "$out/stage-dom0" "$out/dom0.cpio.gz" "$epoch"
	boot_module
	cp "$unpacked.manifest" "$out/MANIFEST"
	grub_config >"$out/grub.cfg"
	make_iso
	local artefacts=("$out/xen.gz" "$out/vmlinuz" "$out/dom0.cpio.gz" "$out/grub.cfg"
		"$out/vm/vmlinuz" "$out"/vm/*.cpio.gz "$out/MANIFEST")
	[ -f "$out/$SITE_DOM0_AND_VMS" ] && artefacts+=("$out/$SITE_DOM0_AND_VMS")
	[ -f "$out/qmin.iso" ] && artefacts+=("$out/qmin.iso")
	(cd "$out" && sha256sum "${artefacts[@]#"$out"/}" >SHA256SUMS)
	sizes "${artefacts[@]}"
	local dom0_kb=$(($(wc -c <"$out/dom0.cpio.gz") / 1024))
	if [ "$dom0_kb" -gt "$budget_kb" ]; then
		say "dom0.cpio.gz is $dom0_kb KiB, over its budget of $budget_kb KiB"
		exit 1
	fi
	say "dom0.cpio.gz: $dom0_kb KiB of its $budget_kb KiB budget"
}

main "$@"
