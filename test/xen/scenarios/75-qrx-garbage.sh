# shellcheck shell=sh
# A guest that sends garbage on its control channel (qrx-hostile in place of
# qrx-agent) is cut off, and work's calls to personal keep working.
# timeout: 180
. /qmin/lib.sh
guest_create bad pv qrx-hostile garbage >/dev/null || fail "xl create bad failed"
xl unpause bad || fail "xl unpause failed"
wait_for_lines /tmp/qrx-broker.log 'domain bad cut off' 1 120 || { guest_console bad; qrx_fail "bad was not cut off"; }
out=$(in_vm work <<'SCRIPT'
echo still | qrx-call personal test.Echo 2>/dev/null
echo "exit=$?"
SCRIPT
) || qrx_fail "qmin.Run in work failed"
[ "$out" = "$(printf 'from=work arg=\nstill\nexit=7')" ] || qrx_fail "work -> personal after bad: '$out'"
xl destroy bad || fail "xl destroy bad failed"
