# exitmon-query: the guest-side reader of the exit-statistics CPUID leaves
# (kernel-patch/).  The top Makefile `-include`s this fragment; it also
# works alone:  make -f guest/guest.mk exitmon-query
# Static, so it can be copied into any x86-64 guest as one file.

EXITMON_QUERY_CC     ?= $(if $(filter default,$(origin CC)),gcc,$(CC))
EXITMON_QUERY_CFLAGS ?= -O2 -std=gnu11 -Wall -Wextra
EXITMON_QUERY_SRCS   := guest/exitmon-query.c user/reasons.c
EXITMON_QUERY_DEPS   := $(EXITMON_QUERY_SRCS) user/reasons.h bpf/exitmon.h guest/guest.mk
EXITMON_QUERY_BUILD  := $(or $(BUILD),build)

.PHONY: guest-test exitmon-query-clean
exitmon-query: $(EXITMON_QUERY_DEPS)
	$(EXITMON_QUERY_CC) $(EXITMON_QUERY_CFLAGS) -Ibpf -static -o $@ $(EXITMON_QUERY_SRCS)

# Same source against a model of the host's CPUID answers (tests only).
$(EXITMON_QUERY_BUILD)/exitmon-query-fake: $(EXITMON_QUERY_DEPS)
	@mkdir -p $(EXITMON_QUERY_BUILD)
	$(EXITMON_QUERY_CC) $(EXITMON_QUERY_CFLAGS) -Ibpf -DEXITMON_QUERY_FAKE -o $@ $(EXITMON_QUERY_SRCS)

exitmon-query-fake: $(EXITMON_QUERY_BUILD)/exitmon-query-fake
.PHONY: exitmon-query-fake

# exitmon-query's decoding against the modelled host (part of tests/kpatch).
guest-test: $(EXITMON_QUERY_BUILD)/exitmon-query-fake
	@FAKE_FAILS_FILE=$(EXITMON_QUERY_BUILD)/.fake-fails bash tests/kpatch/fake-tests.sh $< 0; \
	test "$$(cat $(EXITMON_QUERY_BUILD)/.fake-fails)" = 0

# `make clean` of the top Makefile also removes the tool (prerequisite only).
clean: exitmon-query-clean
exitmon-query-clean:
	rm -f exitmon-query $(EXITMON_QUERY_BUILD)/exitmon-query-fake
