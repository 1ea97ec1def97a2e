#!/usr/bin/env bats
# qmin's OpenRC scripts run under Debian's OpenRC (the image's), in a chroot
# with its own PID, mount and UTS namespaces. The qmin tools are the real
# static binaries where the chroot can run them (qrx-broker on the xenstored
# double); Xen's daemons, mkxendev (it needs Xen's devices), nic-handoff and
# xvm-start are stubs that log what they were asked.
# bats file_tags=static-build

load test_helper

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	export OPENRC_TREE="$QMIN_ROOT/build/openrc-tree"
	# shellcheck source=image/lib.sh
	# shellcheck disable=SC2046 # a list of package names
	(unpacked=$OPENRC_TREE && . "$QMIN_ROOT/image/lib.sh" &&
		fetch_and_unpack "${QMIN_XEN_CACHE:-/var/cache/qmin/xen-debs}" "$OPENRC_TREE" $(openrc_packages)) >&2 ||
		echo "cannot fetch Debian's openrc" >"$BATS_FILE_TMPDIR/no-openrc"
}

setup() {
	requires root
	[ -e "$BATS_FILE_TMPDIR/no-openrc" ] && skip "$(cat "$BATS_FILE_TMPDIR/no-openrc") (apt-get download)"
	command -v unshare >/dev/null || skip "test requires unshare (util-linux)"
	ROOT="$BATS_TEST_TMPDIR/root"
	make_root
}

# Stub bodies are shell code for the chroot: expanded there, not here.
# shellcheck disable=SC2016
stub() { # stub NAME BODY: a logging shell script at /usr/sbin/NAME in the chroot
	printf '#!/bin/sh\necho "$(cat /proc/uptime | cut -d " " -f 1) %s $*" >>/var/log/stubs.log\n%s\n' "$1" "$2" >"$ROOT/usr/sbin/$1"
	chmod 755 "$ROOT/usr/sbin/$1"
}

