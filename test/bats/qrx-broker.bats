#!/usr/bin/env bats
# qrx-broker's policy side: --evaluate, -n and the reloading daemon.
# bats file_tags=tool:qrx-broker
# Bats sets $stderr; scripts for `sh -c` are single-quoted on purpose.
# shellcheck disable=SC2154,SC2016

load test_helper

setup() {
	BROKER="$QMIN_BIN/qrx-broker"
	VMS="$BATS_TEST_TMPDIR/xvm"
	POLICY="$BATS_TEST_TMPDIR/policy.d"
	mkdir -p "$POLICY"
	vm_definitions "$VMS" work:work work-files:work personal sys-net=NetVM
}

teardown() {
	if [ -n "${DAEMON:-}" ]; then
		kill "$DAEMON" 2>/dev/null || true
		wait "$DAEMON" 2>/dev/null || true
	fi
	xenstore_stop
}

evaluate() {
	run --separate-stderr "$BROKER" --evaluate --vm-dir "$VMS" --policy-dir "$POLICY" "$@"
}

@test "-h prints usage on stdout; every option is in the man page" {
	run --separate-stderr "$BROKER" -h
	assert_success
	assert_line --index 0 --partial "usage: qrx-broker"
	local option
	while IFS= read -r option; do
		grep -q -- "Fl Fl ${option#--}" "$QMIN_ROOT/man/qrx-broker.8" || fail "$option is not in man/qrx-broker.8"
	done < <(grep -oE -- '--[a-z-]+' <<<"$output" | sort -u)
}

@test "--evaluate: allow exits 0, ask 2, deny 1, one line each" {
	printf '%s\n' 'svc * work personal allow' 'svc * work @tag:work ask default_target=work-files' \
		'svc * work sys-net deny' >"$POLICY/30-user.policy"
	evaluate work personal svc
	assert_success
	assert_output "allow target=personal user=DEFAULT notify=no autostart=yes rule=$POLICY/30-user.policy:1"
	evaluate work work-files svc
	assert_failure 2
	# Candidates by Qubes' reverse scan: the earlier allow of personal counts
	# too; the caller never does, as in Qubes' engine.
	assert_output "ask targets=personal,work-files default_target=work-files user=DEFAULT notify=no autostart=yes rule=$POLICY/30-user.policy:2"
	evaluate work sys-net svc
	assert_failure 1
	assert_output "deny rule=$POLICY/30-user.policy:3"
	evaluate work sys-net other.Service
	assert_failure 1
	assert_output "deny"
}

@test "--evaluate: an empty target is @default, an unknown one too" {
	echo 'qubes.GetDate * @anyvm @default allow target=dom0' >"$POLICY/30-user.policy"
	evaluate work '' qubes.GetDate
	assert_success
	assert_output --partial "allow target=dom0 user=DEFAULT"
	evaluate work no-such-vm qubes.GetDate
	assert_success
	assert_output --partial "allow target=dom0 user=DEFAULT"
}

@test "--evaluate: service arguments match exactly" {
	printf '%s\n' 'test.File +report work personal allow user=root' 'test.File * @anyvm @anyvm deny' >"$POLICY/30-user.policy"
	evaluate work personal test.File+report
	assert_success
	assert_output --partial "user=root"
	evaluate work personal test.File+other
	assert_failure 1
	evaluate work personal test.File
	assert_failure 1
}

@test "--evaluate: any error anywhere denies every call and is shown with a caret" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	echo 'svc * work personal alow' >"$POLICY/90-broken.policy"
	evaluate work personal svc
	assert_failure 1
	assert_output "deny"
	assert_equal "$stderr" "$POLICY/90-broken.policy:1: invalid action: alow
svc * work personal alow
                    ^"
}

@test "--evaluate: a broken VM definition makes that one VM unknown; the others work" {
	printf '%s\n' 'svc * work personal allow' 'svc * work work-files allow' >"$POLICY/30-user.policy"
	echo 'name = "wrong"' >"$VMS/personal.cfg"
	evaluate work personal svc
	assert_failure 1
	assert_output "deny"
	assert_equal "$stderr" "qrx-broker: warning: VM definition error: $VMS/personal.cfg: name must be \"personal\", as the file is called"
	evaluate work work-files svc
	assert_success
	assert_output --partial "allow target=work-files"
}

@test "dot-files and editor leftovers in the policy and VM directories are ignored" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	echo 'svc * work personal alow' >"$POLICY/.#30-user.policy"
	echo 'svc * work personal alow' >"$POLICY/30-user.policy~"
	echo 'svc * work personal alow' >"$POLICY/.30-user.policy.swp"
	echo 'name = "wrong"' >"$VMS/.#personal.cfg"
	echo 'name = "wrong"' >"$VMS/personal.cfg~"
	echo 'name = "wrong"' >"$VMS/.personal.cfg.swp"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_success
	assert_equal "$stderr" ""
	evaluate work personal svc
	assert_success
}

