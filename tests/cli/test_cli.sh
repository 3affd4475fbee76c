#!/usr/bin/env bash
# CLI tier: exit statuses, one-line errors, and a real (empty) run on this
# host's kvm tracepoints. TAP output. Runs that need root skip without it.
set -uo pipefail
cd "$(dirname "$0")/../.."
EM=./exitmon
n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# extremes.json with its 2^63-1 values halved: the loader refuses rows whose
# sums exceed 2^63-1 (extremes.json itself), this one loads and prints.
big=$tmp/big.json
sed 's/9223372036854775807/4611686018427387904/g' tests/fuzz/corpus/extremes.json >"$big"

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
expect 2 "reason number not in the table" "no exit" -- $EM show "$big" --reason 999
expect 2 "bad --isa" "invalid --isa" -- $EM --isa arm
expect 2 "show needs a file" "show needs one snapshot file" -- $EM show
expect 2 "diff needs two files" "diff needs two snapshot files" -- $EM diff a
expect 0 "reasons --isa svm lists CPUID at 0x72" "0x72 +CPUID" -- $EM reasons --isa svm
expect 0 "reasons --isa vmx lists INVLPG at 14" "^14 +INVLPG" -- $EM reasons --isa vmx

expect 0 "show --reason keeps a VMX reason with flag bits" "INVALID_STATE\|FAILED_VMENTRY +1 " -- \
	$EM show "$big" --reason INVALID_STATE
printf '{"format":"exitmon-snapshot","version":1,' >"$tmp/trunc.json"
expect 1 "truncated snapshot: one line naming the file" "trunc.json" -- $EM show "$tmp/trunc.json"
echo 'not json at all' >"$tmp/garbage.json"
expect 1 "non-JSON snapshot: one line naming the file" "garbage.json" -- $EM show "$tmp/garbage.json"
expect 1 "missing snapshot file" "missing.json" -- $EM show "$tmp/missing.json"

# --- build hygiene (issue 14): checked with make -n, nothing is rebuilt ----
# (as typed in a shell, not with the flags of a make that runs this tier)
make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }
if make -n -B CFLAGS='-O1 -g' build/err.o 2>/dev/null | grep -q -- '-Ibpf.*-O1 -g.*-MMD -MP'; then
	ok "make CFLAGS='-O1 -g' keeps the build's own flags and dependency files"
else notok "make CFLAGS='-O1 -g' keeps the build's own flags and dependency files" "$(make -n -B CFLAGS='-O1 -g' build/err.o 2>&1)"; fi
if [ ! -w build ]; then
	skipt "quiet output by default, full commands with V=1" "build/ is not writable by this user"
else
	q=$(make -B build/err.o 2>&1)
	v=$(make -B V=1 build/err.o 2>&1)
	if [ "$q" = "  CC       build/err.o" ] && echo "$v" | grep -q -- '-c user/err.c -o build/err.o'; then
		ok "quiet output by default, full commands with V=1"
	else notok "quiet output by default, full commands with V=1" "$q" "$v"; fi
fi
if [ -f build/exitmon.skel.h ] && [ "$(stat -c %s build/exitmon.skel.h)" -lt 500000 ]; then
	ok "the skeleton embeds a stripped BPF object ($(stat -c %s build/exitmon.skel.h) bytes)"
else notok "the skeleton embeds a stripped BPF object" "$(ls -l build/exitmon.skel.h 2>&1)"; fi
printf '#include "snapshot.h"\nint x = JSON_INDENT(2);\n' >"$tmp/inc.c"
if ! cc -std=gnu11 -fsyntax-only -Iuser -Ibpf "$tmp/inc.c" 2>/dev/null &&
   printf '#include "snapshot.h"\n' | cc -std=gnu11 -fsyntax-only -Iuser -Ibpf -x c - 2>/dev/null; then
	ok "snapshot.h builds on its own and does not expose <jansson.h>"
else notok "snapshot.h builds on its own and does not expose <jansson.h>"; fi

unset -f make

# --- README's first two commands: as root without sudo, and through sudo --
# (stubs of sudo, apt-get, make and ./exitmon record what ran, and how)
readme_cmds=$(awk '/^```sh$/ {n++; next} /^```$/ {if (n == 1) exit} n == 1' README.md)
mkdir -p "$tmp/readme/bin" "$tmp/readme/nosudo" "$tmp/readme/withsudo"
for c in apt-get make; do
	printf '#!/bin/sh\necho "${VIA:-direct} %s $*" >>"%s/log"\n' "$c" "$tmp/readme" >"$tmp/readme/bin/$c"
