#!/usr/bin/env bash
# The real-Xen tier: Debian 12's Xen 4.17 and 6.1 kernel booted in QEMU under
# software emulation, with qmin's static binaries in the dom0 and domU
# initramfs images. Scenarios are files in test/xen/scenarios/; the line
# "# boot: pvh" puts one in the boot with the CPU flags PVH guests need
# (default: pv), "# expect: fail" marks the harness' own self-test.
#
#   test/xen/run.sh [--scenarios DIR] [--boot NAME]...
#
# Environment: QMIN_XEN_CACHE (downloaded .debs, kept between runs; default
# /var/cache/qmin/xen-debs), QMIN_XEN_WORK (default build/xen), QMIN_QEMU
# (default qemu-system-x86_64), QMIN_XEN_TIMEOUT_SCALE (default 1),
# QMIN_XEN_BOOT_TIMEOUT (seconds for every boot, overriding the scaled defaults),
# QMIN_XEN_CPU_<BOOT> (QEMU's -cpu for that boot, to try another CPU model).
# Output: one TAP line per result with its wall time, then
# "xen-check: N passed, N failed"; exit 0 only if nothing failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/test/xen"
cache=${QMIN_XEN_CACHE:-/var/cache/qmin/xen-debs}
work=${QMIN_XEN_WORK:-$top/build/xen}
qemu=${QMIN_QEMU:-qemu-system-x86_64}
scale=${QMIN_XEN_TIMEOUT_SCALE:-1}
scenarios_dir="$here/scenarios"
boots=()

while [ $# -gt 0 ]; do
	case "$1" in
	--scenarios) scenarios_dir=$2 && shift 2 ;;
	--boot) boots+=("$2") && shift 2 ;;
	*) echo "xen-check: usage: run.sh [--scenarios DIR] [--boot NAME]..." >&2 && exit 100 ;;
	esac
done

# shellcheck source=test/xen/images.sh
. "$here/images.sh"

# The QEMU settings of each boot, and how long it may take (several times its typical time).
# pv: -cpu max crashes a PV dom0 through SMAP. pvh: PVH needs SVM; QEMU's SVM
# gives Xen no next-RIP for RDTSCP; and with XSAVEOPT/XSAVEC (QEMU 7.2 TCG)
# processes in the PV dom0 and the PVH guest segfault or compute wrong
# results at random under load: 6 of 6 stress runs failed with them, 3 of 3
# passed without (removing AVX, PKU, MPX or PCID instead did not help).
qemu_cpu() {
	local override="QMIN_XEN_CPU_${1^^}"
	[ -n "${!override:-}" ] && echo "${!override}" && return
	case "$1" in
	pv) echo "qemu64,+rdrand" ;;
	pvh) echo "max,-smap,-rdtscp,-xsaveopt,-xsavec,-xgetbv1" ;;
	esac
}
boot_timeout() {
	[ -n "${QMIN_XEN_BOOT_TIMEOUT:-}" ] && echo "$QMIN_XEN_BOOT_TIMEOUT" && return
	case "$1" in
	pv) echo $((900 * scale)) ;;
	pvh) echo $((600 * scale)) ;;
	esac
}

boot_of() { sed -n 's/^# boot: *\([a-z]*\)$/\1/p' "$1" | grep . || echo pv; }
expects_failure() { grep -q '^# expect: fail$' "$1"; }

tap_number=0 passed=0 failed=0
report() { # report ok|not-ok NAME DETAIL
	tap_number=$((tap_number + 1))
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		echo "ok $tap_number - $2 $3"
	else
		failed=$((failed + 1))
		echo "not ok $tap_number - $2 $3"
	fi
}

