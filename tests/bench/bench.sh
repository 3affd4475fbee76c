#!/bin/bash
# `make bench` (docs/performance.md): exitmon's costs, printed as tables
# with min / median / max over runs and ratios. Not a pass/fail test.
#   1. this machine: BPF_PROG_TEST_RUN of the aggregation core vs an empty
#      and a count-only program (embench testrun); exitmon's user space
#      (attach time, RSS, CPU at 1 s refresh; no exit traffic here);
#   2. the nested rig (QEMU TCG L1 with a real KVM, tests/vm): guest
#      slow-down per exit under each tracer, BPF run time per exit+entry
#      pair (kernel.bpf_stats_enabled), exitmon's CPU at 1 s refresh under
#      heavy exit traffic. Skipped, with the reason, when qemu cannot run.
#   1d. the large host (needs the rig): kernel memory and refresh cost with
#      256 possible CPUs, 64 VMs x 32 vCPUs (tests/bench/large-host.sh).
# Knobs: BENCH_HOST=0 / BENCH_RIG=0 skip a part (BENCH_LARGE=0|1: 1d,
# default as BENCH_RIG); BENCH_ROUNDS (7),
# BENCH_PAIRS (100000), BENCH_RIG_ROUNDS (5), BENCH_N (100000 CPUIDs),
# BENCH_CPU_N (300000), BENCH_WORK (work dir, kept), BENCH_WAIT_IDLE (s to
# wait for other qemu processes to finish, 300). Rig: BENCH_TCG ("single
# multi": one L1 boot per TCG threading mode), BENCH_SLOW (slow-down
# configurations: "none exitmon empty_raw count_tp perf_record"; opt-in:
# exitmon_tp exitmon_table exitmon_old perf_pipe perf_live touch4 touch16
# v_base v_NAME, see rig-payload.sh), BENCH_PAIRED (1, default: each
# traced run is compared with an untraced run just before it, not with the
# round's none), BENCH_HOLD (1 under multi: two empty raw_tp pairs stay on
# the kvm tracepoints for the whole boot, so that attaching a tracer patches
# no kernel text; MTTCG froze L1 on text patching), BENCH_STALL (s without
# new results before a boot is killed, 240), BENCH_EXITMON_OLD (binary for
# exitmon_old), BENCH_VARIANTS (NAMEs of tests/bench/NAME.patch to build),
# BENCH_BPF (bpf_stats configurations), BENCH_PHASES (of the first mode:
# "slow touch bpf user"; later modes run slow only).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
BUILD=build
BB=$BUILD/bench
work=${BENCH_WORK:-$(mktemp -d /tmp/exitmon-bench.XXXXXX)}
mkdir -p "$work"
summary=$BB/summary.txt
log() { printf 'bench: %s\n' "$*" >&2; }
say() { printf '%s\n' "$*" | tee -a "$summary"; }
t_start=$(date +%s)

# ---- dependencies --------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (BPF, apt-get, the rig's kernel cache); skipped"
	exit 0
fi
missing=()
for p in clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev gcc make pkg-config linux-perf; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; } ||
		log "could not install ${missing[*]}"
fi
make -s bench-build >"$work/build.log" 2>&1 || {
	echo "bench: build failed:"
	tail -n 20 "$work/build.log"
	exit 1
}
mkdir -p "$BB"
: >"$summary"
say "exitmon bench $(git -C "$top" describe --always --dirty 2>/dev/null), $(date -u +%Y-%m-%dT%H:%MZ)"
say "host: $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

# stat LIST...: "min median max" of numbers
stat3() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "- - -"; exit }
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%.4g %.4g %.4g\n", v[1], m, v[NR] }'; }