done
printf '#!/bin/sh\necho "${VIA:-direct} ./exitmon $*" >>"%s/log"\n' "$tmp/readme" >"$tmp/readme/exitmon"
printf '#!/bin/sh\nexec env VIA=sudo "$@"\n' >"$tmp/readme/withsudo/sudo"
chmod +x "$tmp/readme/bin/"* "$tmp/readme/exitmon" "$tmp/readme/withsudo/sudo"
for how in nosudo withsudo; do
	rm -f "$tmp/readme/log"
	(cd "$tmp/readme" && PATH="$tmp/readme/$how:$tmp/readme/bin:/usr/bin:/bin" bash -ec "$readme_cmds") >/dev/null 2>&1
	want=$([ $how = withsudo ] && echo sudo || echo direct)
	got=$(cut -d' ' -f2- "$tmp/readme/log" 2>/dev/null | tr '\n' ';')
	if [ "$got" = "apt-get update;apt-get install -y make;make deps all;./exitmon run;make deps test;" ] &&
	   ! grep -qv "^$want " "$tmp/readme/log"; then
		ok "README's first commands run ($how)"
	else
		notok "README's first commands run ($how)" "$(cat "$tmp/readme/log" 2>&1)"
	fi
done

# --- arguments (issue 13) ------------------------------------------------
expect 2 "numbers are decimal: -p with a leading space" "invalid pid" -- $EM -p " -18446744073709551615"
expect 2 "numbers are decimal: no hex pid" "invalid pid" -- $EM -p 0x10
expect 2 "empty --reason is a usage error" "empty --reason" -- $EM -r ''
expect 2 "--reason ',' is a usage error" "empty item" -- $EM -r ,
expect 2 "interval below 0.05 s" "invalid interval" -- $EM -i 1e-300
expect 2 "interval above a day" "invalid interval" -- $EM -i 3e6
expect 2 "--per-vm=1 names --per-vm" "'--per-vm' takes no value" -- $EM --per-vm=1
expect 2 "--force=1 names --force" "'--force' takes no value" -- $EM -s x --force=1
expect 2 "run --sort is not a run option" "'--sort' does not apply to run" -- $EM run --sort bogus
expect 2 "show rejects run options" "'--per-vm' does not apply to show" -- \
	$EM show tests/fuzz/corpus/extremes.json --per-vm -d 3 --attach tp
expect 2 "diff rejects a bad --sort" "invalid --sort 'bogus'" -- $EM diff a b --sort bogus
expect 0 "global options go before the command" '^\{"format":"exitmon-report".*"type":"snapshot"' -- \
	$EM -o json show "$big"
host=$($EM reasons 2>/dev/null | awk 'NR==1{print $1}')
case $host in
svm|vmx)
	expect 0 "reasons without --isa lists this CPU's reasons" "^(0x0|0) +[A-Z_]+" -- $EM reasons
	other=$([ "$host" = svm ] && echo vmx || echo svm)
	expect 2 "run --isa of the other vendor is refused" "does not match this CPU" -- $EM run --isa "$other" -d 1 ;;
*) expect 2 "reasons on an unknown CPU asks for --isa" "pass --isa" -- $EM reasons
   skipt "run --isa of the other vendor is refused" "CPU vendor unknown" ;;
esac
expect 2 "control characters in an argument stay on one line" "unknown command 'a\?b" -- $EM "$(printf 'a\nb')"
expect 1 "control characters in a path stay on one line" "cannot open" -- $EM show "$tmp/$(printf 'x\ny\033[2J')"

# --- output errors: stdout is /dev/full -----------------------------------
for c in "-h" "-V" "reasons --isa svm" "show $big" \
	"show -o json $big" "diff $big tests/fuzz/corpus/vmx-small.json"; do
	# shellcheck disable=SC2086
	expect 1 "write error on stdout is exit 1: $c" "cannot write to stdout" -- sh -c "exec $EM $c >/dev/full"
done

