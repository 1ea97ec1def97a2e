#!/usr/bin/env bats
# The real-Xen harness itself: a failing scenario and a hung boot must fail
# the run, readably. Runs after run.sh in `make xen-check`, on its cache.
# bats file_tags=harness:xen

load ../bats/test_helper

setup() {
	SCENARIOS="$BATS_TEST_TMPDIR/scenarios"
	mkdir -p "$SCENARIOS"
}

@test "a failing scenario fails the run with its reason and its output" {
	printf '%s\n' 'echo "evidence from inside dom0"' 'exit 4' >"$SCENARIOS/fails.sh"
	run_logged bash "$QMIN_ROOT/test/xen/run.sh" --scenarios "$SCENARIOS" --boot pv
	assert_failure 1
	assert_line --regexp '^not ok 4 - fails \(after [0-9.]+ s: exit 4\)$'
	assert_line "#   QMIN-LOG fails: evidence from inside dom0"
	assert_line "xen-check: 3 passed, 1 failed"
}

@test "a hung boot is killed at its time limit and reported with the console tail" {
	printf '%s\n' 'echo never' >"$SCENARIOS/never.sh"
	local start=$SECONDS
	QMIN_XEN_BOOT_TIMEOUT=3 run_logged bash "$QMIN_ROOT/test/xen/run.sh" --scenarios "$SCENARIOS" --boot pv
	assert_failure 1
	assert_line --regexp '^not ok 1 - boot-pv \([0-9.]+ s: timed out after 3 s; console log tail follows\)$'
	assert_line --regexp '^#   \[ *[0-9.]+\] '
	assert_line "not ok 4 - never (no result: the boot ended before it)"
	assert_line "xen-check: 0 passed, 4 failed"
	[ $((SECONDS - start)) -lt 60 ] || fail "took $((SECONDS - start)) s"
}