make_root() {
	local unpacked=$OPENRC_TREE script
	# shellcheck source=image/lib.sh
	. "$QMIN_ROOT/image/lib.sh"
	new_root "$ROOT" >/dev/null
	# What devtmpfs gives dom0 and daemons need (syslogd's standard input).
	mknod -m 666 "$ROOT/dev/null" c 1 3
	mknod -m 666 "$ROOT/dev/zero" c 1 5
	add_openrc "$ROOT"
	cp "$QMIN_ROOT"/image/init.d/* "$ROOT/etc/init.d/"
	cp "$QMIN_ROOT/image/rootfs/etc/"{passwd,group} "$ROOT/etc/"
	echo dom0 >"$ROOT/etc/hostname"
	: >"$ROOT/etc/modules"
	for script in mkxendev xenstored xenconsoled net-handoff qrx-broker xvm qrx-agent xendriverdomain vm-network; do
		add_init_script "$ROOT" "$script" "$QMIN_ROOT"
	done
	enable "$ROOT" sysinit modules mkxendev
	enable "$ROOT" boot hostname syslog xenstored xenconsoled
	enable "$ROOT" default net-handoff qrx-broker xvm
	cp "$QMIN_BIN/qrx-broker" "$XENSTORED_FAKE" "$XSCTL" "$ROOT/usr/sbin/"
	mkdir -p "$ROOT/etc/xvm" "$ROOT/etc/qubes/policy.d" "$ROOT/srv" "$ROOT/var/lib/xvm"
	cp "$QMIN_ROOT"/etc/policy.d/*.policy "$ROOT/etc/qubes/policy.d/"
	cp "$QMIN_ROOT"/etc/conf.d/* "$ROOT/etc/conf.d/"
	# The demo's net-handoff settings and VM definitions, as make image derives them.
	bash "$QMIN_ROOT/image/site.sh" derive "$QMIN_ROOT/site/demo.site" "$ROOT"
	printf 'export XENSTORED_PATH=/run/xs.sock\n' >"$ROOT/etc/conf.d/xenstored"
	printf 'export XENSTORED_PATH=/run/xs.sock\nQRX_BROKER_OPTS="-v --policy-dir /etc/qubes/policy.d --xvm-start /usr/sbin/xvm-start"\n' \
		>"$ROOT/etc/conf.d/qrx-broker"
	# The images dom0 fetches, and their pinned sums.
	printf 'net-vm image\n' >"$ROOT/srv/net-vm.cpio.gz"
	printf 'kernel\n' >"$ROOT/srv/vmlinuz"
	(cd "$ROOT/srv" && sha256sum vmlinuz net-vm.cpio.gz >../etc/xvm/SHA256SUMS)
	# shellcheck disable=SC2016
	stub xenstored 'pidfile=${1#--pid-file=}; /usr/sbin/xenstored-fake /run/xs.sock </dev/null >/dev/null 2>&1 & echo $! >"$pidfile"
for _ in $(seq 200); do [ -S /run/xs.sock ] && break; sleep 0.05; done'
	stub xen-init-dom0 'XENSTORED_PATH=/run/xs.sock xsctl write /local/domain/0/name Domain-0'
	stub xenconsoled 'exec sleep 100000'
	stub mkxendev 'exit 0'
	stub xvm-start 'exit 0'
	stub nic-handoff 'case "$*" in *restore*) rm -f /run/nic-handoff.state ;; *) echo netvm=net-vm >/run/nic-handoff.state ;; esac'
	# The build server: busybox httpd on the chroot's own loopback.
	sed -i 's|^IMAGE_URL=.*|IMAGE_URL="http://127.0.0.1:8080"|' "$ROOT/etc/conf.d/net-handoff"
}

# shellcheck disable=SC2016 # the commands run in the chroot's shell
# in_root COMMANDS: runs shell COMMANDS in the chroot, in namespaces of its
# own (its processes end with it), with /proc and a /run tmpfs.
in_root() {
	unshare --pid --mount --uts --net --ipc --fork --propagation private sh -c '
		mount -t proc proc "$1/proc" && mount -t tmpfs tmpfs "$1/run" &&
		ip link add eth0 type veth peer name lan0 &&
		exec chroot "$1" /bin/sh -c "ip link set lo up; $2"' sh "$ROOT" "$1"
}

serve='httpd -p 127.0.0.1:8080 -h /srv; '
boot=$serve'openrc sysinit >/dev/null 2>&1; openrc boot >/dev/null 2>&1; openrc default >/var/log/default.log 2>&1'
started() { printf 'rc-service %s status >/dev/null || echo "not started: %s"; ' "$@"; }

@test "every script passes openrc-run's checks: it parses, and describes itself" {
	# shellcheck disable=SC2016 # expanded in the chroot
	run_logged in_root 'for s in /etc/init.d/*; do "$s" describe >/dev/null || echo "FAILED $s"; done; echo checked'
	assert_success
	refute_output --partial FAILED
	assert_output --partial checked
}

@test "dom0 boots through its runlevels: the Xen store, then the handoff, the broker and the VMs" {
	run_logged in_root "$boot; $(started xenstored xenconsoled net-handoff qrx-broker xvm) cat /var/log/stubs.log; \
		XENSTORED_PATH=/run/xs.sock xsctl read /local/domain/0/name"
	assert_success
	refute_output --partial "not started"
	assert_line --partial "xen-init-dom0"
	assert_line --regexp "nic-handoff --syslog --state /run/nic-handoff.state --wait 120 eth0 net-vm$"
	assert_line --regexp "xvm-start --syslog +--autostart$"
	assert_line Domain-0
	# OpenRC's order: the store first, dom0's NIC handed over before any VM starts.
	local order
	order=$(echo "$output" | awk '$2 ~ /^(xenstored|nic-handoff|xvm-start)$/ { print $2 }' | tr '\n' ' ')
	assert_equal "$order" "xenstored nic-handoff xvm-start "
}

@test "qrx-broker is supervised: killed, it is back within seconds; reload reaches it as SIGHUP; it logs to syslog" {
	run_logged in_root "$boot; old=\$(pidof qrx-broker); kill -9 \$old; sleep 3; new=\$(pidof qrx-broker);
		echo \"old=\$old new=\$new\"; rc-service qrx-broker reload; sleep 1; logread"
	assert_success
	assert_line --regexp '^old=[0-9]+ new=[0-9]+$'
	local old new
	old=$(echo "$output" | sed -n 's/^old=\([0-9]*\) .*/\1/p')
	new=$(echo "$output" | sed -n 's/.* new=\([0-9]*\)$/\1/p')
	[ "$old" != "$new" ] || fail "the same broker ($old) after kill -9"
	# busybox syslogd's lines: a time, the host, the facility, the tool.
	assert_line --regexp "^[A-Z][a-z]{2} +[0-9]+ [0-9:]{8} dom0 [a-z]+\.[a-z]+ qrx-broker(\[[0-9]+\])?: .*policy.*(load|read)"
}

