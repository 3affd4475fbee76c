#!/bin/sh
# Runs inside L1 (busybox ash), started by /init after kvm-amd is loaded.
# Runs each guest program under exitmon (and, as an independent second
# view, the ftrace hist trigger on kvm_exit) and sends raw results to the
# host on $RESULT_DEV between markers. No assertion happens here: the host
# (run.sh) computes the oracle from the guest parameters and checks.
#
# Parameters come from /vmtest-params.sh, written by run.sh:
#   VT_CASES  space-separated case names to run, in order
#   VT_<case>_VMM   VMM arguments;  VT_<case>_EM  extra exitmon arguments
#   VT_<case>_KIND  single | pid | vm  (pid, vm: two VMMs; pid: exitmon -p on the first)
#   VT_<case>_VMM2  arguments of the second VMM (kind pid)
#   VT_SEED_WORKLOAD  workload for the seed-experiment case
set -u
# shellcheck disable=SC1091
. /vmtest-params.sh

T=/sys/kernel/tracing
W=/tmp/vt
# A guest that never reaches hlt fails after this long, with its registers.
VMM_TIMEOUT=${VT_VMM_TIMEOUT:-60}
mkdir -p "$W"

# emit NAME FILE: one result block. The file content is passed verbatim.
emit() {
	{
		echo "@@VMTEST-BEGIN $1@@"
		cat "$2" 2>/dev/null
		echo "@@VMTEST-END $1@@"
	} >"$RESULT_DEV"
}
emit_str() { # NAME STRING
	printf '%s\n' "$2" >"$W/.s"
	emit "$1" "$W/.s"
}

step() { echo "  [$(cut -d' ' -f1 /proc/uptime)] $*" >/dev/console; }

