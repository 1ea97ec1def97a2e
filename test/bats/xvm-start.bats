#!/usr/bin/env bats
# xvm-start against a double of xl (test/fakes/xl) that keeps its domains
# in the xenstore double, and real qrx-agents (simulation build) for VMs
# that wait for qrx.
# bats file_tags=tool:xvm-start
# Bats sets $stderr.
# shellcheck disable=SC2154

load test_helper

setup() {
	XVM="$QMIN_BIN/xvm-start"
	VMS="$BATS_TEST_TMPDIR/xvm"
	export XL_FAKE_DIR="$BATS_TEST_TMPDIR/xl" XSCTL QMIN_SIM_BIN
	export VCHAN_SOCKET_DIR="$BATS_TEST_TMPDIR/vchan"
	mkdir -p "$VMS" "$XL_FAKE_DIR" "$VCHAN_SOCKET_DIR" "$BATS_TEST_TMPDIR/sys/hypervisor/version"
	echo 4 >"$BATS_TEST_TMPDIR/sys/hypervisor/version/major"
	echo 17 >"$BATS_TEST_TMPDIR/sys/hypervisor/version/minor"
	xenstore_start
}

teardown() {
	local pid
	for pid in "$XL_FAKE_DIR"/agent.*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
	if [ -n "${QRX:-}" ]; then qrx_teardown; fi
	xenstore_stop
}

# vm NAME [LINE...]: a definition with a kernel that exists.
vm() {
	local name=$1
	shift
	printf 'name = "%s"\nmemory = 128\n' "$name" >"$VMS/$name.cfg"
	printf '%s\n' "$@" >>"$VMS/$name.cfg"
}

xvm() {
	run --separate-stderr "$XVM" --vm-dir "$VMS" --xl "$QMIN_ROOT/test/fakes/xl" \
		--sys "$BATS_TEST_TMPDIR/sys" "$@"
}

# domid_in_log NAME N: the domain ID of NAME's Nth create.
domid_in_log() { sed -n "s/^create $1 end \([0-9]*\) .*/\1/p" "$XL_FAKE_DIR/log" | sed -n "$2p"; }

# created: the VMs xl created, in the order it finished creating them.
created() { sed -n 's/^create \([^ ]*\) end .*/\1/p' "$XL_FAKE_DIR/log" 2>/dev/null | tr '\n' ' '; }

@test "-h prints usage on stdout; every option is in the man page" {
	run --separate-stderr "$XVM" -h
	assert_success
	assert_line --index 0 --partial "usage: xvm-start"
	local option
	while IFS= read -r option; do
		grep -q -- "Fl Fl ${option#--}" "$QMIN_ROOT/man/xvm-start.8" || fail "$option is not in man/xvm-start.8"
	done < <(grep -oE -- '--[a-z-]+' <<<"$output" | sort -u)
}

@test "usage errors name the mistake: --autostart takes no names, --all goes with --stop (issue 27)" {
	xvm --autostart web
	assert_failure 100
	assert_equal "${stderr_lines[0]}" "xvm-start: usage: --autostart takes no names"
	xvm --all
	assert_failure 100
	assert_equal "${stderr_lines[0]}" "xvm-start: usage: --all goes with --stop"
	xvm --stop --all web
	assert_failure 100
	assert_equal "${stderr_lines[0]}" "xvm-start: usage: --all takes no names"
	xvm --stop
	assert_failure 100
	assert_equal "${stderr_lines[0]}" "xvm-start: usage: --stop needs --all or VM names"
}

@test "an empty VM directory is warned about (issue 27)" {
	xvm -n --autostart
	assert_success
	assert_equal "$stderr" "xvm-start: warning: no VM definitions in $VMS (xvm.cfg(5))"
}

@test "--stop of a VM that is not running says so, and succeeds (issue 27)" {
	vm web
	xvm --stop web
	assert_success
	assert_equal "$stderr" "xvm-start: notice: web is not running: nothing to stop"
	run cat "$XL_FAKE_DIR/log"
	refute_output --partial "shutdown web"
}

@test "-n prints a valid start order, what a vif's backend is counting as a dependency" {
	vm net-vm 'xvm_autostart = 1'
	vm sa-vm
	vm workload 'vif = [ "ip=10.137.0.10,backend=net-vm" ]' 'xvm_after = [ "sa-vm" ]' 'xvm_autostart = 1'
	vm idle
	xvm -n --autostart
	assert_success
	assert_output "$(printf 'net-vm\nsa-vm\nworkload')"
	xvm -n workload
	assert_output "$(printf 'sa-vm\nnet-vm\nworkload')"
	[ ! -e "$XL_FAKE_DIR/log" ] || fail "-n created something"
}

