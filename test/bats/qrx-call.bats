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
		'test.Start * work sleeper allow' 'test.Echo * personal work deny' 'test.Esc * work personal allow' \
		'test.Quick * work personal allow' 'test.Env * work personal allow' 'test.Usr1 * work personal allow' \
		'test.Kill1 * work personal allow' 'test.Slow1 * work personal allow'
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

@test "ask goes to --ask-program: its answer allows a target, nothing refuses" {
	qrx_policy 'test.Cat * work @anyvm ask default_target=personal'
	cat >"$QRX/ask" <<-ASK
		#!/bin/sh
		echo "\$*" >>"$QRX/asked"
		[ -e "$QRX/say-no" ] || echo personal
	ASK
	chmod +x "$QRX/ask"
	qrx_broker --ask-program "$QRX/ask"
	run qrx_call work personal test.Cat <<<"asked first"
	assert_success
	assert_output "asked first"
	# The caller is never among the choices (Qubes' collect_targets_for_ask).
	assert_equal "$(cat "$QRX/asked")" "work personal personal test.Cat"
	touch "$QRX/say-no"
	run -126 qrx_call work personal test.Cat </dev/null
	wait_for_line "$QRX/broker.log" "call from work refused: the operator said no"
}

@test "ask target= naming the caller offers it, and the pick is refused as a loopback call" {
	qrx_policy 'test.Cat * work @anyvm ask target=work'
	printf '#!/bin/sh\necho "$*" >>"%s/asked"\necho work\n' "$QRX" >"$QRX/ask"
	chmod +x "$QRX/ask"
	qrx_broker --ask-program "$QRX/ask"
	run -126 qrx_call work personal test.Cat </dev/null
	assert_equal "$(cat "$QRX/asked")" "work work  test.Cat"
	wait_for_line "$QRX/broker.log" "call from work refused: a call to itself \\(loopback\\)"
}

@test "dom0 calling dom0 is refused at once, 200 times, without a descriptor left behind" {
	qrx_service dom0 test.Time 'echo never'
	qrx_broker
	local before after i
	before=$(find "/proc/$QRX_BROKER_PID/fd" -mindepth 1 | wc -l)
	for i in $(seq 200); do
		timeout 10 env VCHAN_DOMAIN=0 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/broker.sock" \
			dom0 test.Time </dev/null >/dev/null 2>&1 && fail "call $i was not refused"
		[ $? -eq 126 ] || fail "call $i did not end with 126 (124 is a hang)"
	done
	after=$(find "/proc/$QRX_BROKER_PID/fd" -mindepth 1 | wc -l)
	assert_equal "$after" "$before"
	wait_for_line "$QRX/broker.log" "call from dom0 refused: a call to itself \\(loopback\\)"
}

@test "while the policy cannot be loaded, calls are refused and the log says why" {
	echo 'test.Cat * work personal alow' >"$QRX/policy/90-broken.policy"
	qrx_broker
	run -126 qrx_call work personal test.Cat </dev/null
	wait_for_line "$QRX/broker.log" "call work -> personal test.Cat: deny \(the policy is not loaded, 1 error\)"
}

