# shellcheck shell=sh
# xenstore permissions from inside a guest: it can write under its own data/,
# and cannot read or write dom0's keys or write its own name.
. /qmin/lib.sh
xenstore-write /local/domain/0/secret dom0-only
guest_create perm pv permissions >/dev/null || fail "xl create failed"
xl unpause perm || fail "xl unpause failed"
value=$(guest_result perm 90) || { guest_console perm; fail "no result from the guest"; }
[ "$value" = "PASS permissions" ] || { guest_console perm; fail "guest said: $value"; }
[ "$(xenstore-read /local/domain/0/secret)" = dom0-only ] || fail "dom0's key changed"
guest_gone perm 60 || fail "the guest did not power off"