@test "a vif spec is read as xl reads it: blanks after a comma, empty pairs (issue 24)" {
	vm net-vm
	vm spaced 'vif = [ "ip=10.137.0.11, backend=net-vm" ]'
	vm doubled 'vif = [ "ip=10.137.0.12,,  backend=net-vm" ]'
	xvm -n spaced doubled
	assert_success
	assert_output "$(printf 'net-vm\nspaced\ndoubled')"
}

@test "an unknown dependency sets its VM aside; a cycle is exit 100, named whole; nothing is created" {
	vm a 'xvm_after = [ "ghost" ]' 'xvm_autostart = 1'
	xvm --autostart
	assert_failure 1
	assert_equal "$stderr" "xvm-start: error: unable to start a: it needs ghost, which is no VM"
	vm a 'xvm_after = [ "b" ]'
	vm b 'vif = [ "backend=c" ]'
	vm c 'xvm_after = [ "a" ]' 'xvm_autostart = 1'
	xvm c
	assert_failure 100
	assert_equal "$stderr" "xvm-start: fatal: unable to order the VMs: a dependency cycle: a -> b -> c -> a"
	xvm no-such-vm
	assert_failure 100
	[ ! -e "$XL_FAKE_DIR/log" ] || fail "something was created: $(cat "$XL_FAKE_DIR/log")"
}

@test "two definitions with one ip= or one PCI device are refused, and nothing is created (issue 24)" {
	vm a 'vif = [ "ip=10.137.0.10" ]' 'pci = [ "0000:00:03.0" ]' 'xvm_autostart = 1'
	vm b 'vif = [ "ip=10.137.0.11 10.137.0.10, backend=a" ]' 'xvm_autostart = 1'
	xvm --autostart
	assert_failure 100
	assert_equal "$stderr" "xvm-start: fatal: unable to order the VMs: a and b both give ip=10.137.0.10"
	vm b 'vif = [ "ip=10.137.0.11, backend=a" ]' 'pci = [ "00:03.0,permissive=1" ]'
	xvm a
	assert_failure 100
	assert_equal "$stderr" "xvm-start: fatal: unable to order the VMs: a and b both give pci=0000:00:03.0"
	[ ! -e "$XL_FAKE_DIR/log" ] || fail "something was created: $(cat "$XL_FAKE_DIR/log")"
}

@test "a broken definition sets aside its VM and its dependents; the others start (issue 24)" {
	vm net-vm 'xvm_autostart = 1'
	printf 'name = "not-sa-vm"\n' >"$VMS/sa-vm.cfg"
	vm workload 'vif = [ "ip=10.137.0.10, backend=net-vm" ]' 'xvm_after = [ "sa-vm" ]' 'xvm_autostart = 1'
	vm spare 'xvm_after = [ "workload" ]' 'xvm_autostart = 1'
	echo 'name = "x"' >"$VMS/.#spare.cfg" # an editor's lock file is no definition
	xvm --autostart
	assert_failure 1
	assert_output --regexp '^net-vm [0-9]+$'
	assert_equal "$(created)" "net-vm "
	grep -q "^xvm-start: error: unable to start sa-vm: its definition is broken: $VMS/sa-vm.cfg" <<<"$stderr" || fail "$stderr"
	grep -q "^xvm-start: error: unable to start workload: it needs sa-vm, which is set aside$" <<<"$stderr" || fail "$stderr"
	grep -q "^xvm-start: error: unable to start spare: it needs workload, which is set aside$" <<<"$stderr" || fail "$stderr"
	xvm -n --autostart
	assert_failure 100
	assert_output "net-vm"
}

