# shellcheck shell=sh
# Measured in this boot, between work and personal (both PV); software
# emulation makes absolute numbers meaningless, the ratios are the result.
#  - latency: sequential calls of an empty service from work, against an exec
#    of the same handler inside personal, where it runs, in alternating
#    batches (an emulated guest's pace drifts within a boot, by up to 2x
#    between minutes, and each side should see the same moments); where a call's
#    time goes: qrx-call's own start (--version) and a refused call (the
#    trigger's way to the broker's policy and back, no data channel);
#  - throughput: 64 MiB from work to personal through qrx-call and a
#    discarding service, against vchan-probe's raw libxenvchan copy loop
#    between the same two domains, same direction: on qrx-call's 256 KiB
#    ring (the transport's limit) and on Qubes' 64 KiB one.
# timeout: 300
. /qmin/lib.sh
rounds=4 calls=5 bytes=67108864
work_id=$(xl domid work) || fail "work must run"
personal_id=$(xl domid personal) || fail "personal must run"

# Sent ahead of each guest script: each_ms STATUS COMMAND... runs COMMAND
# $calls times, each run must exit STATUS; prints milliseconds per run.
timer="calls=$calls
$(cat <<'SCRIPT'
each_ms() {
	want=$1
	shift
	start=$(cut -d ' ' -f 1 /proc/uptime)
	i=0
	while [ "$i" -lt "$calls" ]; do
		"$@" </dev/null >/dev/null 2>&1
		[ "$?" = "$want" ] || exit 1
		i=$((i + 1))
	done
	awk -v start="$start" -v end="$(cut -d ' ' -f 1 /proc/uptime)" -v n="$calls" 'BEGIN { printf "%.1f", (end - start) * 1000 / n }'
}
SCRIPT
)"
# mean NUMBER...: their mean, to a tenth.
mean() { echo "$@" | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }'; }
call_batches="" exec_batches="" round=0
while [ "$round" -lt "$rounds" ]; do
	call_batches="$call_batches $(printf '%s\n%s\n' "$timer" 'each_ms 0 qrx-call personal test.Null' |
		in_vm work)" || qrx_fail "calls from work failed"
	exec_batches="$exec_batches $(printf '%s\n%s\n' "$timer" 'each_ms 0 /etc/qubes-rpc/test.Null' |
		in_vm personal)" || qrx_fail "execs in personal failed"
	round=$((round + 1))
done
# shellcheck disable=SC2086 # one number per batch
call_ms=$(mean $call_batches) exec_ms=$(mean $exec_batches)
measure "latency: qrx call work -> personal $call_ms ms, exec of the handler in personal $exec_ms ms," \
	"ratio $(awk -v a="$call_ms" -v b="$exec_ms" 'BEGIN { printf "%.1f", a / b }')," \
	"$((rounds * calls)) of each in $rounds alternating batches"
# shellcheck disable=SC2016 # expands in the guest
parts=$(printf '%s\n%s\n' "$timer" \
	'start=$(each_ms 0 qrx-call --version) && refused=$(each_ms 126 qrx-call personal test.Refused) && echo "$start $refused"' |
	in_vm work) || qrx_fail "the parts of a call from work failed"
# shellcheck disable=SC2086 # two numbers
set -- $parts
measure "a call's parts: qrx-call's start $1 ms, a refused call (to the policy and back) $2 ms," \
	"the rest (data channel, the service's start and end) $(awk -v c="$call_ms" -v r="$2" 'BEGIN { printf "%.1f", c - r }') ms"

# raw_seconds RING: 64 MiB from work to personal over vchan-probe's bare
# copy loop through a RING-byte ring; prints the seconds it took.
raw_seconds() {
	{ echo "peer=$work_id bytes=$bytes port=$((9000 + $1 / 65536))"; cat <<'SCRIPT'
(vchan-probe receive "$peer" "$port" "$bytes"; echo "$?" >/tmp/raw-status) </dev/null >/dev/null 2>&1 &
SCRIPT
	} | in_vm personal || qrx_fail "could not start the raw receiver in personal"
	# shellcheck disable=SC2016 # $peer, $port and $bytes expand in the guest
	raw=$({ echo "peer=$personal_id bytes=$bytes port=$((9000 + $1 / 65536)) ring=$1"
		echo 'vchan-probe send "$peer" "$port" "$bytes" "$ring"'; } | in_vm work) ||
		qrx_fail "raw vchan from work to personal failed"
	[ "$(echo 'cat /tmp/raw-status' | in_vm personal)" = 0 ] || qrx_fail "the raw receiver failed"
	echo "$raw" | sed -n 's/^[0-9]* bytes in \([0-9.]*\) s$/\1/p'
}
raw_qubes_s=$(raw_seconds 65536)
raw_roomy_s=$(raw_seconds 262144)
if [ -z "$raw_qubes_s" ] || [ -z "$raw_roomy_s" ]; then
	qrx_fail "vchan-probe's times: '$raw_qubes_s' '$raw_roomy_s'"
fi
# qrx-call's own ring: 256 KiB each way (kRoomyRing).
qrx_s=$({ echo "bytes=$bytes"; cat <<'SCRIPT'
start=$(cut -d ' ' -f 1 /proc/uptime)
dd if=/dev/zero bs=65536 count=$((bytes / 65536)) 2>/dev/null | qrx-call personal test.Discard || exit 1
awk -v start="$start" -v end="$(cut -d ' ' -f 1 /proc/uptime)" 'BEGIN { printf "%.2f", end - start }'
SCRIPT
} | in_vm work) || qrx_fail "64 MiB through qrx failed"
mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
measure "throughput: qrx $(mbs "$qrx_s") MB/s on its 256 KiB ring;" \
	"raw libxenvchan $(mbs "$raw_roomy_s") MB/s on a 256 KiB ring (ratio $(awk -v a="$qrx_s" -v b="$raw_roomy_s" 'BEGIN { printf "%.2f", b / a }')," \
	"the transport's limit), $(mbs "$raw_qubes_s") MB/s on Qubes' 64 KiB" \
	"(ratio $(awk -v a="$qrx_s" -v b="$raw_qubes_s" 'BEGIN { printf "%.2f", b / a }'))"
