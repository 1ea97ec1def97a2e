# shellcheck shell=sh
# Guest role: prove the guest booted and reaches xenstore.
xsctl write data/result "PASS booted"
