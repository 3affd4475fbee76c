#!/bin/busybox sh
# /init of the L1 guest for tests/kpatch/run.sh (busybox, QEMU TCG, SVM).
# Runs the scenarios, printing each one's output between
#   @@begin NAME  ...  @@end NAME rc=N
# lines on the console, then powers off.  The host side checks them.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
T=/sys/kernel/tracing
P=/sys/module/kvm/parameters

begin() { echo "@@begin $1"; }
end() { echo "@@end $1 rc=$2"; }
run() { # run NAME CMD...
	name=$1; shift
	begin "$name"
	"$@" 2>&1
	end "$name" $?
}

load() { # load stock|patched [kvm params]
	kind=$1 dir=/mods/$1; shift
	rmmod kvm_amd 2>/dev/null; rmmod kvm 2>/dev/null
	bpf0=$(dmesg | grep -c 'BPF:')
	grep -q '^irqbypass ' /proc/modules || insmod /mods/stock/irqbypass.ko
	insmod $dir/kvm.ko "$@" || return 1
	grep -q '^ccp ' /proc/modules || insmod /mods/stock/ccp.ko
	insmod $dir/kvm-amd.ko npt=1 || return 1
	# A module that carries BTF is not one whose BTF the kernel accepted:
	# L1 rejects BTF built from other kernel sources ("BPF: Invalid name")
	# and loads the module without it. The host checks every load.
	btf=
	for m in kvm kvm_amd; do [ -e /sys/kernel/btf/$m ] && btf="$btf,$m"; done
	echo "@@load $kind btf=${btf#,} bpf_errors=$(($(dmesg | grep -c 'BPF:') - bpf0))"
	[ -c /dev/kvm ]
}

Q="-q 0:0
 -q 0x4ffffffe:0x72 -q 0x4ffffffe:0x7b -q 0x4ffffffc -q 0x4ffffffd
 -q 0x4fffffff:0x72 -q 0x4fffffff:0x72 -q 0x4ffffffd
 -q 0x4ffffffe:0x400 -q 0x4ffffffe:0x78 -q 0x4ffffffe:0x60
 -q 0x4ffffffe:0xa7 -q 0x4ffffffe:0x3ff -q 0x4ffffffe:0x404
 -q 0x4ffffffe:0x10072 -q 0x4ffffffe:0xffff -q 0x4ffffffe:0x7fffffff
 -q 0x4ffffffe:0xffffffff -q 0x4fffffff:0xa7 -q 0x4fffffff:0x80000000
 -q 0x4fffffff:0xffffffff
 -q 0x4ffffffe:0x1 -q 0x4fffffff:0x1 -q 0x4ffffffe:0xa6
 -q 0x4ffffffc -q 0x4ffffffe:0x72 -q 0x40000000 -q 0x4ffffffb"
NCOST=${NCOST:-100000}

echo "@@l1 up $(uname -r)"

# 1. Stock modules: reference behaviour and cost.
run load-stock load stock
run stock-intel kvmq -n 1000 -m 100 --intel-cpuid $Q
run stock-amd kvmq -n 1000 -m 100 $Q

# 2. Patched, loaded with the interface off (default).
run load-off load patched
run param-default cat $P/exit_stats $P/exit_stats_scope $P/exit_stats_time
run off-intel kvmq -n 1000 -m 100 --intel-cpuid $Q
run off-amd kvmq -n 1000 -m 100 $Q
# The series' KVM selftest skips while the statistics are off.
run selftest-off /bin/exit_stats_test

# 3. Turned on at runtime.
run enable sh -c "echo 1 > $P/exit_stats && cat $P/exit_stats"
echo 'hist:keys=exit_reason' > $T/events/kvm/kvm_exit/trigger
run tsc sh -c "dmesg | grep -io 'tsc: [a-z ]*[0-9.]* MHz' | tail -n1"
run on-single kvmq -n 1000 -m 100 --stats $Q
run on-single-hist cat $T/events/kvm/kvm_exit/hist
echo '!hist:keys=exit_reason' > $T/events/kvm/kvm_exit/trigger
run on-intel kvmq -n 1000 -m 100 --intel-cpuid $Q
# What "time" means: a VMM that sleeps in userspace on each work OUT.
run time-handler kvmq -n 10 -m 5 --sleep-us 20000 -q 0x4fffffff:0x7b
run time-entry-set sh -c "echo entry > $P/exit_stats_time && cat $P/exit_stats_time"
run time-entry kvmq -n 10 -m 5 --sleep-us 20000 -q 0x4fffffff:0x7b
run time-handler-set sh -c "echo handler > $P/exit_stats_time && cat $P/exit_stats_time"
# A CPUID that KVM's emulator executes (forced emulation: a #UD exit).
run fep-on sh -c "echo 1 > $P/force_emulation_prefix && cat $P/force_emulation_prefix"
run fep kvmq -n 100 -m 10 --fep -q 0x4ffffffe:0x72 -q 0x4ffffffe:0x46 -q 0x4ffffffc
echo 0 > $P/force_emulation_prefix
run on-two kvmq -v 2 -n 300 -m 10 -q 0x4ffffffe:0x72 -q 0x4ffffffe:0x7b \
	-q 0x4ffffffc -q 0x4fffffff:0x72