# --- hostile snapshot files ----------------------------------------------
expect 1 "/dev/zero is refused at once" "character device, not a snapshot" -- timeout 5 $EM show /dev/zero
mkfifo "$tmp/fifo"
expect 1 "a FIFO with no writer is refused, not waited on" "FIFO, not a snapshot" -- timeout 5 $EM show "$tmp/fifo"
truncate -s 100M "$tmp/huge.json"
expect 1 "a file above the size limit is refused from fstat" "too large for a snapshot" -- timeout 5 $EM show "$tmp/huge.json"
rm -f "$tmp/huge.json"
python3 -c 'import sys; sys.stdout.write("  [" + "1," * 5000000 + "1]")' >"$tmp/array.json"
expect 1 "a JSON array is refused before parsing" "does not start with" -- timeout 5 $EM show "$tmp/array.json"
python3 -c 'import sys; sys.stdout.write("{\"a\":[" + "1," * 3000000 + "1]}")' >"$tmp/ones.json"
/usr/bin/env time -f %M -o "$tmp/rss" $EM show "$tmp/ones.json" >/dev/null 2>"$tmp/err"
rss=$(tail -1 "$tmp/rss" 2>/dev/null)
# budget: 24 times the file plus 1 MiB, on top of exitmon's own ~15 MiB
if grep -q "ones.json: not" "$tmp/err" && [ "${rss:-999999}" -lt $((6 * 25 + 40))000 ]; then
	ok "a dense JSON file is refused within its memory budget (peak ${rss} KiB for 6 MB)"
else
	notok "a dense JSON file is refused within its memory budget" "rss=$rss KiB" "$(cat "$tmp/err")"
fi
rm -f "$tmp/array.json" "$tmp/ones.json"
python3 - "$tmp/ovf.json" <<'PY'
import json, sys
d = json.load(open("tests/fuzz/corpus/svm-breakdown.json"))
row = [r for r in d["rows"] if r["tgid"] == 0 and r["vcpu"] == -1][0]
d["rows"] = [dict(row, reason=code, count=2**63 - 1) for code in (0x72, 0x7b, 0x7c)]
json.dump(d, open(sys.argv[1], "w"))
PY
expect 1 "rows whose total overflows 64 bits are refused" "exceed 2.63-1" -- $EM show "$tmp/ovf.json"
expect 1 "rows whose sums exceed 2^63-1 (unprintable as JSON) are refused" "exceed 2.63-1" -- $EM show tests/fuzz/corpus/extremes.json

# --- save targets: checked before the run, never a device or a link's target
mknod "$tmp/null" c 1 3 2>/dev/null || devs="no mknod"
ln -s "$tmp/keep" "$tmp/link"
echo keep >"$tmp/keep"
ln -s "$tmp/nowhere" "$tmp/dangling"
mkdir "$tmp/dir"
# Each must fail at once (timeout 10 < -d 3600), with one line, before tracing.
for t in "null:character device" "fifo:a FIFO" "dir:a directory"; do
	if [ "${t%%:*}" = null ] && [ -n "${devs:-}" ]; then
		skipt "--save --force refuses ${t#*:}" "mknod needs root"
		continue
	fi
	expect 1 "--save --force refuses ${t#*:}" "${t#*:}" -- timeout 10 $EM run -d 3600 -s "$tmp/${t%%:*}" --force
done
if { [ -c "$tmp/null" ] || [ -n "${devs:-}" ]; } && [ -p "$tmp/fifo" ]; then ok "the device node and the FIFO are untouched"
else notok "the device node and the FIFO are untouched" "$(ls -l "$tmp")"; fi
expect 1 "--save to a missing directory fails at start" "No such file" -- timeout 10 $EM run -d 3600 -s "$tmp/no/such/f.json"
expect 1 "--save with an empty name fails at start" "not a file name" -- timeout 10 $EM run -d 3600 -s ''
expect 1 "--save with a trailing slash fails at start" "not a file name" -- timeout 10 $EM run -d 3600 -s "$tmp/x/"
expect 1 "--save of a dangling symlink without --force fails at start" "already exists" -- \
	timeout 10 $EM run -d 3600 -s "$tmp/dangling"
expect 1 "--save with a name too long fails at start" "too long" -- \
	timeout 10 $EM run -d 3600 -s "$tmp/$(printf 'n%.0s' $(seq 300))"
mkdir "$tmp/ro"
if mount -t tmpfs -o ro,size=1m none "$tmp/ro" 2>/dev/null; then
	expect 1 "--save on a read-only file system fails at start" "Read-only file system" -- \
		timeout 10 $EM run -d 3600 -s "$tmp/ro/f.json"
	umount "$tmp/ro"
