#!/usr/bin/env bash
# make install: the tools, man pages, OpenRC scripts and configuration, into
# DESTDIR with PREFIX (environment: OUT, the build's folder). What a system
# already has is left as it is, and said: Alpine's xen package brings its
# own xenstored, xenconsoled and xendriverdomain services, an admin's conf.d
# files are theirs, and an existing xl.conf gets the lines to merge printed.
# Environment from the Makefile: SBIN_TOOLS, the tools that go to sbin.
set -euo pipefail
: "${DESTDIR:=}" "${PREFIX:=/usr}" "${OUT:=build}" "${SBIN_TOOLS:?the Makefile gives it}"
xen_services="xenstored xenconsoled xendriverdomain"
sbin=$PREFIX/sbin
say() { printf 'install: %s\n' "$*"; }

# The tools call each other at their installed paths, fixed when they were
# built: /usr/sbin (vif-route runs nic-handoff, nic-handoff and qrx-broker
# run xvm-start, unless told otherwise).
[ "$PREFIX" = /usr ] ||
	say "note: vif-route, nic-handoff and qrx-broker look for the other tools in /usr/sbin; with PREFIX=$PREFIX give them their paths (--nic-handoff, --xvm-start) or link them there"

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$sbin" "$DESTDIR/etc/init.d" "$DESTDIR/etc/conf.d" \
	"$DESTDIR/etc/xen/scripts" "$DESTDIR$PREFIX/share/qmin/examples/init.d" "$DESTDIR$PREFIX/share/qmin/examples/site"
for tool in $SBIN_TOOLS; do
	install -m 0755 "$OUT/bin/$tool" "$DESTDIR$sbin/"
done
install -m 0755 "$OUT/bin/qrx-call" "$DESTDIR$PREFIX/bin/qrx-call"
install -m 0755 "$OUT/bin/vif-route" "$DESTDIR/etc/xen/scripts/vif-route"
for page in man/*.[1-8]; do
	install -D -m 0644 "$page" "$DESTDIR$PREFIX/share/man/man${page##*.}/${page##*/}"
done

# Xen's own daemons: the system's scripts where it has them.
for template in init.d/*.in; do
	name=$(basename "$template" .in)
	target=$DESTDIR/etc/init.d/$name
	case " $xen_services " in *" $name "*)
		sed "s|@SBINDIR@|$sbin|g" "$template" >"$DESTDIR$PREFIX/share/qmin/examples/init.d/$name"
		chmod 0755 "$DESTDIR$PREFIX/share/qmin/examples/init.d/$name"
		if [ -e "$target" ] && ! grep -q '^# qmin:' "$target"; then
			say "kept the system's /etc/init.d/$name (qmin's is in $PREFIX/share/qmin/examples/init.d)"
			continue
		fi ;;
	esac
	sed "s|@SBINDIR@|$sbin|g" "$template" >"$target"
	chmod 0755 "$target"
done

for conf in etc/conf.d/*; do
	target=$DESTDIR/etc/conf.d/${conf##*/}
	if [ -e "$target" ]; then say "kept /etc/conf.d/${conf##*/}"; else install -m 0644 "$conf" "$target"; fi
done

xl_conf=$DESTDIR/etc/xen/xl.conf
if [ ! -e "$xl_conf" ]; then
	install -m 0644 hotplug/xl.conf "$xl_conf"
else
	missing=$(grep -v '^#' hotplug/xl.conf | while IFS= read -r line; do
		grep -qxF "$line" "$xl_conf" || echo "    $line"
	done)
	[ -z "$missing" ] || say "merge these lines into /etc/xen/xl.conf (vif-route as every vif's script):"$'\n'"$missing"
fi

cp -R etc/. "$DESTDIR$PREFIX/share/qmin/examples/"
cp site/*.site "$DESTDIR$PREFIX/share/qmin/examples/site/"
