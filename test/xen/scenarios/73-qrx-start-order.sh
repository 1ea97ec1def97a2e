# shellcheck shell=sh
# The agents before the broker: the broker dies hard (SIGKILL) while both
# agents are connected; they serve again, and a new broker finds them.
# timeout: 120
. /qmin/lib.sh
kill -KILL "$(cat /run/qrx-broker.pid)" || fail "no broker to kill"
mv /tmp/qrx-broker.log /tmp/qrx-broker.log.1
sleep 1
qrx_broker_start
wait_for_lines /tmp/qrx-broker.log 'agent of work connected' 1 30 || qrx_fail "work's agent did not reconnect"
wait_for_lines /tmp/qrx-broker.log 'agent of personal connected' 1 30 || qrx_fail "personal's agent did not reconnect"
out=$(in_vm work <<'SCRIPT'
qrx-call personal test.Null </dev/null
echo "exit=$?"
SCRIPT
) || qrx_fail "qmin.Run in work failed"
[ "$out" = exit=0 ] || qrx_fail "work -> personal after the restart: '$out'"