else
	skipt "--save on a read-only file system fails at start" "cannot mount a tmpfs here"
fi
echo "do not cut" >"$tmp/ready-exists"
ln -s "$tmp/ready-target" "$tmp/ready-link"
echo "target" >"$tmp/ready-target"
expect 1 "--ready-file refuses an existing file" "already exists" -- timeout 10 $EM run -d 3600 --ready-file "$tmp/ready-exists"
expect 1 "--ready-file refuses a symlink" "already exists" -- timeout 10 $EM run -d 3600 --ready-file "$tmp/ready-link"
if [ "$(cat "$tmp/ready-exists")" = "do not cut" ] && [ "$(cat "$tmp/ready-target")" = target ]; then
	ok "--ready-file truncated neither the file nor the link's target"
else notok "--ready-file truncated neither the file nor the link's target"; fi
expect 1 "--ready-file that cannot be created is an error" "cannot create ready file" -- \
	timeout 10 $EM run -d 3600 --ready-file "$tmp/no/such/ready"

# waits until PID has a handler for signal number SIG (SigCgt), i.e. exitmon is in main
caught() {
	local m
	for _ in $(seq 400); do
		m=$(awk '/^SigCgt/ {print $2}' "/proc/$1/status" 2>/dev/null)
		if [ -n "$m" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = exitmon ] &&
		   [ $(((0x$m >> ($2 - 1)) & 1)) -eq 1 ]; then return 0; fi
		sleep 0.005
	done
	return 1
}

# The live table as a person uses it, in a tmux terminal: keys c, s, q, then
# Ctrl-\ (SIGQUIT) and SIGHUP; the terminal must be sane (icanon echo) after each.
LIVE_TESTS=("live table refreshes" "key c toggles the cumulative view" "key s saves"
	"key q quits with status 0" "terminal sane after q" "terminal sane after SIGQUIT (Ctrl-\\)"
	"terminal sane after SIGHUP, and the run saved")
pane() { tmux -S "$tmp/tmux.sock" capture-pane -p -t live; }
await() { # PATTERN: waits up to 10 s for the pane to show it
	for _ in $(seq 100); do pane | grep -Eq -- "$1" && return 0; sleep 0.1; done
	return 1
}
# Runs exitmon in the pane under a plain sh that prints its status and then
# the terminal's icanon/echo flags itself: an interactive shell would repair
# the terminal after a job dies of a signal and hide the bug.
live_run() {
	tmux -S "$tmp/tmux.sock" send-keys -t live "clear; sh $tmp/live/wrap.sh $EM run -i 0.2 $*" Enter
}
live_tmux() {
	local t=(tmux -S "$tmp/tmux.sock") d="$tmp/live" i
	if ! command -v tmux >/dev/null; then
		for i in "${LIVE_TESTS[@]}"; do skipt "$i" "tmux missing (apt-get install tmux)"; done
		return
	fi
	mkdir -p "$d"
	cat >"$d/wrap.sh" <<WRAP
trap '' QUIT   # Ctrl-\\ goes to the whole foreground group; only exitmon is to quit
echo \$\$ >"$d/pid"
"\$@"
echo "EXIT=\$?"
echo "STTY:\$(stty -a | tr ' ;' '\\n\\n' | grep -Ex -- '-?(icanon|echo)' | tr '\\n' ' ')"
WRAP
	"${t[@]}" new-session -d -s live -x 150 -y 50 "env -i PATH=$PATH TERM=xterm bash --norc --noprofile"
	"${t[@]}" send-keys -t live "cd $PWD" Enter
	live_run -s "$d/a.json"
	await "keys: c cumulative view" && ok "${LIVE_TESTS[0]}" || notok "${LIVE_TESTS[0]}" "$(pane | tail -5)"
	"${t[@]}" send-keys -t live c
	await "^exitmon cumulative:" && await "keys: c per-interval view" && ok "${LIVE_TESTS[1]}" ||
		notok "${LIVE_TESTS[1]}" "$(pane | head -3)"
	"${t[@]}" send-keys -t live s
	for _ in $(seq 50); do [ -s "$d/a.json" ] && break; sleep 0.1; done
	$EM show "$d/a.json" >/dev/null 2>&1 && ok "${LIVE_TESTS[2]}" || notok "${LIVE_TESTS[2]}"
	"${t[@]}" send-keys -t live q
	await "^EXIT=0" && ok "${LIVE_TESTS[3]}" || notok "${LIVE_TESTS[3]}" "$(pane | tail -5)"
	await "^STTY:icanon echo ?$" && ok "${LIVE_TESTS[4]}" || notok "${LIVE_TESTS[4]}" "$(pane | tail -3)"
	# Ctrl-\ sends SIGQUIT: exitmon quits at once, no save, terminal restored
	live_run
	await "keys: c" && "${t[@]}" send-keys -t live 'C-\'
	await "^EXIT=131" && await "^STTY:icanon echo ?$" && ok "${LIVE_TESTS[5]}" ||
		notok "${LIVE_TESTS[5]}" "$(pane | tail -5)"
	live_run -s "$d/b.json"
	await "keys: c" && kill -HUP "$(pgrep -P "$(cat "$d/pid")")"
	await "^EXIT=0" && await "^STTY:icanon echo ?$" && $EM show "$d/b.json" >/dev/null 2>&1 &&
		ok "${LIVE_TESTS[6]}" || notok "${LIVE_TESTS[6]}" "$(pane | tail -5)"
	"${t[@]}" kill-server 2>/dev/null
}

