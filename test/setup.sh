#!/usr/bin/env bash
# Installs every Debian 12 package that qmin's build and tests use, then the
# musl toolchain (toolchain/musl.sh). Run as root; safe to run again.
# Nothing else is assumed to be on the machine.
set -euo pipefail
packages=(
	g++ make binutils git file ca-certificates # build; `file` checks static linking
	libxen-dev                                  # libxenstore.a, libxenvchan.a and headers
	googletest libgtest-dev                     # lib/ unit tests
	bats bats-assert bats-support               # tool tests (Bats 1.8.2)
	clang-format clang-tidy shellcheck mandoc   # lint, part of make check
	clang libclang-rt-14-dev                    # libFuzzer targets (make fuzz)
	util-linux iproute2 iputils-ping            # unshare for mount tests; network namespaces
	procps                                      # pgrep and pkill in the Bats suite
	qemu-system-x86 cpio xz-utils kmod          # real-Xen tier: boot, images, module order
	net-tools                                   # make bench: Xen's own vif-route runs ifconfig
	fakeroot grub-pc-bin grub-common xorriso    # make image: the cpio without root, the ISO
	mtools faketime                             # the ISO's EFI image; its timestamps fixed
	curl openssl                                # the musl toolchain: Zig, fetched and checked
	dpkg-dev python3                            # ... Xen's source unpacked; its foreign headers
)
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: run as root (apt-get install)" >&2
	exit 100
fi
# Every package already installed: nothing to fetch, no network needed.
installed() {
	local status
	status=$(dpkg-query -W -f '${Status}\n' "${packages[@]}" 2>/dev/null) || return 1
	[ "$(grep -c '^install ok installed$' <<<"$status")" -eq "${#packages[@]}" ]
}
if ! installed; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${packages[@]}"
fi
# The musl toolchain (Zig, Xen's libraries and GoogleTest built for musl),
# once per machine: make builds the shipped tools with it.
bash "$(dirname "$0")/../toolchain/musl.sh" "${TOOLCHAIN_CACHE:-$HOME/.cache/qmin}"
