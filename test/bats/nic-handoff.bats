#!/usr/bin/env bats
# nic-handoff on real network devices: three network namespaces stand for
# dom0, the net-vm and the LAN's server, a veth for the NIC, and moving it
# into the net-vm's namespace for the PCI passthrough; sysfs is a fixture
# tree that records what was written, and xenstore the double.
# bats file_tags=tool:nic-handoff
# Bats sets $stderr; the stubs' scripts are single-quoted on purpose.
# shellcheck disable=SC2154,SC2016

load test_helper

BDF=0000:00:03.0

setup() {
	requires netns
	NIC="$QMIN_BIN/nic-handoff"
	D0="qmin-d0-$$" NV="qmin-nv-$$" LAN="qmin-lan-$$"
	for ns in "$D0" "$NV" "$LAN"; do ip netns add "$ns"; done
	ip -n "$D0" link add eth0 address 52:54:00:12:34:56 type veth peer name lan0 netns "$LAN"
	ip -n "$LAN" addr add 10.0.2.2/24 dev lan0
	ip -n "$LAN" link set lan0 up
	ip -n "$D0" addr add 10.0.2.15/24 dev eth0
	ip -n "$D0" link set eth0 up
	ip -n "$D0" route add default via 10.0.2.2
	fixture_sysfs "$BATS_TEST_TMPDIR/sys"
	xenstore_start
	export XSCTL D0 NV LAN QMIN_BIN
	STATE="$BATS_TEST_TMPDIR/state"
	VMS="$BATS_TEST_TMPDIR/xvm"
	mkdir -p "$VMS"
	printf 'name = "net-vm"\ntype = "pv"\npci = [ "%s" ]\n' "$BDF" >"$VMS/net-vm.cfg"
	stubs
}

teardown() {
	for ns in "${D0:-}" "${NV:-}" "${LAN:-}"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
	xenstore_stop
}

# fixture_sysfs DIR: the NIC at $BDF bound to e1000, pciback loaded.
fixture_sysfs() {
	local sys=$1 dev="$1/devices/pci0000:00/$BDF"
	mkdir -p "$dev" "$sys/class/net/eth0" "$sys/bus/pci/devices" "$sys/bus/pci/drivers/e1000" "$sys/bus/pci/drivers/pciback"
	ln -s "../../../devices/pci0000:00/$BDF" "$sys/class/net/eth0/device"
	ln -s "../../../devices/pci0000:00/$BDF" "$sys/bus/pci/devices/$BDF"
	ln -s "../../../bus/pci/drivers/e1000" "$dev/driver"
	: >"$dev/driver_override"
	: >"$dev/reset"
	for file in bind unbind; do : >"$sys/bus/pci/drivers/e1000/$file"; done
	for file in bind unbind new_slot remove_slot slots; do : >"$sys/bus/pci/drivers/pciback/$file"; done
}

