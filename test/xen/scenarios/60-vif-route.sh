# shellcheck shell=sh
# vif-route as xl's hotplug script: a PV domU's vif with ip= comes up routed,
# dom0 and the guest ping each other, and xl destroy takes the routes away.
# timeout: 180
. /qmin/lib.sh
ip link set lo up
ip addr add 10.137.0.1/32 dev lo 2>/dev/null
id=$(guest_create net1 pv ping 10.137.0.1 'vif = [ "ip=10.137.0.5,script=vif-route" ]') ||
	fail "xl create failed (vif-route must have failed): $(xl dmesg | tail -n 3)"
vif="vif$id.0"
[ "$(xenstore-read "backend/vif/$id/0/hotplug-status")" = connected ] || fail "hotplug-status is not connected"
ip route show 10.137.0.5 | grep -q "dev $vif" || fail "no host route via $vif: $(ip route)"
[ "$(cat "/proc/sys/net/ipv4/conf/$vif/proxy_arp")" = 1 ] || fail "proxy_arp is off on $vif"
[ "$(cat "/proc/sys/net/ipv4/conf/$vif/rp_filter")" = 1 ] || fail "rp_filter is not strict on $vif"
[ -f "/run/vif-route/$vif" ] || fail "no state file"
xl unpause net1 || fail "xl unpause failed"
# No ack: the guest must stay up (waiting for one) while dom0 pings it.
value=$(wait_for_key "/local/domain/$id/data/result" 90) || { guest_console net1; fail "no result from the guest"; }
[ "$value" = "PASS ping" ] || { guest_console net1; fail "guest said: $value"; }
ping -c 3 -W 2 10.137.0.5 >/tmp/ping.log 2>&1 || { cat /tmp/ping.log; fail "dom0 cannot ping the guest"; }
xl destroy net1 || fail "xl destroy failed"
guest_gone net1 30 || fail "the guest is still there"
[ -z "$(ip route show 10.137.0.5)" ] || fail "route left after destroy: $(ip route show 10.137.0.5)"
[ ! -e "/run/vif-route/$vif" ] || fail "state file left after destroy"
