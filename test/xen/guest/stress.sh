# shellcheck shell=sh
# Guest role: busy work for $1 seconds (busy_work, from /qmin/lib.sh), then
# the count of runs that went wrong and of segfaults the kernel saw.
# shellcheck source=test/xen/lib.sh
. /qmin/lib.sh
# shellcheck disable=SC2046 # two numbers
set -- $(busy_work "$1")
runs=$1 bad=$2
segfaults=$(dmesg | grep -c segfault)
if [ "$bad" -eq 0 ] && [ "$segfaults" -eq 0 ]; then
	xsctl write data/result "PASS runs=$runs"
else
	xsctl write data/result "FAIL runs=$runs bad=$bad segfaults=$segfaults"
fi
