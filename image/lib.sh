# Staging a root from Debian 12 packages: shared by `make image` (image/build.sh)
# and the real-Xen tier (test/xen/images.sh). Nothing is installed on the host:
# .debs are fetched with apt-get download into a cache and unpacked with
# dpkg-deb -x into one tree ($unpacked), from which each root takes its files.
# shellcheck shell=bash
# The caller sets $unpacked (the unpacked tree).
# shellcheck disable=SC2154

# The kernel package linux-image-amd64 points at today.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1 |
		grep . || { echo "image: no kernel package behind linux-image-amd64 (apt-get update?)" >&2 && return 1; }
}

# candidate PACKAGE: "PACKAGE VERSION SHA256 FILE" of the version apt would
# install today, from apt's index (whose Release file apt checked against
# Debian's key); FILE is the name apt-get download gives it.
candidate() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | awk -v package="$1" '
		/^Version: / { version = $2 } /^SHA256: / { sum = $2 } /^Architecture: / { arch = $2 }
		/^$/ { exit }
		END {
			if (version == "" || sum == "") exit 1
			file = version; sub(/:/, "%3a", file)
			print package, version, sum, package "_" file "_" arch ".deb"
		}' || { echo "image: apt knows no $1 (apt-get update?)" >&2 && return 1; }
}

