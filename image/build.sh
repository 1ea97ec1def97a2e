#!/usr/bin/env bash
# make image: qmin's RAM-only dom0 and its three VMs, built from Debian 12
# packages (fetched with apt-get download, never installed) and qmin's static
# binaries. Output in build/image/ (QMIN_IMAGE_OUT):
#   xen.gz vmlinuz dom0.cpio.gz grub.cfg qmin.iso   what GRUB boots
#   vm/vmlinuz vm/{net-vm,sa-vm,workload-vm}.cpio.gz vm/SHA256SUMS
#                                                   what dom0 fetches at boot
#   SHA256SUMS                                      every artefact
# The same inputs give the same bytes: file times are SOURCE_DATE_EPOCH
# (default: the last commit's time), owners root, archives sorted.
# Environment: QMIN_XEN_CACHE (the .deb cache, default /var/cache/qmin/xen-debs),
# QMIN_IMAGE_OUT, QMIN_ROOT_PASSWORD_HASH (root's crypt(3) hash in every
# image; default: none, so root logs in on hvc0 without a password),
# QMIN_DOM0_BUDGET_KB (default 13312: dom0.cpio.gz may not be bigger).
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
	printf 'root:%s:0:0:99999:7:::\n' "${QMIN_ROOT_PASSWORD_HASH:-}" >"$root/etc/shadow"
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
		add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netfront \
			xen-pcifront xen-netback e1000 e1000e igb ixgbe r8169
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
	local root=$1 script
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
	mkdir -p "$root/etc/xvm" "$root/etc/qubes/policy.d" "$root/var/lib/xvm"
	cp "$top"/etc/xvm/*.cfg "$root/etc/xvm/"
	cp "$top"/etc/policy.d/*.policy "$root/etc/qubes/policy.d/"
	# The pin: dom0 hands its NIC over only after fetching exactly these.
	cp "$2" "$root/etc/xvm/SHA256SUMS"
	add_modules "$root" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-pciback \
		e1000 e1000e igb ixgbe r8169
}

grub_config() {
	cat <<-CFG
		# qmin: Xen, then the RAM-only dom0. Set dom0_mem (with max:) for the host,
		# and add xen-pciback.hide=(BDF) to the dom0 line for devices dom0 must
		# never drive (the sa-vm's USB controller).
		set timeout=3
		menuentry "qmin (Xen 4.17, dom0 from RAM)" {
		    multiboot2 /boot/xen.gz dom0_mem=1024M,max:1024M console=com1,vga com1=115200,8n1
		    module2 /boot/vmlinuz console=hvc0 earlyprintk=xen
		    module2 /boot/dom0.cpio.gz
		}
	CFG
}

make_iso() {
	local tool
	for tool in grub-mkrescue xorriso faketime; do
		command -v "$tool" >/dev/null || { say "no $tool: skipping qmin.iso" && return 0; }
	done
	local iso="$out/iso"
	rm -rf "$iso" && mkdir -p "$iso/boot/grub"
	cp "$out/xen.gz" "$out/vmlinuz" "$out/dom0.cpio.gz" "$iso/boot/"
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

main() {
	[ -x "$top/build/bin/qrx-broker" ] || { say "build the tools first (make all)" && exit 111; }
	mkdir -p "$out/vm"
	local wanted
	read -r -a wanted <<<"$(packages | tr '\n' ' ')"
	fetch_and_unpack "$cache" "$unpacked" "${wanted[@]}" || exit 111
	local kernels=("$unpacked"/boot/vmlinuz-*)
	cp "${kernels[0]}" "$out/vmlinuz"
	gzip -dc "$unpacked/boot/xen-4.17-amd64.gz" | gzip -9 -n >"$out/xen.gz"
	domu_kernel "${kernels[0]}" "$out/vm/vmlinuz" -9 || exit 111
	local role
	for role in net-vm sa-vm workload-vm; do
		stage_vm "$role" "$out/stage-$role"
		pack "$out/stage-$role" "$out/vm/$role.cpio.gz" "$epoch"
	done
	(cd "$out/vm" && sha256sum vmlinuz net-vm.cpio.gz sa-vm.cpio.gz workload-vm.cpio.gz >SHA256SUMS)
	stage_dom0 "$out/stage-dom0" "$out/vm/SHA256SUMS"
	pack "$out/stage-dom0" "$out/dom0.cpio.gz" "$epoch"
	grub_config >"$out/grub.cfg"
	make_iso
	local artefacts=("$out/xen.gz" "$out/vmlinuz" "$out/dom0.cpio.gz" "$out/grub.cfg"
		"$out/vm/vmlinuz" "$out"/vm/*.cpio.gz)
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
