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
out=$(in_vm work <<'SCRIPT'
echo again | qrx-call personal test.Echo 2>/dev/null
echo "exit=$?"
SCRIPT
) || qrx_fail "qmin.Run in work failed"
[ "$out" = "$(printf 'from=work arg=\nagain\nexit=7')" ] || qrx_fail "work -> new personal: '$out'"
if [ "$(cat /run/qrx-broker.pid)" != "$broker" ] || ! kill -0 "$broker"; then
	fail "the broker was restarted"
fi
