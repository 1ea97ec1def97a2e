# shellcheck shell=sh
# Guest role: configure eth0 as a routed /32 and ping dom0 at $1. The guest
# then waits for dom0's ack, so dom0 can ping back (and destroys it instead).
gateway=$1
waited=0
until ip link show eth0 >/dev/null 2>&1; do
	[ "$waited" -lt 100 ] || { xsctl write data/result "FAIL no eth0"; exit 1; }
	sleep 0.1
	waited=$((waited + 1))
done
ip link set eth0 up
ip addr add 10.137.0.5/32 dev eth0
ip route add "$gateway" dev eth0
ip route add default via "$gateway" dev eth0
if ping -c 3 -W 2 "$gateway" >/tmp/ping.log 2>&1; then
	xsctl write data/result "PASS ping"
else
	xsctl write data/result "FAIL ping: $(tail -n 2 /tmp/ping.log | tr '\n' ' ')"
fi