@test "--autostart starts what it needs first, in parallel where it can, and prints NAME DOMID" {
	# Each of net-vm and sa-vm finishes its create only once the other's has
	# started (xl_fake_barrier): created one after the other, they would not.
	vm net-vm 'xl_fake_barrier = "sa-vm"'
	vm sa-vm 'xl_fake_barrier = "net-vm"'
	vm workload 'vif = [ "backend=net-vm" ]' 'xvm_after = [ "sa-vm" ]' 'xvm_autostart = 1' 'xvm_wait = "hotplug"'
	vm other
	xvm --autostart
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_line --regexp '^net-vm [0-9]+$'
	assert_line --regexp '^sa-vm [0-9]+$'
	assert_line --index 2 --regexp '^workload [0-9]+$'
	# The evidence, in the order of the log: both started before either
	# ended, and workload started after both ended.
	local log="$XL_FAKE_DIR/log"
	at() { grep -n "^create $1 $2" "$log" | head -n 1 | cut -d: -f1; }
	[ "$(at net-vm start)" -lt "$(at sa-vm end)" ] || fail "sa-vm was created before net-vm started: $(cat "$log")"
	[ "$(at sa-vm start)" -lt "$(at net-vm end)" ] || fail "net-vm was created before sa-vm started: $(cat "$log")"
	[ "$(at workload start)" -gt "$(at net-vm end)" ] && [ "$(at workload start)" -gt "$(at sa-vm end)" ] ||
		fail "workload started before what it needs was up: $(cat "$log")"
	assert_equal "$(grep -c '^create .* start' "$XL_FAKE_DIR/log")" 3
}

@test "a VM that runs already is not created again, and reported" {
	vm net-vm 'xvm_autostart = 1'
	xvm net-vm
	assert_success
	local first=$output
	xvm --autostart
	assert_success
	assert_output "$first"
	assert_equal "$(grep -c 'create net-vm start' "$XL_FAKE_DIR/log")" 1
	assert_equal "$stderr" "xvm-start: notice: net-vm is running already, as domain ${first#net-vm }"
}

@test "pci= with type pvh is refused before create; its dependents are skipped, the rest start" {
	vm net-vm 'type = "pvh"' 'pci = [ "0000:00:03.0" ]'
	vm workload 'vif = [ "backend=net-vm" ]'
	vm other
	xvm workload other
	assert_failure 1
	assert_output --regexp '^other [0-9]+$'
	grep -q 'xvm-start: error: unable to start net-vm: it has pci= but type "pvh": libxl refuses PCI passthrough to PVH guests on x86; make it type = "pv"' <<<"$stderr"
	grep -q "xvm-start: error: unable to start workload: it needs net-vm, which did not start" <<<"$stderr"
	assert_equal "$(created)" "other "
}

@test "a create that fails in a chain skips what follows; the version trap is explained" {
	vm a
	vm b 'xvm_after = [ "a" ]' 'xl_fake_fail = "Permission denied"'
	vm c 'xvm_after = [ "b" ]'
	vm d
	xvm c d
	assert_failure 1
	assert_line --regexp '^a [0-9]+$'
	assert_line --regexp '^d [0-9]+$'
	refute_line --regexp '^c '
	grep -q 'unable to start b: xl create exited 3: "libxl: error: .*domain creation fail: Permission denied"' <<<"$stderr"
	grep -q "unable to start c: it needs b, which did not start" <<<"$stderr"
	echo 19 >"$BATS_TEST_TMPDIR/sys/hypervisor/version/minor"
	xvm b
	assert_failure 1
	grep -q 'warning: the hypervisor is Xen 4.19 but xl.s toolstack is Xen 4.17' <<<"$stderr"
	grep -q 'unable to start b: xl create was refused with "Permission denied": the hypervisor is Xen 4.19 but xl.s toolstack is Xen 4.17, and Xen refuses a toolstack of another version' <<<"$stderr"
}

@test "hotplug: up once every vif is connected; a hotplug error fails at once and the VM goes" {
	vm net-vm
	vm client 'vif = [ "backend=net-vm", "ip=10.0.0.2" ]' 'xvm_wait = "hotplug"' 'xl_fake_hotplug_delay = "1"'
	xvm client
	assert_success
	assert_line --regexp '^client [0-9]+$'
	vm broken 'vif = [ "backend=net-vm" ]' 'xvm_wait = "hotplug"' 'xl_fake_hotplug = "error"' 'xvm_timeout = 30'
	xvm broken
	assert_failure 1
	# It failed on the hotplug error, not on its 30 s timeout ("not up within").
	[[ "$stderr" != *"not up within"* ]] || fail "waited for the timeout: $stderr"
	# What the driver domain wrote is quoted: its terminal controls never reach the console.
	grep -qF "unable to start broken: vif0's hotplug failed: \"ip= is missing\\x1b]0;owned\\x07\"" <<<"$stderr" || fail "$stderr"
	[[ "$stderr" != *$'\033'* ]] || fail "a raw escape reached the console"
	wait_for_line "$XL_FAKE_DIR/log" "^destroy broken"
}