@test "--evaluate: /run wins over /etc on files of equal name" {
	mkdir -p "$BATS_TEST_TMPDIR/run"
	echo 'svc * work personal deny' >"$POLICY/30-user.policy"
	echo 'svc * work personal allow' >"$BATS_TEST_TMPDIR/run/30-user.policy"
	run "$BROKER" --evaluate --vm-dir "$VMS" --policy-dir "$BATS_TEST_TMPDIR/run" --policy-dir "$POLICY" work personal svc
	assert_success
}

@test "the shipped conf.d reads the run-time policy directory before /etc's, as Qubes does" {
	local QRX_BROKER_OPTS
	# shellcheck source=/dev/null
	. "$QMIN_ROOT/etc/conf.d/qrx-broker"
	local dirs
	dirs=$(grep -oE -- '--policy-dir [^ ]+' <<<"$QRX_BROKER_OPTS" | cut -d' ' -f2 | tr '\n' ' ')
	assert_equal "$dirs" "/run/qubes/policy.d /etc/qubes/policy.d "
}

@test "--evaluate needs exactly three operands" {
	run --separate-stderr "$BROKER" --evaluate work personal
	assert_failure 100
	assert_equal "$stderr" "qrx-broker: usage: --evaluate needs SOURCE TARGET SERVICE[+ARG]"
	run "$BROKER" work personal svc
	assert_failure 100
}

@test "-n: configuration OK, or every error and exit 100" {
	printf '%s\n' 'svc * work personal allow' '!include include/extra' >"$POLICY/30-user.policy"
	mkdir "$POLICY/include" && echo 'x * work personal deny' >"$POLICY/include/extra"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_success
	assert_output "configuration OK"
	run --separate-stderr "$BROKER" -n -v --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_output "$(printf 'svc\t*\twork\tpersonal\tallow\nx\t*\twork\tpersonal\tdeny\n2 rules from 2 files, 4 VMs\nconfiguration OK')"
	printf '%s\n' 'a * work' 'b * @default x deny' 'c * work personal allow notify=maybe' >"$POLICY/40-bad.policy"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_failure 100
	assert_equal "$(grep -c "^$POLICY/40-bad.policy:[0-9]*: " <<<"$stderr")" 3
	assert_equal "$(tail -n 1 <<<"$stderr")" "qrx-broker: fatal: unable to load the policy: 3 errors"
	rm "$POLICY/40-bad.policy"
	echo 'd * work personal alow' >"$POLICY/40-bad.policy"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_equal "$(tail -n 1 <<<"$stderr")" "qrx-broker: fatal: unable to load the policy: 1 error"
}

@test "-n warns of a missing policy directory and of a policy without rules" {
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY" --policy-dir "$BATS_TEST_TMPDIR/absent"
	assert_success
	assert_output "configuration OK"
	assert_equal "$stderr" "qrx-broker: warning: policy directory $BATS_TEST_TMPDIR/absent is missing
qrx-broker: warning: the policy holds no rule: every call will be denied"
}

@test "-n refuses a broken VM definition, naming its file" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	echo 'name = "wrong"' >"$VMS/personal.cfg"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_failure 100
	assert_equal "$stderr" "$VMS/personal.cfg: name must be \"personal\", as the file is called
qrx-broker: fatal: unable to load the VM definitions: 1 error"
}

@test "-n checks every option the daemon checks" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY" --autostart-timeout abc
	assert_failure 100
	assert_equal "$stderr" "qrx-broker: usage: --autostart-timeout needs 1 to 3600 seconds"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY" --ask-program "$BATS_TEST_TMPDIR/none"
	assert_failure 100
	assert_equal "$stderr" "qrx-broker: fatal: unable to use --ask-program $BATS_TEST_TMPDIR/none: No such file or directory"
}

