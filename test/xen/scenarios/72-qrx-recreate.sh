# shellcheck shell=sh
# xl destroy and xl create of personal while the broker runs: a new domain
# ID, and calls to it work again with nothing restarted.
# timeout: 240
. /qmin/lib.sh
broker=$(cat /run/qrx-broker.pid)
old=$(xl domid personal) || fail "personal is not running"
xl destroy personal || fail "xl destroy failed"
wait_for_lines /tmp/qrx-broker.log "domain $old (personal) is gone" 1 30 || qrx_fail "the broker did not see personal go"
new=$(guest_create personal pv qrx) || fail "xl create personal failed"
[ "$new" != "$old" ] || fail "personal kept domain ID $old"
xl unpause personal || fail "xl unpause failed"
wait_for_lines /tmp/qrx-broker.log 'agent of personal connected' 2 120 || { guest_console personal; qrx_fail "the new personal's agent did not connect"; }
work_echoes again || qrx_fail "work's call to the new personal failed"
if [ "$(cat /run/qrx-broker.pid)" != "$broker" ] || ! kill -0 "$broker"; then
	fail "the broker was restarted"
fi
