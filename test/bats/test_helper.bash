# Shared set-up for qmin's Bats suite. Load with `load test_helper`.
# Binaries come from the environment, with build/ defaults, so that
# `make SANITIZE=1 check` can point the same tests at other builds.
# shellcheck shell=bash
# Variables set here are used by the test files; status and output come from Bats.
# shellcheck disable=SC2034,SC2154

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

QMIN_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
: "${QMIN_BIN:=$QMIN_ROOT/build/bin}"
: "${QMIN_SIM_BIN:=$QMIN_ROOT/build/sim/bin}"
: "${QMIN_TEST_BIN:=$QMIN_ROOT/build/test}"
export QMIN_ROOT QMIN_BIN QMIN_SIM_BIN QMIN_TEST_BIN
MKXENDEV="$QMIN_BIN/mkxendev"
XSCTL="$QMIN_TEST_BIN/xsctl"
XENSTORED_FAKE="$QMIN_TEST_BIN/xenstored-fake"
FIXTURES="$QMIN_ROOT/test/fixtures"

# requires root|netns|xen ...: skip the test, saying why, when the machine
# cannot run it. An unknown name is a bug in the test.
requires() {
	local need
	for need in "$@"; do
		case "$need" in
		root)
			[ "$(id -u)" -eq 0 ] || skip "test requires root"
			;;
		netns)
			[ "$(id -u)" -eq 0 ] || skip "test requires root for network namespaces"
			command -v ip >/dev/null || skip "test requires ip (iproute2) for network namespaces"
			ip netns add "qmin-probe-$$" 2>/dev/null || skip "test requires network namespaces"
			ip netns del "qmin-probe-$$"
			;;
		xen)
			[ -e /proc/xen/capabilities ] || skip "test requires a Xen host (no /proc/xen/capabilities)"
			;;
		*)
			fail "BUG: unknown requirement $need"
			;;
		esac
	done
}

# run_logged CMD...: `run`, and log the command and its status to stderr,
# which Bats shows only when the test fails.
run_logged() {
	run "$@"
	echo "$* (status=$status)" >&2
	echo "$output" >&2
}

# xenstore_start: starts the xenstored test double for this test and points
# XENSTORED_PATH at it. Guests connect through "$XENSTORED_PATH.dN" after
# `xsctl introduce N`. Stopped by xenstore_stop (call it from teardown).
xenstore_start() {
	export XENSTORED_PATH="$BATS_TEST_TMPDIR/xenstored.sock"
	"$XENSTORED_FAKE" "$XENSTORED_PATH" 3>&- &
	XENSTORED_PID=$!
	wait_until 5 test -S "$XENSTORED_PATH"
}

xenstore_stop() {
	if [ -n "${XENSTORED_PID:-}" ]; then
		kill "$XENSTORED_PID" 2>/dev/null || true
		wait "$XENSTORED_PID" 2>/dev/null || true
		XENSTORED_PID=
	fi
}

# xenstore_add_domain N NAME: what xl does for a new domain, in the double:
# its home owned by dom0 and readable by N, data/ owned by N (others: none),
# introduced, as libxl sets it up.
xenstore_add_domain() {
	local domid="$1" name="$2" home="/local/domain/$1"
	"$XSCTL" write "$home/name" "$name"
	"$XSCTL" write "$home/domid" "$domid"
	"$XSCTL" mkdir "$home/data"
	"$XSCTL" chmod "$home" n0 "r$domid"
	"$XSCTL" chmod "$home/name" n0 "r$domid"
	"$XSCTL" chmod "$home/domid" n0 "r$domid"
	"$XSCTL" chmod "$home/data" "n$domid"
	"$XSCTL" introduce "$domid"
}

