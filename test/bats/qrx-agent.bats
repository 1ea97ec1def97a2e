#!/usr/bin/env bats
# Hostile input against qrx-broker and qrx-agent, in the simulation build:
# each attack is refused or cut off, and an honest call made meanwhile works.
# bats file_tags=tool:qrx-agent, tool:qrx-broker
# Bats sets $stderr; QRX_PIDS is each test's own; scripts for dom0 are single-quoted on purpose.
# shellcheck disable=SC2154,SC2030,SC2031,SC2016

load test_helper

setup() {
	qrx_setup
	qrx_domain 5 work
	qrx_domain 6 personal
	qrx_service personal test.Cat 'exec cat'
	qrx_policy 'test.Cat * work personal allow'
	HOSTILE="$QMIN_TEST_BIN/qrx-hostile"
}

teardown() {
	qrx_teardown
}

# honest_call: the call that must keep working.
honest_call() {
	run qrx_call work personal test.Cat <<<"still fine"
	assert_success
	assert_output "still fine"
}

# evil ATTACK: domain 9, "evil", whose agent misbehaves as ATTACK.
evil() {
	printf 'name = "evil"\n' >"$QRX/xvm/evil.cfg"
	VCHAN_DOMAIN=9 "$HOSTILE" "$1" 3>&- &
	QRX_PIDS+=($!)
	"$XSCTL" write /local/domain/9/name evil
	"$XSCTL" introduce 9
}

@test "a domain that breaks the protocol is cut off; the others go on" {
	qrx_broker
	local attack round=0
	for attack in garbage huge unterminated no-hello old-version; do
		round=$((round + 1))
		evil "$attack"
		# Each round waits for its own lines: the earlier rounds' are in the log too.
		wait_for_count "$QRX/broker.log" "warning: domain evil cut off: " "$round" 10
		honest_call
		kill "${QRX_PIDS[-1]}" 2>/dev/null || true  # it may have left on being cut off
		"$XSCTL" rm /local/domain/9
		"$XSCTL" release 9
		wait_for_count "$QRX/broker.log" "domain 9 \(evil\) is gone" "$round" 10
	done
	assert_equal "$(grep -c 'domain evil cut off' "$QRX/broker.log")" 5
	grep -q "cut off: unexpected message type 2457" "$QRX/broker.log"
	grep -q "cut off: bad length 4294967295 for message type 530" "$QRX/broker.log"
	grep -q "cut off: service name not a terminated string" "$QRX/broker.log"
	grep -q "cut off: a message before HELLO" "$QRX/broker.log"
	grep -q "cut off: protocol version 1" "$QRX/broker.log"
}

@test "a flood of calls is refused call by call, costs little, and honest calls go through" {
	qrx_broker
	evil flood
	wait_for_line "$QRX/broker.log" "call evil -> personal test.Echo: deny" 10
	honest_call
	honest_call
	sleep 3
	# At most a window's worth of lines about evil per 10 s, and one line
	# that says how many more there were.
	local lines
	lines=$(grep -c 'evil' "$QRX/broker.log")
	[ "$lines" -le 70 ] || fail "$lines log lines about evil in 3 s"
	wait_for_line "$QRX/broker.log" "more messages about evil dropped in 10 s" 15
}

@test "odd names from a VM are judged by the policy, not taken as an attack" {
	qrx_broker
	VCHAN_DOMAIN=9 "$HOSTILE" odd-names >"$QRX/answers" 3>&- &
	QRX_PIDS+=($!)
	printf 'name = "evil"\n' >"$QRX/xvm/evil.cfg"
	"$XSCTL" write /local/domain/9/name evil
	"$XSCTL" introduce 9
	local tries=0
	until [ "$(grep -c refused "$QRX/answers")" -ge 6 ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 200 ] || fail "answers: $(cat "$QRX/answers")"
		sleep 0.05
	done
	assert_equal "$(sort "$QRX/answers" | tr '\n' ' ')" "refused ODD1 refused ODD2 refused ODD3 refused ODD4 refused ODD5 refused ODD6 "
	grep -q "call evil -> a_b test.Cat: deny" "$QRX/broker.log"
	grep -q "call evil -> personal te_st: deny" "$QRX/broker.log"
	grep -q "call evil -> __ test.Cat: deny" "$QRX/broker.log"
	grep -q "call evil -> personal _x: deny" "$QRX/broker.log"
	grep -q "call from evil refused: call +x: the name starts with +" "$QRX/broker.log"
	grep -q "call from evil refused: call a service: no name" "$QRX/broker.log"
	run grep -c "cut off" "$QRX/broker.log"
	assert_output 0
	honest_call
}

