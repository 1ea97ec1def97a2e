#!/usr/bin/env bats
# make image: what it builds, that dom0.cpio.gz stays within its budget, and
# that two builds from the same inputs are the same byte for byte. The
# Debian packages come from apt-get download (cached); without them, skip.
# bats file_tags=static-build

load test_helper

setup_file() {
	export A="$BATS_FILE_TMPDIR/a" B="$BATS_FILE_TMPDIR/b"
	local status=0
	QMIN_IMAGE_OUT=$A bash "$QMIN_ROOT/image/build.sh" >"$BATS_FILE_TMPDIR/a.log" 2>&1 || status=$?
	echo "$status" >"$BATS_FILE_TMPDIR/a.status"
	# The second build, with a budget it cannot meet: it must fail, after
	# writing the same artefacts.
	status=0
	QMIN_IMAGE_OUT=$B QMIN_DOM0_BUDGET_KB=1000 bash "$QMIN_ROOT/image/build.sh" >"$BATS_FILE_TMPDIR/b.log" 2>&1 || status=$?
	echo "$status" >"$BATS_FILE_TMPDIR/b.status"
}

setup() {
	grep -q "downloading\|apt-get" "$BATS_FILE_TMPDIR/a.log" && [ ! -s "$A/dom0.cpio.gz" ] &&
		skip "the Debian packages could not be fetched: $(tail -n 1 "$BATS_FILE_TMPDIR/a.log")"
	true
}

@test "make image builds every artefact, says their sizes, and dom0 fits its 13 MB budget" {
	assert_equal "$(cat "$BATS_FILE_TMPDIR/a.status")" 0
	local file
	for file in xen.gz vmlinuz dom0.cpio.gz grub.cfg qmin.iso SHA256SUMS vm/vmlinuz vm/net-vm.cpio.gz \
		vm/sa-vm.cpio.gz vm/workload-vm.cpio.gz vm/SHA256SUMS; do
		[ -s "$A/$file" ] || fail "no $file"
	done
	run cat "$BATS_FILE_TMPDIR/a.log"
	assert_line --regexp '^image: dom0.cpio.gz +[0-9]+ bytes +[0-9]+ unpacked$'
	assert_line --regexp '^image: vm/workload-vm.cpio.gz +[0-9]+ bytes +[0-9]+ unpacked$'
	local kib=$(($(wc -c <"$A/dom0.cpio.gz") / 1024))
	[ "$kib" -le 13312 ] || fail "dom0.cpio.gz is $kib KiB"
	(cd "$A" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS does not match the artefacts"
}

@test "a dom0 image over its budget fails the build, saying so" {
	assert_equal "$(cat "$BATS_FILE_TMPDIR/b.status")" 1
	run cat "$BATS_FILE_TMPDIR/b.log"
	assert_line --regexp '^image: dom0.cpio.gz is [0-9]+ KiB, over its budget of 1000 KiB$'
}

@test "two builds from the same inputs give the same SHA-256 for every artefact" {
	[ -s "$B/SHA256SUMS" ] || fail "the second build wrote no SHA256SUMS"
	run diff "$A/SHA256SUMS" "$B/SHA256SUMS"
	assert_success
}

@test "dom0.cpio.gz is a root: init, console, Xen's tools, qmin's, OpenRC's runlevels, the pinned sums" {
	run bash -c "gzip -dc '$A/dom0.cpio.gz' | cpio -t --quiet"
	assert_success
	local path
	for path in init dev/console etc/inittab sbin/openrc-run sbin/supervise-daemon usr/sbin/xl \
		usr/lib/xen-4.17/bin/xenstored usr/sbin/qrx-broker usr/sbin/nic-handoff usr/sbin/xvm-start \
		usr/sbin/mkxendev etc/xen/scripts/vif-route etc/xen/xl.conf etc/runlevels/default/net-handoff \
		etc/runlevels/default/xvm etc/runlevels/default/qrx-broker etc/runlevels/boot/xenstored \
		etc/xvm/net-vm.cfg etc/qubes/policy.d/30-user.policy etc/xvm/SHA256SUMS; do
		assert_line "$path"
	done
	run bash -c "gzip -dc '$A/dom0.cpio.gz' | cpio -tv --quiet dev/console"
	assert_output --regexp '^crw'
	run bash -c "cd '$BATS_FILE_TMPDIR' && gzip -dc '$A/dom0.cpio.gz' | cpio -i --quiet --to-stdout etc/xvm/SHA256SUMS"
	assert_output "$(cat "$A/vm/SHA256SUMS")"
}

@test "grub.cfg boots Xen with dom0_mem capped (max:), then the RAM-only dom0" {
	run cat "$A/grub.cfg"
	assert_output --regexp 'multiboot2 /boot/xen.gz dom0_mem=[0-9]+M,max:[0-9]+M'
	assert_output --partial 'module2 /boot/dom0.cpio.gz'
	command -v grub-script-check >/dev/null || skip "no grub-script-check"
	grub-script-check "$A/grub.cfg"
}