# ---- 1. this machine --------------------------------------------------------
if [ "${BENCH_HOST:-1}" = 1 ]; then
	say ""
	say "## 1a. BPF_PROG_TEST_RUN on this machine ($(uname -r))"
	"$BB/embench" testrun "$BUILD" "${BENCH_ROUNDS:-7}" "${BENCH_PAIRS:-100000}" 2>&1 | tee -a "$summary"

	say ""
	say "## 1b. exitmon user space on this machine (--attach auto -> $( [ -e /sys/kernel/btf/kvm_amd ] || [ -e /sys/kernel/btf/kvm_intel ] && echo raw_tp || echo tp), no exit traffic), 5 runs of 4 s at -i 1"
	ready=() rss=() cpu=()
	for i in 1 2 3 4 5; do
		rm -f "$work/ready" "$work/sup"
		"$BB/embench" supervise "$work/ready" "$work/sup" ./exitmon run -i 1 --ready-file "$work/ready" \
			</dev/null >"$work/host-em.out" 2>"$work/host-em.err" &
		sp=$!
		"$BB/embench" waitfile "$work/ready" 20000 && sleep 4
		kill -INT "$sp"
		wait "$sp"
		read -r _ r _ _ _ _ _ c _ m _ rc <"$work/sup" || true
		if [ "${rc:-1}" != 0 ] || [ "$r" = -1.0 ]; then
			say "exitmon did not run here: $(head -c 300 "$work/host-em.err")"
			break
		fi
		ready+=("$r") rss+=("$m") cpu+=("$c")
	done
	if [ "${#ready[@]}" -gt 0 ]; then
		say "$(printf '%-34s %10s %10s %10s  %s' figure min median max target)"
		say "$(printf '%-34s %10s %10s %10s  %s' 'start -> attached (ms)' $(stat3 "${ready[@]}") '<= 300')"
		say "$(printf '%-34s %10s %10s %10s  %s' 'peak RSS (MiB)' $(stat3 $(for x in "${rss[@]}"; do awk -v x="$x" 'BEGIN{print x/1024}'; done)) '<= 16')"
		say "$(printf '%-34s %10s %10s %10s  %s' 'CPU at -i 1, idle (%)' $(stat3 "${cpu[@]}") '<= 1')"
	fi
fi
# 1c. user-space row model (tests/bench/rowbench.c; docs/performance.md "Row model")
[ "${BENCH_HOST:-1}" = 1 ] && { say ""; "$BB/rowbench" ./exitmon "$work" 2>&1 | tee -a "$summary"; }

# 1d. the large host: the rig's L1 with 256 possible CPUs, memory and refresh
# cost, 64 VMs x 32 vCPUs (tests/bench/large-host.sh; issue 12's figures)
if [ "${BENCH_LARGE:-${BENCH_RIG:-1}}" = 1 ]; then
	say ""
	say "## 1d. large host: L1 booted with possible_cpus=256 (tests/bench/large-host.sh)"
	bash tests/bench/large-host.sh 2>&1 | tee -a "$summary"
fi

# ---- 2. the nested rig ------------------------------------------------------
rig_skip() { say ""; say "## 2. nested rig: SKIPPED: $*"; }
if [ "${BENCH_RIG:-1}" != 1 ]; then
	rig_skip "BENCH_RIG=0"
	exit 0
fi
set +e
kdir=$(bash tests/vm/setup.sh 2>"$work/setup.log" | tail -n1)
src=$?
if [ "$src" != 0 ] || [ ! -f "$kdir/vmlinuz" ]; then
	rig_skip "tests/vm/setup.sh failed ($src): $(tail -n 2 "$work/setup.log" | tr '\n' ' ')"
	exit 0
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	rig_skip "qemu-system-x86_64 not installed"
	exit 0
fi
if ! command -v perf >/dev/null; then
	log "perf not installed: the perf configurations will be missing"
fi

N=${BENCH_N:-100000}
R=${BENCH_RIG_ROUNDS:-5}
MODES=${BENCH_TCG:-single multi}
SLOW=${BENCH_SLOW:-none exitmon empty_raw count_tp perf_record}
BPFCFG=${BENCH_BPF:-exitmon exitmon_vcpu exitmon_reason exitmon_tp empty_raw count_tp}
# the first mode also runs these phases (bpf_stats, user space, address log)
PHASES1=${BENCH_PHASES:-slow touch bpf user}
for m in $MODES; do
	case $m in single | multi) ;; *) rig_skip "BENCH_TCG: '$m' is not single or multi"; exit 0 ;; esac
done
# Base initramfs from the rig's builder, then a second cpio with embench,
# perf and their libraries, then a tiny one with the parameters of the
# boot (the kernel unpacks concatenated archives in order).
mk=(-k "$kdir" -o "$work/base.cpio.gz" --vmm "$BUILD/vmtest/vmm" --exitmon ./exitmon
	--payload "$here/rig-payload.sh" --extra "$BUILD/exitmon.bpf.o:bench/exitmon.bpf.o")
