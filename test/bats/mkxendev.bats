#!/usr/bin/env bats
# mkxendev on fixture /proc and /sys trees and a temporary root.
# bats file_tags=tool:mkxendev
# Scripts passed to `sh -c` are single-quoted on purpose; Bats sets $stderr.
# shellcheck disable=SC2016,SC2154

load test_helper

setup() {
	PROC="$BATS_TEST_TMPDIR/proc"
	SYS="$BATS_TEST_TMPDIR/sys"
	ROOT="$BATS_TEST_TMPDIR/root"
	mkdir -p "$PROC" "$SYS/class/tty/hvc0" "$ROOT/dev"
	cp "$FIXTURES/mkxendev/misc" "$PROC/misc"
	printf '229:0\n' >"$SYS/class/tty/hvc0/dev"
	# Both file systems already mounted: most tests are about nodes.
	printf 'xenfs %s xenfs rw 0 0\ndevpts %s devpts rw 0 0\n' "$PROC/xen" "$ROOT/dev/pts" >"$PROC/mounts"
}

mkx() {
	run_logged "$MKXENDEV" --root "$ROOT" --proc "$PROC" --sys "$SYS" "$@"
}

# node PATH: "character special file MAJOR:MINOR MODE"
node() {
	stat -c '%F %Hr:%Lr %a' "$1"
}

# nothing_made: the temporary root has nothing but what the test put there.
nothing_made() {
	run find "$ROOT/dev" -mindepth 1
	assert_output ""
}

@test "-h prints usage on stdout and exits 0; every option is in the man page" {
	run --separate-stderr "$MKXENDEV" -h
	assert_success
	assert_line --index 0 --partial "usage: mkxendev [-hnv]"
	assert_equal "$stderr" ""
	local option
	while IFS= read -r option; do
		grep -q -- "Fl Fl ${option#--}" "$QMIN_ROOT/man/mkxendev.8" || fail "$option is not in man/mkxendev.8"
	done < <(grep -oE -- '--[a-z-]+' <<<"$output" | sort -u)
}

@test "--version names the tool, and only tools with a vchan name its transport" {
	run "$MKXENDEV" --version
	assert_success
	assert_output --regexp '^mkxendev \(qmin\) [0-9.]+$'
	run "$QMIN_BIN/qrx-agent" --version
	assert_output --regexp '^qrx-agent \(qmin\) [0-9.]+, vchan transport xen$'
	run "$QMIN_SIM_BIN/qrx-agent" --version
	assert_output --partial "vchan transport socket"
}

# bats test_tags=static-build
@test "the production binary is statically linked and under 1 MiB stripped" {
	run file "$MKXENDEV"
	assert_output --partial "statically linked"
	strip -o "$BATS_TEST_TMPDIR/stripped" "$MKXENDEV"
	local size
	size=$(stat -c %s "$BATS_TEST_TMPDIR/stripped")
	[ "$size" -lt 1048576 ] || fail "stripped size $size is not under 1 MiB"
}

@test "a usage error says so in one line shape and exits 100" {
	run --separate-stderr "$MKXENDEV" --frobnicate
	assert_failure 100
	assert_equal "$(head -n 1 <<<"$stderr")" "mkxendev: usage: unknown option --frobnicate"
	run --separate-stderr "$MKXENDEV" --wait soon
	assert_failure 100
	assert_equal "$(head -n 1 <<<"$stderr")" "mkxendev: usage: --wait needs 0 to 3600 seconds"
	run "$MKXENDEV" extra
	assert_failure 100
}

@test "-n prints the plan and changes nothing" {
	mkx -n
	assert_success
	assert_output - <<-PLAN
		mkdir $ROOT/dev/xen
		mknod $ROOT/dev/xen/hypercall c 10 118
		mknod $ROOT/dev/xen/privcmd c 10 119
		mknod $ROOT/dev/xen/gntalloc c 10 120
		mknod $ROOT/dev/xen/gntdev c 10 121
		mknod $ROOT/dev/xen/evtchn c 10 122
		mknod $ROOT/dev/xen/xenbus_backend c 10 124
		mknod $ROOT/dev/xen/xenbus c 10 125
		mknod $ROOT/dev/hvc0 c 229 0
		mknod $ROOT/dev/ptmx c 5 2
	PLAN
	nothing_made
}

