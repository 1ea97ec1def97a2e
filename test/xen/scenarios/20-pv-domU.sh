# shellcheck shell=sh
# A PV domU boots from the initramfs, makes its own nodes with mkxendev and
# writes back to xenstore under its data/.
. /qmin/lib.sh
guest_create pv1 pv report >/dev/null || fail "xl create failed"
xl unpause pv1 || fail "xl unpause failed"
value=$(guest_result pv1 90) || { guest_console pv1; fail "no result from the guest"; }
[ "$value" = "PASS booted" ] || { guest_console pv1; fail "guest said: $value"; }
guest_gone pv1 60 || fail "the guest did not power off"
