# Bats runs this once around the whole suite. Every process a test starts
# inherits QMIN_BATS_SUITE; when the suite ends, none may be left: a test
# that leaves a daemon or a double behind fails the run, and what it left
# is listed and killed.

setup_suite() {
	QMIN_BATS_SUITE="$$.$(date +%s%N)"
	export QMIN_BATS_SUITE
}

# survivors: the processes carrying this suite's mark, Bats' own aside.
survivors() {
	local environ pid cmdline
	for environ in /proc/[0-9]*/environ; do
		pid=${environ#/proc/}
		pid=${pid%/environ}
		[ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
		grep -qz "^QMIN_BATS_SUITE=$QMIN_BATS_SUITE\$" "$environ" 2>/dev/null || continue
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		case "$cmdline" in *bats-core/bats* | *bin/bats\ * | "") continue ;; esac
		echo "$pid $cmdline"
	done
}

teardown_suite() {
	local left line tries=0
	# A process being reaped as the last test ends may need a moment.
	while left=$(survivors) && [ -n "$left" ] && [ "$tries" -lt 40 ]; do
		tries=$((tries + 1))
		sleep 0.05
	done
	[ -z "$left" ] && return 0
	echo "# processes started by the suite outlived it:" >&3
	while IFS= read -r line; do echo "#   $line"; done <<<"$left" >&3
	cut -d ' ' -f 1 <<<"$left" | xargs -r kill -9 2>/dev/null
	return 1
}
