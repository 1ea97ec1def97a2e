#!/usr/bin/env bats
# demo/run.sh's own housekeeping, with QEMU and the image's busybox played by
# doubles: however the demo ends, nothing it started is left running.
# shellcheck disable=SC2016 # the doubles' scripts are single-quoted on purpose

load test_helper

setup() {
	FAKE="$BATS_TEST_TMPDIR/fake"
	IMAGE="$BATS_TEST_TMPDIR/image"
	mkdir -p "$FAKE" "$IMAGE/tree/bin" "$IMAGE/vm"
	echo xen | gzip >"$IMAGE/xen.gz"
	echo dom0 >"$IMAGE/dom0.cpio.gz"
	# QEMU: the bare boot comes up at once; the demo's boot opens its console
	# pipes and then never ends by itself.
	cat >"$FAKE/qemu" <<-'QEMU'
		#!/bin/bash
		case "$*" in *bare.cpio.gz*) echo QMIN-BARE-UP && exit 0 ;; esac
		path=$(printf '%s\n' "$@" | sed -n 's/^pipe,id=con,path=//p')
		echo $$ >"$FAKE/qemu.pid"
		exec sleep 300 <"$path.in" >"$path.out"
	QEMU
	# busybox: httpd is the build server; --list-full makes the bare boot's root.
	cat >"$IMAGE/tree/bin/busybox" <<-'BUSYBOX'
		#!/bin/sh
		[ "$1" = --list-full ] && echo bin/sh && exit 0
		echo $$ >"$FAKE/httpd.pid"
		exec sleep 300
	BUSYBOX
	chmod +x "$FAKE/qemu" "$IMAGE/tree/bin/busybox"
	export FAKE
}

teardown() {
	[ -n "${DEMO:-}" ] && kill -9 -- "-$DEMO" 2>/dev/null
	true
}

@test "demo/run.sh interrupted: QEMU and the HTTP server end with it" {
	requires root # mknod in the bare boot's root
	# A job started with & ignores SIGINT, as a shell without job control
	# makes it; perl (Debian's essential perl-base) gives Ctrl-C back to it.
	setsid perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' env QMIN_QEMU="$FAKE/qemu" \
		QMIN_IMAGE_OUT="$IMAGE" QMIN_DEMO_WORK="$BATS_TEST_TMPDIR/work" \
		bash "$QMIN_ROOT/demo/run.sh" --check >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	DEMO=$!
	wait_until 30 test -s "$FAKE/qemu.pid"
	wait_until 30 test -s "$FAKE/httpd.pid"
	local qemu httpd
	qemu=$(cat "$FAKE/qemu.pid")
	httpd=$(cat "$FAKE/httpd.pid")
	kill -INT -- "-$DEMO" # Ctrl-C: the whole process group
	local status=0
	wait_exit 30 "$DEMO" || status=$?
	assert_equal "$status" 130
	grep -q "demo: interrupted" "$BATS_TEST_TMPDIR/out" || fail "$(cat "$BATS_TEST_TMPDIR/out")"
	wait_until 10 eval "! kill -0 $qemu 2>/dev/null"
	wait_until 10 eval "! kill -0 $httpd 2>/dev/null"
}