# The stubs: xvm-start gives the NIC to the net-vm's namespace (its PCI
# passthrough) and makes the vif, with vif-route as xl would run it; xl
# destroy gives the NIC back to dom0's namespace, down and bare, as Xen
# gives a device back to pciback when its domain dies.
stubs() {
	cat >"$BATS_TEST_TMPDIR/xvm-start" <<-'STUB'
		#!/bin/sh
		# xvm-start [--vm-dir DIR] NAME
		set -e
		for name; do :; done
		[ -e "$BATS_TEST_TMPDIR/no-start" ] && { echo "xvm-start: error: unable to start $name" >&2; exit 1; }
		[ -e "$BATS_TEST_TMPDIR/slow-start" ] && sleep 30
		touch "$BATS_TEST_TMPDIR/domain-7"
		"$XSCTL" write /local/domain/7/name "$name"
		# slow-boot: the domain exists, and boots until the test says go.
		if [ -e "$BATS_TEST_TMPDIR/slow-boot" ]; then
			for _ in $(seq 600); do [ -e "$BATS_TEST_TMPDIR/go" ] && break; sleep 0.05; done
		fi
		ip -n "$D0" link set eth0 netns "$NV"
		ip -n "$NV" addr add 10.0.2.16/24 dev eth0
		ip -n "$NV" link set eth0 up
		ip -n "$NV" route add default via 10.0.2.2
		for key in ip_forward conf/all/proxy_arp conf/eth0/proxy_arp neigh/eth0/proxy_delay; do
			value=1 && [ "${key#neigh}" != "$key" ] && value=0
			ip netns exec "$NV" sh -c "echo $value >/proc/sys/net/ipv4/$key"
		done
		"$BATS_TEST_TMPDIR/vif-online" 7
		"$XSCTL" write /local/domain/0/backend/vif/7/0/state 4 # netback, once netfront connects
		echo "$name 7"
	STUB
	cat >"$BATS_TEST_TMPDIR/xl" <<-'STUB'
		#!/bin/sh
		# xl pci-assignable-add/-remove BDF: libxl's quarantine, and on the way
		# back the pciback unbind and remove_slot libxl does itself.
		pciback="$BATS_TEST_TMPDIR/sys/bus/pci/drivers/pciback"
		echo "$*" >>"$BATS_TEST_TMPDIR/xl.log"
		case "$1" in
		pci-assignable-add) touch "$BATS_TEST_TMPDIR/quarantined" && exit 0 ;;
		pci-assignable-list) [ ! -e "$BATS_TEST_TMPDIR/quarantined" ] || echo "$BDF"; exit 0 ;;
		domid)
			for domain in "$BATS_TEST_TMPDIR"/domain-*; do
				id=${domain##*-}
				[ -e "$domain" ] && [ "$("$XSCTL" read "/local/domain/$id/name")" = "$2" ] && echo "$id" && exit 0
			done
			echo "Can't get domid of domain name '$2', maybe this domain does not exist." >&2
			exit 1
			;;
		pci-assignable-remove)
			rm "$BATS_TEST_TMPDIR/quarantined" || exit 1
			echo "$2" >"$pciback/unbind" && echo "$2" >"$pciback/remove_slot" && rm -f "$pciback/$2"
			exit 0
			;;
		esac
		# xl list DOMID: whether Xen has the domain; xl destroy DOMID.
		case "$2" in '' | *[!0-9]*) exit 1 ;; esac
		[ -e "$BATS_TEST_TMPDIR/domain-$2" ] || { echo "$2 is an invalid domain identifier (rc=-6)" >&2; exit 1; }
		[ "$1" = list ] && exit 0
		[ "$1" = destroy ] || exit 1
		[ -e "$BATS_TEST_TMPDIR/stuck" ] && { echo "destroy failed (rc=-3)" >&2; exit 1; }
		rm "$BATS_TEST_TMPDIR/domain-$2"
		ip -n "$NV" link set eth0 netns "$D0" 2>/dev/null
		ip -n "$D0" link del "vif$2.0" 2>/dev/null
		"$XSCTL" rm "/local/domain/$2"
		"$XSCTL" rm "/local/domain/0/backend/vif/$2"
		exit 0
	STUB
	# What vif-route runs for dom0's uplink: nic-handoff on this test's sysfs and xl.
	cat >"$BATS_TEST_TMPDIR/nic-handoff" <<-'STUB'
		#!/bin/sh
		exec "$QMIN_BIN/nic-handoff" --sysfs "$BATS_TEST_TMPDIR/sys" --xl "$BATS_TEST_TMPDIR/xl" "$@"
	STUB
	# vif-online DOMID: dom0's vif towards the net-vm, domain DOMID, and its
	# hotplug as xl runs it (vif-route, told where nic-handoff and its state are).
	cat >"$BATS_TEST_TMPDIR/vif-online" <<-'STUB'
		#!/bin/sh
		vif="vif$1.0"
		ip -n "$D0" link add "$vif" type veth peer name eth1 address "00:16:3e:00:00:0$1" netns "$NV"
		ip -n "$NV" addr add 10.137.0.1/32 dev eth1
		ip -n "$NV" link set eth1 up
		ip -n "$NV" route add 10.0.2.15 dev eth1
		ip netns exec "$NV" sh -c "echo 1 >/proc/sys/net/ipv4/conf/eth1/proxy_arp"
		"$XSCTL" write "/local/domain/0/backend/vif/$1/0/ip" 10.137.0.1
		"$XSCTL" write "/local/domain/0/backend/vif/$1/0/mac" "00:16:3e:00:00:0$1"
		ip netns exec "$D0" env vif="$vif" XENBUS_PATH="backend/vif/$1/0" "$QMIN_BIN/vif-route" \
			--state-dir "$BATS_TEST_TMPDIR/vif-route" --handoff-state "$STATE" \
			--nic-handoff "$BATS_TEST_TMPDIR/nic-handoff" online type_if=vif
	STUB
	chmod +x "$BATS_TEST_TMPDIR/xvm-start" "$BATS_TEST_TMPDIR/xl" "$BATS_TEST_TMPDIR/nic-handoff" \
		"$BATS_TEST_TMPDIR/vif-online"
	export BATS_TEST_TMPDIR BDF STATE
}