now_ms() { # coarse wall clock in ms (busybox date may lack %N)
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

hist_on() {
	echo 'hist:keys=common_pid,exit_reason:size=4096' >"$T/events/kvm/kvm_exit/trigger"
}
hist_off() { # FILE: save the table, then remove the trigger (resets it)
	cat "$T/events/kvm/kvm_exit/hist" >"$1"
	echo '!hist:keys=common_pid,exit_reason:size=4096' >"$T/events/kvm/kvm_exit/trigger"
}

# Independent latency oracle (issue 11): a synthetic event from kvm_exit to
# the same thread's next kvm_entry (onmatch; ftrace variables are read
# once, so a vCPU's first entry and its final HLT pair with nothing, as in
# exitmon), with a hist of its latency per exit reason in 100 ns buckets.
# trace_clock mono: the clock bpf_ktime_get_ns() reads.
LAT_EXIT='hist:keys=common_pid:emts0=common_timestamp,emr0=exit_reason'
LAT_ENTRY='hist:keys=common_pid:emlat=common_timestamp-$emts0:onmatch(kvm.kvm_exit).trace(kvm_exitlat,$emlat,$emr0)'
LAT_HIST='hist:keys=reason,lat.buckets=100:sort=reason,lat:size=16384'
lat_on() {
	echo mono >"$T/trace_clock"
	echo 'kvm_exitlat u64 lat; unsigned int reason' >>"$T/synthetic_events" &&
		echo "$LAT_EXIT" >>"$T/events/kvm/kvm_exit/trigger" &&
		echo "$LAT_ENTRY" >>"$T/events/kvm/kvm_entry/trigger" &&
		echo "$LAT_HIST" >>"$T/events/synthetic/kvm_exitlat/trigger"
}
lat_off() { # FILE
	cat "$T/events/synthetic/kvm_exitlat/hist" >"$1" 2>&1
	echo "!$LAT_HIST" >>"$T/events/synthetic/kvm_exitlat/trigger"
	echo "!$LAT_ENTRY" >>"$T/events/kvm/kvm_entry/trigger"
	echo "!$LAT_EXIT" >>"$T/events/kvm/kvm_exit/trigger"
	echo '!kvm_exitlat' >>"$T/synthetic_events"
	echo local >"$T/trace_clock"
}

# Stop exitmon with SIGINT (it then prints its final object); kill it hard
# if it does not exit within 30 s and report rc 124 for a hang.
stop_exitmon() { # PID -> sets em_rc
	step "stopping exitmon $1"
	kill -INT "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1" 2>/dev/null
		em_rc=124
	else
		wait "$1"
		em_rc=$?
	fi
}

# Start exitmon and wait for its ready file; sets em_pid, em_ready.
start_exitmon() { # CASE ARGS...
	c=$1
	shift
	rm -f "$W/$c.ready"
	# shellcheck disable=SC2086
	# stdin from /dev/null: on a tty exitmon reads live keys.
	exitmon run -o json -i 3600 --ready-file "$W/$c.ready" "$@" \
		</dev/null >"$W/$c.exitmon" 2>"$W/$c.exitmon.err" &
	em_pid=$!
	step "exitmon pid $em_pid started"
	em_ready=0
	i=0
	while [ $i -lt 300 ]; do
		[ -e "$W/$c.ready" ] && { em_ready=1; break; }
		kill -0 "$em_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
}

run_case() {
	c=$1
	kind='' vargs='' eargs='' vargs2=''
	eval "kind=\${VT_${c}_KIND:-single} vargs=\${VT_${c}_VMM} eargs=\${VT_${c}_EM:-} vargs2=\${VT_${c}_VMM2:-}"
	echo "=== case $c ($kind): vmm $vargs / exitmon $eargs" >/dev/console
	vmm_rc=0 vmm2_rc=0 em_rc=0 em_pid=
	hist_on
	lat=0
	case " ${VT_LAT_CASES:-} " in *" $c "*) lat_on && lat=1 ;; esac
	t0=$(now_ms)
	if [ "$kind" = pid ] || [ "$kind" = vm ]; then
		rm -f "$W/go"
		# shellcheck disable=SC2086
		vmm --timeout "$VMM_TIMEOUT" $vargs --wait-file "$W/go" >"$W/$c.vmm" 2>&1 &
		p1=$!
		# shellcheck disable=SC2086
		vmm --timeout "$VMM_TIMEOUT" $vargs2 --wait-file "$W/go" >"$W/$c.vmm2" 2>&1 &
		p2=$!
		# pid: exitmon -p on the first guest; vm: its --vm options choose
		sel="-p $p1"
		[ "$kind" = vm ] && sel=
		# shellcheck disable=SC2086
		start_exitmon "$c" $sel $eargs
		if [ "$em_ready" = 1 ]; then
			step "exitmon ready, guests start"
			touch "$W/go"
		else
			kill -9 "$p1" "$p2" 2>/dev/null
		fi
		wait "$p1"
		vmm_rc=$?
		wait "$p2"
		vmm2_rc=$?
	else
		# shellcheck disable=SC2086
		start_exitmon "$c" $eargs
		if [ "$em_ready" = 1 ]; then
			step "exitmon ready, guest starts"
			# shellcheck disable=SC2086
			vmm --timeout "$VMM_TIMEOUT" $vargs >"$W/$c.vmm" 2>&1
			vmm_rc=$?
			step "guest done, status $vmm_rc"
		else
			vmm_rc=125
		fi
	fi
	stop_exitmon "$em_pid"
	step "exitmon exited, status $em_rc"
	t1=$(now_ms)
	hist_off "$W/$c.hist"
	if [ "$lat" = 1 ]; then
		lat_off "$W/$c.lathist"
		emit "$c.lathist" "$W/$c.lathist"
	fi
	emit "$c.exitmon" "$W/$c.exitmon"
	emit "$c.exitmon.err" "$W/$c.exitmon.err"
	emit "$c.vmm" "$W/$c.vmm"
	[ -n "$vargs2" ] && emit "$c.vmm2" "$W/$c.vmm2"
	emit "$c.hist" "$W/$c.hist"
	emit_str "$c.meta" "ready=$em_ready em_rc=$em_rc vmm_rc=$vmm_rc vmm2_rc=$vmm2_rc wall_ms=$((t1 - t0))"
}

# The rig's own check, without exitmon: ftrace alone around one guest.
run_rig_case() {
	c=$1
	vargs=''
	eval "vargs=\${VT_${c}_VMM}"
	hist_on
	# shellcheck disable=SC2086
	vmm --timeout "$VMM_TIMEOUT" $vargs >"$W/$c.vmm" 2>&1
	vmm_rc=$?
	hist_off "$W/$c.hist"
	emit "$c.vmm" "$W/$c.vmm"
	emit "$c.hist" "$W/$c.hist"
	emit_str "$c.meta" "vmm_rc=$vmm_rc"
}

run_seed_case() {
	c=seed
	d=$W/seed
	mkdir -p "$d"
	t0=$(now_ms)
	# shellcheck disable=SC2086
	/scripts/seed-experiment.sh -o "$d" -- $VT_SEED_WORKLOAD >"$d/out" 2>"$d/err"
	rc=$?
	t1=$(now_ms)
	emit seed.out "$d/out"
	emit seed.err "$d/err"
	emit seed.shadow "$d/shadow.json"
	emit seed.nested "$d/nested.json"
	emit seed.diff "$d/diff.json"
	emit_str seed.meta "rc=$rc wall_ms=$((t1 - t0)) npt_after=$(cat /sys/module/kvm_amd/parameters/npt)"
}