# proposed changes to the core, as patches (bench.mk, variant.bpf.c): configs v_NAME
for v in ${BENCH_VARIANTS:-}; do
	make -s "$BB/v_$v.bpf.o" "$BB/touch_$v.bpf.o" >>"$work/build.log" 2>&1 || log "variant $v does not build (see $work/build.log)"
done
for o in "$BB"/*.bpf.o; do mk+=(--extra "$o:bench/$(basename "$o")"); done
if ! bash tests/vm/mkinitramfs.sh "${mk[@]}" 2>"$work/mkinitramfs.log"; then
	rig_skip "initramfs build failed: $(tail -n 3 "$work/mkinitramfs.log" | tr '\n' ' ')"
	exit 0
fi
x=$work/extra
rm -rf "$x"
mkdir -p "$x/usr/bin"
copy_with_libs() { # SRC DEST
	install -D -m 0755 "$1" "$x$2"
	ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		[ -e "$x$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$x$lib"
	done
}
copy_with_libs "$BB/embench" /usr/bin/embench
p=$(command -v perf) && copy_with_libs "$p" /usr/bin/perf
# another exitmon build to compare with (config exitmon_old), e.g. an old commit's
[ -n "${BENCH_EXITMON_OLD:-}" ] && copy_with_libs "$BENCH_EXITMON_OLD" /usr/bin/exitmon_old
(cd "$x" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$work/extra.cpio.gz"

med() { sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# poll_cpu QEMU_PID RAW OUT: when L1 writes a "mark start|end CFG ROUND"
# line (rig-payload.sh run_vmm), append "start|end CFG ROUND NS" to OUT,
# NS = on-CPU time of all of QEMU's threads (/proc/PID/task/*/schedstat).
# Unlike the guest's wall time, it does not grow while other jobs hold the
# host's CPUs.
poll_cpu() {
	local q=$1 f=$2 out=$3 seen=0 n t sz last=-1 since=$SECONDS
	while kill -0 "$q" 2>/dev/null; do
		# watchdog: L1 under MTTCG can freeze (text patching); stop a boot
		# whose results, once begun, have not grown for BENCH_STALL s
		sz=$(stat -c %s "$f" 2>/dev/null || echo 0)
		if [ "$sz" != "$last" ] || [ "$sz" = 0 ]; then
			last=$sz since=$SECONDS
		elif [ $((SECONDS - since)) -ge "${BENCH_STALL:-240}" ]; then
			echo "stalled after $sz bytes" >"$out.stalled"
			kill "$q"
			break
		fi
		n=$(grep -c '^mark ' "$f" 2>/dev/null)
		if [ "${n:-0}" -gt "$seen" ]; then
			t=$(cat /proc/"$q"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }')
			grep '^mark ' "$f" | tr -d '\r' | sed -n "$((seen + 1)),${n}p" |
				while read -r _ what c r; do echo "$what $c $r $t"; done >>"$out"
			seen=$n
		fi
		sleep 0.02
	done
}

