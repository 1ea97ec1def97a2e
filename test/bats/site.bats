#!/usr/bin/env bats
# The site file (qmin-site(5)): make image refuses each kind of mistake with
# file:line before it builds anything, and derives the right files from the
# two example sites.

load test_helper

setup() {
	SITE="$BATS_TEST_TMPDIR/host.site"
	# A good site: the server example with a password hash.
	bash "$QMIN_ROOT/test/fixtures/server-in-qemu.sh" "$SITE" secret
}

# refused LINE-NUMBER MESSAGE: make image refuses $SITE, naming the line.
refused() {
	run env -u MAKEFLAGS -u MAKELEVEL QMIN_IMAGE_OUT="$BATS_TEST_TMPDIR/out" \
		bash "$QMIN_ROOT/image/build.sh" --site "$SITE"
	assert_failure 1
	assert_line --partial "$SITE:$1: $2"
	assert_line "image: $SITE: fix the site file and build again"
	[ ! -e "$BATS_TEST_TMPDIR/out" ] || fail "the build started"
}

set_key() { # set_key KEY VALUE: the line of KEY, changed in place
	sed -i "s|^$1=.*|$1=$2|" "$SITE"
	grep -q "^$1=$2\$" "$SITE" || fail "no $1 line"
}

line_of() { grep -n "^$1=" "$SITE" | cut -d : -f 1; }

@test "a bad address is refused with file:line" {
	set_key GATEWAY 10.0.2.256
	refused "$(line_of GATEWAY)" "GATEWAY must be an IPv4 address (192.0.2.1), not '10.0.2.256'"
	set_key GATEWAY 10.0.2.02
	refused "$(line_of GATEWAY)" "GATEWAY must be an IPv4 address"
}

@test "a prefix that does not hold the gateway is refused with file:line" {
	set_key DOM0_ADDRESS 10.0.2.15/29
	refused "$(line_of GATEWAY)" "GATEWAY 10.0.2.2 is not a host of 10.0.2.15/29's network"
}

@test "an unknown key, a key given twice and a quoted value are refused with file:line" {
	echo 'NIC_ADRESS=10.0.2.15' >>"$SITE"
	refused "$(wc -l <"$SITE")" "unknown key NIC_ADRESS (qmin-site(5) lists the keys)"
	sed -i '$d' "$SITE" && echo 'SERIAL=com2' >>"$SITE"
	refused "$(wc -l <"$SITE")" "SERIAL is given twice (first on line $(line_of SERIAL | head -n 1))"
	sed -i '$d' "$SITE" && echo 'NIC="eth0"' >>"$SITE"
	refused "$(wc -l <"$SITE")" "not KEY=VALUE (a value has no spaces or quotes)"
}

@test "a PCI address in the wrong form is refused with file:line" {
	set_key NIC_PCI 03:00.0
	refused "$(line_of NIC_PCI)" "NIC_PCI must be a PCI address as lspci -D prints it (0000:03:00.0), not '03:00.0'"
}

@test "without a root password hash the build refuses, unless the site leaves root open on purpose" {
	sed -i '/^ROOT_PASSWORD_HASH=/d' "$SITE"
	run bash "$QMIN_ROOT/image/site.sh" check "$SITE"
	assert_failure 1
	assert_output --partial "$SITE: no ROOT_PASSWORD_HASH: root would log in on the console without a password"
	run bash "$QMIN_ROOT/image/site.sh" check "$QMIN_ROOT/site/server.site"
	assert_failure 1
	assert_output --partial "no ROOT_PASSWORD_HASH"
	echo ROOT_PASSWORDLESS=yes >>"$SITE"
	run bash "$QMIN_ROOT/image/site.sh" check "$SITE"
	assert_success
}

@test "make image without a site file says how to give one" {
	run env -u MAKEFLAGS -u MAKELEVEL make -s -C "$QMIN_ROOT" image QMIN_IMAGE_OUT="$BATS_TEST_TMPDIR/out"
	assert_failure
	assert_output --partial "usage: build.sh --site FILE (make image SITE=FILE; site/server.site is an example, qmin-site(5))"
}