# One VM with 2 vCPUs: vCPU 0 queries once both passed the barrier.
run on-vcpus kvmq -c 2 -n 300 -m 10 -q 0x4ffffffe:0x72 -q 0x4ffffffe:0x7b -q 0x4ffffffc
# Global scope: counters are never reset, so each VM reads a baseline first
# (both VMs take it before either starts its work); the same run in vm
# scope gives the reference.
run vm-base kvmq -v 2 -n 300 -m 10 -b 0x4ffffffe:0x72 -q 0x4ffffffe:0x72
run scope-global sh -c "echo global > $P/exit_stats_scope && echo global > $P/exit_stats_scope && cat $P/exit_stats_scope"
run scope-warn sh -c "dmesg | grep -c 'exit_stats_scope=global shows every guest'"
run on-global kvmq -v 2 -n 300 -m 10 -b 0x4ffffffe:0x72 -q 0x4ffffffe:0x72
run scope-vm sh -c "echo vm > $P/exit_stats_scope && cat $P/exit_stats_scope"
run scope-bad sh -c "echo bogus > $P/exit_stats_scope; cat $P/exit_stats_scope"
# Global scope on freshly enabled counters: reloaded with both parameters,
# the per-CPU counters start at 0 (they live as long as the module), so
# with one VM at a time every value is exact: a lone VM reads its own
# exits, the next one the first one's totals plus its own.
GB="-b 0x4ffffffe:0x72 -b 0x4ffffffe:0x7b -q 0x4ffffffe:0x72 -q 0x4ffffffe:0x7b"
run load-global load patched exit_stats=1 exit_stats_scope=global
run global-params cat $P/exit_stats $P/exit_stats_scope
run global-fresh-1 kvmq -n 300 -m 10 $GB
run global-fresh-2 kvmq -n 200 -m 20 $GB

# 4. Turned off again at runtime: back to stock behaviour.
run disable sh -c "echo 0 > $P/exit_stats && cat $P/exit_stats"
run rtoff-intel kvmq -n 1000 -m 100 --intel-cpuid $Q

# Cost: the same CPUID loop on stock KVM, patched with the interface off,
# and on, in 3 interleaved rounds (compare within a round: TCG is noisy).
for i in 1 2 3; do
	load stock 2>&1; run cost-stock-$i kvmq -n $NCOST -m 0
	load patched 2>&1; run cost-off-$i kvmq -n $NCOST -m 0
	echo 1 > $P/exit_stats; run cost-on-$i kvmq -n $NCOST -m 0
done

# 5. Enabled at load time (static key flipped from the module parameter).
run load-on load patched exit_stats=1
run param-on cat $P/exit_stats
run onload-single kvmq -n 500 -m 50 $Q
# The series' KVM selftest (tools/testing/selftests/kvm/x86_64/); by its
# full path: kvm_util loads the guest code from its own ELF file.
run selftest /bin/exit_stats_test

# 6. The guest tool in L1: L1 is a TCG guest, not a patched KVM guest.
if [ -x /bin/exitmon-query ]; then
	run query-absent exitmon-query
	run query-absent-json exitmon-query -o json
fi

# 7. exitmon (host side, in L1) on the same VM, if it was packed in.
if [ -x /bin/exitmon ]; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null
	rm -f /tmp/em.json /tmp/ready
	exitmon run -c -i 3600 -o json --save /tmp/em.json \
		--ready-file /tmp/ready >/tmp/em.out 2>&1 &
	emp=$!
	i=0
	while [ ! -e /tmp/ready ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i+1)); done
	run exitmon-kvmq kvmq -n 2000 -m 200 $Q
	run tsc-khz sh -c "dmesg | grep -io 'tsc: [a-z ]*[0-9.]* MHz' | tail -n1"
	kill -INT $emp; wait $emp
	echo "exitmon rc=$?" >>/tmp/em.out
	run exitmon-out cat /tmp/em.out
	run exitmon-json cat /tmp/em.json
fi

# 8. A real Linux guest (L2) running exitmon-query, if QEMU was packed in.
#    L1 turns the interface off when the guest prints @@l2-toggle.
if [ -x /usr/bin/qemu-system-x86_64 ]; then
	echo 1 > $P/exit_stats
	echo vm > $P/exit_stats_scope
	echo "@@l2 start $(cut -d' ' -f1 /proc/uptime)"
	# bounded: a hung L2 fails its own scenarios, not the whole boot
	timeout 240 qemu-system-x86_64 -L /usr/share/qemu -accel kvm -M microvm -cpu host \
		-m 256M -smp 1 -nodefaults -no-user-config -nographic \
		-serial stdio -kernel /l2/vmlinuz -initrd /l2/initrd.gz \
		-append "console=ttyS0 quiet panic=-1" -no-reboot </dev/null 2>&1 |
	while IFS= read -r line; do
		echo "$line"
		case $line in *@@l2-toggle*) echo 0 > $P/exit_stats ;; esac
	done
	echo "@@l2 end $(cut -d' ' -f1 /proc/uptime)"
fi

rmmod kvm_amd; rmmod kvm
run dmesg-check sh -c "dmesg | grep -E 'WARNING|BUG:|Call Trace|general protection|BPF:' || true"
echo "@@done"
poweroff -f
