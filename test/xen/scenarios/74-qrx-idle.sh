# shellcheck shell=sh
# Idle: with both agents connected and nothing happening for 10 s, the broker
# (in dom0) and the agents (in the guests) use no CPU time: utime + stime in
# /proc/PID/stat do not move. A spin on the edge-like event channel would
# show as hundreds of ticks.
# timeout: 120
. /qmin/lib.sh
for vm in work personal; do
	in_vm "$vm" <<'SCRIPT' || qrx_fail "qmin.Run in $vm failed"
pid=$(pidof qrx-agent)
(
	sleep 2
	before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep 10
	after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	echo "$((after - before))" >/tmp/idle-ticks
) </dev/null >/dev/null 2>&1 &
SCRIPT
done
broker=$(cat /run/qrx-broker.pid)
sleep 2
before=$(cpu_ticks "$broker")
sleep 10
after=$(cpu_ticks "$broker")
sleep 3
work=$(echo 'cat /tmp/idle-ticks' | in_vm work) || qrx_fail "no idle measurement from work"
personal=$(echo 'cat /tmp/idle-ticks' | in_vm personal) || qrx_fail "no idle measurement from personal"
measure "CPU ticks in 10 s idle: broker $((after - before)), agent in work $work, agent in personal $personal"
if [ "$((after - before))" -ne 0 ] || [ "$work" -ne 0 ] || [ "$personal" -ne 0 ]; then
	qrx_fail "not idle: broker $((after - before)) ticks, work's agent $work, personal's agent $personal"
fi
