#!/usr/bin/env bash
# Gate tier: the failure modes of tests/run-all.sh and .ci/run, on fake tiers
# in a scratch copy (no real tier runs here), and of tests/kpatch/check.py
# on synthetic console logs. TAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# A scratch repository with the real run-all.sh and .ci/run and fake tiers
# whose behaviour the FAKE_* variables choose.
mktree() {
	local t=$1
	rm -rf "$t"
	mkdir -p "$t"/{.ci,tests/{cli,vm,kpatch,fuzz},build/tests}
	cp "$top/tests/run-all.sh" "$t/tests/"
	cp "$top/.ci/run" "$t/.ci/"
	printf '# fake\nunit 2\ncli 2\nbpf 2\nfuzz 1\nvm 3\nkpatch 2\n' >"$t/tests/expected-counts"
	printf 'deps:\n\t@true\ntest:\n\tbash tests/run-all.sh\n-include tests/fuzz/fuzz.mk\n' >"$t/Makefile"
	printf 'fuzz-short:\n\t@echo "ok 1 - fuzz"\n' >"$t/tests/fuzz/fuzz.mk"
	cat >"$t/build/tests/test_a" <<'X'
#!/bin/sh
echo 1..2; echo "ok 1 - a"; echo "ok 2 - b"
X
	cat >"$t/build/tests/test_bpf" <<'X'
#!/bin/sh
echo 1..2; echo "ok 1 - x"
# cmocka 1.1.5 prints a skipped test as "not ok N # SKIP"
if [ "${FAKE_BPF:-}" = skip ]; then echo "not ok 2 # SKIP needs root"; else echo "ok 2 - y"; fi
X
	chmod +x "$t/build/tests/"*
	printf 'echo "ok 1 - c1"; echo "ok 2 - c2"; echo 1..2\n' >"$t/tests/cli/test_cli.sh"
	cat >"$t/tests/vm/run.sh" <<'X'
case ${FAKE_VM:-ok} in
ok) printf 'ok 1 - v1\nok 2 - v2\nok 3 - v3\n1..3\n' ;;
short) printf 'ok 1 - v1\nok 2 - v2\n1..2\n' ;;
extra) printf 'ok 1 - v1\nok 2 - v2\nok 3 - v3\nok 4 - v4\n1..4\n' ;;
skip) printf 'ok 1 - nested-KVM tier # SKIP prerequisites unavailable\n1..1\n' ;;
die) printf '1..3\nok 1 - v1\n'; exit 1 ;;
retry*) for i in $(seq "${FAKE_VM#retry}"); do echo "# RETRY vm: boot $i hung"; done
	printf 'ok 1 - v1\nok 2 - v2\nok 3 - v3\n1..3\n' ;;
esac
X
	printf 'echo "ok 1 - k1"; echo "ok 2 - k2"; echo 1..2\n' >"$t/tests/kpatch/run.sh"
}

T=$tmp/repo
# gate DESC WANT_RC PATTERN [ENV=VALUE...] [-- ARGS]: run the fake tree's
# run-all.sh (or .ci/run with RUNNER=ci) in a clean environment; the status
# must be WANT_RC, the output must match PATTERN (extended regex, "" = any)
# and the last line must be the summary.
gate() {
	local desc=$1 want=$2 pat=$3 rc last
	shift 3
	local runner=tests/run-all.sh
	local envs=(PATH="$PATH" HOME="${HOME:-/root}" "EXITMON_TIERS=unit cli bpf fuzz vm kpatch")
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in RUNNER=ci) runner=.ci/run ;; *) envs+=("$1") ;; esac
		shift
	done
	[ "${1:-}" = -- ] && shift
	(cd "$T" && env -i "${envs[@]}" bash "$runner" "$@") >"$tmp/out" 2>&1
	rc=$?
	last=$(tail -n1 "$tmp/out")
	if [ "$rc" != "$want" ]; then
		notok "$desc" "status $rc, expected $want" "$(grep -E '^(not ok|#)' "$tmp/out" | tail -n 5)"
	elif ! [[ $last =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ [0-9]+\ skipped$ ]]; then
		notok "$desc" "last line is not the summary: $last"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$tmp/out"; then
		notok "$desc" "output does not match /$pat/" "$(tail -n 6 "$tmp/out")"
	else
		ok "$desc"
	fi
}

mktree "$T"
gate "all fake tiers pass: status 0, summary last" 0 '^12 passed, 0 failed, 0 skipped$'
gate "under CI=true too" 0 '^12 passed, 0 failed, 0 skipped$' CI=true
gate ".ci/run: status 0, summary is the last line" 0 '^12 passed, 0 failed, 0 skipped$' RUNNER=ci
rm "$T/tests/vm/run.sh"
gate "a tier whose runner is removed fails (runner missing + short count)" 1 \
	'^not ok - tier vm: runner tests/vm/run.sh missing' 
gate ".ci/run with a runner removed: make's status 2, summary still last" 2 '^9 passed, 2 failed, 0 skipped$' RUNNER=ci
mktree "$T"
gate "a tier printing fewer tests than tests/expected-counts fails" 1 \
	'^not ok - vm: 2 tests, tests/expected-counts expects 3' FAKE_VM=short
gate "a tier printing more tests than expected fails" 1 'vm: 4 tests, tests/expected-counts expects 3' FAKE_VM=extra
gate "a run that stops before its plan is complete and exits 1 fails twice" 1 \
	'^not ok - vm: plan 1..3 but 1 test lines' FAKE_VM=die
gate "... and the status without a failed test is reported" 1 \
	'^not ok - vm exited with status 1 without a failed test' FAKE_VM=die
