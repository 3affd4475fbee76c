#!/bin/bash
# Compare the exit profile of a workload under shadow paging (EPT/NPT off)
# and under nested paging (EPT/NPT on) on a real KVM host.
#
#   seed-experiment.sh [-o DIR] [--exitmon PATH] [--] COMMAND [ARGS...]
#
# 1. reloads kvm_intel with ept=0 (or kvm_amd with npt=0), runs COMMAND
#    under `exitmon run --save DIR/shadow.json`;
# 2. reloads with ept=1 / npt=1, runs COMMAND under `--save DIR/nested.json`;
# 3. prints `exitmon diff DIR/nested.json DIR/shadow.json` (also saved as
#    DIR/diff.json) and restores the module parameter it found.
# COMMAND must start its VM(s) and return when they are done (e.g. a script
# that boots a guest, runs a benchmark and shuts it down).
#
# Needs root, and no VM may be running: the vendor module cannot be
# reloaded while a VM holds it. Exit status: 0 ok, 1 failure, 2 usage.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }
usage() {
	sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

outdir=.
exitmon=${EXITMON:-exitmon}
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || usage; outdir=$2; shift 2 ;;
	--exitmon) [ $# -ge 2 ] || usage; exitmon=$2; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "$prog: no workload command given" >&2; usage; }

[ "$(id -u)" = 0 ] || die "must run as root (reloads kvm modules, attaches eBPF programs)"
command -v "$exitmon" >/dev/null 2>&1 || die "exitmon not found ('$exitmon'); build it with make or pass --exitmon PATH"
command -v modprobe >/dev/null 2>&1 || die "modprobe not found (install kmod)"
mkdir -p "$outdir" || die "cannot create $outdir"

# Which vendor module and which parameter switches two-dimensional paging.
if [ -d /sys/module/kvm_intel ]; then
	mod=kvm_intel param=ept
elif [ -d /sys/module/kvm_amd ]; then
	mod=kvm_amd param=npt
elif grep -qw vmx /proc/cpuinfo; then
	mod=kvm_intel param=ept
elif grep -qw svm /proc/cpuinfo; then
	mod=kvm_amd param=npt
else
	die "no kvm_intel/kvm_amd module loaded and the CPU shows neither vmx nor svm"
fi
pfile=/sys/module/$mod/parameters/$param

# Refuse early, with the reason, rather than half-way through.
vms_running() {
	local n=0
	[ -r "/sys/module/$mod/refcnt" ] && n=$(cat "/sys/module/$mod/refcnt")
	# Every VM holds a reference on the vendor module.
	[ "$n" -gt 0 ]
}
if [ -d "/sys/module/$mod" ] && vms_running; then
	# debugfs names each VM's directory <pid>-<fd>.
	users=
	for d in /sys/kernel/debug/kvm/[0-9]*-*; do
		[ -d "$d" ] && users="$users ${d##*/}"
	done
	die "$mod is in use ($(cat "/sys/module/$mod/refcnt") references${users:+, VMs (pid-fd):$users}): stop all VMs first, the module cannot be reloaded while they run"
fi

orig=
[ -r "$pfile" ] && orig=$(cat "$pfile")
case $orig in
Y|y|1) orig=1 ;;
N|n|0) orig=0 ;;
'') orig= ;;
*) orig=1 ;;
esac

reload() { # VALUE
	local want=$1 got
	if [ -d "/sys/module/$mod" ]; then
		vms_running && die "$mod is in use again: a VM was started during the experiment"
		rmmod "$mod" 2>/dev/null || modprobe -r "$mod" ||
			die "cannot unload $mod (is a VM running? see lsmod)"
	fi
	modprobe "$mod" "$param=$want" || die "modprobe $mod $param=$want failed (see dmesg)"
	got=$(cat "$pfile" 2>/dev/null || echo '?')
	case $got in Y|1) got=1 ;; N|0) got=0 ;; esac
	# A CPU without the feature silently keeps it off.
	[ "$got" = "$want" ] || die "$mod loaded but $param=$got, wanted $want (does the CPU support $param?)"
	note "$mod reloaded with $param=$want"
}

restore() {
	local rc=$?
	if [ -n "$orig" ] && [ -r "$pfile" ] && [ "$(cat "$pfile")" != "$orig" ] &&
		[ "$(cat "$pfile")" != "$([ "$orig" = 1 ] && echo Y || echo N)" ]; then
		note "restoring $mod $param=$orig"
		(reload "$orig") || note "could not restore $mod $param=$orig"
	fi
	exit "$rc"
}
trap restore EXIT
trap 'exit 130' INT TERM

# run_under FILE: COMMAND under exitmon, snapshot to FILE.
run_under() {
	local snap=$1 ready em wrc=0 erc=0 i
	ready=$(mktemp -u "${TMPDIR:-/tmp}/seed-ready.XXXXXX")
	"$exitmon" run -o json --save "$snap" --force --ready-file "$ready" \
		</dev/null >"$snap.log" 2>"$snap.err" &
	em=$!
	for ((i = 0; i < 300; i++)); do
		[ -e "$ready" ] && break
		kill -0 "$em" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -e "$ready" ]; then
		kill "$em" 2>/dev/null || true
		wait "$em" 2>/dev/null || true
		die "exitmon did not start: $(tail -n 5 "$snap.err")"
	fi
	rm -f "$ready"
	note "running workload: ${cmd[*]}"
	"${cmd[@]}" || wrc=$?
	kill -INT "$em"
	wait "$em" || erc=$?
	[ "$wrc" = 0 ] || die "workload exited with status $wrc"
	[ "$erc" = 0 ] || die "exitmon exited with status $erc: $(tail -n 5 "$snap.err")"
	[ -s "$snap" ] || die "exitmon wrote no snapshot $snap"
}

cmd=("$@")
reload 0
run_under "$outdir/shadow.json" "${cmd[@]}"
reload 1
run_under "$outdir/nested.json" "${cmd[@]}"

"$exitmon" diff "$outdir/nested.json" "$outdir/shadow.json" -o json >"$outdir/diff.json" ||
	die "exitmon diff failed"
"$exitmon" diff "$outdir/nested.json" "$outdir/shadow.json"
note "snapshots: $outdir/shadow.json (${param}=0) $outdir/nested.json (${param}=1), diff: $outdir/diff.json"
