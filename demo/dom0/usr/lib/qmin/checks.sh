# shellcheck shell=sh
# What qmin-check and qmin-trials share: /etc/conf.d/net-handoff's values,
# one result line per check, and the fetches that prove a route works.
# shellcheck source=/dev/null
. /etc/conf.d/net-handoff
failed=0 passed=0

# check TAG NAME DETAIL COMMAND...: runs COMMAND; prints "TAG: ok NAME DETAIL"
# or "TAG: FAIL NAME DETAIL: $why" and counts it.
check() {
	tag=$1 name=$2 detail=$3
	shift 3
	if "$@"; then
		passed=$((passed + 1))
		echo "$tag: ok $name $detail"
	else
		failed=$((failed + 1))
		echo "$tag: FAIL $name $detail${why:+: $why}"
	fi
	why=
}

# summary TAG: the counts; succeeds only if nothing failed.
summary() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

in_vm() { # in_vm VM COMMAND: runs a shell command in VM over qrx
	echo "$2" | timeout 60 qrx-call "$1" qubes.VMShell 2>&1
}

# fetch_via DEVICE-GLOB WHAT: dom0's default route leaves by DEVICE-GLOB,
# and dom0 fetches the pinned sums over it.
fetch_via() {
	route=$(ip route show default)
	# shellcheck disable=SC2254 # $1 is a pattern
	case "$route" in *" dev "$1*) ;; *) why="default route: $route" && return 1 ;; esac
	if ! timeout 30 wget -q -O /tmp/qmin-fetched.sums "$IMAGE_URL/SHA256SUMS" ||
		! cmp -s /tmp/qmin-fetched.sums "$IMAGE_SUMS"; then
		why="no $IMAGE_URL/SHA256SUMS $2"
		return 1
	fi
}

# vm_fetches VM: VM fetches the pinned sums (its own route, over qrx).
vm_fetches() {
	want=$(sha256sum <"$IMAGE_SUMS" | cut -d ' ' -f 1)
	got=$(in_vm "$1" "timeout 30 wget -q -O - $IMAGE_URL/SHA256SUMS | sha256sum")
	[ "${got%% *}" = "$want" ] || { why="got '$got'" && return 1; }
}