@test "-n shows the mounts that are missing, and --no-mount leaves them out" {
	: >"$PROC/mounts"
	mkx -n
	assert_success
	assert_line --index 0 "mount xenfs on $PROC/xen"
	assert_line --index 1 "mount devpts on $ROOT/dev/pts"
	mkx -n --no-mount
	refute_output --partial "mount "
}

@test "creates a char 10:minor node, mode 0600, for each xen/* entry and nothing else" {
	requires root
	mkx
	assert_success
	assert_output ""
	assert_equal "$(node "$ROOT/dev/xen/evtchn")" "character special file 10:122 600"
	assert_equal "$(node "$ROOT/dev/xen/gntdev")" "character special file 10:121 600"
	assert_equal "$(node "$ROOT/dev/xen/gntalloc")" "character special file 10:120 600"
	assert_equal "$(node "$ROOT/dev/xen/privcmd")" "character special file 10:119 600"
	assert_equal "$(node "$ROOT/dev/xen/hypercall")" "character special file 10:118 600"
	assert_equal "$(node "$ROOT/dev/xen/xenbus")" "character special file 10:125 600"
	assert_equal "$(node "$ROOT/dev/xen/xenbus_backend")" "character special file 10:124 600"
	assert_equal "$(stat -c '%F %a' "$ROOT/dev/xen")" "directory 755"
	run ls -A "$ROOT/dev/xen"
	assert_equal "${#lines[@]}" 7
	run ls -A "$ROOT/dev"
	assert_output - <<-LIST
		hvc0
		ptmx
		xen
	LIST
}

@test "creates /dev/hvc0 from /sys/class/tty/hvc0/dev and /dev/ptmx" {
	requires root
	printf '204:7\n' >"$SYS/class/tty/hvc0/dev"
	mkx
	assert_success
	assert_equal "$(node "$ROOT/dev/hvc0")" "character special file 204:7 600"
	assert_equal "$(node "$ROOT/dev/ptmx")" "character special file 5:2 666"
}

@test "the mode does not depend on the umask" {
	requires root
	(umask 077 && "$MKXENDEV" --root "$ROOT" --proc "$PROC" --sys "$SYS")
	assert_equal "$(node "$ROOT/dev/ptmx")" "character special file 5:2 666"
}

@test "-v reports each step on stderr" {
	requires root
	run --separate-stderr "$MKXENDEV" -v --root "$ROOT" --proc "$PROC" --sys "$SYS"
	assert_success
	assert_equal "$output" ""
	grep -qx "mkxendev: info: mknod $ROOT/dev/xen/evtchn c 10 122" <<<"$stderr" || fail "$stderr"
}

@test "a second run keeps correct nodes as they are" {
	requires root
	mkx
	chmod 0640 "$ROOT/dev/xen/evtchn"
	local before
	before=$(stat -c '%i %a' "$ROOT/dev/xen/evtchn")
	mkx -n
	assert_line "keep $ROOT/dev/xen/evtchn c 10 122"
	mkx
	assert_success
	assert_equal "$(stat -c '%i %a' "$ROOT/dev/xen/evtchn")" "$before"
}

@test "nodes with wrong numbers, and block devices, are replaced" {
	requires root
	mkdir "$ROOT/dev/xen"
	mknod "$ROOT/dev/xen/evtchn" c 10 99
	mknod "$ROOT/dev/xen/gntdev" b 10 121
	mkx -n
	assert_line "replace $ROOT/dev/xen/evtchn c 10 122 (was c 10:99)"
	assert_line "replace $ROOT/dev/xen/gntdev c 10 121 (was b 10:121)"
	mkx
	assert_success
	assert_equal "$(node "$ROOT/dev/xen/evtchn")" "character special file 10:122 600"
	assert_equal "$(node "$ROOT/dev/xen/gntdev")" "character special file 10:121 600"
	run find "$ROOT/dev" -name '.mkxendev.*'
	assert_output ""
}

@test "minors are read every run: a changed /proc/misc moves the node" {
	requires root
	mkx
	sed -i 's/^122 xen\/evtchn$/123 xen\/evtchn/' "$PROC/misc"
	mkx
	assert_success
	assert_equal "$(node "$ROOT/dev/xen/evtchn")" "character special file 10:123 600"
}

