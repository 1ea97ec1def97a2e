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

@test "every production binary is a stripped musl binary under 512 KiB, without the demangler" {
	# Zig's libc++abi names an uncaught exception's type through its
	# demangler (~120 KB a binary, with the string "std::allocator" among its
	# tables); toolchain/slim_runtime.cc's terminate handler leaves it out.
	local bin size
	for bin in "$QMIN_BIN"/*; do
		run file "$bin"
		assert_output --partial "stripped"
		refute_output --partial "not stripped"
		size=$(stat -c %s "$bin")
		[ "$size" -lt 524288 ] || fail "$(basename "$bin") is $size bytes (limit 512 KiB)"
		! grep -aq "std::allocator" "$bin" || fail "$(basename "$bin") carries the demangler"
		# musl's own words, which glibc does not have.
		grep -aq "Symbolic link loop" "$bin" || fail "$(basename "$bin") is not linked against musl"
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

@test "make install on an Alpine dom0 keeps Alpine's Xen services, conf.d and xl.conf, and says what to merge" {
	local dest="$BATS_TEST_TMPDIR/alpine"
	mkdir -p "$dest/etc/init.d" "$dest/etc/conf.d" "$dest/etc/xen"
	local service
	for service in xenstored xenconsoled xendriverdomain; do
		printf '#!/sbin/openrc-run\n# Alpine xen package: %s\n' "$service" >"$dest/etc/init.d/$service"
	done
	echo 'NIC="enp3s0"' >"$dest/etc/conf.d/net-handoff"
	printf 'autoballoon="off"\n' >"$dest/etc/xen/xl.conf"
	run make -s -C "$QMIN_ROOT" install DESTDIR="$dest"
	assert_success
	for service in xenstored xenconsoled xendriverdomain; do
		assert_line "install: kept the system's /etc/init.d/$service (qmin's is in /usr/share/qmin/examples/init.d)"
		grep -q "Alpine xen package" "$dest/etc/init.d/$service" || fail "$service was overwritten"
		[ -x "$dest/usr/share/qmin/examples/init.d/$service" ] || fail "no example $service"
	done
	assert_line "install: kept /etc/conf.d/net-handoff"
	assert_equal "$(cat "$dest/etc/conf.d/net-handoff")" 'NIC="enp3s0"'
	[ -f "$dest/etc/conf.d/qrx-broker" ] || fail "the missing conf.d files were not installed"
	assert_line "install: merge these lines into /etc/xen/xl.conf (vif-route as every vif's script):"
	assert_line '    vif.default.script="vif-route"'
	refute_line '    autoballoon="off"'
	assert_equal "$(cat "$dest/etc/xen/xl.conf")" 'autoballoon="off"'
	[ -f "$dest/usr/share/man/man5/qmin-site.5" ] || fail "no qmin-site(5)"
	[ -f "$dest/usr/share/man/man7/qmin.7" ] || fail "no qmin(7)"
	[ -f "$dest/usr/share/qmin/examples/site/server.site" ] || fail "no example site file"
	# Installed again, qmin's own scripts are updated, not kept.
	run make -s -C "$QMIN_ROOT" install DESTDIR="$BATS_TEST_TMPDIR/fresh"
	run make -s -C "$QMIN_ROOT" install DESTDIR="$BATS_TEST_TMPDIR/fresh"
	refute_output --partial "kept the system's"
}