@test "the demo's site derives the demo's conf.d, VM definitions and GRUB entry" {
	local out="$BATS_TEST_TMPDIR/demo"
	bash "$QMIN_ROOT/image/site.sh" derive "$QMIN_ROOT/site/demo.site" "$out"
	run grep -v '^#' "$out/etc/conf.d/net-handoff"
	assert_line 'NIC="eth0"'
	assert_line 'NIC_ADDRESS="10.0.2.15/24"'
	assert_line 'NIC_GATEWAY="10.0.2.2"'
	assert_line 'IMAGE_URL="http://10.0.2.2:8080"'
	run cat "$out/etc/xvm/net-vm.cfg"
	assert_line 'extra = "console=hvc0 quiet qmin.router=1 qmin.lan=10.0.2.16/24 qmin.gateway=10.0.2.2 qmin.dom0=10.0.2.15"'
	assert_line 'pci = [ "0000:00:03.0" ]'
	run cat "$out/etc/xvm/sa-vm.cfg"
	assert_line 'pci = [ "0000:00:04.0" ]'
	run cat "$out/etc/xvm/workload-vm.cfg"
	assert_line 'type = "pv"'
	assert_line 'vif = [ "ip=10.0.2.20,backend=net-vm,script=vif-route" ]'
	run cat "$out/grub-entry"
	assert_line '    module2 /boot/vmlinuz console=hvc0 earlyprintk=xen xen-pciback.hide=(0000:00:04.0)'
	assert_line '    module2 /boot/dom0.cpio.gz'
}

@test "the server's site derives images from the boot module, a PVH workload, and only the VMs it names" {
	# shellcheck disable=SC2016 # a hash, not an expansion
	sed 's/^#ROOT_PASSWORD_HASH=.*/ROOT_PASSWORD_HASH=$6$salt$hash/' "$QMIN_ROOT/site/server.site" >"$SITE"
	local out="$BATS_TEST_TMPDIR/server"
	bash "$QMIN_ROOT/image/site.sh" derive "$SITE" "$out"
	run grep -v '^#' "$out/etc/conf.d/net-handoff"
	assert_line 'NIC_ADDRESS="192.0.2.10/24"'
	assert_line 'IMAGE_URL=""'
	run cat "$out/etc/xvm/net-vm.cfg"
	assert_line 'extra = "console=hvc0 quiet qmin.router=1 qmin.lan=192.0.2.11/24 qmin.gateway=192.0.2.1 qmin.dom0=192.0.2.10"'
	assert_line 'pci = [ "0000:03:00.0" ]'
	run cat "$out/etc/xvm/workload-vm.cfg"
	assert_line 'type = "pvh"'
	run cat "$out/grub-entry"
	assert_line '    module2 /boot/vmlinuz console=hvc0 earlyprintk=xen xen-pciback.hide=(0000:00:14.0)'
	assert_line '    module2 /boot/dom0-and-vms.cpio'
	# Without USB_PCI and WORKLOAD_ADDRESS: the net-vm alone, nothing hidden.
	sed -i '/^USB_PCI=/d; /^WORKLOAD_ADDRESS=/d' "$SITE"
	rm -rf "$out" && bash "$QMIN_ROOT/image/site.sh" derive "$SITE" "$out"
	run ls "$out/etc/xvm"
	assert_output net-vm.cfg
	grep -q pciback "$out/grub-entry" && fail "xen-pciback.hide without USB_PCI"
	true
}

@test "qmin-site(5): its EXAMPLES check and derive as they say" {
	local example ran=0
	while IFS= read -r example; do
		case "$example" in make\ *) continue ;; esac
		run bash -c "cd '$QMIN_ROOT' && $example"
		assert_success
		ran=$((ran + 1))
	done < <(man_examples "$QMIN_ROOT/man/qmin-site.5")
	assert_equal "$ran" 3
	assert_output --partial 'module2 /boot/dom0.cpio.gz'
}
