#!/usr/bin/env bash
# Runs every test tier and ends with "N passed, N failed, N skipped".
# Each tier speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, or the
# shell tiers' own ok/not ok lines); a tier that dies without saying
# "not ok" still counts as one failure.
# Tiers: unit (pure C), cli (exit codes, live run), bpf (BPF_PROG_TEST_RUN,
# attach; root), fuzz (bounded), serve (metrics endpoint, Prometheus), vm (nested
# KVM rig), kpatch (KVM patch).
# EXITMON_TIERS="unit cli" limits the run.
set -uo pipefail
cd "$(dirname "$0")/.."

tiers=${EXITMON_TIERS:-"unit cli bpf fuzz serve vm kpatch"}
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_tier() { # name command...
	local name=$1 rc
	shift
	echo "### tier $name: $*"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	local p f s
	p=$(grep -Eci '^ok [0-9]+.*' "$log" || true)
	s=$(grep -Eci '^ok [0-9]+.*# *skip' "$log" || true)
	f=$(grep -Eci '^not ok [0-9]+' "$log" || true)
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - tier $name exited with status $rc"
		f=$((f + 1))
	fi
	echo "### tier $name: $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in $tiers; do
	case $t in
	unit)
		for b in build/tests/test_*; do
			[ "$b" = build/tests/test_bpf ] && continue
			[ -x "$b" ] && run_tier "unit/$(basename "$b")" "$b"
		done ;;
	cli) run_tier cli bash tests/cli/test_cli.sh ;;
	bpf) run_tier bpf build/tests/test_bpf ;;
	fuzz) grep -q '^fuzz-short:' tests/fuzz/fuzz.mk 2>/dev/null && run_tier fuzz make -s fuzz-short ;;
	vm) [ -f tests/vm/run.sh ] && run_tier vm bash tests/vm/run.sh ;;
	kpatch) [ -f tests/kpatch/run.sh ] && run_tier kpatch bash tests/kpatch/run.sh ;;
	serve) run_tier serve bash tests/serve/run.sh ;;
	*) echo "unknown tier $t"; fail=$((fail + 1)) ;;
	esac
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