nic() {
	run --separate-stderr ip netns exec "$D0" "$NIC" --sysfs "$BATS_TEST_TMPDIR/sys" --state "$STATE" \
		--vm-dir "$VMS" --xvm-start "$BATS_TEST_TMPDIR/xvm-start" --xl "$BATS_TEST_TMPDIR/xl" --wait 10 "$@"
}

# handoff_in_background: nic-handoff eth0 net-vm, as a job: its pid in $HANDOFF.
handoff_in_background() {
	ip netns exec "$D0" "$NIC" --sysfs "$BATS_TEST_TMPDIR/sys" --state "$STATE" --vm-dir "$VMS" \
		--xvm-start "$BATS_TEST_TMPDIR/xvm-start" --xl "$BATS_TEST_TMPDIR/xl" --wait 10 eth0 net-vm \
		2>"$BATS_TEST_TMPDIR/handoff.err" 3>&- &
	HANDOFF=$!
}

# dom0_as_found: eth0 in dom0 with its address and default route, and the
# server reachable directly.
dom0_as_found() {
	run ip -n "$D0" -4 -o addr show dev eth0
	assert_output --partial "inet 10.0.2.15/24"
	run ip -n "$D0" route show default
	assert_output --partial "default via 10.0.2.2 dev eth0"
	ip netns exec "$D0" ping -c 1 -W 2 10.0.2.2 >/dev/null || fail "dom0 cannot reach the server"
	[ ! -e "$STATE" ] || fail "the state file is left: $(cat "$STATE")"
}

@test "-h prints usage on stdout; every option is in the man page" {
	run --separate-stderr "$NIC" -h
	assert_success
	local option
	while IFS= read -r option; do
		grep -q -- "Fl Fl ${option#--}" "$QMIN_ROOT/man/nic-handoff.8" || fail "$option is not in man/nic-handoff.8"
	done < <(grep -oE -- '--[a-z-]+' <<<"$output" | sort -u)
}

