#!/bin/sh
# Runs inside L1 (busybox sh) as /payload.sh of the nested rig
# (tests/vm/mkinitramfs.sh /init). Benchmark configurations, each around
# the same guest (vmm --mode real -n $BN: BN CPUID exits + 1 HLT + a few
# NPF/INTR), interleaved round by round. Raw results only, one line each,
# between @@VMTEST-BEGIN bench@@ / @@VMTEST-END bench@@ on $RESULT_DEV;
# tests/bench/bench.sh computes the figures.
#   slow  CFG ROUND wall_ns rc       phase 1: BPF stats off, time of the guest
#   bpf   CFG ROUND prog run_cnt run_time_ns   phase 2: BPF stats on
#   user  CFG ROUND ready_ms window_s cpu_ns cpu_pct maxrss_kb rc  (embench supervise)
#   note  TEXT
#   mark  start|end CFG ROUND   (around each slow-phase guest run, for the host)
# Parameters (/bench-params.sh): BN, BN_BPF (exits of the bpf phase), BROUNDS,
# BCPU_N, BSLOW, BBPF, BHOLD (see below), BPAIRED (1: each traced run gets an untraced run
# just before it, "slow base:CFG ..."), BPHASES (which of slow/bpf/user/touch run), BTCG (the
# host's TCG threading mode, only reported). Round r runs BSLOW rotated by
# r-1, so no configuration always runs first (after the warm-up) or always
# follows the same one.
set -u
# shellcheck disable=SC1091
. /bench-params.sh
W=/tmp/bench
mkdir -p "$W"
OUT=$W/results
: >"$OUT"
B=/bench
VMM="vmm --timeout 100 --mode real -n $BN -m 0"
VMM_BPF="vmm --timeout 100 --mode real -n ${BN_BPF:-$BN} -m 0"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# Results stream to the host as they come, so a hang loses nothing before it.
echo "@@VMTEST-BEGIN bench@@" >"$RESULT_DEV"
rec() { tee -a "$OUT" >>"$RESULT_DEV"; }
note() { echo "note $*" | rec; echo "bench: $*" >/dev/console; }

