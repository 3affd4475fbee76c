#!/usr/bin/env bash
# The "large host" part of the benchmarks (issue 12): boots the nested rig's
# L1 (tests/vm kernel cache and initramfs builder, read-only) with
# possible_cpus=256, so every per-CPU map is sized as on a 256-CPU host,
# and measures there, then the same programs on this machine:
#  - kernel memory of the maps (memlock from fdinfo): default run,
#    --per-vcpu, and --per-vcpu with 32,000 keys (2,000 vCPUs x 16 reasons);
#  - CPU per refresh (getrusage around map read + render) and bytes copied
#    per read: `serve` scrapes with 2,000 (VM, reason) keys, and the live
#    --per-vcpu table with 2,000 and 32,000 keys (build/tests/scrape_bench);
#  - 64 VMs x 32 vCPUs (tests/vm vmm, 10 CPUIDs + 2 OUTs + HLT a vCPU)
#    started at once under `exitmon run --per-vcpu`: per-vCPU rows, exact
#    counts (CPUID = 64*32*10, IOIO = 64*32*2, HLT = 64*32), no overflow.
# Root; a few minutes; not a test tier (docs/performance.md).
#   bash tests/bench/large-host.sh [ROWS [REFRESHES]]
#   LARGE_VMS=64 LARGE_VCPUS=32 (at most 64 vCPUs a VM)
set -uo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-2000}
scrapes=${2:-10}
vms=${LARGE_VMS:-64}
vcpus=${LARGE_VCPUS:-32}
work=$(mktemp -d /tmp/exitmon-large-host.XXXXXX)
trap 'rm -rf "$work"' EXIT
die() { echo "large-host: $*" >&2; exit 1; }

make -s exitmon build/tests/scrape_bench build/vmtest/vmm || die "build failed"
echo "# this machine"
build/tests/scrape_bench "$rows" "$scrapes"
build/tests/scrape_bench "$rows" "$scrapes" 64
build/tests/scrape_bench "$rows" "$scrapes" table
build/tests/scrape_bench 32000 3 table

kdir=$(bash tests/vm/setup.sh 2>"$work/setup.log" | tail -n1)
[ -f "$kdir/vmlinuz" ] || die "tests/vm/setup.sh failed: $(tail -n 2 "$work/setup.log")"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
# the L1 side; $RESULT_DEV is the second serial port (tests/vm/mkinitramfs.sh)
cat >"$work/payload.sh" <<PAYLOAD
#!/bin/sh
{
	echo "@@VMTEST-BEGIN large@@"
	echo "# L1 \$(uname -r), possible CPUs \$(cat /sys/devices/system/cpu/possible), online \$(cat /sys/devices/system/cpu/online)"
	/bin/scrape_bench $rows $scrapes
	/bin/scrape_bench $rows $scrapes 64
	/bin/scrape_bench $rows $scrapes table
	/bin/scrape_bench 32000 3 table
	echo "mem default: \$(exitmon run -v -d 1 2>&1 | grep 'kernel memory')"
	echo "mem per-vcpu: \$(exitmon run -v -d 1 --per-vcpu 2>&1 | grep 'kernel memory')"
	echo "mem per-vcpu-32000: \$(exitmon run -v -d 1 --per-vcpu --max-keys 32000 2>&1 | grep 'kernel memory')"
	exitmon run --per-vcpu --max-keys 32768 -o json -i 3600 --ready-file /tmp/ready >/tmp/lh.json 2>/tmp/lh.err &
	ep=\$!
	n=0; while [ ! -e /tmp/ready ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n+1)); done
	i=0; pids=""
	while [ \$i -lt $vms ]; do
		vmm --timeout 300 --vcpus $vcpus -n 10 -m 2 >/tmp/vmm.\$i 2>&1 &
		pids="\$pids \$!"; i=\$((i+1))
	done
	bad=0
	for p in \$pids; do wait \$p || bad=\$((bad+1)); done
	echo "vmm failed: \$bad of $vms"
	kill -INT \$ep; wait \$ep
	echo "exitmon rc=\$? stderr: \$(head -c 300 /tmp/lh.err)"
	echo "@@JSON@@"
	cat /tmp/lh.json # one line: the final report (-i 3600)
	echo "@@VMTEST-END large@@"
} >"\$RESULT_DEV" 2>&1
PAYLOAD
bash tests/vm/mkinitramfs.sh -k "$kdir" -o "$work/initramfs.cpio.gz" --exitmon ./exitmon \
	--vmm build/vmtest/vmm --payload "$work/payload.sh" \
	--extra "build/tests/scrape_bench:bin/scrape_bench" \
	2>"$work/mk.log" || die "initramfs: $(tail -n 3 "$work/mk.log")"
# 4 GiB: 256 per-CPU copies of the stats rows, 64 guests of 4 MiB, 32,000 breakdown keys
timeout --kill-after=10 1200 qemu-system-x86_64 \
	-accel tcg,thread=single -cpu max -smp 2 -m 4G -nodefaults -display none -no-reboot \
	-kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet vmtest.npt=1 possible_cpus=256" \
	-serial "file:$work/console.log" -serial "file:$work/results.raw" \
	</dev/null >"$work/qemu.log" 2>&1
echo "# nested rig (QEMU TCG L1, 2 online vCPUs)"
out=$(awk '/^@@VMTEST-BEGIN large@@/ { on = 1; next } /^@@VMTEST-END large@@/ { on = 0 } on' \
	"$work/results.raw" | tr -d '\r')
[ -n "$out" ] || die "no result from L1: $(tail -n 5 "$work/console.log" | tr -d '\r')"
sed '/^@@JSON@@/,$d' <<<"$out"
json=$(sed -n '/^@@JSON@@/,$p' <<<"$out" | tail -n 1)
jq -r --argjson vms "$vms" --argjson vcpus "$vcpus" '
	[.rows[] | select(.vcpu >= 0)] as $r
	| ($r | map(select(.name == "CPUID"))) as $c
	| "per-vCPU rows \($r | length), vCPUs with a CPUID row \($c | length) (want \($vms * $vcpus)); "
	+ "CPUID \($c | map(.count) | add) (want \($vms * $vcpus * 10)), "
	+ "IOIO \($r | map(select(.name == "IOIO")) | map(.count) | add) (want \($vms * $vcpus * 2)), "
	+ "HLT \($r | map(select(.name == "HLT")) | map(.count) | add) (want \($vms * $vcpus)); "
	+ "breakdown_overflow \(.counters.breakdown_overflow), pending_full \(.counters.pending_full), "
	+ "map_bytes \(.counters.map_bytes)"' <<<"$json" ||
	die "no usable final JSON line from exitmon in L1: $(head -c 300 <<<"$json")"