# boot_mode MODE PHASES: one L1 boot under -accel tcg,thread=MODE; results in $work/results.MODE.txt
boot_mode() {
	local mode=$1 phases=$2 pdir=$work/params.$1 waited=0 lpid qrc tpid qpid hold=0
	# under MTTCG, hold the kvm tracepoints (rig-payload.sh BHOLD) unless BENCH_HOLD=0
	[ "$mode" = multi ] && hold=${BENCH_HOLD:-1}
	rm -rf "$pdir"
	mkdir -p "$pdir"
	cat >"$pdir/bench-params.sh" <<EOF
BN=$N
BN_BPF=$((N / 4))
BROUNDS=$R
BCPU_N=${BENCH_CPU_N:-300000}
BSLOW='$SLOW'
BBPF='$BPFCFG'
BPHASES='$phases'
BPAIRED=${BENCH_PAIRED:-1}
BHOLD=$hold
BTCG=$mode
EOF
	(cd "$pdir" && echo bench-params.sh | cpio -o -H newc --quiet | gzip -1) >"$work/params.$mode.cpio.gz"
	cat "$work/base.cpio.gz" "$work/extra.cpio.gz" "$work/params.$mode.cpio.gz" >"$work/initramfs.$mode.cpio.gz"
	# Other engineers run qemu too: wait for it to be idle, where we can.
	while pgrep -f qemu-system >/dev/null && [ "$waited" -lt "${BENCH_WAIT_IDLE:-300}" ]; do
		[ "$waited" = 0 ] && log "other qemu running; waiting up to ${BENCH_WAIT_IDLE:-300} s for it to finish"
		sleep 5
		waited=$((waited + 5))
	done
	busy=$(pgrep -fc qemu-system || true)
	# the host's load average while L1 runs, every 10 s
	(while :; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) >"$work/load.$mode" &
	lpid=$!
	log "boot L1 under TCG thread=$mode (rounds $R, N $N, phases: $phases)"
	rm -f "$work/results.$mode.raw" "$work/cpu.$mode" "$work/cpu.$mode.stalled"
	timeout --kill-after=10 "${BENCH_BOOT_TIMEOUT:-1800}" qemu-system-x86_64 \
		-accel "tcg,thread=$mode" -cpu max -smp 2 -m 2G -nodefaults -display none -no-reboot \
		-kernel "$kdir/vmlinuz" -initrd "$work/initramfs.$mode.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet vmtest.npt=1" \
		-serial "file:$work/console.$mode.log" -serial "file:$work/results.$mode.raw" \
		</dev/null >"$work/qemu.$mode.log" 2>&1 &
	tpid=$!
	qpid=
	for _ in $(seq 50); do
		qpid=$(pgrep -P "$tpid" -f qemu-system | head -n1)
		[ -n "$qpid" ] && break
		sleep 0.1
	done
	[ -n "$qpid" ] && poll_cpu "$qpid" "$work/results.$mode.raw" "$work/cpu.$mode"
	wait "$tpid"
	qrc=$?
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	awk '/^@@VMTEST-BEGIN bench@@/ { on = 1; next } /^@@VMTEST-END bench@@/ { on = 0 } on' \
		"$work/results.$mode.raw" 2>/dev/null | tr -d '\r' >"$work/results.$mode.txt"
	[ -s "$work/results.$mode.txt" ] && return 0
	say ""
	say "## 2. nested rig, TCG thread=$mode: no results from L1 (qemu status $qrc; console tail: $(tail -n 5 "$work/console.$mode.log" 2>/dev/null | tr -d '\r' | tr '\n' '|'))"
	return 1
}

