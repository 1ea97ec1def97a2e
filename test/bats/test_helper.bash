# Shared set-up for qmin's Bats suite. Load with `load test_helper`.
# Binaries come from the environment, with build/ defaults, so that
# `make SANITIZE=1 check` can point the same tests at other builds.
# shellcheck shell=bash
# Variables set here are used by the test files; status and output come from Bats.
# shellcheck disable=SC2034,SC2154

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

QMIN_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
: "${QMIN_BIN:=$QMIN_ROOT/build/bin}"
: "${QMIN_SIM_BIN:=$QMIN_ROOT/build/sim/bin}"
: "${QMIN_TEST_BIN:=$QMIN_ROOT/build/test}"
export QMIN_ROOT QMIN_BIN QMIN_SIM_BIN QMIN_TEST_BIN
MKXENDEV="$QMIN_BIN/mkxendev"
XSCTL="$QMIN_TEST_BIN/xsctl"
XENSTORED_FAKE="$QMIN_TEST_BIN/xenstored-fake"
FIXTURES="$QMIN_ROOT/test/fixtures"

# requires root|netns|xen ...: skip the test, saying why, when the machine
# cannot run it. An unknown name is a bug in the test.
requires() {
	local need
	for need in "$@"; do
		case "$need" in
		root)
			[ "$(id -u)" -eq 0 ] || skip "test requires root"
			;;
		netns)
			[ "$(id -u)" -eq 0 ] || skip "test requires root for network namespaces"
			command -v ip >/dev/null || skip "test requires ip (iproute2) for network namespaces"
			ip netns add "qmin-probe-$$" 2>/dev/null || skip "test requires network namespaces"
			ip netns del "qmin-probe-$$"
			;;
		xen)
			[ -e /proc/xen/capabilities ] || skip "test requires a Xen host (no /proc/xen/capabilities)"
			;;
		*)
			fail "BUG: unknown requirement $need"
			;;
		esac
	done
}

# run_logged CMD...: `run`, and log the command and its status to stderr,
# which Bats shows only when the test fails.
run_logged() {
	run "$@"
	echo "$* (status=$status)" >&2
	echo "$output" >&2
}

# xenstore_start: starts the xenstored test double for this test and points
# XENSTORED_PATH at it. Guests connect through "$XENSTORED_PATH.dN" after
# `xsctl introduce N`. Stopped by xenstore_stop (call it from teardown).
xenstore_start() {
	export XENSTORED_PATH="$BATS_TEST_TMPDIR/xenstored.sock"
	"$XENSTORED_FAKE" "$XENSTORED_PATH" 3>&- &
	XENSTORED_PID=$!
	local tries=0
	until [ -S "$XENSTORED_PATH" ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || fail "xenstored-fake did not start"
		sleep 0.05
	done
}

xenstore_stop() {
	if [ -n "${XENSTORED_PID:-}" ]; then
		kill "$XENSTORED_PID" 2>/dev/null || true
		wait "$XENSTORED_PID" 2>/dev/null || true
		XENSTORED_PID=
	fi
}

# xenstore_add_domain N NAME: what xl does for a new domain, in the double:
# its home owned by dom0 and readable by N, data/ owned by N (others: none),
# introduced, as libxl sets it up.
xenstore_add_domain() {
	local domid="$1" name="$2" home="/local/domain/$1"
	"$XSCTL" write "$home/name" "$name"
	"$XSCTL" write "$home/domid" "$domid"
	"$XSCTL" mkdir "$home/data"
	"$XSCTL" chmod "$home" n0 "r$domid"
	"$XSCTL" chmod "$home/name" n0 "r$domid"
	"$XSCTL" chmod "$home/domid" n0 "r$domid"
	"$XSCTL" chmod "$home/data" "n$domid"
	"$XSCTL" introduce "$domid"
}

# man_examples PAGE: the commands of the EXAMPLES section of a man page, one
# per line, without their "# " or "$ " prompt.
man_examples() {
	awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
		on && /^\.Dl [#$] / { sub(/^\.Dl [#$] /, ""); print }' "$1"
}

# man_block PAGE N: the Nth literal block (.Bd ... .Ed) of the EXAMPLES section.
man_block() {
	awk -v want="$2" '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
		on && /^\.Bd/ { block++; inside = 1; next } on && /^\.Ed/ { inside = 0; next }
		on && inside && block == want { print }' "$1"
}

# vm_definitions DIR NAME[:TAG,TAG][=TYPE]...: minimal /etc/xvm files.
vm_definitions() {
	local dir="$1" spec name tags type
	shift
	mkdir -p "$dir"
	for spec in "$@"; do
		type=${spec#*=}
		[ "$type" = "$spec" ] && type=
		spec=${spec%%=*}
		name=${spec%%:*}
		tags=${spec#"$name"}
		tags=${tags#:}
		echo "name = \"$name\"" >"$dir/$name.cfg"
		if [ -n "$tags" ]; then echo "xvm_tags = [\"${tags//,/\", \"}\"]" >>"$dir/$name.cfg"; fi
		if [ -n "$type" ]; then echo "xvm_type = \"$type\"" >>"$dir/$name.cfg"; fi
	done
}

# wait_for_line FILE PATTERN [SECONDS]: waits until FILE has a line matching
# the extended regular expression PATTERN.
wait_for_line() {
	local tries=0 limit=$((${3:-10} * 20))
	until grep -qE "$2" "$1" 2>/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt "$limit" ] || fail "no line matching '$2' in $1: $(cat "$1" 2>/dev/null)"
		sleep 0.05
	done
}