# VM and vCPU names (docs/snapshots.md "vms"): the seed run names pid 4242
names=tests/fuzz/corpus/svm-names.json
expect 0 "show prints the VM name and the vCPU index with its APIC ID" \
	"^web,01 é +4242 1 \(apic 2\) +0x72 CPUID" -- $EM show "$names"
sed 's/4242/5555/g' "$names" >"$tmp/names-b.json"
expect 0 "diff matches a VM by name across pids" "^web,01 é +4242 +5555 +30 +30 +\+0$" -- \
	$EM diff "$names" "$tmp/names-b.json"
expect 2 "empty --vm is a usage error" "invalid --vm" -- $EM --vm ''
expect 2 "--vm is for run only" "'--vm' does not apply to show" -- $EM show "$names" --vm web

if [ "$(id -u)" -ne 0 ]; then
	for t in "run -d 2 prints an empty table with the no-VM hint" "json output" \
		"save/show/diff" "refuses to overwrite" "a refused map is named" "non-root is refused" "run --vm without a match" \
		"symlink replaced, not its target" "signals at the start save" "SIGKILL leaves no temporary" \
		"EPIPE stops and saves" "write errors of run" "-p warnings" "${LIVE_TESTS[@]}"; do
		skipt "$t" "needs root"
	done
elif [ ! -r /sys/kernel/btf/vmlinux ]; then
	skipt "live runs" "kernel has no BTF"