@test "a command with the wrong operands is named: restore eth0 is not a handoff of 'restore' (issue 27)" {
	local words expected
	for words in "restore eth0:restore takes no operand" "status x:status takes no operand" \
		"release:release takes IFACE" "adopt eth0:adopt takes IFACE NETVM" "reconnect:reconnect takes VIF"; do
		expected=${words#*:}
		# shellcheck disable=SC2086 # the words of a command line
		run --separate-stderr "$NIC" --state "$STATE" ${words%%:*}
		assert_failure 100
		assert_equal "${stderr_lines[0]}" "nic-handoff: usage: $expected"
	done
}

@test "restore with nothing recorded says so, and succeeds (issue 27)" {
	run --separate-stderr "$NIC" --state "$STATE" restore
	assert_success
	assert_output "nothing to restore: no handoff is recorded in $STATE"
}

@test "the NIC goes to the net-vm, dom0 routes through it, and back with restore" {
	nic eth0 net-vm
	assert_success
	# dom0 has no NIC; its address is on the vif, its default route via the net-vm.
	run ip -n "$D0" link show eth0
	assert_failure
	run ip -n "$D0" -4 -o addr show dev vif7.0
	assert_output --partial "inet 10.0.2.15/32"
	run ip -n "$D0" route show default
	assert_output --regexp "default via 10.137.0.1 dev vif7.0 .*onlink"
	ip netns exec "$D0" ping -c 1 -W 2 10.0.2.2 >/dev/null || fail "dom0 cannot reach the server through the net-vm"
	ip netns exec "$LAN" ping -c 1 -W 2 10.0.2.15 >/dev/null || fail "the server cannot reach dom0 (proxy ARP)"
	assert_equal "$("$XSCTL" read "/libxl/pci/0000-00-03-0/driver_path")" /sys/bus/pci/drivers/e1000
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sys/bus/pci/drivers/pciback/bind")" "$BDF"
	nic status
	assert_line --index 1 "handed to net-vm (domain 7) over vif7.0 via 10.137.0.1"
	nic eth0 net-vm
	assert_failure 1
	nic restore
	assert_success
	dom0_as_found
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sys/bus/pci/drivers/e1000/bind")" "$BDF"
	# A fixture file is not truncated as sysfs is: the cleared override is its first line.
	assert_equal "$(head -n 1 "$BATS_TEST_TMPDIR/sys/devices/pci0000:00/$BDF/driver_override")" ""
	run "$XSCTL" read /libxl/pci/0000-00-03-0/driver_path
	assert_failure
}

@test "a net-vm that xl re-creates gets dom0's address and route back from its vif's hotplug (issue 24)" {
	nic eth0 net-vm
	assert_success
	# workload-vm's vif is backed by the net-vm, domain 7.
	"$XSCTL" write /local/domain/8/name workload-vm
	"$XSCTL" write /local/domain/8/device/vif/0/backend-id 7
	# The net-vm reboots; xl destroys domain 7 and creates it again as 9.
	ip -n "$D0" link del vif7.0
	"$XSCTL" rm /local/domain/7
	"$XSCTL" rm /local/domain/0/backend/vif/7
	mv "$BATS_TEST_TMPDIR/domain-7" "$BATS_TEST_TMPDIR/domain-9"
	"$XSCTL" write /local/domain/9/name net-vm
	run --separate-stderr "$BATS_TEST_TMPDIR/vif-online" 9
	assert_success
	assert_equal "$(grep -c "nic-handoff: info: dom0 routes through net-vm (domain 9, was 7) over vif9.0 via 10.137.0.1" <<<"$stderr")" 1
	grep -q "nic-handoff: warning: workload-vm lost its network" <<<"$stderr" || fail "$stderr"
	run ip -n "$D0" route show default
	assert_output --regexp "default via 10.137.0.1 dev vif9.0 .*onlink"
	ip netns exec "$D0" ping -c 1 -W 2 10.0.2.2 >/dev/null || fail "dom0 cannot reach the server through the new net-vm"
	nic status
	assert_line --index 1 "handed to net-vm (domain 9) over vif9.0 via 10.137.0.1"
	assert_line --partial "workload-vm lost its network"
	nic restore
	assert_success
	dom0_as_found
}

@test "a net-vm that cannot start leaves dom0 on its NIC, and says what was undone" {
	touch "$BATS_TEST_TMPDIR/no-start"
	nic eth0 net-vm
	assert_failure 111
	grep -q "nic-handoff: fatal: unable to run $BATS_TEST_TMPDIR/xvm-start net-vm: it exited 1; undone: netvm, driver-path, reset, quarantine, pciback, slot, override, unbind, down, addresses, routes" <<<"$stderr" ||
		fail "$stderr"
	dom0_as_found
}

@test "killed half way, the state file lets restore finish the job" {
	touch "$BATS_TEST_TMPDIR/slow-start"
	handoff_in_background
	wait_for_line "$STATE" "^done=netvm$" 10
	kill -9 "$HANDOFF"
	pkill -f "$BATS_TEST_TMPDIR/xvm-start" || true
	wait_exit 10 "$HANDOFF" || true
	run ip -n "$D0" -4 -o addr show dev eth0
	refute_output --partial 10.0.2.15
	nic status
	assert_line --index 1 "on its way to net-vm"
	nic restore
	assert_success
	assert_output "restored: netvm, driver-path, reset, quarantine, pciback, slot, override, unbind, down, addresses, routes"
	dom0_as_found
}

@test "killed while the net-vm boots: restore destroys it, by name, before the card goes back (issue 24)" {
	touch "$BATS_TEST_TMPDIR/slow-boot"
	handoff_in_background
	wait_until 20 test -e "$BATS_TEST_TMPDIR/domain-7"
	kill -9 "$HANDOFF" # the OOM killer; xvm-start goes on, and the net-vm with it
	wait_exit 10 "$HANDOFF" || true
	touch "$BATS_TEST_TMPDIR/go"
	wait_until 30 eval "! pgrep -f '$BATS_TEST_TMPDIR/xvm-start' >/dev/null"
	nic restore
	assert_success
	assert_output --partial "restored: netvm, "
	grep -q "^destroy 7$" "$BATS_TEST_TMPDIR/xl.log" || fail "the net-vm was not destroyed: $(cat "$BATS_TEST_TMPDIR/xl.log")"
	[ ! -e "$BATS_TEST_TMPDIR/domain-7" ] || fail "the net-vm still runs"
	dom0_as_found
}

@test "SIGTERM during the handoff: the step under way ends, then everything is undone (issue 24)" {
	touch "$BATS_TEST_TMPDIR/slow-boot"
	handoff_in_background
	wait_until 20 test -e "$BATS_TEST_TMPDIR/domain-7"
	kill -TERM "$HANDOFF"
	# A second run meanwhile is refused: the two never interleave.
	nic restore
	assert_failure 111
	assert_equal "$stderr" "nic-handoff: fatal: unable to take $STATE.lock: another nic-handoff is running"
	touch "$BATS_TEST_TMPDIR/go"
	local status=0
	wait_exit 60 "$HANDOFF" || status=$?
	assert_equal "$status" 111
	grep -q "interrupted by signal 15; undone: netvm, driver-path, " "$BATS_TEST_TMPDIR/handoff.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/handoff.err")"
	dom0_as_found
}

