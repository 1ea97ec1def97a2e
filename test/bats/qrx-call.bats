#!/usr/bin/env bats
# qrx-call, qrx-agent and qrx-broker together in the simulation build: each
# domain is a process with VCHAN_DOMAIN set, vchans are UNIX sockets, and
# the xenstore double holds the domains' names.
# bats file_tags=tool:qrx-call, tool:qrx-broker, tool:qrx-agent
# Bats sets $stderr; scripts for `sh -c` are single-quoted on purpose.
# shellcheck disable=SC2154,SC2016,SC2030,SC2031

load test_helper

setup() {
	qrx_setup
	qrx_domain 5 work
	qrx_domain 6 personal
	qrx_service personal test.Echo 'echo "args=$* from=$QREXEC_REMOTE_DOMAIN full=$QREXEC_SERVICE_FULL_NAME arg=${QREXEC_SERVICE_ARGUMENT:-}"; cat; echo oops >&2; exit 7'
	qrx_policy 'test.Echo * work personal allow' 'test.Cat * work personal allow' \
		'test.Sum * work personal allow' 'test.Big * work personal allow' 'test.Who * work personal allow user=nobody' \
		'test.Missing * work personal allow' 'test.Kill * work personal allow' 'test.Sock * work personal allow' \
		'test.Slow * work personal allow' 'test.Time * @anyvm @adminvm allow' 'test.Ask * work personal ask' \
		'test.Start * work sleeper allow' 'test.Echo * personal work deny'
	qrx_service personal test.Cat 'exec cat'
}

teardown() {
	qrx_teardown
}

@test "VM to VM: stdin, stdout, stderr and the exit code" {
	qrx_broker
	run --separate-stderr qrx_call work personal test.Echo <<<"hello"
	assert_failure 7
	assert_output "args= from=work full=test.Echo+ arg=
hello"
	assert_equal "$stderr" "oops"
	wait_for_line "$QRX/broker.log" "notice: call work -> personal test.Echo: allow target=personal user=DEFAULT .*rule=$QRX/policy/30-user.policy:1"
}

@test "a denied call exits 126 and nothing runs" {
	qrx_service work test.Echo "touch $QRX/ran"
	qrx_broker
	run --separate-stderr qrx_call personal work test.Echo </dev/null
	assert_failure 126
	assert_equal "$stderr" "qrx-call: warning: request refused"
	[ ! -e "$QRX/ran" ] || fail "the denied service ran"
	wait_for_line "$QRX/broker.log" "call personal -> work test.Echo: deny rule=.*:13"
}

@test "a call no rule allows, and an ask (headless), are refused" {
	qrx_broker
	run qrx_call work personal test.Nothing </dev/null
	assert_failure 126
	run qrx_call work personal test.Ask </dev/null
	assert_failure 126
}

@test "a missing service exits 127" {
	qrx_broker
	run -127 qrx_call work personal test.Missing </dev/null
}

@test "SERVICE+ARG runs svc+arg before svc, with the argument as argv[1]" {
	qrx_service personal test.Echo+special 'echo "special $1"'
	qrx_broker
	run qrx_call work personal test.Echo+special </dev/null
	assert_success
	assert_output "special special"
	run qrx_call work personal test.Echo+other </dev/null
	assert_failure 7
	assert_line --index 0 "args=other from=work full=test.Echo+other arg=other"
}

@test "user= runs the service as that user" {
	requires root
	qrx_service personal test.Who 'id -un'
	# nobody must be able to reach the service through the test's private directories.
	local dir="$QRX/rpc.personal"
	while [ "$dir" != / ]; do
		chmod o+x "$dir"
		dir=$(dirname "$dir")
	done
	chmod o+r "$QRX/rpc.personal/test.Who"
	qrx_broker
	run qrx_call work personal test.Who </dev/null
	assert_success
	assert_output nobody
}

@test "a socket service gets its header and the data" {
	"$QMIN_TEST_BIN/socket-service" "$QRX/rpc.personal/test.Sock" 3>&- &
	QRX_PIDS+=($!)
	until [ -S "$QRX/rpc.personal/test.Sock" ]; do sleep 0.02; done
	qrx_broker
	run qrx_call work personal test.Sock+x <<<"quiet words"
	assert_success
	assert_output "header=test.Sock+x work
QUIET WORDS"
}

@test "100 MB each way arrive intact" {
	head -c 100000000 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	qrx_service personal test.Sum 'md5sum | cut -d " " -f 1'
	qrx_service personal test.Big "cat $BATS_TEST_TMPDIR/big"
	qrx_broker
	run qrx_call work personal test.Sum <"$BATS_TEST_TMPDIR/big"
	assert_success
	assert_output "$(md5sum <"$BATS_TEST_TMPDIR/big" | cut -d ' ' -f 1)"
	qrx_call work personal test.Big </dev/null | md5sum >"$BATS_TEST_TMPDIR/got"
	assert_equal "$(cut -d ' ' -f 1 "$BATS_TEST_TMPDIR/got")" "$(md5sum <"$BATS_TEST_TMPDIR/big" | cut -d ' ' -f 1)"
}

@test "EOF first in each direction" {
	qrx_service personal test.Echo 'exec >&-; cat >/dev/null; exit 4'
	qrx_broker
	# The service closes its output first and reads on.
	run qrx_call work personal test.Echo < <(head -c 1000000 /dev/zero)
	assert_failure 4
	# The caller closes its input first; the output still arrives whole.
	qrx_service personal test.Echo 'seq 1 20000'
	run qrx_call work personal test.Echo </dev/null
	assert_success
	assert_equal "${#lines[@]}" 20000
}

