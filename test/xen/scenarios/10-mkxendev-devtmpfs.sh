# shellcheck shell=sh
# mkxendev where devtmpfs already made every node: it plans to keep them all,
# and a real run changes none of them.
. /qmin/lib.sh
mkdir -p /tmp/devt/dev
mount -t devtmpfs devtmpfs /tmp/devt/dev || fail "cannot mount devtmpfs"
plan=$(mkxendev -n --no-mount --root /tmp/devt) || fail "mkxendev -n failed"
echo "$plan"
echo "$plan" | grep -q '^keep /tmp/devt/dev/xen/evtchn ' || fail "evtchn not kept"
echo "$plan" | grep -v '^keep ' && fail "devtmpfs nodes would change"
before=$(stat -c '%i %a' /tmp/devt/dev/xen/evtchn /tmp/devt/dev/hvc0)
mkxendev --no-mount --root /tmp/devt || fail "mkxendev failed"
after=$(stat -c '%i %a' /tmp/devt/dev/xen/evtchn /tmp/devt/dev/hvc0)
[ "$before" = "$after" ] || fail "nodes changed: $before -> $after"
umount /tmp/devt/dev
