# shellcheck shell=sh
# Guest role: what a guest may and may not do in xenstore.
verdict="PASS permissions"
xsctl write data/probe ok || verdict="FAIL own data/ not writable"
xsctl read /local/domain/0/secret && verdict="FAIL read dom0's key"
xsctl write /local/domain/0/secret pwned && verdict="FAIL wrote dom0's key"
xsctl write name renamed && verdict="FAIL renamed itself"
xsctl write data/result "$verdict"