@test "a NETVM that cannot take this NIC is refused before anything changes (issue 24)" {
	printf 'name = "sa-vm"\ntype = "pv"\npci = [ "0000:00:04.0" ]\n' >"$VMS/sa-vm.cfg"
	printf 'name = "pvh-net"\ntype = "pvh"\n' >"$VMS/pvh-net.cfg"
	local netvm why
	while IFS='|' read -r netvm why; do
		nic eth0 "$netvm"
		assert_failure 100
		assert_equal "$stderr" "nic-handoff: fatal: unable to hand $BDF to \"$netvm\": $why"
		assert_equal "$(cat "$BATS_TEST_TMPDIR/sys/bus/pci/drivers/e1000/unbind")" "" # nothing written
		dom0_as_found
	done <<-CASES
		sa-vm|its pci= does not name $BDF
		no-such-vm|no definition $VMS/no-such-vm.cfg
		dom0|that is no VM name
		pvh-net|its type is pvh; PCI passthrough needs type = "pv"
	CASES
	printf 'name = "other"\ntype = "pv"\npci = [ "00:03.0,permissive=1" ]\n' >"$VMS/other.cfg"
	nic eth0 net-vm
	assert_failure 100
	assert_equal "$stderr" "nic-handoff: fatal: unable to hand $BDF to \"net-vm\": other's pci= names $BDF too"
	dom0_as_found
}

@test "a net-vm Xen will not let go keeps the NIC on pciback until a later restore" {
	nic eth0 net-vm
	assert_success
	touch "$BATS_TEST_TMPDIR/stuck"
	nic restore
	assert_failure
	grep -q "unable to undo netvm: destroy net-vm (domain 7): Xen still has it" <<<"$stderr" || fail "stderr: $stderr"
	# The card did not go back to its driver while the domain may still use it.
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sys/bus/pci/drivers/pciback/bind")" "$BDF"
	nic status
	assert_line --index 2 --regexp "^done: .*pciback.* netvm"
	rm "$BATS_TEST_TMPDIR/stuck"
	nic restore
	assert_success
	dom0_as_found
}

@test "release and adopt by hand, over hvc0" {
	nic release eth0
	assert_success
	run ip -n "$D0" -4 -o addr show dev eth0
	refute_output --partial 10.0.2.15
	nic adopt eth0 net-vm
	assert_success
	ip netns exec "$D0" ping -c 1 -W 2 10.0.2.2 >/dev/null || fail "dom0 cannot reach the server through the net-vm"
	nic restore
	dom0_as_found
}

@test "-n prints the steps and changes nothing" {
	nic -n eth0 net-vm
	assert_success
	assert_line --index 0 "take eth0's routes away"
	assert_line "bind $BDF to pciback"
	assert_line "xvm-start net-vm"
	dom0_as_found
}

@test "the EXAMPLES of nic-handoff(8) run" {
	local example
	while IFS= read -r example; do
		example=${example//nic-handoff /nic-handoff --sysfs $BATS_TEST_TMPDIR/sys --state $STATE --vm-dir $VMS --xvm-start $BATS_TEST_TMPDIR/xvm-start --xl $BATS_TEST_TMPDIR/xl }
		run_logged ip netns exec "$D0" env PATH="$QMIN_BIN:$PATH" sh -c "$example"
		assert_success
	done < <(man_examples "$QMIN_ROOT/man/nic-handoff.8")
	[ ! -e "$STATE" ] || fail "the examples leave a handoff behind"
}
