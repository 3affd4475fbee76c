# KVM exit-statistics patch (kernel-patch/README.md). Included by the top
# Makefile; also usable alone: make -f kernel-patch/kpatch.mk kpatch
#   kpatch        build the patched kvm.ko / kvm-amd.ko / kvm-intel.ko
#                 (root; cached under /var/cache/exitmon-kpatch)
#   kpatch-check  git apply --check of the series on a clean tree (via the test)
#   kpatch-test   the whole tier: tests/kpatch/run.sh (TAP)
.PHONY: kpatch kpatch-test
kpatch:
	bash kernel-patch/build.sh

kpatch-test:
	bash tests/kpatch/run.sh