# boot NAME SCENARIO...: builds the dom0 image for one boot, runs QEMU with a
# time limit, and reports every expected result from the console log.
boot() {
	local name=$1
	shift
	local image="$work/dom0-$name.cpio.gz" log="$work/console-$name.log"
	build_dom0_image "$image" "$@" || {
		report not-ok "boot-$name" "(could not build the dom0 image)"
		return
	}
	local limit
	limit=$(boot_timeout "$name")
	echo "# boot $name: $# scenarios, limit ${limit} s"
	local started=$EPOCHREALTIME
	# The dom0 kernel's arguments travel inside -initrd, so they must hold no commas.
	timeout -s KILL "$limit" "$qemu" -machine pc -accel tcg -cpu "$(qemu_cpu "$name")" -smp 2 -m 1536 \
		-display none -monitor none -serial stdio -no-reboot -nic none \
		-kernel "$work/xen" \
		-append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M noreboot bootscrub=0" \
		-initrd "$work/vmlinuz console=hvc0 earlyprintk=xen quiet,$image" </dev/null 2>&1 |
		timestamp_lines "$started" >"$log"
	local status=${PIPESTATUS[0]} seconds
	seconds=$(elapsed "$started")
	if ! grep -q 'QMIN-END' "$log"; then
		local why="QEMU exited with status $status"
		[ "$status" -eq 137 ] && why="timed out after $limit s"
		report not-ok "boot-$name" "(${seconds} s: $why; console log tail follows)"
		tail -n 30 "$log" | sed 's/^/#   /'
	else
		report ok "boot-$name" "(${seconds} s)"
	fi
	check_result "$log" mkxendev-bare-dev
	check_result "$log" xenstored-xenconsoled-on-made-nodes
	local scenario
	for scenario in "$@"; do
		if expects_failure "$scenario"; then
			check_expected_failure "$log" "$(basename "$scenario" .sh)"
		else
			check_result "$log" "$(basename "$scenario" .sh)"
		fi
	done
}

# check_result LOG NAME: reports one expected result of a boot.
check_result() {
	local line
	line=$(grep -m 1 "QMIN-RESULT $2 " "$1")
	case "$line" in
	*" PASS "*)
		report ok "$2" "(${line##* PASS } s)"
		grep "QMIN-MEASURE $2: " "$1" | sed 's/^\[[^]]*\] QMIN-MEASURE [^ ]* /# measured: /'
		;;
	*" FAIL "*)
		local rest=${line#*FAIL }
		report not-ok "$2" "(after ${rest%% *} s: ${rest#* })"
		grep "QMIN-LOG $2: " "$1" | sed 's/^\[[^]]*\] /#   /'
		;;
	*) report not-ok "$2" "(no result: the boot ended before it)" ;;
	esac
}

# check_expected_failure LOG NAME: the harness' self-test; a scenario that
# must fail has to come back as a failure with a reason and its log.
check_expected_failure() {
	local line name="harness-reports-failure-of-$2"
	line=$(grep -m 1 "QMIN-RESULT $2 " "$1")
	case "$line" in
	*" FAIL "*)
		local rest=${line#*FAIL }
		if grep -q "QMIN-LOG $2: " "$1"; then
			report ok "$name" "(failed as it must, after ${rest%% *} s: ${rest#* })"
		else
			report not-ok "$name" "(failed, but without its log)"
		fi
		;;
	*" PASS "*) report not-ok "$name" "(passed, but it must fail)" ;;
	*) report not-ok "$name" "(no result)" ;;
	esac
}

timestamp_lines() { # prefixes each console line with the seconds since QEMU started
	local line
	while IFS= read -r line; do
		printf '[%7s] %s\n' "$(elapsed "$1")" "${line//$'\r'/}"
	done
}

elapsed() { # seconds since an $EPOCHREALTIME, with tenths, in bash arithmetic
	local now=${EPOCHREALTIME/./} then=${1/./}
	local tenths=$(((now - then) / 100000))
	echo "$((tenths / 10)).$((tenths % 10))"
}

main() {
	[ "$(id -u)" -eq 0 ] || { echo "xen-check: needs root (device nodes in the initramfs)" >&2 && exit 100; }
	command -v "$qemu" >/dev/null || { echo "xen-check: $qemu not found" >&2 && exit 111; }
	mkdir -p "$work"
	local started=$EPOCHREALTIME
	prepare_packages "$cache" "$work" || exit 111
	build_kernels "$work" || exit 111
	build_guest_image "$work/guest-initrd.gz" || exit 111
	echo "# prepared in $(elapsed "$started") s"

	local -A groups=()
	local scenario group
	for scenario in "$scenarios_dir"/*.sh; do
		[ -f "$scenario" ] || continue
		group=$(boot_of "$scenario")
		groups[$group]+="$scenario "
	done
	[ ${#boots[@]} -gt 0 ] || boots=(pv pvh)
	for group in "${boots[@]}"; do
		[ -n "${groups[$group]:-}" ] || continue
		# shellcheck disable=SC2086 # a list of paths without spaces
		boot "$group" ${groups[$group]}
	done
	echo "1..$tap_number"
	echo "xen-check: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$tap_number" -gt 0 ]
}

main