@test "a service killed by a signal gives 128 plus the signal" {
	qrx_service personal test.Kill 'kill -9 $$'
	qrx_broker
	run -137 qrx_call work personal test.Kill </dev/null
}

@test "a caller killed mid-call ends the service, and calls go on" {
	qrx_service personal test.Slow "echo \$\$ >$QRX/slow.pid; exec sleep 300"
	qrx_broker
	VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/agent.work.sock" personal test.Slow </dev/null 3>&- &
	local caller=$!
	until [ -s "$QRX/slow.pid" ]; do sleep 0.05; done
	kill -9 "$caller"
	local service tries=0
	service=$(cat "$QRX/slow.pid")
	while kill -0 "$service" 2>/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || fail "the service outlived its caller"
		sleep 0.1
	done
	run qrx_call work personal test.Cat <<<"still here"
	assert_output "still here"
}

@test "VM to dom0: the broker runs dom0's service" {
	qrx_service dom0 test.Time 'echo "dom0 serves $QREXEC_REMOTE_DOMAIN"'
	qrx_broker
	run qrx_call work dom0 test.Time </dev/null
	assert_success
	assert_output "dom0 serves work"
}

@test "dom0 to VM through the broker's socket, without policy" {
	qrx_broker
	run qrx_call dom0 personal test.Cat <<<"from dom0"
	assert_success
	assert_output "from dom0"
}

@test "autostart: a target that is not running is started and the call proceeds" {
	printf 'name = "sleeper"\nxvm_default_user = "root"\n' >"$QRX/xvm/sleeper.cfg"
	mkdir -p "$QRX/rpc.sleeper"
	qrx_service sleeper test.Start 'echo awake'
	# The stub for xvm-start: create the domain and start its agent.
	cat >"$QRX/xvm-start" <<-STUB
		#!/bin/sh
		echo "\$1" >>"$QRX/started"
		"$XSCTL" write /local/domain/8/name "\$1"
		"$XSCTL" introduce 8
		VCHAN_DOMAIN=8 exec "$QMIN_SIM_BIN/qrx-agent" -d --agent-socket "$QRX/agent.sleeper.sock" --rpc-dir "$QRX/rpc.sleeper" 2>/dev/null
	STUB
	chmod +x "$QRX/xvm-start"
	qrx_broker
	run qrx_call work sleeper test.Start </dev/null
	assert_success
	assert_output awake
	assert_equal "$(cat "$QRX/started")" sleeper
	pkill -f "agent.sleeper.sock" || true
}

@test "a domain re-created under a new ID is called again without restarting anything" {
	qrx_broker
	run qrx_call work personal test.Cat <<<"first"
	assert_output first
	# Destroy personal (domain 6) and create it again as domain 9.
	kill "$QRX_AGENT_PID_personal"
	"$XSCTL" rm /local/domain/6
	"$XSCTL" release 6
	wait_for_line "$QRX/broker.log" "domain 6 \(personal\) is gone"
	"$XSCTL" write /local/domain/9/name personal
	"$XSCTL" introduce 9
	rm -f "$QRX/agent.personal.sock"
	qrx_agent 9 personal
	wait_for_line "$QRX/broker.log" "domain 9 \(personal\) appeared"
	local tries=0
	until [ "$(grep -c 'agent of personal connected' "$QRX/broker.log")" -ge 2 ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 200 ] || fail "the new agent never connected"
		sleep 0.05
	done
	run qrx_call work personal test.Cat <<<"second"
	assert_success
	assert_output second
}

@test "100 concurrent calls all succeed" {
	qrx_broker
	local i callers=()
	for i in $(seq 1 100); do
		(qrx_call work personal test.Cat <<<"call $i" >"$QRX/out.$i" 2>&1; echo $? >"$QRX/rc.$i") 3>&- &
		callers+=($!)
	done
	wait "${callers[@]}"  # not a bare wait: the daemons run in the background too
	for i in $(seq 1 100); do
		assert_equal "$(cat "$QRX/rc.$i")" 0
		assert_equal "$(cat "$QRX/out.$i")" "call $i"
	done
}

@test "with 20 idle domains connected, broker and agents use no CPU" {
	local id
	for id in $(seq 10 27); do qrx_domain "$id" "idle$id"; done
	qrx_broker
	sleep 1
	local before after
	# 11 s: past the 10 s HELLO deadline each connection once set, which must
	# not wake anyone once the peers have greeted.
	before=$(wakeups "${QRX_PIDS[@]}")
	sleep 11
	after=$(wakeups "${QRX_PIDS[@]}")
	[ $((after - before)) -eq 0 ] || fail "idle processes woke $((after - before)) times in 11 s"
}

@test "a local program talks to the service; --prefix-data goes first; escapes are filtered on request" {
	qrx_service personal test.Echo 'read line; echo "got $line"; printf "bell\007\n"'
	qrx_broker
	# The local program writes the service's input and reads its output.
	run qrx_call work personal test.Cat sh -c 'echo ping; read reply; echo "program heard $reply" >&2'
	assert_success
	assert_output "program heard ping"
	run qrx_call work --prefix-data "first " personal test.Cat <<<"second"
	assert_success
	assert_output "first second"
	run qrx_call work -t personal test.Echo <<<"x"
	assert_output "$(printf 'got x\nbell_')"
	run qrx_call work -T personal test.Echo <<<"x"
	assert_output "$(printf 'got x\nbell\007')"
}

@test "no agent to ask: exit 125" {
	run -125 env VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/none.sock" personal test.Cat </dev/null
	assert_output --partial "qrx-call: fatal: unable to connect to $QRX/none.sock"
}