# Stop a background tracer: SIGINT, then wait (max 60 s) for it to go.
stop_bg() { # PID (SIGINT; SIGTERM after 30 s, forwarded by embench supervise; SIGKILL after 40 s)
	kill -INT "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 400 ]; do
		sleep 0.1
		i=$((i + 1))
		[ $i = 300 ] && { note "pid $1 ignores SIGINT for 30 s: SIGTERM"; kill -TERM "$1" 2>/dev/null; }
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# start_cfg CFG: starts the tracer of configuration CFG in the
# background, waits until it is attached; sets bg (pid or empty).
start_cfg() {
	bg=
	rm -f "$W/ready" "$W/sup" "$W/em.err" "$W/att.err"
	case $1 in
	none) return 0 ;;
	exitmon) embench supervise "$W/ready" "$W/sup" exitmon run -o json -i 3600 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	exitmon_tp) embench supervise "$W/ready" "$W/sup" exitmon run --attach tp -o json -i 3600 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	exitmon_vcpu) embench supervise "$W/ready" "$W/sup" exitmon run --per-vcpu -o json -i 3600 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	# investigation (opt-in): the table output at 1 s refresh, as a user runs it
	exitmon_table) embench supervise "$W/ready" "$W/sup" exitmon run -i 1 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	# another exitmon build (bench.sh BENCH_EXITMON_OLD), same invocation as exitmon
	exitmon_old) embench supervise "$W/ready" "$W/sup" exitmon_old run -o json -i 3600 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	# K extra distinct pages touched per exit (tests/bench/floor.bpf.c): TCG's price of a page
	touch4 | touch16) embench attach $B/floor.bpf.o "$W/ready" "${1}_exit" empty_entry_raw >"$W/att.out" 2>"$W/att.err" & ;;
	# addresses touched by exitmon's handlers (tests/bench/touch.bpf.c), dumped at stop
	touchrec) EMBENCH_VERBOSE=1 embench attach "${TOUCH_OBJ:-$B/touch.bpf.o}" "$W/ready" handle_exit_raw handle_entry_raw handle_thread_exit >"$W/att.out" 2>"$W/att.err" & ;;
	# the same handlers loaded by embench, unpatched and patched (bench.sh BENCH_VARIANTS)
	v_base) embench attach $B/exitmon.bpf.o "$W/ready" handle_exit_raw handle_entry_raw handle_thread_exit >"$W/att.out" 2>"$W/att.err" & ;;
	v_*) embench attach "$B/$1.bpf.o" "$W/ready" handle_exit_raw handle_entry_raw handle_thread_exit >"$W/att.out" 2>"$W/att.err" & ;;
	exitmon_reason) embench supervise "$W/ready" "$W/sup" exitmon run --reason CPUID --reason HLT -o json -i 3600 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" & ;;
	empty_raw) embench attach $B/floor.bpf.o "$W/ready" empty_exit_raw empty_entry_raw >"$W/att.out" 2>"$W/att.err" & ;;
	count_tp) embench attach $B/floor.bpf.o "$W/ready" count_exit_tp >"$W/att.out" 2>"$W/att.err" & ;;
	perf_record)
		rm -f "$W/perf.data"
		perf kvm stat record -a -o "$W/perf.data" </dev/null >"$W/perf.out" 2>"$W/perf.err" &
		bg=$!
		# perf has no ready signal: wait for its file, then let it settle
		embench waitfile "$W/perf.data" 60000
		sleep 2
		return 0 ;;
	perf_pipe)
		# perf writing its samples to a pipe into /dev/null, not a 21 MB file
		rm -f "$W/pipe"
		mkfifo "$W/pipe"
		cat "$W/pipe" >/dev/null &
		catpid=$!
		perf kvm stat record -a -o - </dev/null >"$W/pipe" 2>"$W/perf.err" &
		bg=$!
		sleep 4
		return 0 ;;
	perf_live)
		perf kvm stat live -d 1 </dev/null >"$W/perf.out" 2>"$W/perf.err" &
		bg=$!
		sleep 4
		kill -0 "$bg" 2>/dev/null || { note "perf_live exited early: $(tail -c 300 "$W/perf.err" | tr '\n' ' ')"; bg=; return 1; }
		return 0 ;;
	*) note "unknown cfg $1"; return 1 ;;
	esac
	bg=$!
	if ! embench waitfile "$W/ready" 120000 || ! kill -0 "$bg" 2>/dev/null; then
		# the end of the error, with a verifier log's last lines
		note "$1 did not attach: $(cat "$W/em.err" "$W/att.err" 2>/dev/null | tail -n 12 | tail -c 900 | tr '\n' ' ')"
		stop_bg "$bg"
		bg=
		return 1
	fi
	return 0
}

stop_cfg() { # CFG ROUND PHASE
	[ -n "$bg" ] || return 0
	if [ "$3" = bpf ]; then
		case $1 in
		exitmon*) embench progstats handle_ | sed "s/^prog /bpf $1 $2 /" | rec ;;
		esac
	fi
	stop_bg "$bg"
	case $1 in
	exitmon*) [ -s "$W/sup" ] && echo "user $1 $2 $(cat "$W/sup")" | rec ;;
	touchrec) grep '^touch' "$W/att.out" | sed "s/^touch\([^ ]*\) /touch\1 $2 /" | rec ;;
	perf_pipe) wait "$catpid" 2>/dev/null ;;
	empty_raw | count_tp | touch4 | touch16 | v_*)
		[ "$3" = bpf ] && sed -n "s/^prog /bpf $1 $2 /p" "$W/att.out" | rec ;;
	perf_record)
		echo "note perf_record round $2: perf.data $(wc -c <"$W/perf.data" 2>/dev/null) bytes; $(grep -i -m2 'lost\|wrote\|woken' "$W/perf.err" | tr '\n' ' ')" | rec
		rm -f "$W/perf.data" ;;
	perf_live)
		echo "note perf_live round $2: $(grep -c . "$W/perf.out") lines of output, stderr: $(tail -c 200 "$W/perf.err" | tr '\n' ' ')" | rec ;;
	esac
	bg=
}

run_vmm() { # CFG ROUND PHASE
	if [ "$3" != slow ]; then
		# shellcheck disable=SC2086
		tv=$(embench time $VMM_BPF 2>"$W/vmm.err" </dev/null | tail -n1)
	else
		# marks for the host, which reads QEMU's CPU time when it sees one
		# (bench.sh poll_cpu); the pauses let it read while L1 is idle
		echo "mark start $1 $2" >>"$RESULT_DEV"
		sleep 0.3
		# shellcheck disable=SC2086
		tv=$(embench time $VMM 2>"$W/vmm.err" </dev/null | tail -n1)
		echo "mark end $1 $2" >>"$RESULT_DEV"
		sleep 0.3
	fi
	# tv = "wall_ns W rc R"
	# shellcheck disable=SC2086
	set -- "$1" "$2" "$3" $tv
	echo "$3 $1 $2 $5 $7" | sed 's/^bpf /vmm-bpf /; s/^touch /vmm-touch /' | rec
}

