# shellcheck shell=sh
# Guest role: vchan client to dom0's server, then server for dom0's client.
got=$(vchan-probe client 0 600) || { xsctl write data/result "FAIL client"; exit 1; }
[ "$got" = hello-from-dom0 ] || { xsctl write data/result "FAIL client got $got"; exit 1; }
reply=$(vchan-probe server 0 601 hello-from-domU) || { xsctl write data/result "FAIL server"; exit 1; }
[ "$reply" = echo:hello-from-domU ] || { xsctl write data/result "FAIL server got $reply"; exit 1; }
xsctl write data/result "PASS vchan"
