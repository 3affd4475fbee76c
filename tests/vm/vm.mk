# Nested-KVM test tier (tests/vm/README.md). Included by the top Makefile.
VMM_BIN := $(BUILD)/vmtest/vmm

.PHONY: vmm vmtest
vmm: $(VMM_BIN)

# Static: it runs inside a bare busybox initramfs with no libc of its own.
$(VMM_BIN): tests/vm/vmm/vmm.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -Wall -Wextra -pthread $< -o $@

# run.sh runs `make exitmon` itself and reports a build failure as a TAP
# "not ok" while still running the rig's own (ftrace) checks.
vmtest: $(VMM_BIN)
	VMTEST_VMM=$(VMM_BIN) bash tests/vm/run.sh
