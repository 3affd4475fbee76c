#!/bin/sh
# Bounded run of the snapshot fuzzer for the test suite; prints TAP.
#   run-short.sh FUZZER SECONDS [TAP_NUMBER]
# The committed seeds (tests/fuzz/corpus) are read, never written: new
# inputs go to a scratch directory. A crashing input is kept in
# $FUZZ_OUT/artifacts/ (default build/fuzz).
set -u
bin=$1
secs=${2:-15}
n=${3:-1}
here=$(dirname "$0")
out=${FUZZ_OUT:-build/fuzz}
work=$(mktemp -d)
log=$work.log
trap 'rm -rf "$work" "$log"' EXIT INT TERM

mkdir -p "$out/artifacts"
echo "1..1"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-dict="$here/snapshot.dict" -artifact_prefix="$out/artifacts/" \
	"$work" "$here/corpus" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=0
if [ "$rc" -eq 0 ]; then
	echo "ok $n - fuzz snapshot loader ($execs execs, 0 crashes)"
	exit 0
fi
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
echo "not ok $n - fuzz snapshot loader ($execs execs, 1 crash${artifact:+: $artifact})"
grep -v '^#[0-9]' "$log" | tail -n 40 | sed 's/^/# /'
exit 1
