# shellcheck shell=sh
# qrx with a PVH VM: work (PVH) and personal (PV) run qrx-agent from their
# init; calls go both ways between them and from dom0, with data, stderr
# and the exit code. Bulk data and the measurements run between PV guests
# in the PV boot (70-79): under QEMU's emulated SVM a PVH guest taking
# vchan events at full rate triple-faults (Xen logs "Triple fault").
# boot: pvh
# timeout: 400
. /qmin/lib.sh
qrx_dom0_setup || qrx_fail "the broker did not load its policy"
qrx_vm_start work pvh || qrx_fail "work's agent did not connect"
xl list -l work | grep -q '"type": "pvh"' || fail "xl did not make work a PVH domain"
qrx_vm_start personal pv || qrx_fail "personal's agent did not connect"

out=$(in_vm work <<'SCRIPT'
echo from-pvh | qrx-call personal test.Echo 2>/tmp/err
echo "exit=$? stderr=$(cat /tmp/err)"
SCRIPT
) || qrx_fail "qmin.Run in work failed"
[ "$out" = "$(printf 'from=work arg=\nfrom-pvh\nexit=7 stderr=to-stderr')" ] || qrx_fail "work -> personal: '$out'"

out=$(in_vm personal <<'SCRIPT'
echo to-pvh | qrx-call work test.Md5
SCRIPT
) || qrx_fail "personal -> work test.Md5 failed"
[ "$out" = "$(echo to-pvh | md5sum | cut -d ' ' -f 1)" ] || qrx_fail "personal -> work test.Md5: '$out'"

out=$(echo hi | qrx-call --agent-socket /run/qubes/qrx-broker.sock work test.Echo 2>/dev/null)
status=$?
if [ "$status" -ne 7 ] || [ "$out" != "$(printf 'from=dom0 arg=\nhi')" ]; then
	qrx_fail "dom0 -> work: exit $status, '$out'"
fi

for vm in work personal; do
	xl destroy "$vm" || fail "xl destroy $vm failed"
done
kill -TERM "$(cat /run/qrx-broker.pid)"
