#!/usr/bin/env bash
# make bench: each shipped tool's size, the musl build (build/bin, what the
# image carries) against the static glibc build of the same sources by the
# host's g++ (build/host/bin, stripped here for the comparison). The ratio
# is the result.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
musl=$top/build/bin glibc=$top/build/host/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total_musl=0 total_glibc=0
printf '%-12s %10s %10s %6s\n' tool musl glibc ratio
for bin in "$musl"/*; do
	tool=$(basename "$bin")
	strip -o "$work/$tool" "$glibc/$tool"
	m=$(stat -c %s "$bin") g=$(stat -c %s "$work/$tool")
	total_musl=$((total_musl + m)) total_glibc=$((total_glibc + g))
	printf '%-12s %10d %10d %6s\n' "$tool" "$m" "$g" "$(awk -v m="$m" -v g="$g" 'BEGIN { printf "%.2f", m / g }')"
done
printf '%-12s %10d %10d %6s\n' all "$total_musl" "$total_glibc" \
	"$(awk -v m="$total_musl" -v g="$total_glibc" 'BEGIN { printf "%.2f", m / g }')"
