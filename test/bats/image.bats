#!/usr/bin/env bats
# make image: the production image of site/server.site (filled in for QEMU,
# test/fixtures/server-in-qemu.sh): what it builds, that dom0.cpio.gz stays
# within its budget, that nothing of the demo is in it, and that two builds
# from the same inputs are the same byte for byte. The Debian packages come
# from apt-get download (cached); without them, skip.
# bats file_tags=static-build

load test_helper

setup_file() {
	export A="$BATS_FILE_TMPDIR/a" B="$BATS_FILE_TMPDIR/b" SITE="$BATS_FILE_TMPDIR/server.site"
	bash "$QMIN_ROOT/test/fixtures/server-in-qemu.sh" "$SITE" secret
	local status=0
	QMIN_IMAGE_OUT=$A bash "$QMIN_ROOT/image/build.sh" --site "$SITE" >"$BATS_FILE_TMPDIR/a.log" 2>&1 || status=$?
	echo "$status" >"$BATS_FILE_TMPDIR/a.status"
	# The second build, with a budget it cannot meet: it must fail, after
	# writing the same artefacts.
	status=0
	QMIN_IMAGE_OUT=$B QMIN_DOM0_BUDGET_KB=1000 bash "$QMIN_ROOT/image/build.sh" --site "$SITE" \
		>"$BATS_FILE_TMPDIR/b.log" 2>&1 || status=$?
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
	for file in xen.gz vmlinuz dom0.cpio.gz dom0-and-vms.cpio grub.cfg qmin.iso SHA256SUMS MANIFEST vm/vmlinuz \
		vm/net-vm.cpio.gz vm/sa-vm.cpio.gz vm/workload-vm.cpio.gz vm/SHA256SUMS; do
		[ -s "$A/$file" ] || fail "no $file"
	done
	run cat "$BATS_FILE_TMPDIR/a.log"
	assert_line --regexp '^image: dom0.cpio.gz +[0-9]+ bytes +[0-9]+ unpacked$'
	assert_line --regexp '^image: dom0.cpio.gz: [0-9]+ KiB of its 13312 KiB budget$'
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

@test "grub.cfg boots Xen as the site says, then dom0 with the VM images in its boot module" {
	run cat "$A/grub.cfg"
	assert_output --partial 'multiboot2 /boot/xen.gz dom0_mem=1024M,max:1024M console=com1,vga com1=115200,8n1'
	assert_output --partial 'module2 /boot/vmlinuz console=hvc0 earlyprintk=xen xen-pciback.hide=(0000:00:04.0)'
	assert_output --partial 'module2 /boot/dom0-and-vms.cpio'
	command -v grub-script-check >/dev/null || skip "no grub-script-check"
	grub-script-check "$A/grub.cfg"
}

# members ARCHIVE: the paths in a boot module (gzip and plain cpio archives,
# one after the other, as Linux unpacks them).
members() {
	python3 - "$1" <<-'PY'
		import gzip, sys, zlib
		data = open(sys.argv[1], "rb").read()
		while data:
		    data = data.lstrip(b"\0")
		    if data[:2] == b"\x1f\x8b":
		        d = zlib.decompressobj(31)
		        body = d.decompress(data)
		        data = d.unused_data
		    else:
		        body, data = data, b""
		    while body[:6] == b"070701":
		        size, namesize = int(body[54:62], 16), int(body[94:102], 16)
		        name = body[110:110 + namesize - 1].decode()
		        start = (110 + namesize + 3) & ~3
		        if name == "TRAILER!!!":
		            body = body[(start + 3) & ~3:]
		            break
		        print(name)
		        body = body[(start + size + 3) & ~3:]
	PY
}

@test "the boot module is dom0's root, then the pinned VM images at /var/lib/xvm" {
	run members "$A/dom0-and-vms.cpio"
	assert_success
	assert_line init
	assert_line usr/sbin/nic-handoff
	local name
	for name in vmlinuz net-vm.cpio.gz sa-vm.cpio.gz workload-vm.cpio.gz; do
		assert_line "var/lib/xvm/$name"
	done
	cmp <(head -c "$(wc -c <"$A/dom0.cpio.gz")" "$A/dom0-and-vms.cpio") "$A/dom0.cpio.gz"
}

@test "dom0's image has the manual: man qmin, and a page per tool, readable without a formatter" {
	run bash -c "gzip -dc '$A/dom0.cpio.gz' | cpio -t --quiet"
	assert_line usr/bin/man
	local page
	for page in cat7/qmin.7 cat5/qmin-site.5 cat5/xvm.cfg.5 cat8/nic-handoff.8 cat1/qrx-call.1; do
		assert_line "usr/share/man/$page"
	done
	run bash -c "cd '$BATS_FILE_TMPDIR' && gzip -dc '$A/dom0.cpio.gz' | cpio -i --quiet --to-stdout usr/share/man/cat7/qmin.7"
	assert_output --partial "qmin - Qubes-style isolation on a bare Xen host"
	[[ $output != *$'\b'* ]] || fail "overstrikes left in the page"
	requires root # the root's dev/console
	local root="$BATS_TEST_TMPDIR/root"
	mkdir "$root" && (cd "$root" && gzip -dc "$A/dom0.cpio.gz" | cpio -i --quiet --make-directories)
	run chroot "$root" /usr/bin/man qmin
	assert_success
	assert_output --partial "which tool does what"
	run chroot "$root" /usr/bin/man 8 nic-handoff
	assert_output --partial "NIC"
	run chroot "$root" /usr/bin/man no-such-page
	assert_failure 1
	assert_output --regexp "^man: no page no-such-page; there are:.* qmin.7"
}

@test "nothing of the demo is in the production image, root has the site's password, and no VM gets a shell in net-vm" {
	run bash -c "gzip -dc '$A/dom0.cpio.gz' | cpio -t --quiet"
	refute_line usr/sbin/qmin-check
	refute_line usr/sbin/qmin-trials
	refute_line usr/lib/qmin/checks.sh
	run bash -c "cd '$BATS_FILE_TMPDIR' && gzip -dc '$A/dom0.cpio.gz' | cpio -i --quiet --to-stdout etc/shadow"
	assert_output "root:$(sed -n 's/^ROOT_PASSWORD_HASH=//p' "$SITE"):0:0:99999:7:::"
	run bash -c "cd '$BATS_FILE_TMPDIR' && gzip -dc '$A/dom0.cpio.gz' | cpio -i --quiet --to-stdout 'etc/qubes/policy.d/*'"
	refute_output --regexp 'qubes.VMShell.*allow'
}

@test "dom0 and net-vm carry the drivers of the NICs servers have, and the image says what it was built from" {
	local root
	for root in dom0.cpio.gz vm/net-vm.cpio.gz; do
		run bash -c "gzip -dc '$A/$root' | cpio -t --quiet | grep -o '[^/]*\.ko$'"
		local module
		for module in e1000 e1000e igb igc ixgbe i40e ice tg3 bnxt_en bnx2x mlx4_en mlx5_core r8169 virtio_net; do
			assert_line "$module.ko"
		done
	done
	# The manifest: every package at the version apt has as its candidate today.
	run cat "$A/MANIFEST"
	assert_line --regexp '^xen-hypervisor-4.17-amd64 [^ ]+ [0-9a-f]{64}$'
	local package version sum
	while read -r package version sum; do
		[ "$(apt-cache policy "$package" | sed -n 's/^ *Candidate: //p')" = "$version" ] || fail "$package $version is not apt's candidate"
	done <"$A/MANIFEST"
	run bash -c "cd '$BATS_FILE_TMPDIR' && gzip -dc '$A/dom0.cpio.gz' | cpio -i --quiet --to-stdout etc/qmin/MANIFEST"
	assert_output "$(cat "$A/MANIFEST")"
}

@test "a cached .deb that differs from apt's signed index is fetched again, and a download that differs is refused" {
	# shellcheck source=image/lib.sh
	. "$QMIN_ROOT/image/lib.sh"
	local cache="$BATS_TEST_TMPDIR/cache" fake="$BATS_TEST_TMPDIR/bin" package version sum file
	read -r package version sum file < <(candidate busybox-static)
	mkdir -p "$cache" "$fake"
	echo tampered >"$cache/$file"
	# apt-get download: the genuine .deb from the image's cache.
	printf '#!/bin/sh\ncp "%s" "./%s"\n' "${QMIN_XEN_CACHE:-/var/cache/qmin/xen-debs}/$file" "$file" >"$fake/apt-get"
	chmod +x "$fake/apt-get"
	PATH="$fake:$PATH" run fetch_verified "$cache" "$package" "$version" "$sum" "$file"
	assert_success
	assert_output --partial "downloading busybox-static $version"
	assert_equal "$(sha256sum <"$cache/$file" | cut -d ' ' -f 1)" "$sum"
	# A mirror that serves other bytes than the index names.
	printf '#!/bin/sh\necho forged >"./%s"\n' "$file" >"$fake/apt-get"
	rm "$cache/$file"
	PATH="$fake:$PATH" run fetch_verified "$cache" "$package" "$version" "$sum" "$file"
	assert_failure
	assert_output --partial "does not have the SHA-256 of apt's signed index ($sum): refused"
	[ ! -e "$cache/$file" ] || fail "the forged .deb was kept"
}
