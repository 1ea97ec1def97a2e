# shellcheck shell=sh
# The pvh boot's CPU must keep every process's registers intact under load:
# with QEMU 7.2's XSAVEOPT, XSAVEC and XGETBV1 exposed, busybox in dom0 and in
# the PVH guest crashed or computed wrong results at random within a minute
# (the CI flake of 50-pvh-domU); removing any one of them alone did not help.
# 60 s of busy work in dom0 and in a PVH guest at once; every run must be
# right, with no segfault. (A PVH guest that triple-faults while it boots
# and is restarted by xl is followed by name and reported: guest_result.)
# boot: pvh
# timeout: 420
. /qmin/lib.sh
guest_create busy pvh stress 60 >/dev/null || fail "xl create failed"
xl unpause busy || fail "xl unpause failed"
# shellcheck disable=SC2046 # two numbers
set -- $(busy_work 60)
runs=$1 bad=$2
segfaults=$(dmesg | grep -c segfault)
value=$(guest_result busy 300) || { guest_console busy; fail "no result from the guest"; }
echo "QMIN-MEASURE dom0 runs=$runs bad=$bad segfaults=$segfaults; guest: $value"
if [ "$bad" -ne 0 ] || [ "$segfaults" -ne 0 ]; then
	fail "dom0: $bad wrong runs of $runs, $segfaults segfaults"
fi
case "$value" in "PASS "*) ;; *) guest_console busy; fail "guest said: $value" ;; esac
guest_gone busy 60 || fail "the guest did not power off"