@test "a regular file where a node should be: exit 100, named, nothing made" {
	mkdir "$ROOT/dev/xen"
	echo data >"$ROOT/dev/xen/gntdev"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to create $ROOT/dev/xen/gntdev: a regular file is in the way"
	assert_equal "$(cat "$ROOT/dev/xen/gntdev")" data
	run ls -A "$ROOT/dev/xen"
	assert_output gntdev
	[ ! -e "$ROOT/dev/hvc0" ]
}

@test "a directory or a symlink where a node should be: exit 100, nothing made" {
	mkdir -p "$ROOT/dev/hvc0"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to create $ROOT/dev/hvc0: a directory is in the way"
	rmdir "$ROOT/dev/hvc0"
	ln -s /dev/null "$ROOT/dev/ptmx"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to create $ROOT/dev/ptmx: a symbolic link is in the way"
	[ ! -e "$ROOT/dev/xen" ]
}

@test "a file where /dev/xen should be: exit 100" {
	touch "$ROOT/dev/xen"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to create $ROOT/dev/xen: something else is in the way"
}

@test "a malformed /proc/misc line: exit 100, the line named, nothing made" {
	local bad
	for bad in '122' 'abc xen/evtchn' '-1 xen/evtchn' '122 ' '9999999 xen/evtchn' '122 xen/evt chn' '0122 xen/evtchn'; do
		cp "$FIXTURES/mkxendev/misc" "$PROC/misc"
		printf '%s\n' "$bad" >>"$PROC/misc"
		mkx
		assert_failure 100
		assert_output --regexp "^mkxendev: fatal: unable to parse $PROC/misc line 11: "
		nothing_made
	done
}

@test "control characters in /proc/misc are quoted, never echoed raw" {
	printf '12\033[2J xen/evtchn\n' >"$PROC/misc"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to parse $PROC/misc line 1: bad minor number in \"12\\x1b[2J xen/evtchn\""
}

@test "a xen/ name that is not a safe file name: exit 100, nothing made" {
	local bad
	for bad in 'xen/../../etc/passwd' 'xen/' 'xen/a/b' 'xen/..'; do
		printf '130 %s\n' "$bad" >"$PROC/misc"
		mkx
		assert_failure 100
		assert_output --partial "unsafe device name"
		nothing_made
	done
}

@test "a duplicate xen/ entry: exit 100" {
	printf '122 xen/evtchn\n123 xen/evtchn\n' >"$PROC/misc"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to parse $PROC/misc: device \"xen/evtchn\" listed twice"
}

@test "a missing /sys/class/tty/hvc0/dev: exit 111, named, nothing made" {
	rm "$SYS/class/tty/hvc0/dev"
	mkx
	assert_failure 111
	assert_output "mkxendev: fatal: unable to read $SYS/class/tty/hvc0/dev: No such file or directory"
	nothing_made
}

@test "a malformed /sys/class/tty/hvc0/dev: exit 100, nothing made" {
	printf '229\n' >"$SYS/class/tty/hvc0/dev"
	mkx
	assert_failure 100
	assert_output "mkxendev: fatal: unable to parse $SYS/class/tty/hvc0/dev: expected \"MAJOR:MINOR\", got \"229\\x0a\""
	nothing_made
}

@test "a missing /proc/misc: exit 111" {
	rm "$PROC/misc"
	mkx
	assert_failure 111
	assert_output "mkxendev: fatal: unable to read $PROC/misc: No such file or directory"
}

@test "a missing target directory: exit 111, named" {
	rmdir "$ROOT/dev"
	mkx
	assert_failure 111
	assert_output "mkxendev: fatal: unable to create nodes in $ROOT/dev: No such file or directory"
}

@test "a read-only target directory: exit 111, named, nothing made" {
	requires root
	run_logged unshare -m --propagation private sh -c \
		'mount -t tmpfs -o ro tmpfs "$1/dev" && "$2" --root "$1" --proc "$3" --sys "$4"' \
		sh "$ROOT" "$MKXENDEV" "$PROC" "$SYS"
	assert_failure 111
	assert_output "mkxendev: fatal: unable to create nodes in $ROOT/dev: Read-only file system"
}