# slowdown_report MODE: section 2a of one boot; sets ratio_MODE
slowdown_report() {
	local mode=$1 res=$work/results.$1.txt c r w w0 per add rr
	say ""
	say "### 2a. guest slow-down, TCG thread=$mode, $N CPUID exits, $R interleaved rounds (order rotated each round; BPF stats off)"
	# dur wall|cpu CFG ROUND: ns of that guest run; wall: embench time in L1,
	# cpu: QEMU's on-CPU time on the host (poll_cpu), less sensitive to other jobs
	dur() {
		if [ "$1" = wall ]; then
			awk -v c="$2" -v r="$3" '$1 == "slow" && $2 == c && $3 == r && $5 == 0 { print $4 }' "$res"
		else
			awk -v c="$2" -v r="$3" '$2 == c && $3 == r { t[$1] = $4 } END { if (("start" in t) && ("end" in t)) print t["end"] - t["start"] }' "$work/cpu.$mode"
		fi
	}
	for k in wall cpu; do
		if [ "$k" = wall ]; then
			say "$(printf '%-30s %24s %26s' configuration 'us/exit min/med/max' 'added us/exit min/med/max')"
		else
			[ -s "$work/cpu.$mode" ] || continue
			say "host CPU time of QEMU while the guest ran (less sensitive to other jobs on the host), per exit:"
			say "$(printf '%-30s %24s %26s' configuration 'CPU us/exit min/med/max' 'added CPU us/exit min/med/max')"
		fi
		for c in $SLOW; do
			per=() add=()
			for r in $(seq 1 "$R"); do
				w=$(dur "$k" "$c" "$r")
				# baseline: the untraced run just before (BENCH_PAIRED), else the round's none
				w0=$(dur "$k" "base:$c" "$r")
				[ -n "$w0" ] || w0=$(dur "$k" none "$r")
				[ -n "$w" ] || continue
				per+=("$(awk -v w="$w" -v n="$N" 'BEGIN { print w / 1000 / n }')")
				[ -n "$w0" ] && add+=("$(awk -v w="$w" -v z="$w0" -v n="$N" 'BEGIN { print (w - z) / 1000 / n }')")
			done
			if [ "${#per[@]}" = 0 ]; then
				[ "$k" = wall ] && say "$(printf '%-30s %s' "$c" 'no successful run (see notes)')"
				continue
			fi
			printf '%s\n' "${add[@]}" >"$work/add.$mode.${k}_$c"
			say "$(printf '%-30s %8s%8s%8s %8s%8s%8s' "$c" $(stat3 "${per[@]}") $(stat3 "${add[@]}"))"
		done
	done
	ratio() { # A B -> median(A)/median(B)
		local a b
		a=$(med "$work/add.$mode.$1") b=$(med "$work/add.$mode.$2")
		[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }' || echo n/a
	}
	rr=$(ratio wall_exitmon wall_perf_record)
	eval "ratio_$mode=\$rr"
	rc_=$(ratio cpu_exitmon cpu_perf_record)
	eval "cratio_$mode=\$rc_"
	say "ratio of median added time per exit: exitmon/perf_record $rr (target <= 0.33)$(
		for c in $SLOW; do case $c in none | exitmon | perf_record) ;; *) printf ', %s/perf_record %s' "$c" "$(ratio "wall_$c" wall_perf_record)" ;; esac; done)"
	[ -s "$work/cpu.$mode" ] && say "ratio of median added host CPU per exit: exitmon/perf_record $rc_$(
		for c in $SLOW; do case $c in none | exitmon | perf_record) ;; *) printf ', %s/perf_record %s' "$c" "$(ratio "cpu_$c" cpu_perf_record)" ;; esac; done)"
	# Other jobs on the host only ever add time: the fastest of the rounds is
	# the least disturbed, so also compare minima (traced vs all untraced runs).
	minr() { # CFG [cpu] -> fastest us/exit of CFG, or of all untraced runs for "untraced"
		if [ "${2:-}" = cpu ]; then
			[ -s "$work/cpu.$mode" ] && awk -v c="$1" -v n="$N" '{ k = $2 " " $3; t[$1, k] = $4; if ($1 == "end") ks[k] = $2 }
				END { m = -1; for (k in ks) { x = ks[k]; if (!(("start", k) in t)) continue
					if (c == "untraced" ? (x == "none" || x ~ /^base:/) : x == c) { v = (t["end", k] - t["start", k]) / 1000 / n; if (m < 0 || v < m) m = v } }
					if (m >= 0) print m }' "$work/cpu.$mode"
		else
			awk -v c="$1" -v n="$N" '$1 == "slow" && $5 == 0 && (c == "untraced" ? ($2 == "none" || $2 ~ /^base:/) : $2 == c) {
				v = $4 / 1000 / n; if (m == "" || v < m) m = v } END { if (m != "") print m }' "$res"
		fi
	}
	for k in wall cpu; do
		m0=$(minr untraced "$k") me=$(minr exitmon "$k") mp=$(minr perf_record "$k")
		[ -n "$m0" ] && [ -n "$me" ] && [ -n "$mp" ] || continue
		say "fastest runs ($k): untraced $(printf '%.2f' "$m0") us/exit$(for c in $SLOW; do [ "$c" = none ] && continue; v=$(minr "$c" "$k"); [ -n "$v" ] && printf ', %s +%.2f' "$c" "$(awk -v a="$v" -v b="$m0" 'BEGIN { print a - b }')"; done); exitmon/perf_record $(awk -v a="$me" -v b="$mp" -v z="$m0" 'BEGIN { if (b > z) printf "%.2f", (a - z) / (b - z); else print "n/a" }')"
	done
	# per round, the same ratio: how much one round's noise moves it
	say "  per round, exitmon/perf_record: $(for r in $(seq 1 "$R"); do
		awk -v r="$r" '$1 == "slow" && $3 == r && $5 == 0 { w[$2] = $4 } END {
			be = ("base:exitmon" in w) ? w["base:exitmon"] : w["none"]
			bp = ("base:perf_record" in w) ? w["base:perf_record"] : w["none"]
			if (("exitmon" in w) && ("perf_record" in w) && be && bp && w["perf_record"] != bp)
				printf "%.2f ", (w["exitmon"] - be) / (w["perf_record"] - bp); else printf "- " }' "$res"; done)"
	say "  host load average during the boot (every 10 s): min/med/max $(stat3 $(cat "$work/load.$mode"))"
	[ "$busy" = 0 ] || say "  warning: $busy other qemu process(es) were running: figures are noisier"
}

