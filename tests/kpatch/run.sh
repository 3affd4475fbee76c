#!/bin/bash
# Tests of kernel-patch/ and guest/ (TAP on stdout):
#   - the series applies (git apply --check) to a clean linux-source-6.1 tree;
#   - kernel-patch/build.sh builds kvm.ko / kvm-amd.ko / kvm-intel.ko;
#   - the vendor hooks (VMX too, which TCG cannot run) unit-tested in user
#     space against user/reasons.c (unit-status.py);
#   - guest/exitmon-query builds statically with -Wall -Wextra, no warnings,
#     and its decoding is right against a fake CPUID;
#   - in the nested rig (QEMU TCG L1 running the Debian 6.1 kernel, KVM on
#     emulated SVM): the CPUID leaves against an exact oracle, bad ECX,
#     interface off == stock KVM, two VMs isolated, global scope (also on
#     freshly loaded counters), the series' KVM selftest exit_stats_test,
#     exitmon's host-side counts, and the cost per exit (stock / off / on).
# The L1 kernel, its headers and linux-source-6.1 are all the one version
# tests/l1-kernel.sh decides.  Builds and downloads are cached under
# /var/cache (see build.sh and tests/vm/setup.sh).  Console log of the last
# run: $WORK/console.log (a boot retried after a hang keeps its log as
# console.1.log).
# The number of TAP lines is fixed (tests/expected-counts): a part that
# cannot run prints its checks as skipped (missing prerequisite: setup
# exit 2) or failed (any other error), never fewer lines.
# Environment: KPATCH_NCOST (CPUID loop for the cost runs, default 100000),
#              KPATCH_KEEP=1 keeps the work directory,
#              KPATCH_BOOT_TIMEOUT (s, default 420),
#              EXITMON_BOOT_RETRIES (hung boots retried, default 1; each
#              retry prints a "# RETRY" line that tests/run-all.sh counts).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/kpatch
WORK=${KPATCH_WORK:-/var/cache/exitmon-kpatch/test-run}
NCOST=${KPATCH_NCOST:-100000}
BOOT_TIMEOUT=${KPATCH_BOOT_TIMEOUT:-420}
RETRIES=${EXITMON_BOOT_RETRIES:-1}
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { # notok DESC EXPECTED GOT
	n=$((n + 1)); fails=$((fails + 1))
	echo "not ok $n - $1"
	echo "# expected $2"
	echo "# got $3"
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
note() { echo "# $*"; }
# part STATUS DESC...: the checks of a part that could not run; status 2
# (a prerequisite cannot be had) skips them, anything else fails them.
part() {
	local st=$1 why=$2 d
	shift 2
	for d in "$@"; do
		if [ "$st" = 2 ]; then skip "$d" "$why"; else notok "$d" "it to run" "$why"; fi
	done
}
# sub TAPFILE RC NAME: count a sub-script's TAP lines; a non-zero exit
# without a "not ok" of its own is one more failure.
sub() {
	cat "$1"
	local c f
	c=$(grep -cE '^(not )?ok ' "$1")
	f=$(grep -c '^not ok ' "$1")
	n=$((n + c)) fails=$((fails + f))
	if [ "$2" != 0 ] && [ "$f" = 0 ]; then notok "$3 exits 0" "status 0" "status $2"; fi
}

rm -rf "$WORK"
mkdir -p "$WORK"
l1rc=0
l1=$(bash "$ROOT/tests/l1-kernel.sh" 2>"$WORK/l1-kernel.err") || l1rc=$?
if [ "$l1rc" = 0 ]; then
	eval "$l1"
	note "L1 kernel $L1_KVER, package version $L1_PKGVER (tests/l1-kernel.pin)"
else
	sed 's/^/# /' "$WORK/l1-kernel.err"
	L1_KVER=unknown L1_PKGVER=unknown
	cp "$WORK/l1-kernel.err" "$WORK/source.err"
	cp "$WORK/l1-kernel.err" "$WORK/build.err"
fi
KVER=$L1_KVER

# --- 1. the series applies to a clean tree -------------------------------
series=()
for p in "$ROOT"/kernel-patch/patches/0*.patch; do
	case $p in */0000-cover-letter.patch) ;; *) series+=("$p") ;; esac
done
S1=("git apply --check of the ${#series[@]}-patch series on a clean linux-source-6.1 tree"
	"every patch has From/Subject headers and a diffstat"
	"checkpatch.pl --strict: no errors, warnings or checks (new files are under the KVM x86 MAINTAINERS entry)")
