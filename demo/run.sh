#!/usr/bin/env bash
# make demo / make demo-check: the seed's whole topology, cold-booted in QEMU
# with nothing typed by hand. Xen and the RAM-only dom0 of `make image` boot on
# an emulated q35 with an IOMMU, an e1000 on QEMU's user network (the build
# server, 10.0.2.2, is a busybox httpd on this machine's loopback serving
# build/image/vm/) and a UHCI controller with a USB tablet. dom0 fetches and
# checks the VM images, hands the e1000 to net-vm, starts sa-vm (the USB
# controller) and the workload-vm (PV here; PVH on hardware) behind net-vm, and qrx-broker routes
# their calls. Then this script logs in on the console (hvc0), runs
# qmin-check, and prints what it saw and a timeline; a bare Xen + dom0 boot in
# the same run gives the ratio that means something under emulation.
#
#   demo/run.sh            then leaves you at dom0's shell (type poweroff to end)
#   demo/run.sh --check    powers off cleanly; exit 0 only if every check passed
#
# Environment: QMIN_QEMU (default qemu-system-x86_64), QMIN_DEMO_CPU (QEMU's
# -cpu), QMIN_DEMO_TIMEOUT (seconds to a login prompt, and to dom0's default
# runlevel being up, default 900),
# QMIN_DEMO_WORK (default build/demo), QMIN_IMAGE_OUT (the demo's image,
# default build/demo/image: make demo builds it from site/demo.site).
# test/xen/production.sh sources this file for its machine and console.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${QMIN_IMAGE_OUT:-$top/build/demo/image}
work=${QMIN_DEMO_WORK:-$top/build/demo}
qemu=${QMIN_QEMU:-qemu-system-x86_64}
# -smap: a PV dom0 crashes on SMAP under QEMU; -rdtscp: QEMU's SVM gives Xen
# no next-RIP for it; -xsaveopt,-xsavec,-xgetbv1: with them, processes in a PV
# dom0 and a PVH domU segfault at random under load (xen-in-qemu.md §9).
cpu=${QMIN_DEMO_CPU:-max,-smap,-rdtscp,-xsaveopt,-xsavec,-xgetbv1}
login_timeout=${QMIN_DEMO_TIMEOUT:-900}
nic_model=e1000
port=8080 # etc/conf.d/net-handoff's IMAGE_URL
dom0_port=8081 # on this machine's loopback: forwarded to dom0 (10.0.2.15), through net-vm
usb_bdf=0000:00:04.0
check_only=0
[ "${1:-}" = --check ] && check_only=1

say() { printf 'demo: %s\n' "$*"; }

# However the run ends (poweroff, a failed check, Ctrl-C, a kill), QEMU and
# the HTTP server end with it, and the terminal is given back as it was.
qemu_pid='' server='' typist='' saved_tty=''
cleanup() {
	local pid
	for pid in "$typist" "$qemu_pid" "$server"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
	done
	[ -n "$saved_tty" ] && stty "$saved_tty" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

elapsed() { # seconds since an $EPOCHREALTIME, with tenths
	local now=${EPOCHREALTIME/./} then=${1/./}
	local tenths=$(((now - then) / 100000))
	echo "$((tenths / 10)).$((tenths % 10))"
}

# timestamp_lines START: each console line, prefixed with the seconds since
# QEMU started. A prompt ends no line: one that waits unfinished for a second
# ("login: ", "Password: ", a shell's "# ") is written as a line of its own,
# so that it can be seen; any other unfinished line waits for the rest of it.
timestamp_lines() {
	local line part="" status
	while :; do
		IFS= read -r -t 1 line
		status=$?
		part+=$line
		if [ "$status" -gt 128 ]; then
			# busybox's shell asks the terminal where its cursor is (ESC [6n) after its prompt.
			case "$part" in *"login: " | *"Password: " | *"# " | *"# "$'\e[6n') ;; *) continue ;; esac
		elif [ "$status" -ne 0 ] && [ -z "$part" ]; then
			break
		fi
		printf '[%7s] %s\n' "$(elapsed "$1")" "${part//$'\r'/}"
		part=""
		[ "$status" -eq 0 ] || [ "$status" -gt 128 ] || break
	done
}

