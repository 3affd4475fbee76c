#!/usr/bin/env bash
# CLI tier: exit statuses, one-line errors, and a real (empty) run on this
# host's kvm tracepoints. TAP output. Runs that need root skip without it.
set -uo pipefail
cd "$(dirname "$0")/../.."
EM=./exitmon
n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
skipt() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# expect STATUS DESCRIPTION PATTERN -- command...
# checks the exit status, that stderr is exactly one line when failing,
# and that stdout+stderr match PATTERN (extended regex).
expect() {
	local want=$1 desc=$2 pat=$3
	shift 4
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne "$want" ]; then
		notok "$desc" "exit status $rc, expected $want" "stderr: $(head -3 "$tmp/err")"
	elif [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; then
		notok "$desc" "expected one line on stderr, got $lines" "$(head -5 "$tmp/err")"
	elif ! grep -Eq -- "$pat" "$tmp/out" "$tmp/err"; then
		notok "$desc" "output does not match /$pat/" "$(head -5 "$tmp/out" "$tmp/err")"
	else
		ok "$desc"
	fi
}

expect 0 "-h prints usage" "^Usage: exitmon" -- $EM -h
expect 0 "--version" "^exitmon [0-9]" -- $EM --version
expect 2 "unknown option is a usage error" "unknown option" -- $EM --bogus
expect 2 "unknown command is a usage error" "unknown command 'frobnicate'" -- $EM frobnicate
expect 2 "bad interval" "invalid interval" -- $EM -i 0
expect 2 "bad duration" "invalid duration" -- $EM -d abc
expect 2 "bad pid" "invalid pid" -- $EM -p -5
expect 2 "option without value" "needs a value" -- $EM --reason
expect 2 "unknown reason name lists close matches" "did you mean INVLPG" -- $EM --isa svm --reason invlgp
expect 2 "reason number not in the table" "no exit" -- $EM --isa vmx --reason 999
expect 2 "bad --isa" "invalid --isa" -- $EM --isa arm
expect 2 "show needs a file" "show needs one snapshot file" -- $EM show
expect 2 "diff needs two files" "diff needs two snapshot files" -- $EM diff a
expect 0 "reasons --isa svm lists CPUID at 0x72" "0x72 +CPUID" -- $EM reasons --isa svm
expect 0 "reasons --isa vmx lists INVLPG at 14" "^14 +INVLPG" -- $EM reasons --isa vmx

expect 0 "show --reason keeps a VMX reason with flag bits" "INVALID_STATE\|FAILED_VMENTRY +1 " -- \
	$EM show tests/fuzz/corpus/extremes.json --reason INVALID_STATE
printf '{"format":"exitmon-snapshot","version":1,' >"$tmp/trunc.json"
expect 1 "truncated snapshot: one line naming the file" "trunc.json" -- $EM show "$tmp/trunc.json"
echo 'not json at all' >"$tmp/garbage.json"
expect 1 "non-JSON snapshot: one line naming the file" "garbage.json" -- $EM show "$tmp/garbage.json"
expect 1 "missing snapshot file" "missing.json" -- $EM show "$tmp/missing.json"

if [ "$(id -u)" -ne 0 ]; then
	for t in "run -d 2 prints an empty table with the no-VM hint" "json output" \
		"save/show/diff" "refuses to overwrite" "non-root is refused"; do
		skipt "$t" "needs root"
	done
elif [ ! -r /sys/kernel/btf/vmlinux ]; then
	skipt "live runs" "kernel has no BTF"