# man_examples PAGE: the commands of the EXAMPLES section of a man page, one
# per line, without their "# " or "$ " prompt.
man_examples() {
	awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
		on && /^\.Dl [#$] / { sub(/^\.Dl [#$] /, ""); print }' "$1"
}

# man_block PAGE N: the Nth literal block (.Bd ... .Ed) of the EXAMPLES section.
man_block() {
	awk -v want="$2" '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
		on && /^\.Bd/ { block++; inside = 1; next } on && /^\.Ed/ { inside = 0; next }
		on && inside && block == want { print }' "$1"
}

# vm_definitions DIR NAME[:TAG,TAG][=TYPE]...: minimal /etc/xvm files.
vm_definitions() {
	local dir="$1" spec name tags type
	shift
	mkdir -p "$dir"
	for spec in "$@"; do
		type=${spec#*=}
		[ "$type" = "$spec" ] && type=
		spec=${spec%%=*}
		name=${spec%%:*}
		tags=${spec#"$name"}
		tags=${tags#:}
		echo "name = \"$name\"" >"$dir/$name.cfg"
		if [ -n "$tags" ]; then echo "xvm_tags = [\"${tags//,/\", \"}\"]" >>"$dir/$name.cfg"; fi
		if [ -n "$type" ]; then echo "xvm_type = \"$type\"" >>"$dir/$name.cfg"; fi
	done
}

# wait_until SECONDS COMMAND...: runs COMMAND until it succeeds; the test
# fails once SECONDS have passed. Every wait in the suite has such a limit.
wait_until() {
	local seconds=$1 tries=0
	shift
	until "$@"; do
		tries=$((tries + 1))
		[ "$tries" -lt $((seconds * 20)) ] || fail "not within $seconds s: $*"
		sleep 0.05
	done
}

# wait_exit SECONDS PID...: waits for each process to end and fails with the
# first one that failed; a process still running after SECONDS fails the test
# (and is killed, so that nothing outlives the test).
wait_exit() {
	local seconds=$1 pid
	shift
	for pid in "$@"; do
		if ! wait_until "$seconds" eval "! kill -0 $pid 2>/dev/null"; then
			kill -9 "$pid" 2>/dev/null
			return 1
		fi
		wait "$pid" || return
	done
}

# wait_for_count FILE PATTERN COUNT SECONDS: waits until FILE has COUNT lines
# matching PATTERN (extended regex): for a line that repeats, each round's own.
wait_for_count() {
	wait_until "$4" has_lines "$1" "$2" "$3"
}
has_lines() { [ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$3" ]; }

# wait_for_line FILE PATTERN [SECONDS]: waits until FILE has a line matching
# the extended regular expression PATTERN.
wait_for_line() {
	local tries=0 limit=$((${3:-10} * 20))
	until grep -qE "$2" "$1" 2>/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt "$limit" ] || fail "no line matching '$2' in $1: $(cat "$1" 2>/dev/null)"
		sleep 0.05
	done
}

# --- qrx in the simulation build: domains are processes ---------------------
# qrx_setup: the xenstore double, a vchan socket directory, VM definitions
# and a policy directory, all under the test's temporary directory.
qrx_setup() {
	QRX="$BATS_TEST_TMPDIR/qrx"
	mkdir -p "$QRX/vchan" "$QRX/xvm" "$QRX/policy" "$QRX/rpc.dom0"
	export VCHAN_SOCKET_DIR="$QRX/vchan"
	QRX_PIDS=()
	declare -gA QRX_IDS=()
	xenstore_start
}

# qrx_domain ID NAME: a VM in xenstore and /etc/xvm, with its agent running.
qrx_domain() {
	local id=$1 name=$2
	mkdir -p "$QRX/rpc.$name"
	printf 'name = "%s"\nxvm_default_user = "root"\n' "$name" >"$QRX/xvm/$name.cfg"
	"$XSCTL" write "/local/domain/$id/name" "$name"
	"$XSCTL" introduce "$id"
	QRX_IDS[$name]=$id
	qrx_agent "$id" "$name"
}

# qrx_agent ID NAME: starts NAME's agent as domain ID.
qrx_agent() {
	VCHAN_DOMAIN=$1 "$QMIN_SIM_BIN/qrx-agent" -d -v --agent-socket "$QRX/agent.$2.sock" \
		--rpc-dir "$QRX/rpc.$2" 2>>"$QRX/agent.$2.log" 3>&- &
	QRX_PIDS+=($!)
	eval "QRX_AGENT_PID_${2//-/_}=$!"
	wait_until 10 test -S "$QRX/agent.$2.sock"
}

# qrx_broker: starts the broker; waits until every domain's agent is connected.
# A restarted broker starts a fresh log, so that the wait sees its own lines,
# not the last run's.
qrx_broker() {
	if [ -e "$QRX/broker.log" ]; then mv "$QRX/broker.log" "$QRX/broker.log.previous"; fi
	VCHAN_DOMAIN=0 "$QMIN_SIM_BIN/qrx-broker" -d -v --vm-dir "$QRX/xvm" --policy-dir "$QRX/policy" \
		--socket "$QRX/broker.sock" --rpc-dir "$QRX/rpc.dom0" --xvm-start "$QRX/xvm-start" "$@" \
		2>>"$QRX/broker.log" 3>&- &
	QRX_BROKER_PID=$!
	QRX_PIDS+=($!)
	local name
	for name in "${!QRX_IDS[@]}"; do wait_for_line "$QRX/broker.log" "agent of $name connected" 10; done
}

# qrx_policy LINE...: the policy, as 30-user.policy.
qrx_policy() {
	printf '%s\n' "$@" >"$QRX/policy/30-user.policy"
}

# qrx_service VM NAME SCRIPT: an executable service (a shell script body).
qrx_service() {
	printf '#!/bin/sh\n%s\n' "$3" >"$QRX/rpc.$1/$2"
	chmod +x "$QRX/rpc.$1/$2"
}

# qrx_call FROM TARGET SERVICE [ARGS...]: qrx-call in FROM (dom0 uses the broker's socket).
qrx_call() {
	local from=$1
	shift
	if [ "$from" = dom0 ]; then
		VCHAN_DOMAIN=0 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/broker.sock" "$@"
	else
		VCHAN_DOMAIN=${QRX_IDS[$from]} "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/agent.$from.sock" "$@"
	fi
}

qrx_teardown() {
	local pid
	for pid in "${QRX_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${QRX_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	xenstore_stop
}

# wakeups PID...: how often the processes' threads went to sleep again, in
# total (voluntary context switches). Ticks miss a short wake-up on a fast
# host; this counts every one.
wakeups() {
	local pid total=0
	for pid in "$@"; do
		total=$((total + $(cat /proc/"$pid"/task/*/status | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }')))
	done
	echo "$total"
}