@test "the version-4 trigger is taken on a version-3 link, as Qubes' agents send it" {
	qrx_policy 'test.Cat * work personal allow' 'test.Cat * evil personal allow'
	printf 'name = "evil"\n' >"$QRX/xvm/evil.cfg"
	qrx_broker
	VCHAN_DOMAIN=9 "$HOSTILE" v4 >"$QRX/answers" 3>&- &
	QRX_PIDS+=($!)
	"$XSCTL" write /local/domain/9/name evil
	"$XSCTL" introduce 9
	wait_for_line "$QRX/answers" "^connect V4$" 10
}

@test "odd names on the local sockets are judged too, the daemons go on" {
	qrx_broker
	run "$HOSTILE" local-odd "$QRX/agent.work.sock"
	assert_output closed
	wait_for_line "$QRX/broker.log" "call work -> a_b_c te_st: deny" 5
	run "$HOSTILE" local-odd "$QRX/broker.sock"
	assert_output closed
	wait_for_line "$QRX/broker.log" "call from dom0 refused: no VM a_b_c" 5
	honest_call
}

@test "a second agent or broker refuses to take over a live socket" {
	qrx_broker
	run --separate-stderr env VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-agent" -d --agent-socket "$QRX/agent.work.sock"
	assert_failure 1
	assert_equal "$stderr" "qrx-agent: fatal: unable to listen on $QRX/agent.work.sock: a running daemon serves it ($QRX/agent.work.sock.lock is held)"
	run --separate-stderr env VCHAN_DOMAIN=0 "$QMIN_SIM_BIN/qrx-broker" -d --vm-dir "$QRX/xvm" \
		--policy-dir "$QRX/policy" --socket "$QRX/broker.sock"
	assert_failure 1
	[ -S "$QRX/agent.work.sock" ] && [ -S "$QRX/broker.sock" ] || fail "a socket was removed"
	honest_call
	run qrx_call dom0 personal test.Cat <<<"dom0 too"
	assert_output "dom0 too"
}

@test "without -d, start-up errors reach the terminal as well as syslog" {
	touch "$QRX/a-file"
	run --separate-stderr "$QMIN_SIM_BIN/qrx-agent" --agent-socket "$QRX/a-file/sock"
	assert_failure 111
	assert_equal "$stderr" "qrx-agent: fatal: unable to create $QRX/a-file: Not a directory"
}

@test "the agent makes its runtime directory, and lives through SIGHUP" {
	VCHAN_DOMAIN=7 "$QMIN_SIM_BIN/qrx-agent" -d --agent-socket "$QRX/run/qubes/agent.sock" 2>"$QRX/hup.log" 3>&- &
	local agent=$!
	QRX_PIDS+=("$agent")
	wait_until 10 test -S "$QRX/run/qubes/agent.sock"
	assert_equal "$(stat -c %a "$QRX/run/qubes")" 755
	kill -HUP "$agent"
	wait_for_line "$QRX/hup.log" "SIGHUP: nothing to reload" 5
	kill -0 "$agent" || fail "SIGHUP killed the agent"
}