@test "a policy link that leads nowhere is a warning, not silence" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	ln -s "$BATS_TEST_TMPDIR/gone" "$POLICY/20-deny.policy"
	ln -s 40-loop.policy "$POLICY/40-loop.policy"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_success
	assert_output "configuration OK"
	# The C library words the loop (ELOOP): glibc "Too many levels of
	# symbolic links", musl "Symbolic link loop". Its meaning is checked.
	assert_equal "$(wc -l <<<"$stderr")" 2
	assert_equal "$(head -n 1 <<<"$stderr")" "qrx-broker: warning: policy file skipped: $POLICY/20-deny.policy: not read: No such file or directory"
	[[ "$(tail -n 1 <<<"$stderr")" =~ ^"qrx-broker: warning: policy file skipped: $POLICY/40-loop.policy: not read: "(Too many levels of symbolic links|Symbolic link loop)$ ]] ||
		fail "$stderr"
	xenstore_start
	"$BROKER" -d --vm-dir "$VMS" --policy-dir "$POLICY" --socket "$BATS_TEST_TMPDIR/broker.sock" \
		2>"$BATS_TEST_TMPDIR/log" 3>&- &
	DAEMON=$!
	wait_for_line "$BATS_TEST_TMPDIR/log" "warning: policy file skipped: $POLICY/20-deny.policy"
}

@test "hostile files: binary, huge, escaping symlinks, include cycles" {
	printf 'svc * work personal allow\n\0\n' >"$POLICY/10-binary.policy"
	head -c 2000000 /dev/zero | tr '\0' '#' >"$POLICY/20-huge.policy"
	echo 'svc * work personal allow' >"$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$POLICY/escape"
	printf '%s\n' '!include escape' '!include loop-a' >"$POLICY/30-user.policy"
	echo '!include loop-b' >"$POLICY/loop-a"
	echo '!include loop-a' >"$POLICY/loop-b"
	run --separate-stderr "$BROKER" -n --vm-dir "$VMS" --policy-dir "$POLICY"
	assert_failure 100
	grep -q "10-binary.policy: binary content (a NUL byte): not a policy file" <<<"$stderr" || fail "$stderr"
	grep -q "20-huge.policy: larger than 1048576 bytes" <<<"$stderr" || fail "$stderr"
	grep -q "include outside the policy directories: $POLICY/escape" <<<"$stderr" || fail "$stderr"
	grep -q "include cycle: " <<<"$stderr" || fail "$stderr"
}

@test "the daemon reloads on change and on SIGHUP, and fails closed in between" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	xenstore_start
	"$BROKER" -d -v --vm-dir "$VMS" --policy-dir "$POLICY" --socket "$BATS_TEST_TMPDIR/broker.sock" \
		2>"$BATS_TEST_TMPDIR/log" 3>&- &
	DAEMON=$!
	wait_for_line "$BATS_TEST_TMPDIR/log" '^qrx-broker: info: policy loaded: 1 rules from 1 files$'
	echo 'svc * work personal alow' >"$POLICY/40-broken.policy"
	wait_for_line "$BATS_TEST_TMPDIR/log" 'error: unable to reload the policy: 1 error; every call is denied until fixed$'
	grep -q "warning: policy error: $POLICY/40-broken.policy:1: invalid action: alow" "$BATS_TEST_TMPDIR/log"
	rm "$POLICY/40-broken.policy"
	wait_for_line "$BATS_TEST_TMPDIR/log" '^qrx-broker: info: policy reloaded: 1 rules from 1 files$'
	local before
	before=$(grep -c 'policy reloaded' "$BATS_TEST_TMPDIR/log")
	kill -HUP "$DAEMON"
	wait_for_line "$BATS_TEST_TMPDIR/log" "policy reloaded" 5
	local tries=0
	until [ "$(grep -c 'policy reloaded' "$BATS_TEST_TMPDIR/log")" -gt "$before" ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || fail "SIGHUP did not reload"
		sleep 0.05
	done
	kill -TERM "$DAEMON"
	wait "$DAEMON"
	DAEMON=
}

@test "one bad line is reported once, however many events its writing raises" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	xenstore_start
	"$BROKER" -d -v --vm-dir "$VMS" --policy-dir "$POLICY" --socket "$BATS_TEST_TMPDIR/broker.sock" \
		2>"$BATS_TEST_TMPDIR/log" 3>&- &
	DAEMON=$!
	wait_for_line "$BATS_TEST_TMPDIR/log" 'policy loaded'
	# Several writes, renames and touches of the same broken file.
	printf 'svc * work ' >"$POLICY/40-broken.policy"
	printf 'personal alow\n' >>"$POLICY/40-broken.policy"
	touch "$POLICY/40-broken.policy"
	cp "$POLICY/40-broken.policy" "$POLICY/.tmp" && mv "$POLICY/.tmp" "$POLICY/40-broken.policy"
	wait_for_line "$BATS_TEST_TMPDIR/log" 'unable to reload the policy: 1 error'
	sleep 1
	assert_equal "$(grep -c 'policy error: .*40-broken.policy:1: invalid action: alow' "$BATS_TEST_TMPDIR/log")" 1
}