else
	expect 0 "run -d 2 prints an empty table with the no-VM hint" "no VM exits seen" -- $EM run -d 2
	expect 0 "bare exitmon with a reason filter runs" "no VM exits seen" -- $EM -d 1 --isa vmx --reason 14 --reason EPT_VIOLATION
	$EM -d 2 -i 1 -o json >"$tmp/j" 2>"$tmp/err"
	if [ $? -eq 0 ] && jq -e 'select(.type=="final") | .rows and .counters and .total' "$tmp/j" >/dev/null 2>&1; then
		ok "json output is a final object readable by jq"
	else
		notok "json output is a final object readable by jq" "$(head -3 "$tmp/j" "$tmp/err")"
	fi
	expect 0 "run --save writes a snapshot" "saved" -- $EM run -d 1 --save "$tmp/a.json"
	expect 0 "show reads it back" "no VM exits in this snapshot" -- $EM show "$tmp/a.json"
	cp "$tmp/a.json" "$tmp/a.orig"
	expect 1 "refuses to overwrite without --force" "exists" -- $EM run -d 1 --save "$tmp/a.json"
	if cmp -s "$tmp/a.json" "$tmp/a.orig"; then ok "the existing snapshot is untouched"; else notok "the existing snapshot is untouched"; fi
	expect 0 "--force overwrites" "saved" -- $EM run -d 1 --save "$tmp/a.json" --force
	# SIGUSR1 saves now, while the run goes on
	$EM run -d 4 --save "$tmp/u.json" --ready-file "$tmp/ready" >/dev/null 2>"$tmp/u.err" &
	em=$!
	for _ in $(seq 50); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
	kill -USR1 $em
	sleep 1
	if [ -s "$tmp/u.json" ] && kill -0 $em 2>/dev/null; then ok "SIGUSR1 saves a snapshot while the run goes on"
	else notok "SIGUSR1 saves a snapshot while the run goes on" "$(cat "$tmp/u.err")"; fi
	wait $em
	rc=$?
	if [ $rc -eq 0 ] && [ "$(grep -c saved "$tmp/u.err")" -eq 2 ] && $EM show "$tmp/u.json" >/dev/null; then
		ok "the final save replaces the run's own earlier save"
	else
		notok "the final save replaces the run's own earlier save" "rc=$rc" "$(cat "$tmp/u.err")"
	fi
	expect 0 "diff of two snapshots" "a.json" -- $EM diff "$tmp/a.orig" "$tmp/a.json"
	if command -v setpriv >/dev/null; then
		expect 1 "non-root is refused with one line" "permission denied" -- \
			setpriv --reuid=65534 --regid=65534 --clear-groups $EM run -d 1
	else
		skipt "non-root is refused" "setpriv missing"
	fi
fi

# ---- JSON interface (docs/json.md): real outputs against docs/*.schema.json
# with python3-jsonschema (tests/schema/validate.sh installs it when missing)
validate() { # DESCRIPTION FILE...
	local desc=$1 out rc
	shift
	out=$(bash tests/schema/validate.sh --strict "$@" 2>&1)
	rc=$?
	if [ $rc = 77 ] && [ "${CI:-}" != true ]; then skipt "$desc" "$out"
	elif [ $rc = 0 ]; then ok "$desc"
	else notok "$desc" "$(printf '%s\n' "$out" | head -n 5)"; fi
}
c=tests/fuzz/corpus
for f in vmx-small svm-breakdown svm-interval v1-vmx-small finer-layout extremes empty; do
	$EM show $c/$f.json -o json >"$tmp/show-$f.json" 2>"$tmp/err" || echo "show $f failed: $(cat "$tmp/err")" >>"$tmp/show-errors"
done
if [ -s "$tmp/show-errors" ]; then notok "show -o json of the seed snapshots (v1 and v2)" "$(cat "$tmp/show-errors")"
else ok "show -o json of the seed snapshots (v1 and v2)"; fi
validate "show -o json output validates against docs/report.schema.json" "$tmp"/show-*.json
$EM diff $c/finer-layout.json $c/svm-interval.json -o json >"$tmp/diff.json" 2>"$tmp/err"
validate "diff -o json output validates against docs/diff.schema.json" "$tmp/diff.json"
validate "the seed snapshots validate against docs/snapshot.schema.json" $c/*.json
expect 0 "diff says a file was re-bucketed from another histogram layout" "re-bucketed exactly" -- \
	$EM diff $c/finer-layout.json $c/vmx-small.json
jq '.hist_layout.sub_bucket_bits = 2 | .hist_layout.buckets = 141' $c/vmx-small.json >"$tmp/coarse.json"
expect 1 "a coarser histogram layout is refused, saying why" "cannot be split" -- $EM show "$tmp/coarse.json"
# -o json errors stay one text line on stderr (docs/json.md, Errors); stdout stays empty
$EM show "$tmp/missing.json" -o json >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^exitmon: ' "$tmp/err"; then
	ok "-o json: an error is one text line on stderr, nothing on stdout"
else
	notok "-o json: an error is one text line on stderr, nothing on stdout" "rc=$rc" "$(head -3 "$tmp/out" "$tmp/err")"
fi
if [ -s "$tmp/j" ]; then
	validate "run -o json lines validate against docs/report.schema.json" "$tmp/j"
	validate "a saved snapshot validates against docs/snapshot.schema.json" "$tmp/a.json"
else
	skipt "run -o json lines and saved snapshots validate" "no live run here (needs root and BTF)"
fi
echo "1..$n"
exit $failed