# qemu_args INITRD: QEMU's arguments for the seed's machine, into $args.
qemu_args() {
	# shellcheck disable=SC2054 # commas inside QEMU's option values
	args=(-machine q35 -accel tcg -cpu "$cpu" -smp 2 -m 3072 -nodefaults -display none -no-reboot
		-device intel-iommu
		-netdev "user,id=lan,hostfwd=tcp:127.0.0.1:$dom0_port-10.0.2.15:80" -device "$nic_model,netdev=lan,addr=0x3"
		-device piix3-usb-uhci,id=uhci,addr=0x4 -device usb-tablet,bus=uhci.0
		-kernel "$work/xen"
		-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M bootscrub=0 dom0-iommu=passthrough noreboot"
		-initrd "$image/vmlinuz console=hvc0 earlyprintk=xen quiet xen-pciback.hide=($usb_bdf),$1")
}

# The bare boot: the same machine, Xen and dom0 kernel, an initramfs that
# only says it is up and powers off.
bare_boot() {
	local root="$work/bare"
	# shellcheck disable=SC2034 # image/lib.sh's new_root reads it
	local unpacked="$image/tree"
	# shellcheck source=image/lib.sh
	. "$top/image/lib.sh"
	new_root "$root"
	printf '#!/bin/sh\nmount -t proc proc /proc\necho QMIN-BARE-UP\npoweroff -f\n' >"$root/init"
	chmod 755 "$root/init"
	pack "$root" "$work/bare.cpio.gz"
	local started=$EPOCHREALTIME args
	qemu_args "$work/bare.cpio.gz"
	timeout -s KILL 600 "$qemu" "${args[@]}" -serial stdio </dev/null 2>&1 |
		timestamp_lines "$started" >"$work/bare.log"
	sed -n 's/^\[ *\([0-9.]*\)\] QMIN-BARE-UP.*/\1/p' "$work/bare.log" | head -n 1
}

serve_images() {
	"$image/tree/bin/busybox" httpd -f -p "127.0.0.1:$port" -h "$image/vm" &
	server=$!
}

# wait_for PATTERN SECONDS: until the console log has a line matching PATTERN
# after the line count $mark; sets $mark past it.
wait_for() {
	local deadline=$((SECONDS + $2)) line
	while [ "$SECONDS" -lt "$deadline" ]; do
		line=$(tail -n +"$((mark + 1))" "$work/console.log" | grep -n -m 1 -E -- "$1") && {
			mark=$((mark + ${line%%:*}))
			return 0
		}
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}

type_line() { printf '%s\r' "$1" >&3; }

# when_done START: the time of the first OpenRC result ("[ ok ]") at or after
# the first line matching START (a result may come on a line of its own).
when_done() {
	awk -v start="$1" '
		!seen && $0 ~ start { seen = 1 }
		seen && /\[ ok \]/ { sub(/^\[ */, ""); sub(/\].*/, ""); print; exit }' "$work/console.log"
}

when_seen() { # when_seen PATTERN: the time of the first line matching PATTERN
	awk -v pattern="$1" '$0 ~ pattern { sub(/^\[ */, ""); sub(/\].*/, ""); print; exit }' "$work/console.log"
}

timeline() {
	local xen openrc store fetched handed vms login up
	xen=$(when_seen '\\(XEN\\) Xen version')
	openrc=$(when_seen 'OpenRC .* is starting up')
	store=$(when_done 'Starting the Xen store')
	fetched=$(when_done 'Fetching the VM images')
	handed=$(when_done 'Handing eth0 to net-vm')
	vms=$(when_done 'Starting VMs')
	login=$(when_seen 'dom0 login:')
	up=$(when_seen "$up_line")
	echo "xen=${xen:--} dom0-openrc=${openrc:--} xenstored=${store:--} login-prompt=${login:--}" \
		"images-fetched=${fetched:--} nic-handed-off=${handed:--} vms-up=${vms:--} operational=${up:--}"
}

tap_number=0 failed=0 tap_tag=demo
tap() { # tap ok|not-ok NAME: one TAP line, as the other tiers print them
	tap_number=$((tap_number + 1))
	if [ "$1" = ok ]; then
		echo "ok $tap_number - $tap_tag: $2"
	else
		echo "not ok $tap_number - $tap_tag: $2"
		failed=1
	fi
}
check() { # check NAME COMMAND...: a TAP line for whether COMMAND succeeds
	local name=$1
	shift
	if "$@"; then tap ok "$name"; else tap not-ok "$name"; fi
}

