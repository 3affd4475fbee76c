# exitmon-query: the guest-side reader of the exit-statistics CPUID leaves
# (kernel-patch/).  The top Makefile `-include`s this fragment; it also
# works alone:  make -f guest/guest.mk exitmon-query
# Static, so it can be copied into any x86-64 guest as one file.

EXITMON_QUERY_CC     ?= $(if $(filter default,$(origin CC)),gcc,$(CC))
EXITMON_QUERY_CFLAGS ?= -O2 -std=gnu11 -Wall -Wextra
EXITMON_QUERY_SRCS   := guest/exitmon-query.c user/reasons.c
EXITMON_QUERY_DEPS   := $(EXITMON_QUERY_SRCS) user/reasons.h bpf/exitmon.h guest/guest.mk
EXITMON_QUERY_BUILD  := $(or $(BUILD),build)

.PHONY: guest-test
exitmon-query: $(EXITMON_QUERY_DEPS)
	$(EXITMON_QUERY_CC) $(EXITMON_QUERY_CFLAGS) -static -o $@ $(EXITMON_QUERY_SRCS)

# Same source against a model of the host's CPUID answers (tests only).
$(EXITMON_QUERY_BUILD)/exitmon-query-fake: $(EXITMON_QUERY_DEPS)
	@mkdir -p $(EXITMON_QUERY_BUILD)
	$(EXITMON_QUERY_CC) $(EXITMON_QUERY_CFLAGS) -DEXITMON_QUERY_FAKE -o $@ $(EXITMON_QUERY_SRCS)

exitmon-query-fake: $(EXITMON_QUERY_BUILD)/exitmon-query-fake
.PHONY: exitmon-query-fake
