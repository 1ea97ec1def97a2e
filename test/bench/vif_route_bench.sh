#!/usr/bin/env bash
# make bench: vif-route online+offline per cycle, qmin's binary against Xen's
# own vif-route script (Debian's xen-utils-common, unpacked, not installed),
# in the same network namespace against the same xenstore double. Both loops
# run inside one private mount namespace (Xen's script logs to /var/log/xen),
# so they pay the same overhead. The ratio is the result.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${QMIN_XEN_CACHE:-/var/cache/qmin/xen-debs}
root="$top/build/bench/xen-root"
runs=${RUNS:-40}
[ "$(id -u)" -eq 0 ] || { echo "bench: vif-route needs root (network namespaces)" >&2 && exit 100; }

mkdir -p "$cache" "$root"
for package in xen-utils-common xenstore-utils libxenstore4 libxentoolcore1; do
	if ! compgen -G "$cache/${package}_*.deb" >/dev/null; then
		(cd "$cache" && apt-get download -q "$package" 2>&1 | grep -v '^W: Download is performed unsandboxed')
	fi
	debs=("$cache/${package}_"*.deb)
	dpkg-deb -x "${debs[-1]}" "$root"
done

work=$(mktemp -d)
ns="qmin-bench-$$"
cleanup() {
	[ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export XENSTORED_PATH="$work/xenstored.sock"
"$top/build/test/xenstored-fake" "$XENSTORED_PATH" &
fake=$!
until [ -S "$XENSTORED_PATH" ]; do sleep 0.05; done
"$top/build/test/xsctl" write backend/vif/5/0/ip 10.137.0.5
"$top/build/test/xsctl" write backend/vif/5/0/mac 00:16:3e:00:00:05

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add vif5.0 type veth peer name guest0
# Xen's script takes dom0's source address from eth0.
ip -n "$ns" link add eth0 type veth peer name peer0
ip -n "$ns" addr add 10.0.0.1/24 dev eth0
ip -n "$ns" link set eth0 up

# The loops, inside the namespace: prints "qmin_us xen_us". The script is
# single-quoted on purpose: it runs in the inner bash.
# shellcheck disable=SC2016
ip netns exec "$ns" unshare -m --propagation private bash -c '
	set -e
	mount -t tmpfs tmpfs /var/log && mkdir -p /var/log/xen
	mount -t tmpfs tmpfs /run
	export PATH="$2/usr/bin:$PATH" LD_LIBRARY_PATH="$2/usr/lib/x86_64-linux-gnu"
	export vif=vif5.0 XENBUS_PATH=backend/vif/5/0
	# works SCRIPT: one checked cycle first, so that a failing script is not timed.
	works() {
		"$2/usr/bin/xenstore-rm" backend/vif/5/0/hotplug-status 2>/dev/null || true
		"$1" online type_if=vif || { echo "bench: $1 online failed" >&2; return 1; }
		[ "$("$2/usr/bin/xenstore-read" backend/vif/5/0/hotplug-status)" = connected ]
		ip route show 10.137.0.5 | grep -q "dev vif5.0" || { echo "bench: $1 added no route" >&2; return 1; }
		"$1" offline type_if=vif
		[ -z "$(ip route show 10.137.0.5)" ] || { echo "bench: $1 left a route" >&2; return 1; }
	}
	cycles() { # cycles RUNS SCRIPT: microseconds for RUNS online+offline cycles
		local start=$EPOCHREALTIME i
		for ((i = 0; i < $1; i++)); do "$2" online type_if=vif; "$2" offline type_if=vif; done
		local end=$EPOCHREALTIME
		echo "$((${end/./} - ${start/./}))"
	}
	works "$1/build/bin/vif-route" "$2"
	works "$2/etc/xen/scripts/vif-route" "$2"
	ours=$(cycles "$3" "$1/build/bin/vif-route")
	xens=$(cycles "$3" "$2/etc/xen/scripts/vif-route")
	echo "$ours $xens"
' sh "$top" "$root" "$runs" >"$work/result"
read -r ours xens <"$work/result"
awk -v o="$ours" -v x="$xens" -v n="$runs" 'BEGIN {
	printf "vif-route online+offline: qmin %.2f ms, Xen'"'"'s vif-route script %.2f ms per cycle (%.0fx), %d cycles each\n",
		o / n / 1000, x / n / 1000, x / o, n }'