@test "dom0 runs shell commands (qvm-run) and JUST_EXEC; a VM may not" {
	# No broker here: qrx-dom0 plays dom0's qrexec-daemon and qrexec-client.
	run env VCHAN_DOMAIN=0 "$QMIN_TEST_BIN/qrx-dom0" 6 'root:echo "$USER runs $0"; exit 4'
	assert_failure 4
	assert_output "root runs /bin/sh"
	# The command waits for a go the test gives only after the call has
	# returned: a JUST_EXEC that waited for its command would never return.
	run timeout 10 env VCHAN_DOMAIN=0 "$QMIN_TEST_BIN/qrx-dom0" --just --port 601 6 \
		"root:for i in \$(seq 200); do [ -e $QRX/go ] && break; sleep 0.05; done; touch $QRX/later"
	assert_success
	[ ! -e "$QRX/later" ] || fail "the command ran before it was let go"
	touch "$QRX/go"
	local tries=0
	until [ -e "$QRX/later" ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || fail "the detached command never ran"
		sleep 0.1
	done
	run --separate-stderr env VCHAN_DOMAIN=0 "$QMIN_TEST_BIN/qrx-dom0" --as 5 --port 602 6 "root:touch $QRX/vm-shell"
	assert_failure 126
	assert_equal "$stderr" "qrx-agent: a shell command from domain 5: only dom0 may"
	[ ! -e "$QRX/vm-shell" ] || fail "a VM's shell command ran"
}

@test "a domain that stops reading is cut off once its backlog is full" {
	qrx_broker
	evil no-read
	wait_for_line "$QRX/broker.log" "domain evil cut off: it stopped reading" 30
	honest_call
}

@test "bad local callers are disconnected and the agent keeps serving" {
	qrx_broker
	local attack
	for attack in local-garbage local-huge local-unterminated local-twice; do
		run "$HOSTILE" "$attack" "$QRX/agent.work.sock"
		assert_output closed
		honest_call
	done
}

@test "-n says configuration OK, and warns of a missing services directory" {
	mkdir -p "$BATS_TEST_TMPDIR/rpc"
	run --separate-stderr "$QMIN_SIM_BIN/qrx-agent" -n --rpc-dir "$BATS_TEST_TMPDIR/rpc"
	assert_success
	assert_output "configuration OK"
	assert_equal "$stderr" ""
	run --separate-stderr "$QMIN_SIM_BIN/qrx-agent" -n --rpc-dir "$BATS_TEST_TMPDIR/rpc" --rpc-dir "$BATS_TEST_TMPDIR/none"
	assert_success
	assert_equal "$stderr" "qrx-agent: warning: services directory $BATS_TEST_TMPDIR/none is missing"
	run --separate-stderr "$QMIN_SIM_BIN/qrx-agent" -n --rpc-dir "$BATS_TEST_TMPDIR/none"
	assert_success
	assert_output "configuration OK"
	assert_equal "$stderr" "qrx-agent: warning: services directory $BATS_TEST_TMPDIR/none is missing
qrx-agent: warning: no services directory exists: every call here will end 127"
}

@test "the agent caps callers waiting for the broker" {
	"$QMIN_SIM_BIN/qrx-agent" -n --max-pending 0 2>/dev/null && fail "0 must be refused"
	run "$QMIN_SIM_BIN/qrx-agent" --max-pending 5000
	assert_failure 100
}

@test "without the broker, a local call is refused rather than left waiting" {
	run qrx_call work personal test.Cat </dev/null
	assert_failure 126
}

@test "the EXAMPLES of qrx-agent(8) and qrx-call(1) run" {
	run man_examples "$QMIN_ROOT/man/qrx-agent.8"
	assert_equal "${#lines[@]}" 1
	run env PATH="$QMIN_SIM_BIN:$PATH" sh -c "${lines[0]}"
	assert_success
	qrx_policy 'test.Cat * work personal allow' 'test.Cat * work @default allow target=personal'
	qrx_broker
	# qrx-call's examples, from the VM work, with its agent's socket.
	local example
	while IFS= read -r example; do
		run_logged env PATH="$QMIN_SIM_BIN:$PATH" VCHAN_DOMAIN=5 sh -c \
			"${example//qrx-call /qrx-call --agent-socket $QRX/agent.work.sock }"
		assert_success
	done < <(man_examples "$QMIN_ROOT/man/qrx-call.1")
}

@test "calls waiting for a target are capped per domain, refused in time, and others go on" {
	printf 'name = "sleeper"\n' >"$QRX/xvm/sleeper.cfg"
	printf '#!/bin/sh\nexit 0\n' >"$QRX/xvm-start"  # starts nothing: the target never comes
	chmod +x "$QRX/xvm-start"
	qrx_policy 'test.Cat * work personal allow' 'test.Cat * work sleeper allow'
	qrx_broker --autostart-timeout 3
	local i callers=()
	for i in $(seq 1 17); do
		(
			rc=0
			qrx_call work sleeper test.Cat </dev/null >/dev/null 2>&1 || rc=$?  # errexit holds here too
			echo "$rc" >"$QRX/rc.$i"
		) 3>&- &
		callers+=($!)
	done
	honest_call
	local pid
	for pid in "${callers[@]}"; do wait_exit 120 "$pid" || true; done
	# Sixteen waited and were refused after the timeout; the seventeenth at once.
	assert_equal "$(cat "$QRX"/rc.* | sort | uniq -c | tr -s ' ')" " 17 126"
	assert_equal "$(grep -c 'refused: too many calls waiting' "$QRX/broker.log")" 1
	assert_equal "$(grep -c 'refused: its target did not come up in time' "$QRX/broker.log")" 16
	assert_equal "$(grep -c 'notice: starting sleeper' "$QRX/broker.log")" 1
}

@test "an agent that never says HELLO is cut off after 10 s" {
	qrx_broker
	evil silent
	wait_for_line "$QRX/broker.log" "domain evil cut off: no HELLO within 10 s" 20
	honest_call
}
