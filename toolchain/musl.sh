#!/usr/bin/env bash
# toolchain/musl.sh CACHE: what the musl build needs, fetched, checked and
# built once per machine into CACHE (the Makefile's TOOLCHAIN_CACHE):
#   CACHE/zig-VERSION/zig          the compiler (clang 16, libc++, musl 1.2.4)
#   CACHE/xen-musl-VERSION/        include/ and lib/: Xen's six libraries
#   CACHE/gtest-musl/              include/ and lib/: GoogleTest
#   CACHE/zig-cache/               zig's own: musl, libc++ and libunwind, which
#                                  it builds on first use (minutes, once)
# Everything is pinned in toolchain/pins; anything that does not match is
# refused. Once everything is there nothing is fetched: the build works
# offline. Safe to run again, or twice at once (a lock).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=toolchain/pins
. "$here/pins"
cache=${1:?usage: musl.sh CACHE}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
exec 9>"$cache/.lock"
flock 9
zig_dir=$cache/zig-$ZIG_VERSION
xen_dir=$cache/xen-musl-$XEN_SOURCE_VERSION
gtest_dir=$cache/gtest-musl
export ZIG_GLOBAL_CACHE_DIR=$cache/zig-cache ZIG_LOCAL_CACHE_DIR=$cache/zig-cache
say() { echo "musl.sh: $*" >&2; }
refuse() {
	say "refused: $*"
	exit 1
}

fetch_zig() {
	[ -x "$zig_dir/zig" ] && return 0
	local tgz=$cache/zig.tgz.part unpacked got
	say "fetching Zig $ZIG_VERSION: $ZIG_URL"
	curl -fsSL --retry 3 -o "$tgz" "$ZIG_URL"
	got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w 0)
	[ "$got" = "$ZIG_SHA512" ] || refuse "its sha512 is $got, not the pinned $ZIG_SHA512"
	unpacked=$(mktemp -d "$cache/zig.XXXXXX")
	tar -xzf "$tgz" -C "$unpacked"
	got=$(sha256sum "$unpacked/package/zig" | cut -d ' ' -f 1)
	[ "$got" = "$ZIG_BINARY_SHA256" ] || refuse "its zig has SHA-256 $got, not the pinned $ZIG_BINARY_SHA256"
	rm -rf "$zig_dir"
	mv "$unpacked/package" "$zig_dir"
	rm -rf "$unpacked" "$tgz"
}

# Debian's source package through a private apt configuration (a deb-src
# list of its own, its own lists and cache): the system's is not touched.
# apt checks the files against the signed Sources index; dpkg-source applies
# Debian's patches.
fetch_xen_source() { # fetch_xen_source DIR: the unpacked source in DIR/xen-*
	local apt=$cache/apt list
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	list=$apt/sources.list
	for suite in bookworm bookworm-updates; do
		echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
	done >"$list"
	local options=(-q -o "Dir::Etc::SourceList=$list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
		-o APT::Sandbox::User=root)
	say "fetching Debian's xen $XEN_SOURCE_VERSION source"
	apt-get "${options[@]}" update >/dev/null
	(cd "$1" && apt-get "${options[@]}" source "xen=$XEN_SOURCE_VERSION" >/dev/null)
}