# The tarball of exactly the pinned version (build.sh fetches and caches it).
trc=$l1rc
[ "$trc" != 0 ] || tarball=$(bash "$ROOT/kernel-patch/build.sh" --source 2>"$WORK/source.err" | tail -n1) ||
	trc=$?
if [ "$trc" = 0 ] && [ -e "$tarball" ]; then
	mkdir -p "$WORK/clean"
	tar -xJf "$tarball" -C "$WORK/clean" --strip-components=1 \
		linux-source-6.1/arch/x86 linux-source-6.1/virt/kvm \
		linux-source-6.1/Documentation/admin-guide/kernel-parameters.txt \
		linux-source-6.1/Documentation/virt/kvm/x86/cpuid.rst \
		linux-source-6.1/tools/testing/selftests/kvm
	# One at a time: a later patch may edit a file an earlier one creates.
	if out=$(cd "$WORK/clean" && for p in "${series[@]}"; do
		git apply --check "$p" && git apply "$p" || exit 1
	done 2>&1); then
		ok "${S1[0]} ($L1_PKGVER)"
	else
		notok "${S1[0]} ($L1_PKGVER)" "clean apply" "$out"
	fi
	# Each patch has a real header and diffstat.
	bad=""
	for p in "${series[@]}"; do
		grep -q '^From: ' "$p" && grep -q '^Subject: \[PATCH' "$p" &&
			grep -q ' files\? changed' "$p" ||
			bad+=" $(basename "$p")"
	done
	[ -z "$bad" ] && ok "${S1[1]}" || notok "${S1[1]}" "headers" "missing in$bad"
	# Kernel coding style of the series (checkpatch from the same tarball).
	tar -xJf "$tarball" -C "$WORK/clean" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch 2>/dev/null
	cpout=$(for p in "${series[@]}"; do
		perl "$WORK/clean/scripts/checkpatch.pl" --no-tree --strict -q "$p" 2>&1 |
			grep -E '^(ERROR|WARNING|CHECK):' | grep -v 'does MAINTAINERS need updating'
	done)
	[ -z "$cpout" ] && ok "${S1[2]}" || notok "${S1[2]}" "nothing" "$cpout"
	rm -rf "$WORK/clean"
else
	[ "$trc" != 0 ] || trc=1
	part "$trc" "linux-source-6.1=${L1_PKGVER:-?} unavailable (status $trc): $(grep -m1 ERROR "$WORK/source.err" 2>/dev/null || tail -n1 "$WORK/source.err" 2>/dev/null)" "${S1[@]}"
fi

# --- 2. build the modules -------------------------------------------------
S2=("kernel-patch/build.sh builds kvm.ko kvm-amd.ko kvm-intel.ko and the static selftest exit_stats_test"
	"module build has no compiler warnings"
	"patched kvm.ko carries BTF and the exit_stats / exit_stats_time / exit_stats_scope parameters")
t0=$(date +%s)
brc=$l1rc
[ "$brc" != 0 ] || bash "$ROOT/kernel-patch/build.sh" >"$WORK/build.out" 2>"$WORK/build.err" || brc=$?
out=$(tail -n1 "$WORK/build.out" 2>/dev/null)
if [ $brc = 0 ] && [ -e "$out/kvm.ko" ] && [ -e "$out/kvm-amd.ko" ] && [ -e "$out/kvm-intel.ko" ] &&
	file "$out/exit_stats_test" | grep -q 'statically linked'; then
	ok "${S2[0]} ($(($(date +%s) - t0)) s)"
	warn=$(grep -i 'warning:' "$WORK/build.err" | grep -v 'empty loadable segment' || true)
	[ -z "$warn" ] && ok "module build has no compiler warnings" ||
		notok "module build has no compiler warnings" "none" "$warn"
	if readelf -S "$out/kvm.ko" | grep -q '\.BTF' &&
		modinfo -p "$out/kvm.ko" | grep -q '^exit_stats:' &&
		modinfo -p "$out/kvm.ko" | grep -q '^exit_stats_time:' &&
		modinfo -p "$out/kvm.ko" | grep -q '^exit_stats_scope:'; then
		ok "${S2[2]}"
	else
		notok "${S2[2]}" ".BTF + 3 params" "$(modinfo -p "$out/kvm.ko" | grep exit_stats)"
	fi
	modout=$out
	# The vendor hooks (VMX included) in user space, against user/reasons.c.
	urc=0
	python3 "$HERE/unit-status.py" "$out/../src" "$ROOT" "$n" \
		"/usr/src/linux-headers-${KVER%-amd64}-common/arch/x86/include/uapi/asm" >"$WORK/unit.tap" || urc=$?
	sub "$WORK/unit.tap" "$urc" "unit-status.py"
