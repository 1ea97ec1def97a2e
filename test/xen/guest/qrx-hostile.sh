# shellcheck shell=sh
# Guest role: serves the control channel like qrx-agent, but once the broker
# connects sends the misbehaviour named by the argument (see qrx-hostile).
echo "qmin-guest: qrx-hostile $1"
qrx-hostile "$1"
echo "qmin-guest: qrx-hostile exit $?"
xsctl write data/result "hostile done"
