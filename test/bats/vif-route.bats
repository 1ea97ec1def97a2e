#!/usr/bin/env bats
# vif-route in network namespaces: a "dom0" namespace with the vif end of a
# veth pair, a "guest" namespace with the other end, and the xenstore double
# holding the backend keys.
# bats file_tags=tool:vif-route
# Scripts for `sh -c` are single-quoted on purpose; Bats sets $stderr.
# shellcheck disable=SC2016,SC2154

load test_helper

setup() {
	requires netns
	VIF_ROUTE="$QMIN_BIN/vif-route"
	STATE="$BATS_TEST_TMPDIR/state"
	D0="qmin-d0-$BATS_TEST_NUMBER-$$"
	GUEST="qmin-g-$BATS_TEST_NUMBER-$$"
	ip netns add "$D0"
	ip netns add "$GUEST"
	ip -n "$D0" link set lo up
	ip -n "$D0" addr add 10.0.0.1/32 dev lo
	# Only vif-route's own rp_filter may count.
	ip netns exec "$D0" sh -c 'echo 0 >/proc/sys/net/ipv4/conf/all/rp_filter; echo 0 >/proc/sys/net/ipv4/conf/default/rp_filter'
	xenstore_start
	add_vif 5 0 "10.137.0.5" 00:16:3e:00:00:05
}

teardown() {
	ip netns del "$D0" 2>/dev/null || true
	ip netns del "$GUEST" 2>/dev/null || true
	xenstore_stop
}

# add_vif DOMID DEVID IP MAC: the veth pair and the backend keys of one vif.
add_vif() {
	ip -n "$D0" link add "vif$1.$2" type veth peer name "eth$2" netns "$GUEST"
	"$XSCTL" write "backend/vif/$1/$2/ip" "$3"
	"$XSCTL" write "backend/vif/$1/$2/mac" "$4"
}

