# Fuzzing of the snapshot loader (tests/fuzz/fuzz_snapshot.c, libFuzzer).
# Included by the top-level Makefile (`-include tests/fuzz/fuzz.mk`), or
# on its own from the repository root: make -f tests/fuzz/fuzz.mk fuzz
#   fuzz        long run (FUZZ_TIME seconds, default 600; more libFuzzer
#               flags in FUZZ_ARGS, e.g. FUZZ_ARGS=-runs=1000000), corpus
#               kept in $(FUZZ_OUT)/corpus so later runs resume from it
#   fuzz-short  bounded run (FUZZ_SHORT_TIME, default 15 s) for the test
#               suite; prints "ok 1 - fuzz snapshot loader (N execs, 0 crashes)"
#   fuzz-seeds  regenerates tests/fuzz/corpus with the real save code
# Crashing inputs land in $(FUZZ_OUT)/artifacts/; replay one with
#   $(FUZZ_OUT)/fuzz_snapshot $(FUZZ_OUT)/artifacts/crash-...

# Where this file is included must not change the includer's default goal.
_fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_CC         ?= clang
FUZZ_OUT        ?= build/fuzz
FUZZ_TIME       ?= 600
FUZZ_SHORT_TIME ?= 15
FUZZ_ARGS       ?=
FUZZ_CFLAGS     ?= -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                   -fno-sanitize-recover=all
FUZZ_SRCS       := user/snapshot.c user/diff.c user/model.c user/reasons.c user/hist.c \
                   user/render.c user/safefile.c user/err.c
FUZZ_HDRS       := $(wildcard user/*.h) bpf/exitmon.h
FUZZ_BIN        := $(FUZZ_OUT)/fuzz_snapshot

.PHONY: fuzz fuzz-short fuzz-seeds

$(FUZZ_BIN): tests/fuzz/fuzz_snapshot.c $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -I. tests/fuzz/fuzz_snapshot.c $(FUZZ_SRCS) -ljansson -lm -o $@

$(FUZZ_OUT)/gen_seeds: tests/fuzz/gen_seeds.c $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -std=gnu11 -Wall -Wextra -I. tests/fuzz/gen_seeds.c $(FUZZ_SRCS) -ljansson -lm -o $@

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/artifacts
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-dict=tests/fuzz/snapshot.dict -artifact_prefix=$(FUZZ_OUT)/artifacts/ \
		$(FUZZ_ARGS) $(FUZZ_OUT)/corpus tests/fuzz/corpus

fuzz-short: $(FUZZ_BIN)
	@FUZZ_OUT=$(FUZZ_OUT) sh tests/fuzz/run-short.sh $(FUZZ_BIN) $(FUZZ_SHORT_TIME)

fuzz-seeds: $(FUZZ_OUT)/gen_seeds
	$(FUZZ_OUT)/gen_seeds tests/fuzz/corpus

.DEFAULT_GOAL := $(_fuzz_saved_goal)
