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
# Knobs: BENCH_HOST=0 / BENCH_RIG=0 skip a part; BENCH_ROUNDS (7),
# BENCH_PAIRS (100000), BENCH_RIG_ROUNDS (3), BENCH_N (100000 CPUIDs),
# BENCH_CPU_N (300000), BENCH_WORK (work dir, kept), BENCH_WAIT_IDLE (s to
# wait for other qemu processes to finish, 300).
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
R=${BENCH_RIG_ROUNDS:-3}
cat >"$work/bench-params.sh" <<EOF
BN=$N
BN_BPF=$((N / 4))
BROUNDS=$R
BCPU_N=${BENCH_CPU_N:-300000}
BSLOW='none exitmon exitmon_tp empty_raw count_tp perf_record perf_live'
BBPF='exitmon exitmon_vcpu exitmon_reason exitmon_tp empty_raw count_tp'
EOF
# Base initramfs from the rig's builder, then a second cpio with embench,
# perf and their libraries (the kernel unpacks concatenated archives).
mk=(-k "$kdir" -o "$work/base.cpio.gz" --vmm "$BUILD/vmtest/vmm" --exitmon ./exitmon
	--payload "$here/rig-payload.sh" --extra "$work/bench-params.sh:bench-params.sh")
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
(cd "$x" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$work/extra.cpio.gz"
cat "$work/base.cpio.gz" "$work/extra.cpio.gz" >"$work/initramfs.cpio.gz"

# Other engineers run qemu too: wait for it to be idle, where we can.
waited=0
while pgrep -f qemu-system >/dev/null && [ "$waited" -lt "${BENCH_WAIT_IDLE:-300}" ]; do
	[ "$waited" = 0 ] && log "other qemu running; waiting up to ${BENCH_WAIT_IDLE:-300} s for it to finish"
	sleep 5
	waited=$((waited + 5))
done
busy=$(pgrep -fc qemu-system || true)
log "boot L1 (rounds $R, N $N)"
set +e
timeout --kill-after=10 "${BENCH_BOOT_TIMEOUT:-900}" qemu-system-x86_64 \
	-accel tcg,thread=single -cpu max -smp 2 -m 2G -nodefaults -display none -no-reboot \
	-kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet vmtest.npt=1" \
	-serial "file:$work/console.log" -serial "file:$work/results.raw" \
	</dev/null >"$work/qemu.log" 2>&1
qrc=$?
res=$work/results.txt
awk '/^@@VMTEST-BEGIN bench@@/ { on = 1; next } /^@@VMTEST-END bench@@/ { on = 0 } on' \
	"$work/results.raw" 2>/dev/null | tr -d '\r' >"$res"
if [ ! -s "$res" ]; then
	rig_skip "no results from L1 (qemu status $qrc; console tail: $(tail -n 5 "$work/console.log" 2>/dev/null | tr -d '\r' | tr '\n' '|'))"
	exit 0
fi
cp "$res" "$BB/rig-results.txt"
say ""
say "## 2. nested rig: L1 $(sed -n 's/^env //p' "$res") (QEMU TCG, AMD SVM, npt=1)"
[ "$busy" = 0 ] || say "warning: $busy other qemu process(es) were running during the rig: figures are noisier"
grep '^note ' "$res" | sed 's/^note /  note: /' | tee -a "$summary"

# 2a. slow-down: per round, added us per exit vs the untraced run of that round.
say ""
say "### 2a. guest slow-down, $N CPUID exits, $R interleaved rounds (BPF stats off)"
say "$(printf '%-30s %24s %26s  %s' configuration 'us/exit min/med/max' 'added us/exit min/med/max' 'x empty_raw')"
for c in $BSLOW; do
	per=() add=()
	for r in $(seq 1 "$R"); do
		w=$(awk -v c="$c" -v r="$r" '$1 == "slow" && $2 == c && $3 == r && $5 == 0 { print $4 }' "$res")
		w0=$(awk -v r="$r" '$1 == "slow" && $2 == "none" && $3 == r && $5 == 0 { print $4 }' "$res")
		[ -n "$w" ] || continue
		per+=("$(awk -v w="$w" -v n="$N" 'BEGIN { print w / 1000 / n }')")
		[ -n "$w0" ] && add+=("$(awk -v w="$w" -v z="$w0" -v n="$N" 'BEGIN { print (w - z) / 1000 / n }')")
	done
	[ "${#per[@]}" -gt 0 ] || { say "$(printf '%-30s %s' "$c" 'no successful run (see notes)')"; continue; }
	printf '%s\n' "${add[@]}" >"$work/add.$c"
	say "$(printf '%-30s %8s%8s%8s %8s%8s%8s' "$c" $(stat3 "${per[@]}") $(stat3 "${add[@]}"))"
done
med() { sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { # A B -> median(A)/median(B)
	local a b
	a=$(med "$work/add.$1") b=$(med "$work/add.$2")
	[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }' || echo n/a
}
say "ratio of median added time: exitmon/perf_record $(ratio exitmon perf_record) (target <= 0.33), exitmon/perf_live $(ratio exitmon perf_live), exitmon_tp/perf_record $(ratio exitmon_tp perf_record), exitmon/empty_raw $(ratio exitmon empty_raw), exitmon/count_tp $(ratio exitmon count_tp)"

# 2b. BPF run time per exit+entry pair from bpf_stats.
say ""
say "### 2b. BPF run time per exit+entry pair in L1 (kernel.bpf_stats_enabled=1, run_time_ns/run_cnt), $((N / 4)) CPUID exits, $R rounds"
say "$(printf '%-22s %10s %10s %10s  %8s  %s' configuration min median max 'x floor' 'exit + entry ns (median)')"
awk '$1 == "bpf" { key = $2 " " $3; cnt[key, $4] = $6; ns[key, $4] = $8; cfgs[$2] = 1; rounds[$3] = 1
	if ($4 ~ /exit/) ex[key] = $8 / ($6 ? $6 : 1); else en[key] = $8 / ($6 ? $6 : 1) }
	END { for (k in ex) print k, ex[k], (k in en ? en[k] : 0) }' "$res" | sort >"$work/bpf.pairs"
for c in $BBPF; do
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
say "### 2c. exitmon user space in L1 (embench supervise: attach time, peak RSS, on-CPU time from /proc/PID/schedstat)"
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
	grep '^user exitmon_i1' "$res" | awk '{ printf "  -i 1 run %s: window %s s, %s CPUID exits in %.1f s (%.0f exits/s), %s refreshes\n", $3, $7, $22, $18 / 1e9, $22 / ($18 / 1e9), $24 }' | tee -a "$summary"
fi
say ""
say "(total wall time $(($(date +%s) - t_start)) s; raw results $BB/rig-results.txt, work dir $work)"
