# shellcheck shell=sh
# Idle: with both agents connected and nothing happening for 10 s, the broker
# (in dom0) and the agents (in the guests) never wake: their voluntary
# context switches (/proc/PID/task/*/status) and their CPU ticks (utime +
# stime in /proc/PID/stat) do not move. A spin on the edge-like event
# channel would show as hundreds of ticks; a stray timer as wake-ups.
# timeout: 120
. /qmin/lib.sh
for vm in work personal; do
	in_vm "$vm" <<'SCRIPT' || qrx_fail "qmin.Run in $vm failed"
pid=$(cat /run/qrx-agent.pid)
usage() {
	wakeups=$(cat /proc/"$pid"/task/*/status | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }')
	echo "$wakeups $(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
}
(
	sleep 2
	before=$(usage)
	sleep 10
	after=$(usage)
	echo "$((${after% *} - ${before% *})) $((${after#* } - ${before#* }))" >/tmp/idle
) </dev/null >/dev/null 2>&1 &
SCRIPT
done
broker=$(cat /run/qrx-broker.pid)
sleep 2
wakeups_before=$(wakeups "$broker") ticks_before=$(cpu_ticks "$broker")
sleep 10
wakeups=$(($(wakeups "$broker") - wakeups_before)) ticks=$(($(cpu_ticks "$broker") - ticks_before))
sleep 3
work=$(echo 'cat /tmp/idle' | in_vm work) || qrx_fail "no idle measurement from work"
personal=$(echo 'cat /tmp/idle' | in_vm personal) || qrx_fail "no idle measurement from personal"
measure "in 10 s idle (wake-ups, CPU ticks): broker $wakeups $ticks, agent in work $work, agent in personal $personal"
if [ "$wakeups $ticks" != "0 0" ] || [ "$work" != "0 0" ] || [ "$personal" != "0 0" ]; then
	qrx_fail "not idle (wake-ups, ticks): broker $wakeups $ticks, work's agent $work, personal's agent $personal"
fi