@test "xvm_timeout counts from before xl create: a create that hangs is killed, and leaves nothing (issue 24)" {
	vm slowpoke 'xl_fake_delay = "30"' 'xvm_timeout = 1'
	vm other
	xvm slowpoke other
	assert_failure 1
	assert_output --regexp '^other [0-9]+$'
	grep -q "unable to start slowpoke: xl create had not ended within 1 s" <<<"$stderr" || fail "$stderr"
	grep -q "^create slowpoke start" "$XL_FAKE_DIR/log"
	! grep -q "^create slowpoke end" "$XL_FAKE_DIR/log" || fail "the create went on"
	# The xl it ran, and its sleep, are gone with their process group.
	! pgrep -f "fakes/xl create -q $VMS/slowpoke.cfg" >/dev/null || fail "xl create still runs"
}

@test "a create that fails after its domain appeared leaves no domain behind (issue 24)" {
	vm late 'xl_fake_fail_late = "cannot build the domain"'
	xvm late
	assert_failure 1
	grep -q 'unable to start late: xl create exited 3: "libxl: error: .*cannot build the domain"' <<<"$stderr" || fail "$stderr"
	wait_for_line "$XL_FAKE_DIR/log" "^destroy late"
	run "$XSCTL" ls /local/domain
	assert_output ""
}

@test "a VM that is not up in xvm_timeout fails with what it lacked" {
	vm slow 'vif = [ "ip=10.0.0.3" ]' 'xvm_wait = "hotplug"' 'xl_fake_hotplug_delay = "5"' 'xvm_timeout = 1'
	xvm slow
	assert_failure 1
	grep -q "unable to start slow: not up within 1 s: vif0 (/local/domain/0/backend/vif/[0-9]*/0) is not connected yet" <<<"$stderr"
}

