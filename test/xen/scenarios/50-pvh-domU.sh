# shellcheck shell=sh
# A PVH domU (hardware virtualisation, no device model) boots and writes back
# to xenstore. Needs the pvh boot: -cpu max,-smap,-rdtscp.
# boot: pvh
# timeout: 300
. /qmin/lib.sh
guest_create pvh1 pvh report >/dev/null || fail "xl create failed"
xl list -l pvh1 | grep -q '"type": "pvh"' || fail "xl did not make a PVH domain"
xl unpause pvh1 || fail "xl unpause failed"
value=$(guest_result pvh1 240) || { guest_console pvh1; fail "no result from the guest"; }
[ "$value" = "PASS booted" ] || { guest_console pvh1; fail "guest said: $value"; }
guest_gone pvh1 60 || fail "the guest did not power off"