# Xen's public headers as its own build lays them out, plus the two foreign
# ones that xenctrl.h includes (made by Xen's mkheader.py).
xen_headers() { # xen_headers SOURCE INCLUDE
	local src=$1 include=$2 arch
	mkdir -p "$include/xen/sys" "$include/xen/foreign"
	cp -R "$src/xen/include/public/." "$include/xen/"
	cp "$src"/tools/include/xen-sys/Linux/*.h "$include/xen/sys/"
	cp "$src"/tools/include/*.h "$include/"
	cp -R "$src/tools/include/xenstore-compat" "$src/tools/include/xen-tools" "$include/"
	# mkheader.py names the include guard after the file it writes; its
	# Makefile then drops an alignment cast it cannot take.
	for arch in x86_32 x86_64; do
		(cd "$src/tools/include/xen-foreign" &&
			python3 mkheader.py "$arch" "$arch.h.tmp" "../../../xen/include/public/arch-x86/xen-$arch.h" \
				../../../xen/include/public/arch-x86/xen.h ../../../xen/include/public/xen.h &&
			sed 's/(__align8__ \(uint64_t\))/(\1)/g' "$arch.h.tmp" >"$include/xen/foreign/$arch.h")
	done
}

# One static archive: lib$1.a from the C files after the private include dir $2,
# with the definitions Xen's tools/Rules.mk gives them. Xen's build keeps
# its asserts: zig defines NDEBUG at any -O, so it is undone.
xen_library() { # xen_library NAME PRIVATE-DIR SOURCE...
	local name=$1 private=$2 objects=() source object
	shift 2
	for source in "$@"; do
		object=$work/obj/$name-$(basename "$source" .c).o
		"$zig_dir/zig" cc -target x86_64-linux-musl -Os -UNDEBUG -std=gnu99 -fno-strict-aliasing \
			-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -D__XEN_TOOLS__ \
			-D_LARGEFILE_SOURCE -D_LARGEFILE64_SOURCE -DBUILD_ID -ffunction-sections -fdata-sections \
			-include "$work/config.h" -I "$xen_dir.part/include" \
			-I "$private" -iquote "$src/tools/xenstore" -DXEN_RUN_STORED='"/var/run/xenstored"' \
			-c -o "$object" "$source"
		objects+=("$object")
	done
	"$zig_dir/zig" ar rcs "$xen_dir.part/lib/lib$name.a" "${objects[@]}"
}

build_xen() {
	[ -f "$xen_dir/lib/libxenvchan.a" ] && return 0
	work=$(mktemp -d "$cache/xen-build.XXXXXX")
	trap 'rm -rf "$work" "$xen_dir.part"' EXIT
	fetch_xen_source "$work"
	src=$(echo "$work"/xen-*/)
	src=${src%/}
	rm -rf "$xen_dir.part"
	mkdir -p "$xen_dir.part/lib" "$work/obj"
	xen_headers "$src" "$xen_dir.part/include"
	# Xen's configure, for what these six libraries ask of it.
	echo '#define HAVE_PIPE2 1' >"$work/config.h"
	say "building Xen's libraries for musl"
	local libs=$src/tools/libs
	xen_library xentoolcore "$libs/toolcore" "$libs/toolcore/handlereg.c"
	xen_library xentoollog "$libs/toollog" "$libs/toollog/xtl_core.c" "$libs/toollog/xtl_logger_stdio.c"
	xen_library xenevtchn "$libs/evtchn" "$libs/evtchn/core.c" "$libs/evtchn/linux.c"
	xen_library xengnttab "$libs/gnttab" "$libs/gnttab/gnttab_core.c" "$libs/gnttab/gntshr_core.c" \
		"$libs/gnttab/linux.c"
	xen_library xenstore "$libs/store" "$src/tools/xenstore/xs_lib.c" "$libs/store/xs.c"
	xen_library xenvchan "$libs/vchan" "$libs/vchan/init.c" "$libs/vchan/io.c"
	rm -rf "$xen_dir" "$work"
	mv "$xen_dir.part" "$xen_dir"
	trap - EXIT
}

build_gtest() {
	[ -f "$gtest_dir/lib/libgtest_main.a" ] && return 0
	local source=$GTEST_SOURCE/googletest part=$gtest_dir.part unit
	[ -d "$source/src" ] || refuse "no GoogleTest source in $source (Debian's googletest package)"
	say "building GoogleTest for musl"
	rm -rf "$part"
	mkdir -p "$part/lib" "$part/obj"
	cp -R "$source/include" "$part/include"
	for unit in gtest-all gtest_main; do
		"$zig_dir/zig" c++ -target x86_64-linux-musl -std=c++17 -O2 -I "$source/include" -I "$source" \
			-c -o "$part/obj/$unit.o" "$source/src/$unit.cc"
	done
	"$zig_dir/zig" ar rcs "$part/lib/libgtest.a" "$part/obj/gtest-all.o"
	"$zig_dir/zig" ar rcs "$part/lib/libgtest_main.a" "$part/obj/gtest_main.o"
	rm -rf "$part/obj" "$gtest_dir"
	mv "$part" "$gtest_dir"
}

fetch_zig
build_xen
build_gtest
