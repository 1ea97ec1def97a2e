#!/usr/bin/env bash
# The whole test run, as README gives it: set-up, then every tier that exists
# (lint, unit and Bats on the static build, unit and Bats again under
# ASan+UBSan; lint does not depend on the build, so it runs once; then real
# Xen in QEMU), then one closing line "qmin: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 111
bash test/setup.sh || exit 111

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
passed=0 failed=0 skipped=0 broken=0

# tally LOG: adds a stage's gtest and Bats (TAP) results to the counts.
tally() {
	local p f s
	read -r p f s < <(awk '
		/^ok [0-9]+ .*# skip/ { s++; next }
		/^ok [0-9]+ / { p++; next }
		/^not ok [0-9]+ / { f++; next }
		/^\[  PASSED  \] [0-9]+ tests?\.$/ { p += $4 }
		/^\[  FAILED  \] [0-9]+ tests?, listed below:$/ { f += $4 }
		/^\[  SKIPPED \] [0-9]+ tests?, listed below:$/ { s += $4 }
		END { print p + 0, f + 0, s + 0 }' "$1")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# stage NAME CMD...: runs a stage with its output shown and kept for tally.
stage() {
	local name="$1"
	shift
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$log_dir/$name.log"
	local rc=${PIPESTATUS[0]}
	tally "$log_dir/$name.log"
	if [ "$rc" -ne 0 ]; then
		echo "=== $name: FAILED (exit $rc)"
		broken=$((broken + 1))
	fi
}

stage build make -j"$(nproc)" all
stage check make -j"$(nproc)" check
stage sanitize-build make -j"$(nproc)" SANITIZE=1 all build/asan/test/lib_test build/asan/test/xsctl build/asan/test/xenstored-fake
stage sanitize-unit make SANITIZE=1 unit
stage sanitize-bats make SANITIZE=1 bats
stage fuzz make fuzz
stage xen-check make xen-check

# A stage that failed without failing a test (a build or lint error) still fails the run.
[ "$broken" -gt 0 ] && [ "$failed" -eq 0 ] && failed=$broken
echo "qmin: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
