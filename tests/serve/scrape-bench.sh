#!/usr/bin/env bash
# CPU per `exitmon serve` scrape on a 256-possible-CPU kernel with 2000
# breakdown rows: boots the nested rig's L1 (tests/vm kernel cache and
# initramfs builder, read-only) with possible_cpus=256 and runs
# build/tests/scrape_bench there, then the same on this machine. Prints
# the key=value lines and the maps' kernel memory there (docs/performance.md).
# Root; ~1 min; not a test tier.
#   bash tests/serve/scrape-bench.sh [ROWS [SCRAPES]]
set -uo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-2000}
scrapes=${2:-10}
work=$(mktemp -d /tmp/exitmon-scrape-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
die() { echo "scrape-bench: $*" >&2; exit 1; }

make -s exitmon build/tests/scrape_bench || die "build failed"
echo "# this machine"
build/tests/scrape_bench "$rows" "$scrapes"
build/tests/scrape_bench "$rows" "$scrapes" 64

kdir=$(bash tests/vm/setup.sh 2>"$work/setup.log" | tail -n1)
[ -f "$kdir/vmlinuz" ] || die "tests/vm/setup.sh failed: $(tail -n 2 "$work/setup.log")"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
cat >"$work/payload.sh" <<EOF
#!/bin/sh
{
	echo "@@VMTEST-BEGIN scrape@@"
	echo "# L1 \$(uname -r), possible CPUs \$(cat /sys/devices/system/cpu/possible), online \$(cat /sys/devices/system/cpu/online)"
	/bin/scrape_bench $rows $scrapes
	/bin/scrape_bench $rows $scrapes 64
	# kernel memory of the maps at this many possible CPUs (issue 12)
	exitmon run -v -d 1 2>&1 | grep 'kernel memory'
	exitmon run -v -d 1 --per-vcpu 2>&1 | grep 'kernel memory'
	echo "@@VMTEST-END scrape@@"
} >"\$RESULT_DEV" 2>&1
EOF
bash tests/vm/mkinitramfs.sh -k "$kdir" -o "$work/initramfs.cpio.gz" --exitmon ./exitmon \
	--payload "$work/payload.sh" --extra "build/tests/scrape_bench:bin/scrape_bench" \
	2>"$work/mk.log" || die "initramfs: $(tail -n 3 "$work/mk.log")"
# 4 GiB: 256 per-CPU copies of every map value (~1.4 GiB with 2000 rows)
timeout --kill-after=10 600 qemu-system-x86_64 \
	-accel tcg,thread=single -cpu max -smp 2 -m 4G -nodefaults -display none -no-reboot \
	-kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet vmtest.npt=1 possible_cpus=256" \
	-serial "file:$work/console.log" -serial "file:$work/results.raw" \
	</dev/null >"$work/qemu.log" 2>&1
echo "# nested rig (QEMU TCG L1, 2 online vCPUs)"
awk '/^@@VMTEST-BEGIN scrape@@/ { on = 1; next } /^@@VMTEST-END scrape@@/ { on = 0 } on' \
	"$work/results.raw" | tr -d '\r' | grep . || die "no result from L1: $(tail -n 5 "$work/console.log" | tr -d '\r')"
