#!/usr/bin/env bash
# Runs every test tier and ends with "N passed, N failed, N skipped" (always
# the last line). Each tier speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP,
# or the shell tiers' own ok/not ok lines). The gate: a tier that did not run
# is not a pass. Each of these is one more failure ("not ok - tier ..."):
#   - a tier whose runner is missing, or an unknown tier;
#   - a tier that exits non-zero without printing a "not ok" of its own;
#   - a run whose TAP plan (1..N) disagrees with the test lines it printed;
#   - a tier whose number of test lines differs from tests/expected-counts;
#   - under CI=true: every skip not matched by EXITMON_ALLOW_SKIP (it counts
#     as failed instead of skipped), and every tier of tests/expected-counts
#     left out by EXITMON_TIERS;
#   - more hung-boot retries ("# RETRY" lines of the rig tiers) than
#     EXITMON_BOOT_RETRIES (default 1; passed on to the tiers, which never
#     retry more than that themselves).
# A skip is "ok N ... # SKIP" or cmocka 1.1.5's "not ok N # SKIP".
# Tiers: unit (pure C), cli (exit codes, live run), bpf (BPF_PROG_TEST_RUN,
# attach; root), fuzz (bounded), serve (metrics endpoint, a real Prometheus),
# vm (nested KVM rig), kpatch (KVM patch),
# gate (this script's own failure modes, on fake tiers).
# EXITMON_TIERS="unit cli" limits the run.
# EXITMON_ALLOW_SKIP="TIER TIER:TEXT ..." allows, under CI=true, the skips of
# TIER (all of them, or those whose line contains TEXT; no spaces in TEXT).
# --update-counts: after the run, write the observed count of every tier
# that ran clean (no failure, no skip) into tests/expected-counts.
set -uo pipefail
cd "$(dirname "$0")/.."

counts_file=tests/expected-counts
all_tiers="unit cli bpf fuzz serve vm kpatch gate"
tiers=${EXITMON_TIERS:-$all_tiers}
allow=${EXITMON_ALLOW_SKIP:-}
export EXITMON_BOOT_RETRIES=${EXITMON_BOOT_RETRIES:-1}
case ${CI:-} in true | 1 | yes) strict=1 ;; *) strict=0 ;; esac
update=0
case ${1:-} in
--update-counts) update=1 ;;
"") ;;
*) echo "usage: tests/run-all.sh [--update-counts]" >&2; exit 2 ;;
esac

pass=0 fail=0 skip=0 retries=0
summary_counts="" clean_tiers="" retry_lines=""
out=$(mktemp)
tier_log=$(mktemp)
trap 'rm -f "$out" "$tier_log"' EXIT

gate_fail() { # DESC: a failure the gate itself finds
	echo "not ok - $1"
	fail=$((fail + 1))
}
expected_count() { # TIER -> number, or empty
	[ -r "$counts_file" ] && awk -v t="$1" '$1 == t { print $2; exit }' "$counts_file"
}
skip_allowed() { # TIER LINE
	local a
	for a in $allow; do
		case $a in
		"$1") return 0 ;;
		"$1":*) [[ $2 == *"${a#*:}"* ]] && return 0 ;;
		esac
	done
	return 1
}

# run NAME COMMAND...: one run of a tier's runner; its TAP goes to the tier log.
run() {
	local name=$1 rc plan lines
	shift
	echo "### run $name: $*"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	cat "$out" >>"$tier_log"
	lines=$(grep -Ec '^(not )?ok [0-9]+' "$out")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | tail -n1)
	if [ -n "$plan" ] && [ "$plan" != "$lines" ]; then
		gate_fail "$name: plan 1..$plan but $lines test lines (the run stopped early?)"
	fi
	if [ "$rc" -ne 0 ] && ! grep -Eiv '# *skip' "$out" | grep -Eq '^not ok [0-9]+'; then
		gate_fail "$name exited with status $rc without a failed test"
	fi
}

