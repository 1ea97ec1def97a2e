# shellcheck shell=sh
# Fails on purpose: the harness must report it as a failure, with its reason
# and its output, and count that as the harness working.
# expect: fail
echo "this line must reach the report"
echo "FAIL: this scenario fails on purpose"
exit 3