# fetch_verified CACHE PACKAGE VERSION SHA256 FILE: the .deb in CACHE, fetched
# unless a copy with the index's SHA-256 is there; a copy that differs is
# fetched again, and a download that differs is refused.
fetch_verified() {
	local cache=$1 package=$2 version=$3 sum=$4 file=$5
	has_sum() { [ -f "$cache/$file" ] && [ "$(sha256sum <"$cache/$file" | cut -d ' ' -f 1)" = "$sum" ]; }
	has_sum && return 0
	rm -f "$cache/$file"
	echo "# downloading $package $version" >&2
	(cd "$cache" && apt-get download -q "$package=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
	[ -f "$cache/$file" ] || { echo "image: apt-get download $package=$version gave no $file" >&2 && return 1; }
	if ! has_sum; then
		rm -f "$cache/$file"
		echo "image: $file does not have the SHA-256 of apt's signed index ($sum): refused" >&2
		return 1
	fi
}

# fetch_and_unpack CACHE TREE PACKAGE...: the current candidate of every
# package, checked against apt's index, and when that set changed, all of
# them unpacked into TREE afresh. TREE.manifest lists them: package, version,
# SHA-256, one a line.
fetch_and_unpack() {
	local cache=$1 tree=$2 package debs=() manifest=""
	shift 2
	mkdir -p "$cache"
	for package in "$@"; do
		local fields
		fields=$(candidate "$package") || return 1
		# shellcheck disable=SC2086 # four words
		fetch_verified "$cache" $fields || return 1
		debs+=("$cache/${fields##* }")
		manifest+="${fields% *}"$'\n'
	done
	local stamp
	stamp=$(printf '%s' "$manifest" | md5sum | cut -d ' ' -f 1)
	if [ "$(cat "$tree.stamp" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$tree"
		local deb
		for deb in "${debs[@]}"; do
			dpkg-deb -x "$deb" "$tree" || return 1
		done
		echo "$stamp" >"$tree.stamp"
	fi
	printf '%s' "$manifest" | LC_ALL=C sort >"$tree.manifest"
}

kernel_version() { # the version of the unpacked kernel, as in /lib/modules
	local dirs=("$unpacked"/lib/modules/*)
	basename "${dirs[0]}"
}

# new_root DIR: busybox with its applets, dev/console, and the directories
# every root has (needs root, or fakeroot, for the device node).
new_root() {
	local root=$1 applet
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/sbin,dev,proc,sys,run,tmp,etc,root,var/log,var/lib}
	chmod 1777 "$root/tmp"
	ln -s ../run "$root/var/run"
	# Without dev/console in the archive, init starts with no stdout.
	mknod -m 600 "$root/dev/console" c 5 1
	cp "$unpacked/bin/busybox" "$root/bin/busybox"
	for applet in $("$unpacked/bin/busybox" --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
}

# modules_with_dependencies MODULE...: their .ko files, dependencies first.
modules_with_dependencies() {
	local dir module file dep
	dir="$unpacked/lib/modules/$(kernel_version)"
	for module in "$@"; do
		file=$(find "$dir" -name "$module.ko" -o -name "${module//-/_}.ko" | head -n 1)
		[ -n "$file" ] || { echo "image: module $module not found" >&2 && return 1; }
		for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
			modules_with_dependencies "$dep" || return 1
		done
		echo "$file"
	done
}

# add_modules ROOT MODULE...: the modules and what they need, in the kernel's
# tree with modules.dep, so that modprobe finds them.
add_modules() {
	local root=$1 version file files
	shift
	version=$(kernel_version)
	files=$(modules_with_dependencies "$@") || return 1
	for file in $(echo "$files" | awk '!seen[$0]++'); do
		local target="$root${file#"$unpacked"}"
		mkdir -p "$(dirname "$target")"
		cp "$file" "$target"
	done
	cp "$unpacked/lib/modules/$version"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$version/"
	depmod -b "$root" "$version"
}

# add_with_libraries ROOT FILE...: files of the unpacked tree at their own
# path, with every library ldd resolves for them (from the tree where it has
# them), plus libgcc_s, without which xl aborts on its first error.
add_with_libraries() {
	local root=$1 file lib
	shift
	local libpath="$unpacked/usr/lib/x86_64-linux-gnu:$unpacked/lib/x86_64-linux-gnu"
	for file in "$@"; do
		add_file "$root" "$file"
		for lib in $(LD_LIBRARY_PATH=$libpath ldd "$file" | awk '/=> \// { print $3 } /^\t\/lib64/ { print $1 }'); do
			add_file "$root" "$lib" -L
		done
	done
	add_file "$root" "$(find "$unpacked/lib" "$unpacked/usr/lib" /lib/x86_64-linux-gnu -name libgcc_s.so.1 2>/dev/null | head -n 1)" -L
}

# add_file ROOT PATH [-L]: at its own path, minus the unpacked tree; with -L
# the file a link points to, taken from the tree when the tree has it (an
# absolute link in the tree points into the tree, not at the host).
add_file() {
	local target="${2#"$unpacked"}" source=$2
	[ -e "$1$target" ] && return 0
	mkdir -p "$1$(dirname "$target")"
	if [ "${3:-}" = -L ]; then
		local inside=$target link
		while [ -L "$unpacked$inside" ]; do
			link=$(readlink "$unpacked$inside")
			case "$link" in /*) inside=$link ;; *) inside=$(dirname "$inside")/$link ;; esac
		done
		[ -e "$unpacked$inside" ] && source=$unpacked$inside
		cp -L "$source" "$1$target"
	else
		cp -a "$source" "$1$target"
	fi
}

# The Debian packages OpenRC needs at run time, with busybox.
openrc_packages() {
	echo busybox-static openrc librc1 libeinfo1 libselinux1 libpcre2-8-0 libaudit1 libcap-ng0 libpam0g libc6
}

# add_openrc ROOT: OpenRC (Debian's openrc package) with its libraries, and
# the runlevel directories.
add_openrc() {
	local root=$1 file
	for file in sbin/openrc sbin/openrc-run sbin/openrc-shutdown sbin/supervise-daemon sbin/rc-service \
		sbin/rc-update bin/rc-status; do
		add_with_libraries "$root" "$unpacked/$file"
	done
	cp -a "$unpacked/lib/rc" "$root/lib/"
	cp "$unpacked/etc/rc.conf" "$root/etc/rc.conf"
	# Debian's openrc reads LSB facilities from insserv's configuration: none here.
	: >"$root/etc/insserv.conf"
	mkdir -p "$root/etc/insserv.conf.d"
	mkdir -p "$root/etc/init.d" "$root/etc/conf.d" "$root/etc/runlevels"/{sysinit,boot,default,shutdown}
}

# add_init_script ROOT NAME TOP: qmin's init.d/NAME.in from TOP, with the
# tools where the images have them (/usr/sbin).
add_init_script() {
	sed 's|@SBINDIR@|/usr/sbin|g' "$3/init.d/$2.in" >"$1/etc/init.d/$2"
	chmod 755 "$1/etc/init.d/$2"
}

enable() { # enable ROOT RUNLEVEL SERVICE...
	local root=$1 level=$2 service
	shift 2
	mkdir -p "$root/etc/runlevels/$level"
	for service in "$@"; do
		ln -sfn "/etc/init.d/$service" "$root/etc/runlevels/$level/$service"
	done
}

# domu_kernel BZIMAGE OUT [GZIP-LEVEL]: the kernel as a gzip-compressed ELF,
# for domUs: decompressing the bzImage's XZ in the domain builder costs
# seconds per VM start under emulation.
domu_kernel() {
	local offset
	offset=$(grep -abo $'\xfd7zXZ\x00' "$1" | head -n 1 | cut -d : -f 1)
	[ -n "$offset" ] || { echo "image: no XZ payload in $1" >&2 && return 1; }
	# xz stops at the end of its stream and fails on the rest of the file.
	{ tail -c +$((offset + 1)) "$1" | xz -dc 2>/dev/null || true; } | gzip "${3:--1}" -n >"$2"
	[ "$(gzip -dc "$2" | head -c 4 | tail -c 3)" = ELF ] || { echo "image: no ELF kernel in $1" >&2 && return 1; }
}

# pack ROOT IMAGE [EPOCH]: a gzipped newc cpio. With EPOCH every file gets that
# time and the archive is the same byte for byte from the same inputs.
pack() {
	local root=$1 image=$2 epoch=${3:-}
	if [ -n "$epoch" ]; then
		find "$root" -exec touch -h -d "@$epoch" {} +
		(cd "$root" && find . -print0 | LC_ALL=C sort -z |
			cpio -o -0 -H newc -R 0:0 --reproducible --quiet | gzip -9 -n) >"$image"
	else
		(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$image"
	fi
}