# dom0_reachable: from outside, a connection to dom0's address reaches it
# (QEMU's network -> the e1000 in net-vm -> routed to dom0's vif): dom0 serves
# its pinned SHA256SUMS for a moment, and this machine fetches it.
dom0_reachable() {
	type_line 'httpd -p 80 -h /etc/xvm && echo "QMIN-HTTPD $?"'
	wait_for 'QMIN-HTTPD 0' 30 || return 1
	local fetched="$work/dom0-sums"
	for _ in 1 2 3 4 5 6; do
		http_get "$dom0_port" /SHA256SUMS >"$fetched" && break
		sleep 2
	done
	type_line 'killall httpd'
	cmp -s "$fetched" "$image/vm/SHA256SUMS"
}

# http_get PORT PATH: the body of an HTTP/1.0 GET from 127.0.0.1, if it
# answered 200 within 10 s. (bash's /dev/tcp: busybox's static wget
# crashes on this host, and curl is not in a fresh Debian.)
http_get() {
	(
		exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: dom0\r\n\r\n' "$2" >&5
		IFS= read -r -t 10 status <&5 && [[ $status == "HTTP/1."?" 200"* ]] || exit 1
		while IFS= read -r -t 10 line <&5 && [ -n "${line%$'\r'}" ]; do :; done
		timeout 10 cat <&5
	)
}

# What dom0 prints when its default runlevel (images, handoff, VMs) is done:
# the host is operational (image/rootfs/usr/lib/qmin/default-runlevel).
up_line='qmin: the default runlevel is up'

line_of() { # line_of PATTERN: the number of the console log's first line matching it
	grep -n -m 1 -E -- "$1" "$work/console.log" | cut -d : -f 1
}

# shell_before_up: the shell's prompt (the line at $mark) came before the
# default runlevel was up: a login does not wait for the VMs.
shell_before_up() {
	local up
	up=$(line_of "$up_line")
	[ -z "$up" ] || [ "$mark" -lt "$up" ]
}

# up_within SECONDS: until dom0 says its default runlevel is up; $mark then
# stays after that line.
up_within() {
	local deadline=$((SECONDS + $1)) up
	until up=$(line_of "$up_line") && [ -n "$up" ]; do
		[ "$SECONDS" -lt "$deadline" ] && kill -0 "$qemu_pid" 2>/dev/null || return 1
		sleep 0.5
	done
	[ "$mark" -ge "$up" ] || mark=$up
}

# Logs in on hvc0 as an operator would, while dom0 still comes up, then
# waits for it and runs qmin-check there.
operate() {
	type_line root
	check "a shell answers on hvc0" wait_for 'dom0:~# ' 60
	check "the shell answered before the default runlevel was up (the VMs still starting)" shell_before_up
	check "dom0's default runlevel comes up: images, handoff, VMs" up_within "$login_timeout"
	type_line 'qmin-check --supervision; echo "QMIN-CHECK-END $?"'
	wait_for 'QMIN-CHECK-END [0-9]+' 600 || tap not-ok "qmin-check finished"
	report_results qmin-check
	check "dom0 answers from outside, through net-vm" dom0_reachable
}

# report_results TOOL: TOOL's "ok", "FAIL" and detail lines on the console,
# as TAP lines.
report_results() {
	local line tag="$1:"
	while IFS= read -r line; do
		case "$line" in
		*"$tag ok "*) tap ok "${line#*"$tag" ok }" ;;
		*"$tag FAIL "*) tap not-ok "${line#*"$tag" FAIL }" ;;
		*"$tag   "*) echo "#   ${line#*"$tag"   }" ;;
		esac
	done < <(grep -F "$tag " "$work/console.log")
}

# The failure paths on the running host (qmin-trials, in dom0's image):
# xvm-start's refusals, the net-vm destroyed and the NIC restored, a handoff
# that rolls back, and the NIC handed over again before the poweroff.
try_failures() {
	type_line 'qmin-trials; echo "QMIN-TRIALS-END $?"'
	wait_for 'QMIN-TRIALS-END [0-9]+' 900 || tap not-ok "qmin-trials finished"
	report_results qmin-trial
}