# touch_report: distinct 4 KiB pages and 64-byte lines per exit+entry pair
# from the address log of tests/bench/touch.bpf.c (kinds: tests/bench/touch.h).
touch_report() {
	local res=$1 obj=$2 p side kind addr size a l e np nl
	local -A pg ln pge lne pgn lnn
	local kinds=(- stack rodata probe pending_fast pending thread_gen row_of other_row stats stats.hist counters map_other)
	grep -q '^touch ' "$res" || { grep -q '^touch-error' "$res" && say "(address log: $(grep -m1 '^touch-error' "$res"))"; return 0; }
	say ""
	say "### 2d. what exitmon's handlers touch per exit+entry pair ($obj.bpf.o, tests/bench/touch.bpf.c: map look-ups, probe reads, stack, options; $(grep -c '^touch ' "$res") accesses logged)"
	say "$(printf '%-6s %14s %14s %14s' pair 'pages exit/entry/pair' '' 'lines exit/entry/pair')"
	for p in $(awk '$1 == "touch" { print $3 }' "$res" | sort -un); do
		pg=() ln=() pge=() lne=() pgn=() lnn=()
		while read -r _ _ _ side kind addr size; do
			a=$((addr)) e=$((addr + size - 1))
			for ((l = a >> 12; l <= e >> 12; l++)); do pg[$l]=1; [ "$side" = 0 ] && pge[$l]=1 || pgn[$l]=1; done
			for ((l = a >> 6; l <= e >> 6; l++)); do ln[$l]=1; [ "$side" = 0 ] && lne[$l]=1 || lnn[$l]=1; done
		done < <(awk -v p="$p" '$1 == "touch" && $3 == p' "$res")
		say "$(printf '%-6s %6s %6s %6s %12s %6s %6s %6s' "$p" "${#pge[@]}" "${#pgn[@]}" "${#pg[@]}" '' "${#lne[@]}" "${#lnn[@]}" "${#ln[@]}")"
	done
	say "accesses of the first logged pair (page = ordinal of its distinct page in the pair):"
	pg=() np=0
	while read -r _ _ _ side kind addr size; do
		a=$((addr))
		[ -n "${pg[$((a >> 12))]:-}" ] || { np=$((np + 1)); pg[$((a >> 12))]=$np; }
		say "$(printf '  %-5s %-12s %18s %4s B  page %-2s line %%64 = %s%s' "$([ "$side" = 0 ] && echo exit || echo entry)" \
			"${kinds[$kind]:-?}" "$addr" "$size" "${pg[$((a >> 12))]}" "$(((a & 63) + size > 64 ? 2 : 1))" \
			"$([ $((a >> 12)) != $(((a + size - 1) >> 12)) ] && echo ' (crosses a page)')")"
	done < <(awk '$1 == "touch" && $3 == 0' "$res")
	say "(not in the log: program text, the helpers' own data (current task, clock, per-CPU area), the raw_tp ctx, which is bpf_trace_run2's args array on the same kernel stack)"
}

first=1
for mode in $MODES; do
	if [ "$first" = 1 ]; then ph=$PHASES1; else ph=slow; fi
	first=0
	boot_mode "$mode" "$ph" || continue
	res=$work/results.$mode.txt
	cp "$res" "$BB/rig-results.$mode.txt"
	say ""
	say "## 2. nested rig, TCG thread=$mode: L1 $(sed -n 's/^env //p' "$res") (AMD SVM, npt=1)"
	[ -e "$work/cpu.$mode.stalled" ] && say "warning: L1 stopped making progress (no results for ${BENCH_STALL:-240} s, $(cat "$work/cpu.$mode.stalled")) and was killed: the figures below are from the runs before (MTTCG freezes, see /work/shared/docs/nested-kvm.md)"
	grep '^note ' "$res" | sed 's/^note /  note: /' | tee -a "$summary"
	case " $ph " in *" slow "*) slowdown_report "$mode" ;; esac
	case " $ph " in *" touch "*)
		for t in $(awk '$1 ~ /^touch/ { print $2 }' "$res" | sort -u); do
			awk -v t="$t" '$1 ~ /^touch/ && $2 == t' "$res" >"$work/touch.$t"
			touch_report "$work/touch.$t" "$t"
		done ;;
	esac
	case " $ph " in *" bpf "*) ;; *) continue ;; esac

	# 2b. BPF run time per exit+entry pair from bpf_stats.
	say ""
	say "### 2b. BPF run time per exit+entry pair in L1 (TCG thread=$mode, kernel.bpf_stats_enabled=1, run_time_ns/run_cnt), $((N / 4)) CPUID exits, $R rounds"
	say "$(printf '%-22s %10s %10s %10s  %8s  %s' configuration min median max 'x floor' 'exit + entry ns (median)')"
	awk '$1 == "bpf" { key = $2 " " $3; cnt[key, $4] = $6; ns[key, $4] = $8; cfgs[$2] = 1; rounds[$3] = 1
		# names are cut at 15 characters: handle_thread_e(xit) is neither side
		if ($4 ~ /entry/) en[key] = $8 / ($6 ? $6 : 1); else if ($4 ~ /exit/) ex[key] = $8 / ($6 ? $6 : 1) }
		END { for (k in ex) print k, ex[k], (k in en ? en[k] : 0) }' "$res" | sort >"$work/bpf.pairs"
	for c in $BPFCFG; do
		v=() rr=() e1=() e2=()
		for r in $(seq 1 "$R"); do
			line=$(awk -v c="$c" -v r="$r" '$1 == c && $2 == r' "$work/bpf.pairs")
			fl=$(awk -v r="$r" '$1 == "empty_raw" && $2 == r { print $3 + $4 }' "$work/bpf.pairs")
			[ -n "$line" ] || continue
			set -- $line
			v+=("$(awk -v a="$3" -v b="$4" 'BEGIN { print a + b }')")
			e1+=("$3") e2+=("$4")
			[ -n "$fl" ] && rr+=("$(awk -v a="$3" -v b="$4" -v f="$fl" 'BEGIN { print (a + b) / f }')")
		done
		[ "${#v[@]}" -gt 0 ] || { say "$(printf '%-22s %s' "$c" 'no data (see notes)')"; continue; }
		read -r _ m1 _ <<<"$(stat3 "${e1[@]}")"
		read -r _ m2 _ <<<"$(stat3 "${e2[@]}")"
		read -r _ mr _ <<<"$(stat3 "${rr[@]:-0}")"
		say "$(printf '%-22s %10s %10s %10s  %8s  %s + %s' "$c" $(stat3 "${v[@]}") "$mr" "$m1" "$m2")"
	done
	say "(count_tp is exit-only, classic tp; exitmon_tp is the classic-tp pair)"

	# 2c. user space under heavy exit traffic.
	say ""
	say "### 2c. exitmon user space in L1 (TCG thread=$mode; embench supervise: attach time, peak RSS, on-CPU time from /proc/PID/schedstat)"
	ur=() uc=() um=()
	while read -r _ c _ _ rd _ _ _ _ _ cp _ m _; do
		ur+=("$rd") um+=("$(awk -v x="$m" 'BEGIN { print x / 1024 }')")
		[ "$c" = exitmon_i1 ] && uc+=("$cp")
	done < <(grep '^user ' "$res")
	if [ "${#ur[@]}" -gt 0 ]; then
		say "$(printf '%-44s %10s %10s %10s  %s' figure min median max target)"
		say "$(printf '%-44s %10s %10s %10s  %s' 'start -> attached, all exitmon runs (ms)' $(stat3 "${ur[@]}") '<= 300')"
		say "$(printf '%-44s %10s %10s %10s  %s' 'peak RSS, all exitmon runs (MiB)' $(stat3 "${um[@]}") '<= 16')"
		[ "${#uc[@]}" -gt 0 ] && say "$(printf '%-44s %10s %10s %10s  %s' 'CPU at -i 1, heavy exits (%)' $(stat3 "${uc[@]}") '<= 1')"
		grep '^user exitmon_i1 ' "$res" | awk '{ printf "  -i 1 run %s: window %s s, %s CPUID exits in %.1f s (%.0f exits/s), %s refreshes\n", $3, $7, $22, $18 / 1e9, $22 / ($18 / 1e9), $24 }' | tee -a "$summary"
	fi
done
say ""
say "rig slow-down, exitmon/perf_record (median added time per exit, target <= 0.33):$(for m in $MODES; do v=ratio_$m; printf ' thread=%s %s;' "$m" "${!v:-n/a}"; done)"
say "the same from QEMU's host CPU time:$(for m in $MODES; do v=cratio_$m; printf ' thread=%s %s;' "$m" "${!v:-n/a}"; done)"
say "(total wall time $(($(date +%s) - t_start)) s; raw results $BB/rig-results.MODE.txt, work dir $work)"
