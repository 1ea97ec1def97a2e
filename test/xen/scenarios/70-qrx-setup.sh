# shellcheck shell=sh
# qrx on real Xen (libxenvchan), set-up for 71-79: dom0 runs qrx-broker with a
# policy, then two PV VMs start qrx-agent from their init. The broker is
# there first here; 73 starts it after the agents. 55 does the same with a
# PVH VM in the PVH boot.
# timeout: 300
. /qmin/lib.sh
qrx-broker --version | grep -q 'vchan transport xen' || fail "qrx-broker is not the libxenvchan build: $(qrx-broker --version)"
qrx_dom0_setup || qrx_fail "the broker did not load its policy"
qrx_vm_start work pv || qrx_fail "work's agent did not connect"
qrx_vm_start personal pv || qrx_fail "personal's agent did not connect"