print_timeline() {
	say "timeline, seconds from QEMU start:"
	echo "QMIN-DEMO-TIMELINE $(timeline) bare=${bare:--}"
	local operational
	operational=$(when_seen "$up_line")
	[ -n "$operational" ] && [ -n "$bare" ] &&
		say "operational at $operational s; a bare Xen + dom0 boot took $bare s: ratio $(awk -v a="$operational" -v b="$bare" 'BEGIN { printf "%.1f", a / b }')"
}

stopped_cleanly() { # the VMs stopped by xvm-start, OpenRC saying ok
	wait_for 'Stopping VMs' 60 && wait_for '\[ (ok|!!) \]' 300 &&
		tail -n +"$mark" "$work/console.log" | head -n 1 | grep -q '\[ ok \]'
}

net_vm_stopped_last() { # dependents first: net-vm is shut down after the others
	local order
	order=$(sed -n 's/.*xvm-start: notice: shutting \([a-z-]*\) down.*/\1/p' "$work/console.log" | tr '\n' ' ')
	echo "# shutdown order: ${order% }"
	[ "${order% }" != "${order%net-vm }" ] && [ "$(echo "$order" | wc -w)" -ge 3 ]
}

powered_off() {
	local waited=0
	while kill -0 "$qemu_pid" 2>/dev/null && [ "$waited" -lt 120 ]; do sleep 1 && waited=$((waited + 1)); done
	! kill -0 "$qemu_pid" 2>/dev/null || { kill "$qemu_pid" && return 1; }
}

# Hands the console to the operator until dom0 powers off.
hand_over() {
	say "you are at dom0's shell on hvc0; type poweroff to end the demo"
	saved_tty=$(stty -g 2>/dev/null)
	stty raw -echo 2>/dev/null
	cat </dev/tty >&3 &
	typist=$!
	wait "$qemu_pid"
	kill "$typist" 2>/dev/null
	typist=''
	[ -n "$saved_tty" ] && stty "$saved_tty"
	saved_tty=''
	echo
}

boot_demo() {
	serve_images
	say "booting the seed's topology (console log: ${work#"$top"/}/console.log)"
	boot_console "$image/dom0.cpio.gz"
}

# boot_console INITRD: QEMU started with the console on fd 3 (what is typed)
# and in $work/console.log (what it prints, with times).
boot_console() {
	rm -f "$work/con.in" "$work/con.out"
	mkfifo "$work/con.in" "$work/con.out"
	local started=$EPOCHREALTIME args
	qemu_args "$1"
	"$qemu" "${args[@]}" -chardev "pipe,id=con,path=$work/con" -serial chardev:con \
		</dev/null >"$work/qemu.log" 2>&1 &
	qemu_pid=$!
	exec 3>"$work/con.in"
	if [ "$check_only" -eq 1 ]; then
		timestamp_lines "$started" <"$work/con.out" >"$work/console.log" &
	else
		tee >(timestamp_lines "$started" >"$work/console.log") <"$work/con.out" &
	fi
	mark=0
}

main() {
	mkdir -p "$work"
	command -v "$qemu" >/dev/null || { say "$qemu not found" && exit 111; }
	[ -s "$image/dom0.cpio.gz" ] || { say "no image: run make demo-image" && exit 111; }
	gzip -dc "$image/xen.gz" >"$work/xen"
	say "bare boot of Xen and dom0 on the same machine, for the ratio"
	bare=$(bare_boot)
	say "bare Xen + dom0 up at ${bare:-?} s"
	boot_demo
	local booted=0
	if wait_for 'dom0 login:' "$login_timeout"; then
		tap ok "boots to dom0's login prompt on hvc0, with nothing typed"
		booted=1
		operate
	else
		tap not-ok "boots to dom0's login prompt on hvc0 within $login_timeout s"
		tail -n 40 "$work/console.log" | sed 's/^/#   /'
	fi
	print_timeline
	if [ "$check_only" -eq 1 ]; then
		[ "$booted" -eq 1 ] && try_failures
		type_line poweroff
		check "poweroff stops the VMs cleanly" stopped_cleanly
		check "the VMs stop dependents first, net-vm last" net_vm_stopped_last
		check "dom0 powers off, and QEMU ends" powered_off
	else
		hand_over
	fi
	exec 3>&-
	kill "$server" 2>/dev/null
	server=''
	wait 2>/dev/null
	echo "1..$tap_number"
	if [ "$failed" -eq 0 ]; then say "PASS"; else say "FAIL"; fi
	return "$failed"
}

[ "${BASH_SOURCE[0]}" != "$0" ] || main "$@"
