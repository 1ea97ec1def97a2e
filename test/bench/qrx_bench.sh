#!/usr/bin/env bash
# make bench: qrx in the simulation build, each number beside a baseline
# measured in the same run (these machines are noisy; the ratios count):
#   call latency of an empty echo service, sequential, against a direct
#   fork+exec of the same handler;
#   1 GiB through a cat service against a plain pipe;
#   100 concurrent calls against 100 concurrent direct execs.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
sim=${QMIN_SIM_BIN:-$top/build/sim/bin}  # another build, to compare
fakes="$top/build/test"
calls=${CALLS:-200}
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
export XENSTORED_PATH="$work/xs.sock" VCHAN_SOCKET_DIR="$work/vchan"
mkdir -p "$VCHAN_SOCKET_DIR" "$work/xvm" "$work/policy" "$work/rpc"
"$fakes/xenstored-fake" "$XENSTORED_PATH" &
pids+=($!)
until [ -S "$XENSTORED_PATH" ]; do sleep 0.02; done
for spec in 5:work 6:personal; do
	"$fakes/xsctl" write "/local/domain/${spec%%:*}/name" "${spec#*:}"
	"$fakes/xsctl" introduce "${spec%%:*}"
	printf 'name = "%s"\nxvm_default_user = "root"\n' "${spec#*:}" >"$work/xvm/${spec#*:}.cfg"
done
printf '#!/bin/sh\nexec cat\n' >"$work/rpc/test.Cat"
chmod +x "$work/rpc/test.Cat"
echo 'test.Cat * work personal allow' >"$work/policy/30-user.policy"
VCHAN_DOMAIN=6 "$sim/qrx-agent" -d --agent-socket "$work/agent6.sock" --rpc-dir "$work/rpc" 2>/dev/null &
pids+=($!)
VCHAN_DOMAIN=5 "$sim/qrx-agent" -d --agent-socket "$work/agent5.sock" --rpc-dir "$work/empty" 2>/dev/null &
pids+=($!)
VCHAN_DOMAIN=0 "$sim/qrx-broker" -d -v --vm-dir "$work/xvm" --policy-dir "$work/policy" --socket "$work/broker.sock" \
	2>"$work/broker.log" &
pids+=($!)
until [ "$(grep -c 'connected' "$work/broker.log" 2>/dev/null)" -ge 2 ] 2>/dev/null; do sleep 0.05; done

call() { VCHAN_DOMAIN=5 "$sim/qrx-call" --agent-socket "$work/agent5.sock" personal test.Cat; }
us() { local now=${EPOCHREALTIME/./}; echo $((now - ${1/./})); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# Calls and execs alternate, so that both see the same moments of a noisy machine.
qrx=0 direct=0
for ((i = 0; i < calls; i++)); do
	start=${EPOCHREALTIME/./}
	call </dev/null >/dev/null 2>"$work/err" || { cat "$work/err" >&2 && exit 1; }
	now=${EPOCHREALTIME/./}
	qrx=$((qrx + now - start))
	"$work/rpc/test.Cat" </dev/null >/dev/null
	start=$now now=${EPOCHREALTIME/./}
	direct=$((direct + now - start))
done
printf 'qrx call latency: %.2f ms per call, direct fork+exec %.2f ms (%sx), %d sequential calls\n' \
	"$(ratio "$qrx" $((calls * 1000)))" "$(ratio "$direct" $((calls * 1000)))" "$(ratio "$qrx" "$direct")" "$calls"

size=$((1 << 30))
start=$EPOCHREALTIME
got=$(head -c "$size" /dev/zero | call 2>/dev/null | wc -c)
qrx=$(us "$start")
[ "$got" -eq "$size" ] || { echo "bench: $got of $size bytes came back" >&2 && exit 1; }
start=$EPOCHREALTIME
head -c "$size" /dev/zero | cat | wc -c >/dev/null
pipe=$(us "$start")
printf 'qrx throughput: 1 GiB through a cat service %.0f MB/s, a plain pipe %.0f MB/s (%sx the pipe)\n' \
	"$(ratio "$size" "$qrx")" "$(ratio "$size" "$pipe")" "$(awk -v a="$pipe" -v b="$qrx" 'BEGIN { printf "%.2f", a / b }')"

start=$EPOCHREALTIME
callers=()
for ((i = 0; i < 100; i++)); do (echo "$i" | call >/dev/null 2>&1) & callers+=($!); done
failed=0
for pid in "${callers[@]}"; do wait "$pid" || failed=$((failed + 1)); done
qrx=$(us "$start")
start=$EPOCHREALTIME
callers=()
for ((i = 0; i < 100; i++)); do (echo "$i" | "$work/rpc/test.Cat" >/dev/null) & callers+=($!); done
wait "${callers[@]}"
direct=$(us "$start")
printf 'qrx 100 concurrent calls: %.0f ms, 100 direct execs %.0f ms (%sx), %d failed\n' \
	"$(ratio "$qrx" 1000)" "$(ratio "$direct" 1000)" "$(ratio "$qrx" "$direct")" "$failed"

# Size is speed too: qrx-call starts once per call, and dom0 runs from RAM.
largest=0 name=""
for bin in "$top"/build/bin/*; do
	size=$(strip -o "$work/stripped" "$bin" && stat -c %s "$work/stripped")
	[ "$size" -gt "$largest" ] && largest=$size name=$(basename "$bin")
done
printf 'largest static binary: %s, %d bytes stripped (%sx of 1 MiB)\n' \
	"$name" "$largest" "$(awk -v a="$largest" 'BEGIN { printf "%.2f", a / 1048576 }')"