# vif_route VIF COMMAND [OPTIONS...]: runs vif-route as libxl would, in dom0.
vif_route() {
	local vif=$1 command=$2 devid=${1#*.} domid=${1%.*}
	shift 2
	run --separate-stderr ip netns exec "$D0" env "vif=$vif" "XENBUS_PATH=backend/vif/${domid#vif}/$devid" \
		"$VIF_ROUTE" --state-dir "$STATE" "$@" "$command" type_if=vif
	echo "vif-route $vif $command (status=$status) $output $stderr" >&2
}

xs_key() { "$XSCTL" read "/local/domain/0/backend/vif/$1/$2" 2>/dev/null || echo "(none)"; }
sysctl_of() { ip netns exec "$D0" cat "/proc/sys/net/$1"; }
# icmp_in_echos: echo requests dom0 has received, by the column's name.
icmp_in_echos() {
	ip netns exec "$D0" awk '/^Icmp:/ { if (++n == 1) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i } else print $c }' /proc/net/snmp
}

# guest_up ADDRESS...: the guest side of vif5.0, routed to dom0's 10.0.0.1.
guest_up() {
	# netfront uses the MAC in xenstore; dom0's permanent neighbour entry points there.
	ip -n "$GUEST" link set eth0 address 00:16:3e:00:00:05
	ip -n "$GUEST" link set eth0 up
	local address
	for address in "$@"; do ip -n "$GUEST" addr add "$address" dev eth0; done
	ip -n "$GUEST" route add 10.0.0.1 dev eth0
}

# nothing_left: no route, neighbour or state of vif5.0 remains.
nothing_left() {
	assert_equal "$(ip -n "$D0" route show dev vif5.0)" ""
	assert_equal "$(ip -n "$D0" -6 route show dev vif5.0 | grep -v '^fe80')" ""
	assert_equal "$(ip -n "$D0" neigh show dev vif5.0 nud permanent)" ""
	[ ! -e "$STATE/vif5.0" ] || fail "state file left behind"
}

@test "online: host route, permanent neighbour, proxy ARP, strict rp_filter, connected last" {
	vif_route vif5.0 online
	assert_success
	assert_equal "$(ip -n "$D0" route show dev vif5.0)" "10.137.0.5 proto static scope link linkdown "
	assert_equal "$(ip -n "$D0" neigh show dev vif5.0)" "10.137.0.5 lladdr 00:16:3e:00:00:05 PERMANENT "
	assert_equal "$(sysctl_of ipv4/conf/vif5.0/proxy_arp)" 1
	assert_equal "$(sysctl_of ipv4/conf/vif5.0/rp_filter)" 1
	assert_equal "$(xs_key 5/0 hotplug-status)" connected
	assert_equal "$(xs_key 5/0 hotplug-error)" "(none)"
	run ip -n "$D0" link show vif5.0
	assert_output --partial ",UP"
	run cat "$STATE/vif5.0"
	assert_line "ip=10.137.0.5"
}

@test "traffic from the guest reaches dom0; a spoofed source is dropped" {
	vif_route vif5.0 online
	assert_success
	guest_up 10.137.0.5/32 10.137.0.99/32
	run ip netns exec "$GUEST" ping -c 1 -W 2 -I 10.137.0.5 10.0.0.1
	assert_success
	local before
	before=$(icmp_in_echos)
	run ip netns exec "$GUEST" ping -c 1 -W 1 -I 10.137.0.99 10.0.0.1
	assert_failure
	assert_equal "$(icmp_in_echos)" "$before"
	# The same datagram passes once the vif's rp_filter is off: the test can fail.
	ip netns exec "$D0" sh -c 'echo 0 >/proc/sys/net/ipv4/conf/vif5.0/rp_filter'
	run ip netns exec "$GUEST" ping -c 1 -W 1 -I 10.137.0.99 10.0.0.1
	[ "$(icmp_in_echos)" -gt "$before" ] || fail "the spoofed echo did not arrive even without rp_filter"
}

@test "offline removes everything online added" {
	"$XSCTL" write backend/vif/5/0/ip "10.137.0.5 fd00::5"
	vif_route vif5.0 online
	assert_success
	vif_route vif5.0 offline
	assert_success
	nothing_left
}

@test "offline works from the state file when the xenstore keys are gone" {
	vif_route vif5.0 online
	"$XSCTL" rm backend/vif/5/0
	vif_route vif5.0 offline
	assert_success
	nothing_left
}

@test "offline with the interface already gone succeeds" {
	vif_route vif5.0 online
	ip -n "$D0" link del vif5.0
	vif_route vif5.0 offline
	assert_success
	[ ! -e "$STATE/vif5.0" ]
}

@test "offline with nothing to do, or no xenstore at all, exits 0" {
	vif_route vif5.0 offline
	assert_success
	XENSTORED_PATH=/nonexistent vif_route vif5.0 offline
	assert_success
}

@test "a repeated online is idempotent" {
	vif_route vif5.0 online
	assert_success
	vif_route vif5.0 online
	assert_success
	assert_equal "$(ip -n "$D0" route show dev vif5.0 | wc -l)" 1
	assert_equal "$(ip -n "$D0" neigh show dev vif5.0 | wc -l)" 1
}

@test "two vifs of one domain come up in parallel" {
	add_vif 5 1 "10.137.0.6" 00:16:3e:00:00:06
	ip netns exec "$D0" env vif=vif5.0 XENBUS_PATH=backend/vif/5/0 "$VIF_ROUTE" --state-dir "$STATE" online type_if=vif 3>&- &
	local first=$!
	ip netns exec "$D0" env vif=vif5.1 XENBUS_PATH=backend/vif/5/1 "$VIF_ROUTE" --state-dir "$STATE" online type_if=vif 3>&- &
	local second=$!
	wait_exit 30 "$first" "$second"
	assert_equal "$(ip -n "$D0" route show dev vif5.0)" "10.137.0.5 proto static scope link linkdown "
	assert_equal "$(ip -n "$D0" route show dev vif5.1)" "10.137.0.6 proto static scope link linkdown "
	assert_equal "$(xs_key 5/0 hotplug-status)" connected
	assert_equal "$(xs_key 5/1 hotplug-status)" connected
}

@test "IPv6 only: host route, neighbour and proxy_ndp" {
	"$XSCTL" write backend/vif/5/0/ip "fd00::5/64"
	vif_route vif5.0 online
	assert_success
	assert_equal "$(ip -n "$D0" -6 route show dev vif5.0 | grep -v '^fe80')" "fd00::5 proto static metric 1024 linkdown pref medium"
	assert_equal "$(ip -n "$D0" -6 neigh show dev vif5.0)" "fd00::5 lladdr 00:16:3e:00:00:05 PERMANENT "
	assert_equal "$(sysctl_of ipv6/conf/vif5.0/proxy_ndp)" 1
}

@test "IPv6 with an uplink: proxy neighbour entries there, removed on offline" {
	ip -n "$D0" link add uplink0 type veth peer name peer0
	"$XSCTL" write backend/vif/5/0/ip "fd00::5"
	run ip netns exec "$D0" env vif=vif5.0 XENBUS_PATH=backend/vif/5/0 netdev=uplink0 "$VIF_ROUTE" --state-dir "$STATE" online type_if=vif
	assert_success
	assert_equal "$(ip -n "$D0" -6 neigh show proxy dev uplink0)" "fd00::5 proxy "
	assert_equal "$(sysctl_of ipv6/conf/uplink0/proxy_ndp)" 1
	vif_route vif5.0 offline
	assert_equal "$(ip -n "$D0" -6 neigh show proxy dev uplink0)" ""
}

@test "mixed and several addresses, with prefixes, all get host routes" {
	"$XSCTL" write backend/vif/5/0/ip "10.137.0.5/24 10.137.0.7  fd00::5 10.137.0.8/32"
	vif_route vif5.0 online
	assert_success
	assert_equal "$(ip -n "$D0" route show dev vif5.0 | cut -d ' ' -f 1 | sort | tr '\n' ' ')" "10.137.0.5 10.137.0.7 10.137.0.8 "
	assert_equal "$(ip -n "$D0" -6 route show dev vif5.0 | grep -c '^fd00::5 ')" 1
	assert_equal "$(ip -n "$D0" neigh show dev vif5.0 | wc -l)" 4
}

@test "type_if=tap exits 0 and touches nothing" {
	run ip netns exec "$D0" env vif=vif5.0 XENBUS_PATH=backend/vif/5/0 "$VIF_ROUTE" --state-dir "$STATE" online type_if=tap
	assert_success
	nothing_left
	assert_equal "$(xs_key 5/0 hotplug-status)" "(none)"
}

@test "-n prints the plan and changes nothing" {
	vif_route vif5.0 online -n
	assert_success
	assert_line --index 0 "sysctl net.ipv4.conf.vif5.0.proxy_arp=1"
	assert_line "route replace 10.137.0.5/32 dev vif5.0"
	assert_line "neigh replace 10.137.0.5 lladdr 00:16:3e:00:00:05 dev vif5.0 nud permanent"
	assert_line "xenstore write backend/vif/5/0/hotplug-status connected"
	nothing_left
	assert_equal "$(sysctl_of ipv4/conf/vif5.0/proxy_arp)" 0
	assert_equal "$(xs_key 5/0 hotplug-status)" "(none)"
}

@test "--vif and --xenbus-path override the environment, for use by hand" {
	run ip netns exec "$D0" "$VIF_ROUTE" --state-dir "$STATE" --vif vif5.0 --xenbus-path /local/domain/0/backend/vif/5/0 online
	assert_success
	assert_equal "$(ip -n "$D0" route show dev vif5.0)" "10.137.0.5 proto static scope link linkdown "
}

@test "a missing or empty ip key is a failure unless --allow-no-ip" {
	"$XSCTL" rm backend/vif/5/0/ip
	vif_route vif5.0 online
	assert_failure 1
	assert_equal "$(xs_key 5/0 hotplug-status)" error
	assert_equal "$(xs_key 5/0 hotplug-error)" "route vif5.0: no address in backend/vif/5/0/ip (a VM must not come up half-routed)"
	"$XSCTL" write backend/vif/5/0/ip ""
	vif_route vif5.0 online
	assert_failure 1
	vif_route vif5.0 online --allow-no-ip
	assert_success
	assert_equal "$(xs_key 5/0 hotplug-status)" connected
}

@test "every bad address ends in hotplug-error, exit 1 and no leftovers" {
	local bad
	for bad in "garbage" "300.1.1.1" "10.0.0" "10.0.0.5.6" "010.0.0.5" "224.0.0.1" "ff02::1" "255.255.255.255" \
		"0.0.0.0" "::" "127.0.0.1" "::1" "fe80::1" "::ffff:10.0.0.5" "10.0.0.5/33" "10.0.0.5/" "10.0.0.5x" \
		"10.137.0.5 10.137.0.5" $'10.137.0.5\n10.137.0.6' $'10.137.0.5\t10.137.0.6' '10.137.0.5;reboot' \
		'$(reboot)' '10.137.0.5`id`' "10.137.0.5 bogus"; do
		"$XSCTL" write backend/vif/5/0/ip "$bad"
		vif_route vif5.0 online
		assert_failure 1
		assert_equal "$(xs_key 5/0 hotplug-status)" error
		[ "$(xs_key 5/0 hotplug-error)" != "(none)" ] || fail "no hotplug-error for $bad"
		nothing_left
		assert_equal "$(sysctl_of ipv4/conf/vif5.0/proxy_arp)" 0
	done
}

@test "a bad MAC ends in hotplug-error" {
	local bad
	for bad in "zz:16:3e:00:00:05" "01:00:5e:00:00:01" "00:00:00:00:00:00" "00:16:3e:00:00"; do
		"$XSCTL" write backend/vif/5/0/mac "$bad"
		vif_route vif5.0 online
		assert_failure 1
		assert_equal "$(xs_key 5/0 hotplug-status)" error
		nothing_left
	done
}

@test "a missing vif name ends in hotplug-error" {
	run ip netns exec "$D0" env -u vif XENBUS_PATH=backend/vif/5/0 "$VIF_ROUTE" --state-dir "$STATE" online type_if=vif
	assert_failure 1
	assert_equal "$(xs_key 5/0 hotplug-error)" "route a vif: no interface: set \$vif or --vif"
	run ip netns exec "$D0" env vif=../../etc XENBUS_PATH=backend/vif/5/0 "$VIF_ROUTE" --state-dir "$STATE" online type_if=vif
	assert_failure 1
	assert_equal "$(xs_key 5/0 hotplug-status)" error
}

@test "an absent interface ends in hotplug-error and leaves nothing" {
	ip -n "$D0" link del vif5.0
	vif_route vif5.0 online
	assert_failure 1
	assert_equal "$(xs_key 5/0 hotplug-error)" "route vif5.0: No such device"
	[ ! -e "$STATE/vif5.0" ]
}

@test "a failure half-way undoes the steps already taken" {
	# A read-only state directory makes the last system step fail.
	mkdir -p "$STATE"
	run ip netns exec "$D0" unshare -m --propagation private sh -c \
		'mount -t tmpfs -o ro tmpfs "$1" && env vif=vif5.0 XENBUS_PATH=backend/vif/5/0 "$2" --state-dir "$1" online type_if=vif' \
		sh "$STATE" "$VIF_ROUTE"
	assert_failure 1
	[[ "$(xs_key 5/0 hotplug-error)" == *"Read-only file system"* ]] || fail "$(xs_key 5/0 hotplug-error)"
	nothing_left
	assert_equal "$(sysctl_of ipv4/conf/vif5.0/proxy_arp)" 0
	assert_equal "$(sysctl_of ipv4/conf/vif5.0/rp_filter)" 0
}

@test "no xenstore: online fails with exit 1 and changes nothing" {
	XENSTORED_PATH=/nonexistent vif_route vif5.0 online
	assert_failure 1
	assert_equal "$stderr" "vif-route: fatal: unable to connect to xenstore (is xenstored running?): No such file or directory"
	nothing_left
}

@test "usage errors exit 100" {
	run "$VIF_ROUTE" sideways
	assert_failure 100
	run "$VIF_ROUTE" online type_if=bridge
	assert_failure 100
}

@test "the EXAMPLES of vif-route(8) run" {
	run man_examples "$QMIN_ROOT/man/vif-route.8"
	[ "${#lines[@]}" -ge 2 ] || fail "too few examples"
	local example
	while IFS= read -r example; do
		run_logged ip netns exec "$D0" env PATH="$QMIN_BIN:$PATH" sh -c "$example"
		assert_success
	done < <(man_examples "$QMIN_ROOT/man/vif-route.8")
}