else
	[ "$brc" != 0 ] || brc=1
	part "$brc" "build.sh exit $brc: $(tail -n5 "$WORK/build.err" 2>/dev/null | tr '\n' ' ')" "${S2[@]}"
	# unit-status.py prints 7 checks when it runs
	for i in 1 2 3 4 5 6 7; do part "$brc" "modules not built" "unit-status: check $i of 7"; done
	modout=""
fi

# --- 3. the guest tool ------------------------------------------------------
if make -s -C "$ROOT" -f guest/guest.mk exitmon-query >"$WORK/query-build.out" 2>&1 &&
	[ -x "$ROOT/exitmon-query" ]; then
	if grep -qi 'warning' "$WORK/query-build.out"; then
		notok "guest/exitmon-query builds without warnings" "no warnings" "$(head -5 "$WORK/query-build.out")"
	else
		ok "guest/exitmon-query builds with -Wall -Wextra, no warnings"
	fi
	if file "$ROOT/exitmon-query" | grep -q 'statically linked'; then
		ok "exitmon-query is statically linked"
	else
		notok "exitmon-query is statically linked" "static" "$(file "$ROOT/exitmon-query")"
	fi
	# Decoding against a fake CPUID (same source, -DEXITMON_QUERY_FAKE).
	if make -s -C "$ROOT" -f guest/guest.mk exitmon-query-fake >"$WORK/fake-build.out" 2>&1; then
		FAKE_FAILS_FILE=$WORK/fake-fails bash "$HERE/fake-tests.sh" "$ROOT/build/exitmon-query-fake" "$n"
		n=$((n + $?))
		fails=$((fails + $(cat "$WORK/fake-fails" 2>/dev/null || echo 1)))
	else
		notok "exitmon-query-fake builds" "build" "$(head -5 "$WORK/fake-build.out")"
	fi
else
	notok "guest/exitmon-query builds" "build" "$(head -5 "$WORK/query-build.out")"
fi

# --- 4. nested rig ----------------------------------------------------------
# checks ARGS...: check.py's fixed list of checks; its exit status and
# its number of lines are checked too (a crash is a failure).
checks() {
	local crc=0 want got
	python3 "$HERE/check.py" "$@" >"$WORK/check.tap" || crc=$?
	sub "$WORK/check.tap" "$crc" check.py
	want=$(python3 "$HERE/check.py" --count)
	got=$(grep -cE '^(not )?ok ' "$WORK/check.tap")
	[ "$got" = "$want" ] || notok "check.py printed its fixed list of checks" "$want TAP lines" "$got"
}
# none STATUS REASON: the rig did not run: every check of check.py is
# skipped (status 2) or failed, so the count never shrinks.
none() {
	local how=fail
	[ "$1" != 2 ] || how=skip
	checks --none "$n" "$how" "$2"
	echo "1..$n"
	exit $((fails > 0))
}
if [ -z "$modout" ]; then
	none "$brc" "patched modules not built (build.sh status $brc)"
fi
src=0
bash "$ROOT/tests/vm/setup.sh" >"$WORK/setup.out" 2>"$WORK/setup.err" || src=$?
kdir=$(tail -n1 "$WORK/setup.out")
if [ "$src" != 0 ] || [ ! -e "$kdir/vmlinuz" ]; then
	[ "$src" != 0 ] || src=1
	none "$src" "tests/vm/setup.sh status $src: $(tail -n1 "$WORK/setup.err")"
fi
for c in cpio busybox gzip; do
	command -v $c >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cpio busybox-static gzip >/dev/null 2>&1
done

ir=$WORK/initramfs
mkdir -p "$ir"/{bin,sbin,proc,sys,dev,tmp,mods/stock,mods/patched}
cp /bin/busybox "$ir/bin/busybox"
if ! file -L /bin/busybox | grep -q static; then
	[ -e /usr/lib/initramfs-tools/bin/busybox ] && cp /usr/lib/initramfs-tools/bin/busybox "$ir/bin/busybox"
	dpkg -L busybox-static >/dev/null 2>&1 && cp "$(dpkg -L busybox-static | grep '/bin/busybox$' | head -n1)" "$ir/bin/busybox"