# tier NAME: tally the tier log against the expected count.
tally() {
	local name=$1 p f s n want line skipped=0
	n=$(grep -Ec '^(not )?ok [0-9]+' "$tier_log")
	s=$(grep -Eic '^(not )?ok [0-9]+.*# *skip' "$tier_log")
	f=$(grep -E '^not ok [0-9]+' "$tier_log" | grep -Eicv '# *skip')
	p=$((n - s - f))
	if [ "$s" -gt 0 ] && [ "$strict" = 1 ]; then
		while IFS= read -r line; do
			if skip_allowed "$name" "$line"; then
				skipped=$((skipped + 1))
			else
				gate_fail "$name: skipped under CI=true, not allowed by EXITMON_ALLOW_SKIP: $line"
			fi
		done < <(grep -Ei '^(not )?ok [0-9]+.*# *skip' "$tier_log")
		s=$skipped
	fi
	want=$(expected_count "$name")
	if [ -z "$want" ]; then
		gate_fail "$name: no expected count in $counts_file (add: $name $n)"
	elif [ "$n" != "$want" ]; then
		gate_fail "$name: $n tests, $counts_file expects $want (a tier that stopped early, or tests added/removed without updating the count)"
	fi
	local r
	r=$(grep -c '^# RETRY' "$tier_log")
	if [ "$r" -gt 0 ]; then
		retries=$((retries + r))
		retry_lines+="$(grep '^# RETRY' "$tier_log" | cut -c1-200)"$'\n'
	fi
	echo "### tier $name: $p passed, $f failed, $s skipped${want:+, $n of $want tests}"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	summary_counts+=" $name=$n/${want:-?}"
	# Clean: no failure of its own and no gate failure except the count.
	if [ "$f" = 0 ] && [ "$s" = 0 ] && [ "$((fail - tier_fail0))" -le $([ "$n" != "${want:-}" ] && echo 1 || echo 0) ]; then
		clean_tiers+=" $name=$n"
	fi
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in $tiers; do
	: >"$tier_log"
	tier_fail0=$fail
	echo "### tier $t"
	case $t in
	unit)
		found=0
		for b in build/tests/test_*; do
			[ "$b" = build/tests/test_bpf ] && continue
			[ -x "$b" ] || continue
			found=1
			run "unit/$(basename "$b")" "$b"
		done
		[ "$found" = 1 ] || gate_fail "tier unit: no test binaries in build/tests (make unit)" ;;
	cli) if [ -f tests/cli/test_cli.sh ]; then run cli bash tests/cli/test_cli.sh; else gate_fail "tier cli: runner tests/cli/test_cli.sh missing"; fi ;;
	bpf) if [ -x build/tests/test_bpf ]; then run bpf build/tests/test_bpf; else gate_fail "tier bpf: build/tests/test_bpf missing (make bpftest)"; fi ;;
	fuzz) if grep -q '^fuzz-short:' tests/fuzz/fuzz.mk 2>/dev/null; then run fuzz make -s fuzz-short; else gate_fail "tier fuzz: no fuzz-short target in tests/fuzz/fuzz.mk"; fi ;;
	serve) if [ -f tests/serve/run.sh ]; then run serve bash tests/serve/run.sh; else gate_fail "tier serve: runner tests/serve/run.sh missing"; fi ;;
	vm) if [ -f tests/vm/run.sh ]; then run vm bash tests/vm/run.sh; else gate_fail "tier vm: runner tests/vm/run.sh missing"; fi ;;
	kpatch) if [ -f tests/kpatch/run.sh ]; then run kpatch bash tests/kpatch/run.sh; else gate_fail "tier kpatch: runner tests/kpatch/run.sh missing"; fi ;;
	gate) if [ -f tests/gate/test_gate.sh ]; then run gate bash tests/gate/test_gate.sh; else gate_fail "tier gate: runner tests/gate/test_gate.sh missing"; fi ;;
	*) gate_fail "unknown tier '$t' (tiers: $all_tiers)"; continue ;;
	esac
	tally "$t"
done

# Under CI every tier with an expected count must have run.
if [ "$strict" = 1 ] && [ -r "$counts_file" ]; then
	for t in $(awk '!/^#/ && NF { print $1 }' "$counts_file"); do
		[[ " $tiers " == *" $t "* ]] || gate_fail "tier $t not run under CI=true (EXITMON_TIERS='$tiers')"
	done
fi
if [ "$retries" -gt "$EXITMON_BOOT_RETRIES" ]; then
	gate_fail "$retries hung-boot retries, budget EXITMON_BOOT_RETRIES=$EXITMON_BOOT_RETRIES"
fi

if [ "$update" = 1 ]; then
	for tc in $clean_tiers; do
		t=${tc%=*} c=${tc#*=}
		if grep -q "^$t " "$counts_file"; then
			sed -i "s/^$t .*/$t $c/" "$counts_file"
		else
			echo "$t $c" >>"$counts_file"
		fi
	done
	echo "# --update-counts: wrote$clean_tiers to $counts_file (tiers that ran clean)"
fi

echo "# tests per tier (ran/expected):$summary_counts"
if [ "$strict" = 1 ]; then
	echo "# CI=true: skips allowed by EXITMON_ALLOW_SKIP: ${allow:-none}"
fi
printf '%s' "$retry_lines"
echo "# hung-boot retries: $retries (budget EXITMON_BOOT_RETRIES=$EXITMON_BOOT_RETRIES)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
