# The files a site file decides (qmin-site(5)), written from the SITE_*
# values of site_load (image/site.sh): dom0's /etc/conf.d/net-handoff, the
# VM definitions in /etc/xvm, and GRUB's menu entry.
# shellcheck shell=bash
# SITE_* are set by site_load.
# shellcheck disable=SC2154

# With IMAGES=boot, the boot module carries dom0's archive and the VM images
# after it: Xen gives dom0 one initrd, and Linux unpacks every archive it
# finds in it, one after the other.
SITE_DOM0_AND_VMS=dom0-and-vms.cpio
site_boot_module() { # the file GRUB loads as dom0's initrd
	if [ "$SITE_IMAGES" = boot ]; then echo "$SITE_DOM0_AND_VMS"; else echo dom0.cpio.gz; fi
}

site_net_handoff() {
	local url=$SITE_IMAGES
	[ "$url" = boot ] && url=
	cat <<-CONF
		# Options for /etc/init.d/net-handoff, written by make image from the
		# site file ${SITE_FILE##*/} (qmin-site(5)). dom0 comes up on NIC with a
		# static address, gets the VM images pinned in IMAGE_SUMS (fetched from
		# IMAGE_URL, or already in IMAGE_DIR from the boot module when IMAGE_URL is
		# empty), checks every one, and only then hands NIC to NETVM (nic-handoff(8)).
		NIC="$SITE_NIC"
		NIC_ADDRESS="$SITE_DOM0_ADDRESS"
		NIC_GATEWAY="$SITE_GATEWAY"
		NETVM="net-vm"
		IMAGE_URL="$url"
		IMAGE_DIR="/var/lib/xvm"
		IMAGE_SUMS="/etc/xvm/SHA256SUMS"
		FETCH_TIMEOUT=120
		NIC_HANDOFF_OPTS="--wait 120"
	CONF
}

site_net_vm() {
	cat <<-CFG
		# The network driver domain, from the site file ${SITE_FILE##*/}: PV, because
		# it takes the NIC ($SITE_NIC_PCI) by PCI passthrough (nic-handoff(8) starts it,
		# with the NIC on pciback). It is the backend of the other VMs' vifs, so it
		# runs \`xl devd\` (driver_domain). Its own vif, to dom0, carries dom0's
		# traffic after the handoff: dom0 routes through 10.137.0.1. Its LAN side is
		# on the kernel command line (qmin.* keys, read by /etc/init.d/vm-network).
		name = "net-vm"
		type = "pv"
		memory = 256
		kernel = "/var/lib/xvm/vmlinuz"
		ramdisk = "/var/lib/xvm/net-vm.cpio.gz"
		extra = "console=hvc0 quiet qmin.router=1 qmin.lan=$SITE_NETVM_ADDRESS/${SITE_DOM0_ADDRESS#*/} qmin.gateway=$SITE_GATEWAY qmin.dom0=${SITE_DOM0_ADDRESS%/*}"
		pci = [ "$SITE_NIC_PCI" ]
		vif = [ "ip=10.137.0.1,script=vif-route" ]
		driver_domain = 1
		xvm_wait = "qrx"
		# The images have no user but root: calls from dom0 run as root there.
		xvm_default_user = "root"
		# Generous: under emulation a VM takes a minute or two to boot.
		xvm_timeout = 300
		xvm_type = "NetVM"
	CFG
}

site_sa_vm() {
	cat <<-CFG
		# The security-device VM, from the site file ${SITE_FILE##*/}: PV, with the
		# USB controller ($SITE_USB_PCI) passed through; GRUB's xen-pciback.hide
		# keeps it from dom0's drivers from the first second.
		name = "sa-vm"
		type = "pv"
		memory = 192
		kernel = "/var/lib/xvm/vmlinuz"
		ramdisk = "/var/lib/xvm/sa-vm.cpio.gz"
		extra = "console=hvc0 quiet"
		pci = [ "$SITE_USB_PCI" ]
		xvm_autostart = 1
		xvm_wait = "qrx"
		xvm_default_user = "root"
		xvm_timeout = 300
		xvm_tags = [ "hardware" ]
	CFG
}

site_workload_vm() {
	cat <<-CFG
		# The workload, from the site file ${SITE_FILE##*/}, networked through
		# net-vm. Its address is on the LAN's subnet: net-vm answers ARP for it.
		# PVH isolates it by the hardware, as in the seed; under QEMU's emulated
		# SVM a PVH guest sometimes triple-faults while it boots, so the demo
		# says pv (WORKLOAD_TYPE).
		name = "workload-vm"
		type = "$SITE_WORKLOAD_TYPE"
		memory = 256
		kernel = "/var/lib/xvm/vmlinuz"
		ramdisk = "/var/lib/xvm/workload-vm.cpio.gz"
		extra = "console=hvc0 quiet"
		vif = [ "ip=$SITE_WORKLOAD_ADDRESS,backend=net-vm,script=vif-route" ]
		xvm_autostart = 1
		xvm_wait = "qrx"
		xvm_default_user = "root"
		xvm_timeout = 300
		xvm_tags = [ "ops" ]
	CFG
}

# site_xen_console: Xen's console options for SERIAL.
site_xen_console() {
	case "$SITE_SERIAL" in
	none) echo "console=vga" ;;
	*) echo "console=$SITE_SERIAL,vga $SITE_SERIAL=115200,8n1" ;;
	esac
}

# site_grub_entry: GRUB's menu entry; the files are in /boot.
site_grub_entry() {
	local hide=
	[ -n "$SITE_USB_PCI" ] && hide=" xen-pciback.hide=($SITE_USB_PCI)"
	cat <<-CFG
		menuentry "qmin (Xen 4.17, dom0 from RAM)" {
		    multiboot2 /boot/xen.gz dom0_mem=$SITE_DOM0_MEM,max:$SITE_DOM0_MEM $(site_xen_console)
		    module2 /boot/vmlinuz console=hvc0 earlyprintk=xen$hide
		    module2 /boot/$(site_boot_module)
		}
	CFG
}

# site_derive DIR: every derived file under DIR (etc/conf.d, etc/xvm, grub-entry).
site_derive() {
	local dir=$1
	mkdir -p "$dir/etc/conf.d" "$dir/etc/xvm"
	site_net_handoff >"$dir/etc/conf.d/net-handoff"
	site_net_vm >"$dir/etc/xvm/net-vm.cfg"
	[ -z "$SITE_USB_PCI" ] || site_sa_vm >"$dir/etc/xvm/sa-vm.cfg"
	[ -z "$SITE_WORKLOAD_ADDRESS" ] || site_workload_vm >"$dir/etc/xvm/workload-vm.cfg"
	site_grub_entry >"$dir/grub-entry"
}