# rotate LIST by K: prints the words of LIST starting at the (K mod n)-th
rotate() { # K WORD...
	k=$1; shift
	n=$#; k=$((k % n)); i=0; out=; head=
	for w in "$@"; do
		if [ $i -lt $k ]; then head="$head $w"; else out="$out $w"; fi
		i=$((i + 1))
	done
	echo $out $head
}
has_phase() { case " $BPHASES " in *" $1 "*) return 0 ;; esac; return 1; }

echo "env uname=$(uname -r) npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null) ncpu=$(grep -c ^processor /proc/cpuinfo) n=$BN rounds=$BROUNDS tcg=${BTCG:-?}" | rec
if [ ! -c /dev/kvm ]; then
	note "no /dev/kvm in L1"
else
	# BHOLD=1: two empty pairs held on kvm_exit/kvm_entry for the whole boot,
	# so tracers attach and detach without patching kernel text (MTTCG hang);
	# every configuration, none included, then runs over that floor
	if [ "${BHOLD:-0}" = 1 ]; then
		embench attach $B/floor.bpf.o "$W/hold.ready" empty_exit_raw empty_entry_raw hold_exit_raw hold_entry_raw >"$W/hold.out" 2>&1 &
		embench waitfile "$W/hold.ready" 120000 && note "holding two empty raw_tp pairs on kvm_exit/kvm_entry (BHOLD=1)" || note "BHOLD: the hold programs did not attach"
	fi
	# warm-up: first guest run pays page-cache / module warm-up
	embench time $VMM >/dev/null 2>&1
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	r=1
	has_phase slow || r=$((BROUNDS + 1))
	while [ $r -le "$BROUNDS" ]; do
		# shellcheck disable=SC2086
		for c in $(rotate $((r - 1)) $BSLOW); do
			echo "=== slow $c round $r" >/dev/console
			# BPAIRED=1: an untraced run right before each traced one, its own baseline
			[ "${BPAIRED:-0}" = 1 ] && [ "$c" != none ] && run_vmm "base:$c" "$r" slow
			start_cfg "$c" && { run_vmm "$c" "$r" slow; stop_cfg "$c" "$r" slow; }
		done
		r=$((r + 1))
	done
	# the touch recorder: BN_BPF exits, one run per object (touch_NAME: a variant), BPF stats off
	if has_phase touch; then
		for TOUCH_OBJ in $B/touch*.bpf.o; do
			t=$(basename "$TOUCH_OBJ" .bpf.o)
			start_cfg touchrec && { run_vmm touchrec "$t" touch; stop_cfg touchrec "$t" touch; }
		done
	fi
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	r=1
	has_phase bpf || r=$((BROUNDS + 1))
	while [ $r -le "$BROUNDS" ]; do
		for c in $BBPF; do
			echo "=== bpf $c round $r" >/dev/console
			start_cfg "$c" && { run_vmm "$c" "$r" bpf; stop_cfg "$c" "$r" bpf; }
		done
		r=$((r + 1))
	done
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	# user-space cost at 1 s refresh under heavy exit traffic
	r=1
	has_phase user || r=3
	while [ $r -le 2 ]; do
		echo "=== user round $r" >/dev/console
		rm -f "$W/ready" "$W/sup"
		embench supervise "$W/ready" "$W/sup" exitmon run -i 1 --ready-file "$W/ready" </dev/null >"$W/em.out" 2>"$W/em.err" &
		bg=$!
		if embench waitfile "$W/ready" 120000; then
			t=$(embench time vmm --mode real -n "$BCPU_N" -m 0 </dev/null 2>/dev/null | tail -n1)
			stop_bg "$bg"
			echo "user exitmon_i1 $r $(cat "$W/sup") vmm $t n $BCPU_N refreshes $(grep -c 'TOTAL' "$W/em.out")" | rec
		else
			stop_bg "$bg"
			note "exitmon -i 1 did not attach: $(tail -c 300 "$W/em.err")"
		fi
		r=$((r + 1))
	done
fi
echo "@@VMTEST-END bench@@" >>"$RESULT_DEV"
exit 0