@test "a VM that xl restarts while it starts is followed by name; without a restart it fails" {
	vm flaky 'vif = [ "ip=10.0.0.4" ]' 'xvm_wait = "hotplug"' 'xl_fake_reboot = "1"' 'xl_fake_hotplug_delay = "2"'
	xvm flaky
	assert_success
	local id=${output#flaky }
	[ "$id" = "$(domid_in_log flaky 2)" ] || fail "reported $id, not the restarted domain"
	grep -q "flaky's domain $(domid_in_log flaky 1) went away while starting; waiting for xl to restart it" <<<"$stderr"
	grep -q "flaky was restarted by xl, as domain $id" <<<"$stderr"
	vm once 'vif = [ "ip=10.0.0.6" ]' 'xvm_wait = "hotplug"' 'xl_fake_reboot = "1"' 'xl_fake_hotplug_delay = "3"' \
		'on_reboot = "destroy"'
	xvm once
	assert_failure 1
	grep -q "unable to start once: it died while starting" <<<"$stderr"
}

@test "qrx: up once the VM's agent serves its control channel" {
	vm vault 'xvm_wait = "qrx"'
	xvm vault
	assert_success
	assert_line --regexp '^vault [0-9]+$'
	local id=${output#vault }
	"$XSCTL" read "/local/domain/$id/data/vchan/0/512/event-channel"
}

@test "--stop: dependents first, a clean shutdown, then destroy at the run's one deadline" {
	vm net-vm
	vm workload 'vif = [ "backend=net-vm" ]'
	vm stuck 'xvm_after = [ "net-vm" ]' 'xl_fake_hang = "1"'
	xvm workload stuck
	assert_success
	xvm --stop --timeout 5 net-vm
	assert_success
	run grep -E '^(shutdown|destroy) ' "$XL_FAKE_DIR/log"
	# workload shuts down cleanly; stuck hangs, and at the deadline it is
	# destroyed, then net-vm, which waited for it: dependents first still.
	grep -q '^shutdown workload' <<<"$output"
	grep -q '^shutdown stuck hangs' <<<"$output"
	assert_equal "$(grep '^destroy' <<<"$output" | cut -d ' ' -f 1-2 | tr '\n' ' ')" "destroy stuck destroy net-vm "
	grep -q "warning: net-vm, stuck did not shut down within 5 s: destroying them" <<<"$stderr"
	run "$XSCTL" ls /local/domain
	assert_output ""
}

@test "--stop: a VM that xl creates again after its shutdown returned is waited for and stopped again (issue 24)" {
	vm phoenix 'xl_fake_shutdown_reboots = "1"' 'xl_fake_restart_later = "1"'
	xvm phoenix
	assert_success
	run timeout 120 "$XVM" --vm-dir "$VMS" --xl "$QMIN_ROOT/test/fakes/xl" --sys "$BATS_TEST_TMPDIR/sys" \
		--stop --timeout 60 phoenix
	assert_success
	assert_line --partial "phoenix shut down with reason code 1, for which xl restarts it"
	assert_line --regexp "phoenix is back as domain [0-9]+: stopping it again"
	assert_equal "$(grep -c '^shutdown phoenix' "$XL_FAKE_DIR/log")" 3 # 2 shutdowns, 1 of them a reboot
	! grep -q "^destroy phoenix" "$XL_FAKE_DIR/log" || fail "destroyed: $(cat "$XL_FAKE_DIR/log")"
	run "$XSCTL" ls /local/domain
	assert_output ""
}

@test "--stop: a VM that reboots instead of halting is stopped again, under each new ID (issue 24)" {
	vm net-vm
	vm phoenix 'xvm_after = [ "net-vm" ]' 'xl_fake_shutdown_reboots = "2"'
	xvm phoenix
	assert_success
	# The deadline is far: what ends the run is the third shutdown, not a destroy.
	run timeout 120 "$XVM" --vm-dir "$VMS" --xl "$QMIN_ROOT/test/fakes/xl" --sys "$BATS_TEST_TMPDIR/sys" \
		--stop --timeout 60 --all
	assert_success
	assert_equal "$(grep -c "phoenix is back as domain [0-9]*: stopping it again" <<<"$output")" 2
	assert_equal "$(grep -c '^shutdown phoenix' "$XL_FAKE_DIR/log")" 5 # 3 shutdowns, 2 of them reboots
	! grep -q "^destroy phoenix" "$XL_FAKE_DIR/log" || fail "destroyed: $(cat "$XL_FAKE_DIR/log")"
	assert_equal "$(grep -c '^create phoenix end' "$XL_FAKE_DIR/log")" 3 # one domain ID per life
	run "$XSCTL" ls /local/domain
	assert_output ""
}

@test "a stopped VM is started by the broker's autostart, with the real xvm-start" {
	xenstore_stop
	qrx_setup
	qrx_domain 5 work
	printf 'name = "sleeper"\nxvm_default_user = "root"\nxvm_wait = "qrx"\n' >"$QRX/xvm/sleeper.cfg"
	qrx_policy 'test.Start * work sleeper allow'
	cat >"$QRX/xvm-start" <<-STUB
		#!/bin/sh
		exec "$XVM" --vm-dir "$QRX/xvm" --xl "$QMIN_ROOT/test/fakes/xl" "\$@"
	STUB
	chmod +x "$QRX/xvm-start"
	mkdir -p "$XL_FAKE_DIR/rpc.sleeper"
	printf '#!/bin/sh\necho awake\n' >"$XL_FAKE_DIR/rpc.sleeper/test.Start"
	chmod +x "$XL_FAKE_DIR/rpc.sleeper/test.Start"
	qrx_broker
	run qrx_call work sleeper test.Start </dev/null
	assert_success
	assert_output awake
	wait_for_line "$QRX/broker.log" "notice: starting sleeper"
}

@test "the EXAMPLES of xvm-start(8) and xvm.cfg(5) run" {
	man_block "$QMIN_ROOT/man/xvm.cfg.5" 1 >"$VMS/net-vm.cfg"
	man_block "$QMIN_ROOT/man/xvm.cfg.5" 2 >"$VMS/workload.cfg"
	sed -i 's|^kernel = .*|kernel = "/dev/null"|; s|^ramdisk = .*|ramdisk = "/dev/null"|' "$VMS"/*.cfg
	local example
	while IFS= read -r example; do
		example=${example//\/etc\/xvm/$VMS}
		run_logged env PATH="$QMIN_BIN:$PATH" sh -c "${example//xvm-start /xvm-start --xl $QMIN_ROOT/test/fakes/xl --sys $BATS_TEST_TMPDIR/sys }"
		assert_success
	done < <(man_examples "$QMIN_ROOT/man/xvm-start.8")
}
