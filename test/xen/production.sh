#!/usr/bin/env bash
# make production-check: the production image, built from site/server.site
# as an operator fills it in for this QEMU machine (test/fixtures/
# server-in-qemu.sh), cold-booted on the demo's machine with another NIC
# (an e1000e, where the demo has an e1000) and no image server at all: the
# VM images come in the boot module. On hvc0 it logs in with the site's root
# password and checks, as an operator would, that dom0 handed the NIC over,
# the VMs run, a qrx call works and nothing of the demo is in the image;
# then it powers off. TAP lines, as the other tiers print them.
# Environment: QMIN_PRODUCTION_WORK (default build/production), and the
# demo's QMIN_QEMU, QMIN_DEMO_CPU, QMIN_DEMO_TIMEOUT.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
work=${QMIN_PRODUCTION_WORK:-$top/build/production}
export QMIN_DEMO_WORK=$work QMIN_IMAGE_OUT=$work/image
# The machine, the console and the TAP lines are the demo's.
# shellcheck source=demo/run.sh
. "$top/demo/run.sh"
check_only=1 tap_tag=production
nic_model=e1000e
password=qmin-production-check

say() { printf 'production: %s\n' "$*"; }

# console_check NAME SECONDS COMMAND: COMMAND typed at dom0's shell; a TAP
# line for whether it succeeded there within SECONDS.
console_check() {
	type_line "if $3; then r=ok; else r=FAIL; fi; echo \"QMIN-PRODUCTION $1 \$r\""
	if wait_for "QMIN-PRODUCTION $1 (ok|FAIL)" "$2" && sed -n "${mark}p" "$work/console.log" | grep -q "$1 ok"; then
		tap ok "$1"
	else
		tap not-ok "$1"
	fi
}

build_image() {
	mkdir -p "$work"
	bash "$top/test/fixtures/server-in-qemu.sh" "$work/server.site" "$password" &&
		bash "$top/image/build.sh" --site "$work/server.site" >"$work/build.log" 2>&1 &&
		[ -s "$image/dom0-and-vms.cpio" ]
}

log_in() {
	type_line root
	wait_for 'Password: ' 30 || return 1
	type_line "$password"
	wait_for 'dom0:~# ' 60
}

operate() {
	check "the site file's root password logs in on hvc0" log_in
	check "dom0's default runlevel comes up: images, handoff, VMs" up_within "$login_timeout"
	check "images from the boot module were checked before the handoff" \
		test -n "$(when_done 'Checking the VM images in /var/lib/xvm')"
	console_check "the NIC, an e1000e, is in net-vm" 30 'nic-handoff status | grep -q "^handed to net-vm"'
	console_check "dom0's traffic leaves through net-vm" 30 'ip route show default | grep -q " dev vif"'
	console_check "net-vm, sa-vm and workload-vm run" 30 \
		'xl domid net-vm >/dev/null && xl domid sa-vm >/dev/null && xl domid workload-vm >/dev/null'
	# shellcheck disable=SC2016 # expanded by dom0's shell
	console_check "a qrx call from dom0 runs in workload-vm" 90 \
		'[ "$(echo hostname | timeout 60 qrx-call workload-vm qubes.VMShell)" = workload-vm ]'
	console_check "nothing of the demo is in the image" 30 \
		'! command -v qmin-check && ! command -v qmin-trials && [ ! -e /usr/lib/qmin/checks.sh ]'
	console_check "the image lists its packages" 30 'grep -q "^xen-hypervisor-4.17-amd64 " /etc/qmin/MANIFEST'
}

production_main() {
	command -v "$qemu" >/dev/null || { say "$qemu not found" && exit 111; }
	say "building the image of site/server.site, filled in for QEMU (log: ${work#"$top"/}/build.log)"
	if ! build_image; then
		tap not-ok "the production image builds from site/server.site"
		tail -n 20 "$work/build.log" | sed 's/^/#   /'
		echo "1..$tap_number"
		exit 1
	fi
	tap ok "the production image builds from site/server.site"
	gzip -dc "$image/xen.gz" >"$work/xen"
	say "booting it with an e1000e and no image server (console log: ${work#"$top"/}/console.log)"
	boot_console "$image/dom0-and-vms.cpio"
	if wait_for 'dom0 login:' "$login_timeout"; then
		tap ok "boots to dom0's login prompt on hvc0"
		operate
	else
		tap not-ok "boots to dom0's login prompt on hvc0 within $login_timeout s"
		tail -n 40 "$work/console.log" | sed 's/^/#   /'
	fi
	type_line poweroff
	check "poweroff stops the VMs cleanly" stopped_cleanly
	check "dom0 powers off, and QEMU ends" powered_off
	exec 3>&-
	wait 2>/dev/null
	echo "1..$tap_number"
	return "$failed"
}

production_main