# The script's refusals: not root, and a VM holding kvm_amd.
run_seed_errors() {
	d=$W/seed_err
	mkdir -p "$d"
	chmod 0777 "$d"
	before=$(cat /sys/module/kvm_amd/parameters/npt)
	su nobody -s /bin/sh -c "/scripts/seed-experiment.sh -o $d/nr -- true" >"$d/nonroot.out" 2>"$d/nonroot.err"
	rc1=$?
	rm -f "$W/never"
	vmm --wait-file "$W/never" >"$d/busy.vmm" 2>&1 &
	bp=$!
	i=0 # the VM exists once the vCPU thread has printed its tid
	while ! grep -q 'vcpu=0 tid' "$d/busy.vmm" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	/scripts/seed-experiment.sh -o "$d/busy" -- true >"$d/busy.out" 2>"$d/busy.err"
	rc2=$?
	touch "$W/never"
	wait "$bp"
	emit seed_nonroot.err "$d/nonroot.err"
	emit seed_busy.err "$d/busy.err"
	emit_str seed_err.meta "nonroot_rc=$rc1 busy_rc=$rc2 npt_before=$before npt_after=$(cat /sys/module/kvm_amd/parameters/npt)"
}

# --- serve (issue 17): exitmon serve scraped with busybox wget before and
# after one guest (VT_serve_VMM); the host checks the deltas. Self-contained.
run_serve_case() {
	d=$W/serve
	mkdir -p "$d"
	ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
	rm -f "$d/ready"
	exitmon serve --listen 127.0.0.1:10283 --ready-file "$d/ready" </dev/null >"$d/out" 2>"$d/err" &
	sp=$!
	i=0
	while [ ! -e "$d/ready" ] && kill -0 "$sp" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	wget -q -O "$d/before" http://127.0.0.1:10283/metrics
	w1=$?
	# shellcheck disable=SC2086
	vmm --timeout "$VMM_TIMEOUT" $VT_serve_VMM >"$d/vmm" 2>&1
	vrc=$?
	wget -q -O "$d/after" http://127.0.0.1:10283/metrics
	w2=$?
	kill -TERM "$sp" 2>/dev/null
	wait "$sp"
	src=$?
	emit serve.before "$d/before"
	emit serve.after "$d/after"
	emit serve.err "$d/err"
	emit_str serve.meta "ready=$([ -e "$d/ready" ] && echo 1 || echo 0) wget_before=$w1 wget_after=$w2 vmm_rc=$vrc serve_rc=$src"
}

# kvm.ko and kvm-amd.ko without their .BTF section (as on kernels without
# CONFIG_DEBUG_INFO_BTF_MODULES or with DKMS KVM): exitmon must fall back to
# the classic tracepoints with tracefs offsets (tp_format), and be exact.
run_nobtf_case() {
	d=$W/nobtf
	mkdir -p "$d"
	npt=$(cat /sys/module/kvm_amd/parameters/npt)
	[ "$npt" = Y ] && npt=1 || npt=0
	rmmod kvm_amd && rmmod kvm &&
		insmod /modules-nobtf/kvm.ko && insmod /modules-nobtf/kvm-amd.ko npt="$npt"
	rc=$?
	emit_str nobtf.env "load_rc=$rc kvm_btf=$([ -e /sys/kernel/btf/kvm ] && echo yes || echo no) kvm_amd_btf=$([ -e /sys/kernel/btf/kvm_amd ] && echo yes || echo no)"
	exitmon run --attach raw_tp -d 1 >"$d/raw.out" 2>"$d/raw.err"
	emit_str nobtf.raw.meta "rc=$?"
	emit nobtf.raw.err "$d/raw.err"
	run_case nobtf
}

emit_str env "npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null) kvm=$([ -c /dev/kvm ] && echo yes || echo no) exitmon=$(command -v exitmon >/dev/null && echo yes || echo no) uname=$(uname -r)"
[ -c /dev/kvm ] || exit 3

for c in $VT_RIG_CASES; do
	run_rig_case "$c"
done
if command -v exitmon >/dev/null; then
	exitmon --version >"$W/version" 2>&1
	emit version "$W/version"
	for c in $VT_CASES; do
		run_case "$c"
	done
	[ -z "${VT_serve_VMM:-}" ] || run_serve_case
	# Last: it reloads kvm_amd.
	run_seed_errors
	run_seed_case
	run_nobtf_case
fi
exit 0