@test "-h states --buffer-size's real default, as the man page does" {
	run "$QMIN_SIM_BIN/qrx-call" -h
	assert_success
	assert_output --partial "default 262144; 65536 when grants run short"
	grep -q '^The default is 262144, or Qubes'"'"' 65536' "$QMIN_ROOT/man/qrx-call.1" || fail "man/qrx-call.1 says another default"
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
	wait_until 10 test -S "$QRX/rpc.personal/test.Sock"
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
	wait_until 10 test -s "$QRX/slow.pid"
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

@test "a target that cannot be started refuses its waiting calls at once, with the reason" {
	printf 'name = "sleeper"\n' >"$QRX/xvm/sleeper.cfg"
	qrx_broker --xvm-start "$QRX/no-such-xvm-start" --autostart-timeout 60
	# Refused for the failed start itself, not after the 60 s autostart timeout.
	run -126 qrx_call work sleeper test.Start </dev/null
	wait_for_line "$QRX/broker.log" "refused: sleeper: could not start it: run $QRX/no-such-xvm-start: No such file or directory"
	printf '#!/bin/sh\necho "cannot start $1" >&2\nexit 3\n' >"$QRX/failing-start"
	chmod +x "$QRX/failing-start"
	kill "$QRX_BROKER_PID"
	wait "$QRX_BROKER_PID" 2>/dev/null || true
	qrx_broker --xvm-start "$QRX/failing-start" --autostart-timeout 60
	run -126 qrx_call work sleeper test.Start </dev/null
	wait_for_line "$QRX/broker.log" "refused: sleeper: $QRX/failing-start exited 3"
	! grep -q "did not come up in time" "$QRX/broker.log" || fail "a call waited for the timeout"
}

@test "a target that cannot start backs off: a burst of calls starts it a handful of times" {
	printf 'name = "sleeper"\n' >"$QRX/xvm/sleeper.cfg"
	printf '#!/bin/sh\necho "$1" >>"%s/starts"\nexit 3\n' "$QRX" >"$QRX/failing-start"
	chmod +x "$QRX/failing-start"
	qrx_broker --xvm-start "$QRX/failing-start" --autostart-timeout 60
	local i runs
	for i in $(seq 40); do
		run -126 qrx_call work sleeper test.Start </dev/null
	done
	wait_for_line "$QRX/broker.log" "refused: sleeper failed to start; the next try is in [0-9]+ s"
	# Tries 1, 2, 4, 8 ... s apart: a burst of under two minutes makes at most
	# 7 (without a back-off, every one of the 40 calls started it).
	runs=$(wc -l <"$QRX/starts")
	[ "$runs" -le 7 ] || fail "$runs starts: $(cat "$QRX/starts")"
	# SIGHUP forgets the failures: the next call tries a start again.
	kill -HUP "$QRX_BROKER_PID"
	wait_for_line "$QRX/broker.log" "policy reloaded"
	run -126 qrx_call work sleeper test.Start </dev/null
	[ "$(wc -l <"$QRX/starts")" -eq $((runs + 1)) ] || fail "no new start after SIGHUP"
}

@test "while the VMs are being stopped, a call to one that is not running starts nothing (issue 24)" {
	printf 'name = "sleeper"\n' >"$QRX/xvm/sleeper.cfg"
	printf '#!/bin/sh\necho "$1" >>"%s/starts"\nexit 0\n' "$QRX" >"$QRX/counting-start"
	chmod +x "$QRX/counting-start"
	qrx_broker --xvm-start "$QRX/counting-start" --stopping-flag "$QRX/stopping"
	touch "$QRX/stopping"
	run -126 qrx_call work sleeper test.Start </dev/null
	wait_for_line "$QRX/broker.log" "refused: sleeper is not running, and the VMs are being stopped: nothing starts"
	[ ! -e "$QRX/starts" ] || fail "xvm-start ran: $(cat "$QRX/starts")"
	run qrx_call work personal test.Cat <<<"running VMs still answer"
	assert_success
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
	wait_exit 120 "${callers[@]}" # not a bare wait: the daemons run in the background too
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

@test "a local program talks to the service; --prefix-data goes first" {
	qrx_broker
	# The local program writes the service's input and reads its output.
	run qrx_call work personal test.Cat sh -c 'echo ping; read reply; echo "program heard $reply" >&2'
	assert_success
	assert_output "program heard ping"
	run qrx_call work --prefix-data "first " personal test.Cat <<<"second"
	assert_success
	assert_output "first second"
	run qrx_call work -p "short " personal test.Cat <<<"form"
	assert_output "short form"
	run -100 qrx_call work -p a -p b personal test.Cat </dev/null
}

@test "escapes: -t filters the output, -T the errors, as qrexec-client-vm; C1 controls too" {
	qrx_service personal test.Esc 'printf "out\033[31m\233\302\233\n"; printf "err\007\n" >&2'
	qrx_broker
	run --separate-stderr qrx_call work -t personal test.Esc </dev/null
	assert_output "out_[31m___"
	assert_equal "$stderr" "$(printf 'err\007')"
	run --separate-stderr qrx_call work -T personal test.Esc </dev/null
	assert_output "$(printf 'out\033[31m\233\302\233')"
	assert_equal "$stderr" "err_"
	run --separate-stderr qrx_call work --filter-escape-chars-stdout --filter-escape-chars-stderr personal test.Esc </dev/null
	assert_output "out_[31m___"
	assert_equal "$stderr" "err_"
	run --separate-stderr qrx_call work -t -T --no-filter-escape-chars-stdout --no-filter-escape-chars-stderr personal test.Esc </dev/null
	assert_output "$(printf 'out\033[31m\233\302\233')"
}

@test "a bad target or service name is a usage error, not a failed call" {
	local name
	for name in 'a/b' 'a b' '+x'; do
		run -100 qrx_call work personal "$name" </dev/null
		run -100 qrx_call work "$name" test.Cat </dev/null
	done
}

@test "--use-stdin-socket: one socket on fd 0 carries both ways" {
	qrx_broker
	run env VCHAN_DOMAIN=5 "$QMIN_TEST_BIN/stdin-socket" "$QMIN_SIM_BIN/qrx-call" \
		--agent-socket "$QRX/agent.work.sock" --use-stdin-socket personal test.Cat <<<"through one socket"
	assert_success
	assert_output "through one socket"
	run -100 qrx_call work --use-stdin-socket personal test.Cat </dev/null
}

@test "a service that calls qrx-call itself can still write after it (its stdout is not shut down)" {
	qrx_service work test.Nested "echo hello | VCHAN_SOCKET_DIR=$QRX/vchan VCHAN_DOMAIN=5 \
		$QMIN_SIM_BIN/qrx-call --agent-socket $QRX/agent.work.sock personal test.Echo 2>/dev/null
		echo \"after=\$?\""
	qrx_broker
	run qrx_call dom0 work test.Nested </dev/null
	assert_success
	assert_output "args= from=work full=test.Echo+ arg=
hello
after=7"
}

@test "the exit code survives the service closing before the caller's input is sent" {
	qrx_service personal test.Quick 'exit 3'
	qrx_broker
	local i
	for i in $(seq 1 20); do
		run -3 qrx_call work personal test.Quick < <(head -c 5000000 /dev/zero)
	done
}

@test "the service gets Qubes' environment, and nothing of the agent's" {
	qrx_service personal test.Env 'env | sort'
	qrx_broker
	run qrx_call work personal test.Env </dev/null
	assert_success
	assert_line "QREXEC_REMOTE_DOMAIN=work"
	assert_line "QREXEC_SERVICE_FULL_NAME=test.Env+"
	assert_line "QREXEC_SERVICE_ARGUMENT="
	assert_line "QREXEC_REQUESTED_TARGET_TYPE="
	assert_line "QREXEC_SERVICE_PATH=$QRX/rpc.personal"
	assert_line "HOME=/root"
	assert_line "USER=root"
	assert_line "LOGNAME=root"
	assert_line --regexp "^SHELL=/"
	assert_line --regexp "^QREXEC_AGENT_PID=[0-9]+$"
	refute_line --partial "BATS_"
	refute_line --partial "VCHAN_"
	run qrx_call work personal test.Env+arg </dev/null
	assert_line "QREXEC_SERVICE_ARGUMENT=arg"
}

@test "services are looked up in the directories in order, SERVICE+ARG first" {
	mkdir -p "$QRX/local.personal"
	printf '#!/bin/sh\necho local\n' >"$QRX/local.personal/test.Echo"
	chmod +x "$QRX/local.personal/test.Echo"
	kill "$QRX_AGENT_PID_personal"
	wait "$QRX_AGENT_PID_personal" 2>/dev/null || true
	VCHAN_DOMAIN=6 "$QMIN_SIM_BIN/qrx-agent" -d --agent-socket "$QRX/agent.personal.sock" \
		--rpc-dir "$QRX/local.personal" --rpc-dir "$QRX/rpc.personal" 2>>"$QRX/agent.personal.log" 3>&- &
	QRX_PIDS+=($!)
	wait_until 10 test -S "$QRX/agent.personal.sock"
	qrx_service personal test.Echo+x 'echo "etc with arg"'
	qrx_broker
	run qrx_call work personal test.Echo </dev/null
	assert_output "local"
	run qrx_call work personal test.Echo+x </dev/null
	assert_output "etc with arg"
}

@test "a service may ask for one bidirectional socket (SIGUSR1), and the agent lives on" {
	qrx_service personal test.Usr1 'read line; kill -USR1 "$QREXEC_AGENT_PID"; sleep 0.3; echo "socket says $line" >&0; kill -USR1 "$QREXEC_AGENT_PID"'
	# A service may even kill what it was given: that ends its own call, nothing more.
	qrx_service personal test.Kill1 'kill -USR1 "$QREXEC_AGENT_PID"; kill -TERM "$QREXEC_AGENT_PID"; kill -KILL "$QREXEC_AGENT_PID"'
	qrx_broker
	run qrx_call work personal test.Usr1 <<<"hello"
	assert_success
	assert_output "socket says hello"
	run -125 qrx_call work personal test.Kill1 </dev/null
	kill -0 "$QRX_AGENT_PID_personal" || fail "the agent died of its service's signal"
	run qrx_call work personal test.Cat <<<"still here"
	assert_output "still here"
}

@test "a target user that does not exist is said, not reported as a policy refusal" {
	qrx_policy 'test.Cat * work personal allow user=nosuchuser'
	qrx_broker
	run --separate-stderr qrx_call work personal test.Cat <<<"x"
	assert_failure 126
	assert_equal "$stderr" "qrx-agent: no user nosuchuser here to run test.Cat+"
	grep -q "warning: no user nosuchuser here to run test.Cat+" "$QRX/agent.personal.log"
}

@test "dom0's services honour user= and dom0's default user" {
	requires root
	qrx_service dom0 test.Time 'id -un'
	qrx_policy 'test.Time * work @adminvm allow user=nobody' 'test.Time * personal @adminvm allow'
	qrx_broker
	run qrx_call work dom0 test.Time </dev/null
	assert_success
	assert_output nobody
	run qrx_call personal dom0 test.Time </dev/null
	assert_output root
}

@test "dom0's services learn what the caller asked for" {
	qrx_service dom0 test.Time 'echo "$QREXEC_REQUESTED_TARGET_TYPE ${QREXEC_REQUESTED_TARGET:-}${QREXEC_REQUESTED_TARGET_KEYWORD:-}"'
	qrx_policy 'test.Time * @anyvm @adminvm allow' 'test.Time * @anyvm @default allow target=dom0'
	qrx_broker
	run qrx_call work dom0 test.Time </dev/null
	assert_output "keyword adminvm"
	run qrx_call work @default test.Time </dev/null
	assert_output "keyword default"
}

@test "the terminal's descriptors are non-blocking during a call and as they were after" {
	qrx_service personal test.Slow1 'sleep 1; echo done'
	qrx_broker
	local out="$BATS_TEST_TMPDIR/out"
	mkfifo "$BATS_TEST_TMPDIR/in"
	exec 7<>"$BATS_TEST_TMPDIR/in"
	VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/agent.work.sock" personal test.Slow1 \
		<&7 >"$out" 2>/dev/null 3>&- &
	local caller=$!
	sleep 0.5
	# O_NONBLOCK is 04000: set on the caller's stdin and stdout descriptions.
	local flags
	for fd in 0 1; do
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$caller/fdinfo/$fd")
		[ $((8#$flags & 8#4000)) -ne 0 ] || fail "fd $fd is blocking during the call (flags $flags)"
	done
	wait_exit 30 "$caller"
	flags=$(awk '/^flags:/ { print $2 }' "/proc/$$/fdinfo/7")
	[ $((8#$flags & 8#4000)) -eq 0 ] || fail "the terminal stayed non-blocking (flags $flags)"
	exec 7<&-
	assert_equal "$(cat "$out")" "done"
}

@test "an answer for a caller that left never reaches the next one" {
	printf 'name = "sleeper"\nxvm_default_user = "root"\n' >"$QRX/xvm/sleeper.cfg"
	mkdir -p "$QRX/rpc.sleeper"
	qrx_service sleeper test.A 'echo A'
	qrx_service sleeper test.B 'echo B'
	qrx_policy 'test.A * work sleeper allow' 'test.B * work sleeper allow'
	# xvm-start: the target comes only when the test says so.
	cat >"$QRX/xvm-start" <<-STUB
		#!/bin/sh
		for _ in \$(seq 600); do [ -e "$QRX/go" ] && break; sleep 0.05; done
		"$XSCTL" write /local/domain/8/name "\$1"
		"$XSCTL" introduce 8
		VCHAN_DOMAIN=8 exec "$QMIN_SIM_BIN/qrx-agent" -d --agent-socket "$QRX/agent.sleeper.sock" --rpc-dir "$QRX/rpc.sleeper" 2>/dev/null
	STUB
	chmod +x "$QRX/xvm-start"
	qrx_broker
	# The first caller asks and leaves; the second takes its descriptor number.
	VCHAN_DOMAIN=5 timeout 1 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/agent.work.sock" sleeper test.A </dev/null 3>&- || true
	VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/agent.work.sock" sleeper test.B </dev/null >"$QRX/second" 2>&1 3>&- &
	local second=$!
	sleep 0.5
	touch "$QRX/go"
	wait_exit 30 "$second"
	assert_equal "$(cat "$QRX/second")" B
	pkill -f "agent.sleeper.sock" || true
}

@test "no agent to ask: exit 125, naming the socket and the daemon that should serve it" {
	run -125 env VCHAN_DOMAIN=5 "$QMIN_SIM_BIN/qrx-call" --agent-socket "$QRX/none.sock" personal test.Cat </dev/null
	assert_output "qrx-call: fatal: unable to connect to $QRX/none.sock (is qrx-agent running?): No such file or directory"
}