fi
for m in irqbypass ccp kvm kvm-amd; do cp "$kdir/modules/$m.ko" "$ir/mods/stock/"; done
cp "$modout/kvm.ko" "$modout/kvm-amd.ko" "$ir/mods/patched/"
# The series' KVM selftest (build.sh builds it; missing, its checks fail).
[ -x "$modout/exit_stats_test" ] && cp "$modout/exit_stats_test" "$ir/bin/"
gcc -static -O2 -Wall -Wextra -pthread -o "$ir/bin/kvmq" "$HERE/kvmq.c" 2>"$WORK/kvmq.err" ||
	none 1 "kvmq does not build: $(head -3 "$WORK/kvmq.err" | tr '\n' ' ')"
[ -x "$ROOT/exitmon-query" ] && cp "$ROOT/exitmon-query" "$ir/bin/"
# exitmon (dynamic) with its libraries, if the top-level build works.
if [ ! -x "$ROOT/exitmon" ]; then
	make -s -C "$ROOT" exitmon >"$WORK/exitmon-build.out" 2>&1 || true
fi
if [ -x "$ROOT/exitmon" ]; then
	cp "$ROOT/exitmon" "$ir/bin/"
	for lib in $(ldd "$ROOT/exitmon" | grep -o '/[^ ]*'); do
		mkdir -p "$ir$(dirname "$lib")"
		cp -L "$lib" "$ir$lib"
	done
	have_exitmon=1
else
	have_exitmon=0
	note "exitmon not built; host-side comparison left out"
fi
# QEMU + a Linux L2 guest running exitmon-query (KPATCH_L2=0 leaves it out).
have_l2=0
if [ "${KPATCH_L2:-1}" = 1 ] && [ -x "$ROOT/exitmon-query" ]; then
	qbin=$(command -v qemu-system-x86_64)
	mkdir -p "$ir/usr/bin" "$ir/usr/share/qemu" "$ir/l2" "$WORK/l2/bin"
	cp "$qbin" "$ir/usr/bin/"
	for lib in $(ldd "$qbin" | grep -o '/[^ ]*'); do
		mkdir -p "$ir$(dirname "$lib")"
		cp -L "$lib" "$ir$lib"
	done
	for f in bios-microvm.bin qboot.rom linuxboot_dma.bin kvmvapic.bin; do
		cp -L "/usr/share/qemu/$f" "$ir/usr/share/qemu/" 2>/dev/null
	done
	cp "$ir/bin/busybox" "$WORK/l2/bin/"
	cp "$ROOT/exitmon-query" "$WORK/l2/bin/"
	cp "$HERE/l2-init.sh" "$WORK/l2/init"
	chmod +x "$WORK/l2/init"
	(cd "$WORK/l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$ir/l2/initrd.gz"
	cp "$kdir/vmlinuz" "$ir/l2/vmlinuz"
	have_l2=1
fi
sed "s/^NCOST=.*/NCOST=$NCOST/" "$HERE/l1-init.sh" >"$ir/init"
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.cpio.gz"

# One L1 CPU: with two, multi-threaded TCG froze L1 while the kernel
# patched code (module loads, tracepoints; see tests/vm/README.md), and
# under thread=single the L2 Linux guest hung. One vCPU avoids both (two
# VMs at once still share it). A boot that hangs (killed by the timeout
# without reaching @@done) is retried while EXITMON_BOOT_RETRIES allows;
# each retry prints a "# RETRY" line (tests/run-all.sh counts them against
# the budget) and the hung boot's console stays in console.N.log.
attempt=0
while :; do
	attempt=$((attempt + 1))
	t0=$(date +%s)
	timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 2G -nographic \
		-no-reboot -kernel "$kdir/vmlinuz" -initrd "$WORK/initramfs.cpio.gz" \
		-append 'console=ttyS0 panic=-1 quiet' </dev/null >"$WORK/console.log" 2>&1
	qrc=$?
	note "L1 run $attempt took $(($(date +%s) - t0)) s (qemu rc=$qrc); console: $WORK/console.log"
	grep -q '@@done' "$WORK/console.log" && break
	# Only a hang is retried; a boot that ended on its own failed for real.
	[ "$qrc" = 124 ] && [ "$attempt" -le "$RETRIES" ] || break
	mv "$WORK/console.log" "$WORK/console.$attempt.log"
	echo "# RETRY kpatch: L1 boot $attempt hung (no @@done after ${BOOT_TIMEOUT}s); its console: $WORK/console.$attempt.log; last lines:"
	tail -n 5 "$WORK/console.$attempt.log" | tr -d '\r' | cut -c1-160 | sed 's/^/#   /'
done
checks "$WORK/console.log" "$n" "$have_exitmon" "$have_l2"
echo "1..$n"
[ "${KPATCH_KEEP:-0}" = 1 ] || rm -rf "$ir"
exit $((fails > 0))
