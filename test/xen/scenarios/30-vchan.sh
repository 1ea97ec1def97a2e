# shellcheck shell=sh
# vchan both ways between dom0 and a PV domU through qmin's vchan on
# libxenvchan: dom0 serves and the guest connects, then the other way round.
# timeout: 180
. /qmin/lib.sh
id=$(guest_create vc pv vchan) || fail "xl create failed"
xl unpause vc || fail "xl unpause failed"
reply=$(vchan-probe server "$id" 600 hello-from-dom0) || { guest_console vc; fail "dom0 server failed"; }
[ "$reply" = "echo:hello-from-dom0" ] || fail "dom0 server got '$reply'"
got=$(vchan-probe client "$id" 601) || { guest_console vc; fail "dom0 client failed"; }
[ "$got" = "hello-from-domU" ] || fail "dom0 client got '$got'"
value=$(guest_result vc 60) || { guest_console vc; fail "no result from the guest"; }
[ "$value" = "PASS vchan" ] || { guest_console vc; fail "guest said: $value"; }
guest_gone vc 60 || fail "the guest did not power off"
