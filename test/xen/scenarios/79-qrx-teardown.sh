# shellcheck shell=sh
# The VMs go; the broker forgets them, and stops cleanly on SIGTERM.
# timeout: 60
. /qmin/lib.sh
for vm in work personal; do
	id=$(xl domid "$vm") || fail "$vm is not running"
	xl destroy "$vm" || fail "xl destroy $vm failed"
	wait_for_lines /tmp/qrx-broker.log "domain $id ($vm) is gone" 1 30 || qrx_fail "the broker did not see $vm go"
done
broker=$(cat /run/qrx-broker.pid)
kill -TERM "$broker"
for _ in $(seq 50); do
	kill -0 "$broker" 2>/dev/null || exit 0
	sleep 0.1
done
qrx_fail "the broker did not stop on SIGTERM"
