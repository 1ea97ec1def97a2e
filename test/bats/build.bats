#!/usr/bin/env bats
# What the build and `make install` deliver.
# bats file_tags=build, static-build

load test_helper

@test "every tool under cmd/ has a man page and Bats tests" {
	local dir tool
	for dir in "$QMIN_ROOT"/cmd/*/; do
		[ -f "$dir/main.cc" ] || continue # cmd/qrx: the qrx tools' shared engine
		tool=$(basename "$dir")
		compgen -G "$QMIN_ROOT/man/$tool.[0-9]" >/dev/null || fail "$tool has no man page"
		[ -f "$QMIN_ROOT/test/bats/$tool.bats" ] || fail "$tool has no Bats tests"
	done
}

@test "every production binary is statically linked" {
	local bin
	for bin in "$QMIN_BIN"/* "$QMIN_SIM_BIN"/*; do
		run file "$bin"
		assert_output --partial "statically linked"
	done
}

@test "every production binary is under 1 MiB stripped, scanf and wide printf left out" {
	# An empty static C program is 0.65 MiB of glibc here. Xen's archives
	# would add glibc's scanf engine and wide-character printf (~0.15 MiB);
	# toolchain/slim_runtime.cc answers those calls instead (issue 17).
	local bin size
	for bin in "$QMIN_BIN"/*; do
		strip -o "$BATS_TEST_TMPDIR/stripped" "$bin"
		size=$(stat -c %s "$BATS_TEST_TMPDIR/stripped")
		[ "$size" -lt 1048576 ] || fail "$(basename "$bin") is $size bytes stripped (limit 1 MiB)"
		run nm "$bin"
		refute_output --partial "__vfscanf_internal"
		refute_output --partial "__vfwprintf_internal"
	done
}

@test "make install puts binaries, man pages, init scripts and examples in place" {
	local dest="$BATS_TEST_TMPDIR/dest"
	run_logged make -s -C "$QMIN_ROOT" install DESTDIR="$dest" PREFIX=/usr
	assert_success
	[ -x "$dest/usr/sbin/mkxendev" ]
	[ -f "$dest/usr/share/man/man8/mkxendev.8" ]
	[ -f "$dest/usr/share/man/man5/qrx-policy.5" ]
	[ -x "$dest/etc/xen/scripts/vif-route" ]
	[ ! -e "$dest/usr/sbin/vif-route" ]
	[ -x "$dest/etc/init.d/mkxendev" ]
	[ -f "$dest/usr/share/qmin/examples/conf.d/mkxendev" ]
	run grep "^mkxendev=" "$dest/etc/init.d/mkxendev"
	assert_output 'mkxendev="/usr/sbin/mkxendev"'
	run "$dest/usr/sbin/mkxendev" --version
	assert_success
}
