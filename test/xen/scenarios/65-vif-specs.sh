# shellcheck shell=sh
# xvm-start reads a vif spec's backend= as xl itself does: for each spec of
# a table, xl's own parse (`xl -N create`: the configuration as JSON,
# nothing created) and xvm-start's (`xvm-start -n`: the order it would start
# in, the backend first) name the same backend.
# timeout: 120
. /qmin/lib.sh
dir=/tmp/vif-specs
mkdir -p "$dir"
pv() { printf 'name = "%s"\ntype = "pv"\nmemory = 64\nkernel = "/qmin/guest-kernel.gz"\n' "$1"; }
pv net-vm >"$dir/net-vm.cfg"
checked=0
while IFS='|' read -r spec want; do
	{ pv client && printf "vif = [ '%s' ]\n" "$spec"; } >"$dir/client.cfg"
	json=$(xl -N create "$dir/client.cfg" 2>/dev/null) || fail "xl -N create refused '$spec'"
	xl_backend=$(printf '%s\n' "$json" | sed -n 's/.*"backend_domname": "\([^"]*\)".*/\1/p')
	order=$(xvm-start -n --vm-dir "$dir" client 2>&1) || fail "xvm-start -n refused '$spec': $order"
	ours=dom0
	printf '%s\n' "$order" | grep -qx 'net-vm' && ours=net-vm
	[ "${xl_backend:-dom0}" = "$ours" ] || fail "'$spec': xl reads backend ${xl_backend:-dom0}, xvm-start $ours"
	[ "$ours" = "$want" ] || fail "'$spec': both read $ours, the table says $want"
	echo "  '$spec': $ours, as xl reads it"
	checked=$((checked + 1))
done <<'SPECS'
ip=10.137.0.9,backend=net-vm|net-vm
ip=10.137.0.9, backend=net-vm|net-vm
ip=10.137.0.9,   backend=net-vm|net-vm
backend=net-vm,ip=10.137.0.9|net-vm
ip=10.137.0.9|dom0
ip=10.137.0.9,,backend=net-vm|net-vm
SPECS
[ "$checked" -eq 6 ] || fail "only $checked specs checked"