@test "a policy directory removed and made again is followed" {
	echo 'svc * work personal deny' >"$POLICY/30-user.policy"
	xenstore_start
	"$BROKER" -d -v --vm-dir "$VMS" --policy-dir "$POLICY" --socket "$BATS_TEST_TMPDIR/broker.sock" \
		2>"$BATS_TEST_TMPDIR/log" 3>&- &
	DAEMON=$!
	wait_for_line "$BATS_TEST_TMPDIR/log" 'policy loaded: 1 rules'
	rm -rf "$POLICY"
	wait_for_line "$BATS_TEST_TMPDIR/log" 'policy reloaded: 0 rules'
	mkdir "$POLICY"
	printf '%s\n' 'svc * work personal allow' 'svc * work sys-net allow' >"$POLICY/30-user.policy"
	wait_for_line "$BATS_TEST_TMPDIR/log" 'policy reloaded: 2 rules' 5
}

@test "the idle daemon uses no CPU" {
	echo 'svc * work personal allow' >"$POLICY/30-user.policy"
	xenstore_start
	"$BROKER" -d --vm-dir "$VMS" --policy-dir "$POLICY" --socket "$BATS_TEST_TMPDIR/broker.sock" 2>/dev/null 3>&- &
	DAEMON=$!
	sleep 0.5
	local before after
	before=$(wakeups "$DAEMON")
	sleep 2
	after=$(wakeups "$DAEMON")
	assert_equal "$((after - before))" 0
}

@test "the EXAMPLES of qrx-policy(5) give the decisions they show" {
	vm_definitions "$VMS" work:work work-files:work personal sys-net
	man_block "$QMIN_ROOT/man/qrx-policy.5" 1 >"$POLICY/30-user.policy"
	local examples="$BATS_TEST_TMPDIR/examples"
	man_block "$QMIN_ROOT/man/qrx-policy.5" 2 >"$examples"
	[ "$(grep -c '^\$ qrx-broker' "$examples")" -ge 5 ] || fail "too few examples"
	local command expected
	while IFS= read -r command && IFS= read -r expected; do
		eval "set -- ${command#\$ qrx-broker --evaluate }"
		run "$BROKER" --evaluate --vm-dir "$VMS" --policy-dir "$POLICY" "$@"
		assert_output "${expected//\/etc\/qubes\/policy.d/$POLICY}"
	done <"$examples"
}

@test "the EXAMPLES of qrx-broker(8) run" {
	requires root
	xenstore_start
	run man_examples "$QMIN_ROOT/man/qrx-broker.8"
	assert_equal "${#lines[@]}" 3
	# A private /run with a policy, so the examples read the default paths.
	local example
	while IFS= read -r example; do
		run_logged unshare -m --propagation private env PATH="$QMIN_BIN:$PATH" sh -c '
			mount -t tmpfs tmpfs /run && mkdir -p /run/qubes/policy.d &&
			echo "qubes.Filecopy * @anyvm @anyvm deny" >/run/qubes/policy.d/30-user.policy &&
			case "$1" in
			*" -d "*) timeout -s TERM 2 sh -c "$1"; [ $? -eq 124 ] ;;
			*) eval "$1"; [ $? -le 2 ] ;;
			esac' sh "$example"
		assert_success
	done < <(man_examples "$QMIN_ROOT/man/qrx-broker.8")
}

@test "the example policy checks clean with the VMs the example sites define, and grants no shell into the net-vm" {
	local site vms="$BATS_TEST_TMPDIR/vms"
	for site in demo server; do
		sed 's/^#ROOT_PASSWORD_HASH=.*/ROOT_PASSWORD_HASH=$6$salt$hash/' "$QMIN_ROOT/site/$site.site" >"$BATS_TEST_TMPDIR/$site.site"
		sed -i "s|^OVERLAY=../|OVERLAY=$QMIN_ROOT/|" "$BATS_TEST_TMPDIR/$site.site"
		rm -rf "$vms" && bash "$QMIN_ROOT/image/site.sh" derive "$BATS_TEST_TMPDIR/$site.site" "$vms"
		run "$BROKER" -n --vm-dir "$vms/etc/xvm" --policy-dir "$QMIN_ROOT/etc/policy.d"
		assert_success
		assert_output "configuration OK"
	done
	local ask=("$BROKER" --evaluate --vm-dir "$vms/etc/xvm" --policy-dir "$QMIN_ROOT/etc/policy.d")
	run "${ask[@]}" workload-vm sa-vm qmin.UsbDevices
	assert_success
	run "${ask[@]}" workload-vm net-vm qubes.VMShell
	assert_failure 1
	run "${ask[@]}" sa-vm net-vm qubes.VMShell
	assert_failure 1
	run "${ask[@]}" net-vm sa-vm qmin.UsbDevices
	assert_failure 1
}
