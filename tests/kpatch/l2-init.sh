#!/bin/busybox sh
# /init of the L2 guest (a Linux VM run by QEMU/KVM inside L1): exitmon-query
# against the patched host KVM, with the interface on, then (after L1
# turned kvm.exit_stats off on seeing @@l2-toggle) off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
echo "@@begin l2-query"
exitmon-query 2>&1; echo "@@end l2-query rc=$?"
echo "@@begin l2-query-json"
exitmon-query -o json -r cpuid -r hlt -r 0x3ff 2>&1; echo "@@end l2-query-json rc=$?"
echo "@@begin l2-query-json2"
exitmon-query -o json -r cpuid 2>&1; echo "@@end l2-query-json2 rc=$?"
echo "@@l2-toggle"
sleep 5
echo "@@begin l2-query-off"
exitmon-query 2>&1; echo "@@end l2-query-off rc=$?"
poweroff -f