@test "a tool run with --syslog leaves its messages in the system log, with their time (issue 27)" {
	run_logged in_root "openrc sysinit >/dev/null 2>&1; openrc boot >/dev/null 2>&1;
		mkdir /tmp/broken && echo 'not a rule' >/tmp/broken/10-broken.policy;
		/usr/sbin/qrx-broker --syslog -n --policy-dir /tmp/broken;
		for _ in \$(seq 50); do logread | grep -q 'unable to load the policy' && break; sleep 0.1; done; logread"
	assert_line --regexp "^[A-Z][a-z]{2} +[0-9]+ [0-9:]{8} dom0 [a-z]+\.err qrx-broker(\[[0-9]+\])?: fatal: unable to load the policy: 1 error$"
}

@test "the guests' console logs are a tmpfs of CONSOLE_LOG_SIZE: a log that fills it stops there (issue 27)" {
	run_logged in_root "$boot; grep ' /var/log/xen/console ' /proc/mounts;
		dd if=/dev/zero of=/var/log/xen/console/guest-chatter.log bs=1M count=40 2>&1;
		du -k /var/log/xen/console/guest-chatter.log"
	assert_line --regexp "^qmin-consoles /var/log/xen/console tmpfs .*size=16384k"
	assert_output --partial "No space left on device"
	local kib
	kib=$(echo "$output" | awk '$2 == "/var/log/xen/console/guest-chatter.log" { print $1 }')
	[ -n "$kib" ] && [ "$kib" -le 16384 ] || fail "the log took ${kib:-?} KiB"
}

@test "CONSOLE_LOG_SIZE=none: xenconsoled logs no console, and mounts nothing (issue 27)" {
	echo CONSOLE_LOG_SIZE=none >>"$ROOT/etc/conf.d/xenconsoled"
	run_logged in_root "$boot; grep ' /var/log/xen/console ' /proc/mounts; cat /var/log/stubs.log"
	assert_line --regexp "xenconsoled --interactive --log=none"
	refute_output --partial "qmin-consoles"
}

@test "net-handoff provides net: a service that needs net starts after the handoff (issue 27)" {
	# shellcheck disable=SC2016 # the service's own shell expands it
	printf '#!/sbin/openrc-run\ndepend() { need net; }\nstart() { echo "$(cut -d " " -f 1 /proc/uptime) wants-net" >>/var/log/stubs.log; }\n' \
		>"$ROOT/etc/init.d/wants-net"
	chmod 755 "$ROOT/etc/init.d/wants-net"
	enable "$ROOT" default wants-net
	run_logged in_root "$boot; rc-service wants-net status; cat /var/log/stubs.log"
	assert_line --partial "status: started"
	local order
	order=$(echo "$output" | awk '$2 ~ /^(nic-handoff|wants-net)$/ { print $2 }' | tr '\n' ' ')
	assert_equal "$order" "nic-handoff wants-net "
}

@test "a fetch that fails keeps the NIC in dom0, says why, and the VMs still start" {
	run_logged in_root "${boot#"$serve"}; cat /var/log/default.log; rc-service net-handoff status; cat /var/log/stubs.log"
	assert_output --partial "keeping eth0 in dom0"
	assert_output --partial "cannot fetch http://127.0.0.1:8080/vmlinuz"
	refute_output --partial "nic-handoff --syslog --state"
	assert_line --regexp "xvm-start --syslog +--autostart$"
}

@test "an image whose checksum does not match keeps the NIC in dom0" {
	echo tampered >>"$ROOT/srv/net-vm.cpio.gz"
	run_logged in_root "$boot; cat /var/log/default.log; ls /var/lib/xvm; cat /var/log/stubs.log"
	assert_output --regexp "net-vm.cpio.gz has SHA-256 [0-9a-f]{64}, not the pinned"
	assert_output --partial "keeping eth0 in dom0"
	refute_output --partial "nic-handoff --syslog --state"
	refute_line net-vm.cpio.gz
}