@test "on a bare tmpfs /dev the nodes are made" {
	requires root
	run_logged unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs "$1/dev" && "$2" --root "$1" --proc "$3" --sys "$4" && stat -c "%n %F %Hr:%Lr" "$1/dev/xen/evtchn" "$1/dev/hvc0"' \
		sh "$ROOT" "$MKXENDEV" "$PROC" "$SYS"
	assert_success
	assert_output - <<-OUT
		$ROOT/dev/xen/evtchn character special file 10:122
		$ROOT/dev/hvc0 character special file 229:0
	OUT
}

@test "devpts is mounted on /dev/pts where missing" {
	requires root
	printf 'xenfs %s xenfs rw 0 0\n' "$PROC/xen" >"$PROC/mounts"
	run_logged unshare -m --propagation private sh -c \
		'"$2" --root "$1" --proc "$3" --sys "$4" && grep " $1/dev/pts devpts " /proc/self/mounts' \
		sh "$ROOT" "$MKXENDEV" "$PROC" "$SYS"
	assert_success
	assert_output --partial "nosuid,noexec"
	assert_output --partial "gid=5,mode=620,ptmxmode=666"
}

@test "xenfs that cannot be mounted: exit 111, named, no node made" {
	requires root
	grep -qw xenfs /proc/filesystems && skip "this kernel has xenfs; the failure path needs one without"
	: >"$PROC/mounts"
	mkdir -p "$PROC/xen"
	run_logged unshare -m --propagation private "$MKXENDEV" --root "$ROOT" --proc "$PROC" --sys "$SYS"
	assert_failure 111
	assert_output "mkxendev: fatal: unable to mount xenfs on $PROC/xen: No such device"
	[ ! -e "$ROOT/dev/xen" ]
}

@test "--wait waits for a late module, then makes its node" {
	requires root
	grep -v privcmd "$FIXTURES/mkxendev/misc" >"$PROC/misc"
	(sleep 1 && cp "$FIXTURES/mkxendev/misc" "$PROC/misc.new" && mv "$PROC/misc.new" "$PROC/misc") 3>&- &
	mkx --wait 10
	assert_success
	assert_equal "$(node "$ROOT/dev/xen/privcmd")" "character special file 10:119 600"
}

@test "--wait running out: the nodes that exist are made, exit 111 names the absent" {
	requires root
	grep -v -e privcmd -e gntdev "$FIXTURES/mkxendev/misc" >"$PROC/misc"
	# A wait that never ended would be cut off by timeout (exit 124).
	run_logged timeout 30 "$MKXENDEV" --root "$ROOT" --proc "$PROC" --sys "$SYS" --wait 1
	assert_failure 111
	assert_output "mkxendev: fatal: unable to find xen/gntdev, xen/privcmd in $PROC/misc: not there after 1 s"
	[ -c "$ROOT/dev/xen/evtchn" ]
}

@test "without --wait, absent devices are not an error" {
	requires root
	grep -v privcmd "$FIXTURES/mkxendev/misc" >"$PROC/misc"
	mkx
	assert_success
	[ ! -e "$ROOT/dev/xen/privcmd" ]
}

@test "the EXAMPLES of mkxendev(8) run as written" {
	requires root
	run man_examples "$QMIN_ROOT/man/mkxendev.8"
	assert_equal "${#lines[@]}" 3
	# A private mount namespace in which /proc/misc, /sys/class/tty and /dev
	# are fixtures, so the examples run verbatim on a host without Xen.
	mkdir -p "$BATS_TEST_TMPDIR/tty/hvc0"
	printf '229:0\n' >"$BATS_TEST_TMPDIR/tty/hvc0/dev"
	local example
	while IFS= read -r example; do
		run_logged unshare -m --propagation private env PATH="$QMIN_BIN:$PATH" sh -c '
			mount --bind "$1/mkxendev/misc" /proc/misc &&
			mount --bind "$2/tty" /sys/class/tty &&
			mount -t tmpfs tmpfs /dev && mount -t tmpfs tmpfs /mnt && mkdir -p /mnt/image/dev &&
			eval "$3" && echo "made $(find /dev /mnt/image/dev -name evtchn | wc -l)"' \
			sh "$FIXTURES" "$BATS_TEST_TMPDIR" "$example"
		assert_success
		case "$example" in
		*" -n" | *" -n "*)
			assert_line "mknod /dev/xen/evtchn c 10 122"
			assert_line "made 0"
			;;
		*) assert_line "made 1" ;;
		esac
	done < <(man_examples "$QMIN_ROOT/man/mkxendev.8")
}