gate "cmocka 1.1.5's skip form (not ok N, SKIP directive) counts as a skip, not a failure" 0 \
	'^11 passed, 0 failed, 1 skipped$' FAKE_BPF=skip
gate "under CI=true a skip fails unless allowed" 1 \
	'^not ok - bpf: skipped under CI=true, not allowed by EXITMON_ALLOW_SKIP: not ok 2 # SKIP needs root' \
	FAKE_BPF=skip CI=true
gate "under CI=true EXITMON_ALLOW_SKIP=bpf allows it, and the summary prints the list" 0 \
	'^# CI=true: skips allowed by EXITMON_ALLOW_SKIP: bpf$' FAKE_BPF=skip CI=true EXITMON_ALLOW_SKIP=bpf
gate "EXITMON_ALLOW_SKIP=TIER:TEXT allows only matching skips" 1 'not allowed' \
	FAKE_BPF=skip CI=true EXITMON_ALLOW_SKIP=bpf:other-reason
gate "a tier collapsed to one skip (setup failed) fails under CI=true" 1 \
	'^not ok - vm: 1 tests, tests/expected-counts expects 3' FAKE_VM=skip CI=true
gate "CI=true with a tier left out of EXITMON_TIERS fails" 1 \
	'^not ok - tier kpatch not run under CI=true' CI=true 'EXITMON_TIERS=unit cli bpf fuzz vm'
gate "an unknown tier fails" 1 "^not ok - unknown tier 'nosuch'" 'EXITMON_TIERS=unit nosuch'
gate "one hung-boot retry within the default budget (1) passes and is printed" 0 \
	'^# hung-boot retries: 1 \(budget EXITMON_BOOT_RETRIES=1\)$' FAKE_VM=retry1
gate "retries beyond the budget fail" 1 '^not ok - 2 hung-boot retries, budget EXITMON_BOOT_RETRIES=1' FAKE_VM=retry2
gate "budget 0: one retry fails" 1 'not ok - 1 hung-boot retries, budget EXITMON_BOOT_RETRIES=0' \
	FAKE_VM=retry1 EXITMON_BOOT_RETRIES=0
gate "--update-counts writes the count of a tier that ran clean" 1 '^# --update-counts: wrote.* vm=4' \
	FAKE_VM=extra -- --update-counts
gate "... after which the same run passes" 0 '' FAKE_VM=extra
rm "$T/tests/expected-counts"
gate "no tests/expected-counts: every tier fails" 1 '^not ok - unit: no expected count'

# --- tests/kpatch/check.py: a fixed list of checks --------------------------
chk=$top/tests/kpatch/check.py
want=$(python3 "$chk" --count)
printf '@@l1 up\n' >"$tmp/empty.log"
python3 "$chk" "$tmp/empty.log" 0 1 1 >"$tmp/c.tap"
rc=$?
got=$(grep -cE '^(not )?ok ' "$tmp/c.tap")
bad=$(grep -c '^not ok ' "$tmp/c.tap")
if [ "$rc" = 1 ] && [ "$got" = "$want" ] && [ "$bad" = "$want" ]; then
	ok "check.py on a log without scenarios: all $want checks printed, each not ok, exit 1"
else
	notok "check.py on a log without scenarios: all $want checks not ok" "rc=$rc lines=$got not-ok=$bad"
fi
# A scenario whose output makes a check raise (bad JSON; the header line of
# a kvmq run missing): that check is not ok, the later ones still run.
cat >"$tmp/crash.log" <<'X'
@@begin exitmon-kvmq
vm=0 q=0 leaf=0x4ffffffe ecx=0x72 -> 00000001 00000000 00000000 00000000
@@end exitmon-kvmq rc=0
@@begin exitmon-json
{"rows": [
@@end exitmon-json rc=0
@@begin dmesg-check
@@end dmesg-check rc=0
@@done
X
python3 "$chk" "$tmp/crash.log" 0 1 0 >"$tmp/c.tap"
rc=$?
got=$(grep -cE '^(not )?ok ' "$tmp/c.tap")
if [ "$rc" = 1 ] && [ "$got" = "$want" ] &&
	grep -q "^ok $want - L1 ran every scenario" "$tmp/c.tap" &&
	grep -q "^ok $((want - 1)) - no WARNING" "$tmp/c.tap" &&
	grep -A1 "^not ok [0-9]* - exitmon's host-side" "$tmp/c.tap" | grep -q 'expected a header line, 28 query'; then
	ok "check.py: a malformed scenario fails its own checks, the later checks still run ($want lines)"
else
	notok "check.py: a malformed scenario fails its own checks, the later checks still run" "rc=$rc lines=$got of $want" \
		"$(grep -A2 'exitmon' "$tmp/c.tap" | head -8)"
fi
if grep -q "^ok [0-9]* - exitmon-query in a Linux guest.* # SKIP l2 not packed" "$tmp/c.tap"; then
	ok "check.py: checks needing the L2 guest are skips (not missing) when it was not packed"
else
	notok "check.py: L2 checks are skips when L2 was not packed" "$(grep 'Linux guest' "$tmp/c.tap")"
fi
python3 "$chk" --none 7 fail "rig did not run" >"$tmp/c.tap"
rc=$?
if [ "$rc" = 1 ] && [ "$(grep -c '^not ok ' "$tmp/c.tap")" = "$want" ] && head -n1 "$tmp/c.tap" | grep -q '^not ok 8 '; then
	ok "check.py --none fail: every check not ok, numbered from the given start"
else
	notok "check.py --none fail" "rc=$rc" "$(head -2 "$tmp/c.tap")"
fi
echo "1..$n"
exit "$failed"