# from_boot_module [FILE...]: IMAGE_URL empty, and FILEs of the build
# server already in /var/lib/xvm, as the boot module leaves them.
from_boot_module() {
	sed -i 's|^IMAGE_URL=.*|IMAGE_URL=""|' "$ROOT/etc/conf.d/net-handoff"
	local file
	for file in "$@"; do cp "$ROOT/srv/$file" "$ROOT/var/lib/xvm/"; done
}

@test "with IMAGE_URL empty, the images from the boot module are checked, then the NIC is handed over (issue 26)" {
	from_boot_module vmlinuz net-vm.cpio.gz
	run_logged in_root "$boot; $(started net-handoff) cat /var/log/default.log /var/log/stubs.log"
	assert_success
	refute_output --partial "not started"
	assert_output --partial "Checking the VM images in /var/lib/xvm"
	assert_output --partial "nic-handoff --syslog --state /run/nic-handoff.state --wait 120 eth0 net-vm"
}

@test "with IMAGE_URL empty, a missing image keeps the NIC in dom0 and says which (issue 26)" {
	from_boot_module vmlinuz
	run_logged in_root "$boot; cat /var/log/default.log /var/log/stubs.log"
	assert_output --partial "no net-vm.cpio.gz in /var/lib/xvm"
	assert_output --partial "keeping eth0 in dom0"
	refute_output --partial "nic-handoff --syslog --state"
}

@test "with IMAGE_URL empty, an altered image keeps the NIC in dom0 and is removed before any VM starts (issue 26)" {
	from_boot_module vmlinuz net-vm.cpio.gz
	echo tampered >>"$ROOT/var/lib/xvm/net-vm.cpio.gz"
	run_logged in_root "$boot; cat /var/log/default.log; ls /var/lib/xvm; cat /var/log/stubs.log"
	assert_output --regexp "net-vm.cpio.gz has SHA-256 [0-9a-f]{64}, not the pinned"
	assert_output --partial "keeping eth0 in dom0"
	refute_output --partial "nic-handoff --syslog --state"
	refute_line net-vm.cpio.gz
	assert_line vmlinuz
}

@test "a VM that fails at boot leaves xvm started, and power-off still stops the others (issue 24)" {
	stub xvm-start 'case "$*" in *--autostart*) echo "xvm-start: error: unable to start sa-vm" >&2; exit 1 ;; esac'
	run_logged in_root "$boot; $(started xvm) cat /var/log/default.log; openrc shutdown >/dev/null 2>&1; cat /var/log/stubs.log"
	assert_success
	refute_output --partial "not started"
	assert_output --partial "some VMs did not start"
	assert_output --regexp "xvm-start --syslog --stop --timeout 90 --all"
}

@test "power-off stops every VM and leaves the NIC on pciback (issue 24)" {
	run_logged in_root "$boot; openrc shutdown 2>&1; cat /var/log/stubs.log"
	assert_success
	assert_output --regexp "xvm-start --syslog --stop --timeout 90 --all"
	assert_output --partial "Leaving eth0 on pciback for the power-off"
	refute_output --regexp "nic-handoff .*restore"
}

@test "by hand, xvm restart keeps the net-vm, and net-handoff stop waits for its clients (issue 24)" {
	stub xl 'printf "Name ID Mem VCPUs State Time(s)\nDomain-0 0 1024 2 r----- 1.0\nnet-vm 1 256 1 -b---- 1.0\n"
		[ -e /run/clients-gone ] || echo "workload-vm 2 256 1 -b---- 1.0"'
	run_logged in_root "$boot; rc-service xvm restart 2>&1; rc-service net-handoff stop 2>&1; echo stop=\$?;
		touch /run/clients-gone; rc-service net-handoff stop 2>&1; cat /var/log/stubs.log"
	assert_line --regexp "xvm-start --syslog --stop --timeout 90 sa-vm workload-vm$"
	refute_output --regexp "xvm-start --syslog --stop .*net-vm"
	assert_output --partial "net-vm carries the network of: workload-vm"
	refute_line stop=0
	assert_line --regexp "nic-handoff --syslog --state /run/nic-handoff.state restore$"
}
