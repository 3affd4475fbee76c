#!/bin/sh
# Bounded run of one fuzzer for the test suite; prints one TAP line.
#   run-short.sh FUZZER SECONDS TAP_NUMBER NAME DICT SEEDS
# The committed seeds (SEEDS) are read, never written: new inputs go to a
# scratch directory. A crashing input is kept in $FUZZ_OUT/artifacts/
# (default build/fuzz). Fewer than $FUZZ_MIN_EXECS executions (default
# 2000) is a failure: the fuzzer did not really run.
set -u
bin=$1
secs=${2:-15}
n=${3:-1}
name=${4:-fuzz}
dict=${5:-}
seeds=${6:-}
min=${FUZZ_MIN_EXECS:-2000}
out=${FUZZ_OUT:-build/fuzz}
work=$(mktemp -d)
log=$work.log
trap 'rm -rf "$work" "$log"' EXIT INT TERM

mkdir -p "$out/artifacts"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	${dict:+-dict="$dict"} -artifact_prefix="$out/artifacts/" \
	"$work" $seeds >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=0
if [ "$rc" -eq 0 ] && [ "$execs" -ge "$min" ]; then
	echo "ok $n - fuzz $name ($execs execs, 0 crashes)"
	exit 0
fi
if [ "$rc" -eq 0 ]; then
	echo "not ok $n - fuzz $name ran only $execs execs in $secs s (floor $min: FUZZ_MIN_EXECS)"
	tail -n 20 "$log" | sed 's/^/# /'
	exit 1
fi
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
echo "not ok $n - fuzz $name ($execs execs, 1 crash${artifact:+: $artifact})"
grep -v '^#[0-9]' "$log" | tail -n 40 | sed 's/^/# /'
exit 1
