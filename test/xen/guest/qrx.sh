# shellcheck shell=sh
# Guest role: a VM with qrx-agent started from its init, as OpenRC would,
# and the services the qrx scenarios call; then idle until dom0 destroys it.
# qmin.Run runs a script from dom0 (dom0's calls are not policy-checked), so
# that dom0 can start calls from inside the VM.
# shellcheck disable=SC2016 # the service bodies expand when they run
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
mkdir -p /etc/qubes-rpc /run/qubes /root
service() {
	printf '#!/bin/sh\n%s\n' "$2" >"/etc/qubes-rpc/$1"
	chmod 755 "/etc/qubes-rpc/$1"
}
service test.Echo 'echo "from=$QREXEC_REMOTE_DOMAIN arg=${QREXEC_SERVICE_ARGUMENT:-}"; cat; echo to-stderr >&2; exit 7'
service test.Null 'exit 0'
service test.Md5 'md5sum | cut -d " " -f 1'
# 64 KiB at a time: busybox cat copies in 4 KiB pieces, which would measure cat.
service test.Discard 'dd of=/dev/null bs=65536 2>/dev/null'
# The script is read whole before it runs, so that nothing in it eats the rest.
service qmin.Run 'script=/tmp/run.$$; cat >"$script"; sh "$script" </dev/null; status=$?; rm -f "$script"; exit $status'
qrx-agent -d -v &
# Its pid for the scenarios: pidof would also name the agent's per-call processes.
echo "$!" >/run/qrx-agent.pid
echo "qmin-guest: qrx-agent pid $!"
while :; do sleep 3600; done
