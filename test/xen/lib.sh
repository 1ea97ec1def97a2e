# Helpers for dom0's /init and the scenarios in the real-Xen tier (busybox sh).
# shellcheck shell=sh

# now: seconds since boot, with hundredths.
now() {
	cut -d ' ' -f 1 /proc/uptime
}

# result NAME PASS|FAIL START [REASON]: one result line on the console.
result() {
	elapsed=$(awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	echo "QMIN-RESULT $1 $2 $elapsed${4:+ $(echo "$4" | tr '\n' ' ' | sed 's/ *$//')}"
}

# run_scenario FILE: runs one scenario with a time limit, traced (sh -x) so
# that a failure shows how far it got; prints its result, and when it fails
# the measurements it printed (measure), and when it fails
# its last output lines and the consoles of the guests it left running, which
# are then destroyed so that the next scenario starts clean.
# "# timeout: N" in the file sets the limit.
run_scenario() {
	name=$(basename "$1" .sh)
	limit=$(sed -n 's/^# timeout: *\([0-9]*\)$/\1/p' "$1")
	start=$(now)
	timeout -s KILL "${limit:-120}" sh -x "$1" >"/tmp/$name.log" 2>&1
	status=$?
	sed -n "s/^QMIN-MEASURE /QMIN-MEASURE $name: /p" "/tmp/$name.log"
	if [ "$status" -eq 0 ]; then
		result "$name" PASS "$start"
		return
	fi
	reason="exit $status"
	[ "$status" -eq 137 ] && reason="killed after ${limit:-120} s"
	result "$name" FAIL "$start" "$reason"
	tail -n 25 "/tmp/$name.log" | sed "s/^/QMIN-LOG $name: /"
	for guest in $(xl list 2>/dev/null | awk 'NR > 2 { print $1 }'); do
		guest_console "$guest" | sed "s/^/QMIN-LOG $name: [$guest] /"
		xl destroy "$guest" 2>/dev/null
	done
}

# busy_work SECONDS: busybox tools busy for that long, each result checked;
# prints "RUNS BAD" (BAD: the runs that went wrong). For dom0 and the guests.
busy_work() {
	end=$(($(cut -d. -f1 /proc/uptime) + $1))
	runs=0 bad=0
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		head -c 100000 /dev/urandom | md5sum >/dev/null || bad=$((bad + 1))
		seq 1 2000 | awk '{ s += $1 } END { print s }' | grep -q '^2001000$' || bad=$((bad + 1))
		runs=$((runs + 1))
	done
	echo "$runs $bad"
}

# fail MESSAGE: ends a scenario with a reason.
fail() {
	echo "FAIL: $*"
	exit 1
}

# guest_create NAME TYPE ROLE [ARG [XL-LINE]]: creates a guest running
# /qmin/guest/ROLE.sh with ARG, paused, with one more xl.cfg line if given;
# prints its domain ID. `xl unpause NAME` starts it.
guest_create() {
	cat >"/etc/xen/$1.cfg" <<-CFG
		name = "$1"
		type = "$2"
		memory = 128
		vcpus = 1
		kernel = "/qmin/guest-kernel.gz"
		ramdisk = "/qmin/guest-initrd.gz"
		extra = "console=hvc0 quiet qmin_role=$3 qmin_arg=${4:-none}"
		on_poweroff = "destroy"
		on_crash = "destroy"
		${5:-}
	CFG
	xl create -p "/etc/xen/$1.cfg" >"/tmp/xl-create-$1.log" 2>&1 || {
		cat "/tmp/xl-create-$1.log"
		return 1
	}
	xl domid "$1"
}

# wait_for_key PATH SECONDS: waits until xenstore has PATH; prints its value.
wait_for_key() {
	deadline=$(awk -v now="$(now)" -v wait="$2" 'BEGIN { print now + wait }')
	until xenstore-read "$1" 2>/dev/null; do
		awk -v now="$(now)" -v end="$deadline" 'BEGIN { exit !(now < end) }' || return 1
		sleep 0.2
	done
}

# guest_result NAME SECONDS: waits for the guest's data/result, prints it,
# and acknowledges it: the guest powers off only after the ack, since its
# xenstore home (and the result in it) goes when the domain does. The guest
# is followed by name: under QEMU's emulated SVM a PVH guest sometimes
# triple-faults while it boots (Xen's log names an RDTSC in the guest
# kernel) and xl restarts it under a new ID, which then writes its result
# there. The restart is not hidden: it is printed as a measure line with
# Xen's count of triple faults.
guest_result() {
	deadline=$(awk -v now="$(now)" -v wait="$2" 'BEGIN { print now + wait }')
	first=$(xl domid "$1" 2>/dev/null)
	until id=$(xl domid "$1" 2>/dev/null) && value=$(xenstore-read "/local/domain/$id/data/result" 2>/dev/null); do
		awk -v now="$(now)" -v end="$deadline" 'BEGIN { exit !(now < end) }' || return 1
		sleep 0.5
	done
	[ "$id" = "$first" ] ||
		echo "QMIN-MEASURE xl restarted $1 (domain $first, then $id); triple faults in Xen's log: $(xl dmesg | grep -c 'Triple fault')" >&2
	xenstore-write "/local/domain/$id/data/ack" 1
	echo "$value"
}

# guest_gone NAME SECONDS: waits until the guest no longer exists.
guest_gone() {
	waited=0
	while xl domid "$1" >/dev/null 2>&1; do
		[ "$waited" -lt "$2" ] || return 1
		sleep 1
		waited=$((waited + 1))
	done
}

# guest_console NAME: what the guest printed, for a failing scenario's log.
guest_console() {
	tail -n 20 "/var/log/xen/console/guest-$1.log" 2>/dev/null
}

# wait_for_lines FILE PATTERN COUNT SECONDS: waits until FILE has COUNT lines
# matching the basic regular expression PATTERN.
wait_for_lines() {
	deadline=$(awk -v now="$(now)" -v wait="$4" 'BEGIN { print now + wait }')
	until [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; do
		awk -v now="$(now)" -v end="$deadline" 'BEGIN { exit !(now < end) }' || return 1
		sleep 0.2
	done
}

# measure TEXT: a measurement, printed with the scenario's result by run.sh.
measure() {
	echo "QMIN-MEASURE $*"
}

# qrx_broker_start: dom0's qrx-broker in the background, logging (-v) to
# /tmp/qrx-broker.log; its pid goes to /run/qrx-broker.pid.
qrx_broker_start() {
	qrx-broker -d -v --xvm-start /bin/false 2>>/tmp/qrx-broker.log &
	echo $! >/run/qrx-broker.pid
}

# in_vm NAME: runs standard input as a shell script in VM NAME, through a
# dom0 -> VM call of the qmin.Run service; its output and exit status come back.
in_vm() {
	qrx-call --agent-socket /run/qubes/qrx-broker.sock "$1" qmin.Run
}

# cpu_ticks PID: user plus system time of a process, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# wakeups PID: how often the process's threads went back to sleep
# (voluntary context switches); ticks miss short wake-ups, this does not.
wakeups() {
	cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }'
}

# qrx_fail MESSAGE: ends a qrx scenario with the broker's last words.
qrx_fail() {
	tail -n 12 /tmp/qrx-broker.log
	fail "$@"
}

# qrx_dom0_setup: VM definitions, the policy of the qrx scenarios and dom0's
# test.Dom0 service, then the broker; waits until it has loaded the policy.
qrx_dom0_setup() {
	mkdir -p /etc/xvm /etc/qubes/policy.d /etc/qubes-rpc /run/qubes
	for vm in work personal bad; do
		printf 'name = "%s"\nxvm_default_user = "root"\n' "$vm" >"/etc/xvm/$vm.cfg"
	done
	cat >/etc/qubes/policy.d/30-qmin-test.policy <<-'POLICY'
		test.Echo * work personal allow
		test.Echo * personal work deny
		test.Null * work personal allow
		test.Md5 * @anyvm @anyvm allow
		test.Discard * work personal allow
		test.Dom0 * @anyvm @adminvm allow
	POLICY
	# shellcheck disable=SC2016 # expands when the service runs
	printf '#!/bin/sh\necho "dom0 got $(cat) from $QREXEC_REMOTE_DOMAIN"\n' >/etc/qubes-rpc/test.Dom0
	chmod 755 /etc/qubes-rpc/test.Dom0
	qrx_broker_start
	wait_for_lines /tmp/qrx-broker.log 'policy loaded' 1 10
}

# qrx_vm_start NAME TYPE: a VM running qrx-agent from its init; waits until
# the broker has its agent connected.
qrx_vm_start() {
	guest_create "$1" "$2" qrx >/dev/null && xl unpause "$1" || return 1
	wait_for_lines /tmp/qrx-broker.log "agent of $1 connected" 1 180 || {
		guest_console "$1"
		return 1
	}
}

# work_echoes WORD: work calls personal's test.Echo with WORD on stdin; it
# must come back whole, with the service's exit code 7. Prints what came
# back when it did not.
work_echoes() {
	out=$({ echo "word=$1"; cat <<-'SCRIPT'
		echo "$word" | qrx-call personal test.Echo 2>/dev/null
		echo "exit=$?"
	SCRIPT
	} | in_vm work)
	[ "$out" = "$(printf 'from=work arg=\n%s\nexit=7' "$1")" ] || {
		echo "work -> personal test.Echo: '$out'"
		return 1
	}
}
