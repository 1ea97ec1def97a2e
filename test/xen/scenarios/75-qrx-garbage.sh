# shellcheck shell=sh
# A guest that sends garbage on its control channel (qrx-hostile in place of
# qrx-agent) is cut off, and work's calls to personal keep working.
# timeout: 180
. /qmin/lib.sh
guest_create bad pv qrx-hostile garbage >/dev/null || fail "xl create bad failed"
xl unpause bad || fail "xl unpause failed"
wait_for_lines /tmp/qrx-broker.log 'domain bad cut off' 1 120 || { guest_console bad; qrx_fail "bad was not cut off"; }
work_echoes still || qrx_fail "work's call to personal failed after bad was cut off"
xl destroy bad || fail "xl destroy bad failed"
