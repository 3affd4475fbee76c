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

# VM and vCPU names (docs/snapshots.md "vms"): the seed run names pid 4242
names=tests/fuzz/corpus/svm-names.json
expect 0 "show prints the VM name and the vCPU index with its APIC ID" \
	"^web,01 é +4242 1 \(apic 2\) +0x72 CPUID" -- $EM show "$names"
sed 's/4242/5555/g' "$names" >"$tmp/names-b.json"
expect 0 "diff matches a VM by name across pids" "^web,01 é +4242 +5555 +30 +30 +\+0$" -- \
	$EM diff "$names" "$tmp/names-b.json"
expect 2 "empty --vm is a usage error" "invalid --vm" -- $EM --vm ''
expect 2 "--vm is for run only" "--vm only goes with run" -- $EM show "$names" --vm web

if [ "$(id -u)" -ne 0 ]; then
	for t in "run -d 2 prints an empty table with the no-VM hint" "json output" \
		"save/show/diff" "refuses to overwrite" "non-root is refused" "run --vm without a match"; do
		skipt "$t" "needs root"
	done
elif [ ! -r /sys/kernel/btf/vmlinux ]; then
	skipt "live runs" "kernel has no BTF"
else
	expect 0 "run -d 2 prints an empty table with the no-VM hint" "no VM exits seen" -- $EM run -d 2
	expect 0 "bare exitmon with a reason filter runs" "no VM exits seen" -- $EM -d 1 --isa vmx --reason 14 --reason EPT_VIOLATION
	$EM -d 1 -o json >"$tmp/j" 2>"$tmp/err"
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
	expect 0 "run --vm says when no running VM matches yet" "--vm nomatch\*: no running VM matches yet" -- \
		$EM run -d 1 --vm 'nomatch*'
	if command -v setpriv >/dev/null; then
		expect 1 "non-root is refused with one line" "permission denied" -- \
			setpriv --reuid=65534 --regid=65534 --clear-groups $EM run -d 1
	else
		skipt "non-root is refused" "setpriv missing"
	fi
fi
echo "1..$n"
exit $failed
