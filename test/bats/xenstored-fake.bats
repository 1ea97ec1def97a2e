#!/usr/bin/env bats
# The xenstored test double, driven through xsctl and so through the real
# libxenstore: what later tool tests rely on.
# bats file_tags=harness:xenstore

load test_helper

setup() {
	xenstore_start
}

teardown() {
	xenstore_stop
}

@test "write, read, list, remove" {
	run_logged "$XSCTL" write /local/domain/5/name net-vm
	assert_success
	run "$XSCTL" read /local/domain/5/name
	assert_output net-vm
	"$XSCTL" write /local/domain/5/domid 5
	run "$XSCTL" ls /local/domain/5
	assert_output - <<-LIST
		domid
		name
	LIST
	"$XSCTL" rm /local/domain/5
	run "$XSCTL" read /local/domain/5/name
	assert_failure 111
	assert_output "xsctl: fatal: unable to read xenstore /local/domain/5/name: No such file or directory"
}

@test "seed from a file and dump the tree for assertions" {
	printf '%s\n' '# a VM and its vif' /local/domain/5/name=net-vm 'backend/vif/5/0/ip=10.0.0.5 fd00::5' >"$BATS_TEST_TMPDIR/seed"
	"$XSCTL" seed "$BATS_TEST_TMPDIR/seed"
	run "$XSCTL" dump /local/domain
	assert_output - <<-DUMP
		/local/domain = 
		/local/domain/0 = 
		/local/domain/0/backend = 
		/local/domain/0/backend/vif = 
		/local/domain/0/backend/vif/5 = 
		/local/domain/0/backend/vif/5/0 = 
		/local/domain/0/backend/vif/5/0/ip = 10.0.0.5 fd00::5
		/local/domain/5 = 
		/local/domain/5/name = net-vm
	DUMP
}

@test "relative paths resolve against the caller's /local/domain/<id>" {
	"$XSCTL" write backend/vif/5/0/mac 00:16:3e:00:00:05
	run "$XSCTL" read /local/domain/0/backend/vif/5/0/mac
	assert_output 00:16:3e:00:00:05
	xenstore_add_domain 5 net-vm
	run "$XSCTL" --domain 5 read name
	assert_output net-vm
}

@test "a guest can write under its own data/ and cannot write dom0's keys" {
	"$XSCTL" write /local/domain/0/name Domain-0
	xenstore_add_domain 5 net-vm
	run_logged "$XSCTL" --domain 5 write data/ready 1
	assert_success
	run "$XSCTL" read /local/domain/5/data/ready
	assert_output 1
	run "$XSCTL" --domain 5 write /local/domain/0/name pwned
	assert_failure 111
	assert_output --partial "Permission denied"
	run "$XSCTL" --domain 5 write name renamed
	assert_failure 111
	run "$XSCTL" --domain 5 read /local/domain/0/name
	assert_failure 111
	run "$XSCTL" read /local/domain/0/name
	assert_output Domain-0
	run "$XSCTL" read /local/domain/5/name
	assert_output net-vm
}

@test "one guest cannot read or write another guest's keys" {
	xenstore_add_domain 5 net-vm
	xenstore_add_domain 6 work-vm
	"$XSCTL" --domain 6 write data/secret s
	run "$XSCTL" --domain 5 read /local/domain/6/data/secret
	assert_failure 111
	run "$XSCTL" --domain 5 write /local/domain/6/data/secret x
	assert_failure 111
	run "$XSCTL" --domain 6 read data/secret
	assert_output s
}

@test "permissions read back as set" {
	"$XSCTL" write /local/domain/5/data ""
	"$XSCTL" chmod /local/domain/5/data b5 r0
	run "$XSCTL" getperms /local/domain/5/data
	assert_output "b5 r0"
}

@test "a watch fires at once, then on changes at and below its path" {
	"$XSCTL" watch /local/domain/5 3 >"$BATS_TEST_TMPDIR/events" 3>&- &
	local watcher=$!
	sleep 0.3
	"$XSCTL" write /local/domain/5/name net-vm
	"$XSCTL" write /local/domain/6/name other
	"$XSCTL" rm /local/domain/5
	wait_exit 10 "$watcher"
	run cat "$BATS_TEST_TMPDIR/events"
	assert_output - <<-EVENTS
		/local/domain/5 xsctl
		/local/domain/5/name xsctl
		/local/domain/5 xsctl
	EVENTS
}

@test "introduce and release fire @introduceDomain and @releaseDomain" {
	"$XSCTL" watch @introduceDomain 2 >"$BATS_TEST_TMPDIR/in" 3>&- &
	local in=$!
	"$XSCTL" watch @releaseDomain 2 >"$BATS_TEST_TMPDIR/out" 3>&- &
	local out=$!
	sleep 0.3
	"$XSCTL" introduce 7
	[ -S "$XENSTORED_PATH.d7" ]
	"$XSCTL" release 7
	wait_exit 10 "$in" "$out"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/in")" "$(printf '@introduceDomain xsctl\n@introduceDomain xsctl')"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$(printf '@releaseDomain xsctl\n@releaseDomain xsctl')"
	[ ! -e "$XENSTORED_PATH.d7" ]
}

@test "a guest may not introduce or release domains" {
	xenstore_add_domain 5 net-vm
	run "$XSCTL" --domain 5 introduce 9
	assert_failure 111
	assert_output --partial "Permission denied"
}