else
	expect 0 "run -d 2 prints an empty table with the no-VM hint" "no VM exits seen" -- $EM run -d 2
	expect 0 "bare exitmon with a reason filter runs" "no VM exits seen" -- $EM -d 1 --reason 1 --reason 0
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
	# a map the kernel refuses, under a memory cgroup's limit (BPF maps are
	# charged to it since 5.11): one line naming that map and the option
	t="a map the kernel refuses is named, with the option to change"
	cg="" lim=""
	if [ -w /sys/fs/cgroup/memory ]; then
		cg=/sys/fs/cgroup/memory/exitmon-cli.$$ lim=memory.limit_in_bytes
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
		cg=/sys/fs/cgroup/exitmon-cli.$$ lim=memory.max
	fi
	if [ -n "$cg" ] && mkdir "$cg" 2>/dev/null && echo $((40 << 20)) >"$cg/$lim"; then
		expect 1 "$t" "refused memory for the BPF map 'breakdown' .*lower --max-keys" -- \
			sh -c "echo \$\$ >'$cg/cgroup.procs' && exec $EM run --per-vcpu --max-keys 50000 -d 1"
		rmdir "$cg"
	else
		skipt "$t" "no memory cgroup to limit"
	fi
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
	# --force replaces a symlink itself, never its target
	expect 0 "--save --force replaces a symlink, not its target" "saved" -- $EM run -d 0.2 -s "$tmp/link" --force
	if [ -f "$tmp/link" ] && [ ! -L "$tmp/link" ] && [ "$(cat "$tmp/keep")" = keep ]; then
		ok "the symlink's target is untouched"
	else notok "the symlink's target is untouched" "$(ls -l "$tmp/link" "$tmp/keep")"; fi
	# Signals: handled from the start of main, before the collector opens.
	for sig in INT TERM HUP USR1; do
		rm -f "$tmp/s.json"
		$EM run -d 4 -s "$tmp/s.json" >/dev/null 2>"$tmp/s.err" &
		em=$!
		if caught $em "$(kill -l "$sig")"; then kill -"$sig" $em; fi
		[ "$sig" = USR1 ] && { sleep 0.5; kill -TERM $em; }
		wait $em
		rc=$?
		if [ $rc -eq 0 ] && $EM show "$tmp/s.json" >/dev/null 2>&1; then
			ok "SIG$sig at the start stops (or saves) and saves, status 0"
		else
			notok "SIG$sig at the start stops (or saves) and saves, status 0" "rc=$rc" "$(cat "$tmp/s.err")"
		fi
	done
	# SIGKILL in the middle leaves no temporary file (O_TMPFILE)
	mkdir "$tmp/k"
	$EM run -d 30 -s "$tmp/k/k.json" >/dev/null 2>&1 &
	em=$!
	caught $em 10 && kill -USR1 $em
	sleep 0.5
	kill -KILL $em
	wait $em 2>/dev/null
	left=$(ls -A "$tmp/k" | grep -v '^k.json$')
	if [ -z "$left" ]; then ok "SIGKILL leaves no temporary file behind"
	else notok "SIGKILL leaves no temporary file behind" "$left"; fi
	# a closed pipe: stop, save, exit nonzero (not death by SIGPIPE)
	rm -f "$tmp/p.json"
	$EM run -s "$tmp/p.json" -o json -i .5 2>"$tmp/p.err" | head -c 10 >/dev/null
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 1 ] && $EM show "$tmp/p.json" >/dev/null && grep -q "Broken pipe" "$tmp/p.err"; then
		ok "EPIPE on stdout stops the run, saves it and exits 1"
	else
		notok "EPIPE on stdout stops the run, saves it and exits 1" "rc=$rc" "$(cat "$tmp/p.err")"
	fi
	for o in table json; do
		$EM run -d 0.2 -o $o >/dev/full 2>"$tmp/f.err"
		rc=$?
		if [ $rc -eq 1 ] && [ "$(tail -1 "$tmp/f.err")" = "exitmon: cannot write to stdout: No space left on device" ]
		then ok "run -o $o with stdout on /dev/full is exit 1"
		else notok "run -o $o with stdout on /dev/full is exit 1" "rc=$rc" "$(cat "$tmp/f.err")"; fi
	done
	$EM run -d 0.2 -p 4194303 >/dev/null 2>"$tmp/w.err"
	if [ $? -eq 0 ] && grep -q "warning: pid 4194303 does not exist" "$tmp/w.err"; then
		ok "-p of a missing pid warns"
	else notok "-p of a missing pid warns" "$(cat "$tmp/w.err")"; fi
	$EM run -d 0.2 -p $$ >/dev/null 2>"$tmp/w.err"
	if [ $? -eq 0 ] && grep -q "has no KVM VM open" "$tmp/w.err"; then ok "-p of a process that is no VM warns"
	else notok "-p of a process that is no VM warns" "$(cat "$tmp/w.err")"; fi
	live_tmux
	if command -v setpriv >/dev/null; then
		expect 1 "non-root is refused with one line" "permission denied" -- \
			setpriv --reuid=65534 --regid=65534 --clear-groups $EM run -d 1
	else
		skipt "non-root is refused" "setpriv missing"
	fi
	# CAP_BPF + CAP_PERFMON without root: tracefs is there but closed (mode 0700)
	if command -v setpriv >/dev/null && [ "$(stat -c %a /sys/kernel/tracing 2>/dev/null)" = 700 ]; then
		expect 1 "unreadable tracefs is named as such, not as unmounted" "mounted but not readable" -- \
			setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+bpf,+perfmon \
			--ambient-caps=+bpf,+perfmon $EM run -d 1 --attach tp
	else
		skipt "unreadable tracefs is named as such" "setpriv missing or tracefs not mode 0700"
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
	in=$c/$f.json
	[ $f = extremes ] && in=$big # extremes.json itself is refused (sums above 2^63-1)
	$EM show "$in" -o json >"$tmp/show-$f.json" 2>"$tmp/err" || echo "show $f failed: $(cat "$tmp/err")" >>"$tmp/show-errors"
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
