#!/usr/bin/env bats
# Hostile input against qrx-broker and qrx-agent, in the simulation build:
# each attack is refused or cut off, and an honest call made meanwhile works.
# bats file_tags=tool:qrx-agent, tool:qrx-broker
# shellcheck disable=SC2154

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
	local attack
	for attack in garbage huge unterminated no-hello old-version; do
		evil "$attack"
		wait_for_line "$QRX/broker.log" "warning: domain evil cut off: " 10
		honest_call
		kill "${QRX_PIDS[-1]}" 2>/dev/null || true  # it may have left on being cut off
		"$XSCTL" rm /local/domain/9
		"$XSCTL" release 9
		wait_for_line "$QRX/broker.log" "domain 9 \(evil\) is gone" 10
	done
	assert_equal "$(grep -c 'domain evil cut off' "$QRX/broker.log")" 5
	grep -q "cut off: unexpected message type 2457" "$QRX/broker.log"
	grep -q "cut off: bad length 4294967295 for message type 530" "$QRX/broker.log"
	grep -q "cut off: service name not a terminated string" "$QRX/broker.log"
	grep -q "cut off: a message before HELLO" "$QRX/broker.log"
	grep -q "cut off: protocol version 1" "$QRX/broker.log"
}

@test "a flood of calls is refused call by call and honest calls go through" {
	qrx_broker
	evil flood
	wait_for_line "$QRX/broker.log" "call evil -> personal test.Echo: deny" 10
	honest_call
	honest_call
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
	for pid in "${callers[@]}"; do wait "$pid" || true; done
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
