# Fuzzing (libFuzzer): the snapshot loader (tests/fuzz/fuzz_snapshot.c) and
# the command line plus two snapshots through parse -> show -> diff
# (tests/fuzz/fuzz_cli.c). Included by the top-level Makefile
# (`-include tests/fuzz/fuzz.mk`), or on its own from the repository root:
# make -f tests/fuzz/fuzz.mk fuzz
#   fuzz        long run of the snapshot fuzzer (FUZZ_TIME seconds, default
#               600; more libFuzzer flags in FUZZ_ARGS, e.g.
#               FUZZ_ARGS=-runs=1000000), corpus kept in $(FUZZ_OUT)/corpus
#   fuzz-cli    same for the command-line fuzzer ($(FUZZ_OUT)/corpus-cli)
#   fuzz-short  bounded runs of both (FUZZ_SHORT_TIME, default 15 s each)
#               for the test suite; prints "ok N - fuzz ... (E execs, 0
#               crashes)". A run of fewer than FUZZ_MIN_EXECS executions
#               (default 2000) is a failure: a fuzzer that barely ran
#               tested nothing.
#   fuzz-seeds  regenerates tests/fuzz/corpus with the real save code
# Crashing inputs land in $(FUZZ_OUT)/artifacts/; replay one with
#   $(FUZZ_OUT)/fuzz_snapshot $(FUZZ_OUT)/artifacts/crash-...

# Where this file is included must not change the includer's default goal.
_fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_CC         ?= clang
FUZZ_OUT        ?= build/fuzz
FUZZ_TIME       ?= 600
FUZZ_SHORT_TIME ?= 15
FUZZ_MIN_EXECS  ?= 2000
FUZZ_ARGS       ?=
FUZZ_CFLAGS     ?= -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                   -fno-sanitize-recover=all
FUZZ_SRCS       := user/snapshot.c user/safefile.c user/err.c user/diff.c user/model.c \
                   user/reasons.c user/hist.c user/render.c \
                   user/labels.c user/names.c
FUZZ_CLI_SRCS   := $(FUZZ_SRCS) user/cli.c
FUZZ_HDRS       := $(wildcard user/*.h) bpf/exitmon.h tests/fuzz/check.h
FUZZ_BIN        := $(FUZZ_OUT)/fuzz_snapshot
FUZZ_CLI_BIN    := $(FUZZ_OUT)/fuzz_cli

.PHONY: fuzz fuzz-cli fuzz-short fuzz-seeds

$(FUZZ_BIN): tests/fuzz/fuzz_snapshot.c $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -I. -Ibpf tests/fuzz/fuzz_snapshot.c $(FUZZ_SRCS) -ljansson -lm -o $@

$(FUZZ_CLI_BIN): tests/fuzz/fuzz_cli.c $(FUZZ_CLI_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu11 -I. -Ibpf tests/fuzz/fuzz_cli.c $(FUZZ_CLI_SRCS) -ljansson -lm -o $@

$(FUZZ_OUT)/gen_seeds: tests/fuzz/gen_seeds.c $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -std=gnu11 -Wall -Wextra -I. -Ibpf tests/fuzz/gen_seeds.c $(FUZZ_SRCS) -ljansson -lm -o $@

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/artifacts
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-dict=tests/fuzz/snapshot.dict -artifact_prefix=$(FUZZ_OUT)/artifacts/ \
		$(FUZZ_ARGS) $(FUZZ_OUT)/corpus tests/fuzz/corpus

fuzz-cli: $(FUZZ_CLI_BIN)
	@mkdir -p $(FUZZ_OUT)/corpus-cli $(FUZZ_OUT)/artifacts
	$(FUZZ_CLI_BIN) -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-dict=tests/fuzz/cli.dict -artifact_prefix=$(FUZZ_OUT)/artifacts/ \
		$(FUZZ_ARGS) $(FUZZ_OUT)/corpus-cli tests/fuzz/corpus-cli

fuzz-short: $(FUZZ_BIN) $(FUZZ_CLI_BIN)
	@echo "1..2"
	@rc=0; \
	FUZZ_OUT=$(FUZZ_OUT) FUZZ_MIN_EXECS=$(FUZZ_MIN_EXECS) sh tests/fuzz/run-short.sh $(FUZZ_BIN) \
		$(FUZZ_SHORT_TIME) 1 "snapshot loader" tests/fuzz/snapshot.dict tests/fuzz/corpus || rc=1; \
	FUZZ_OUT=$(FUZZ_OUT) FUZZ_MIN_EXECS=$(FUZZ_MIN_EXECS) sh tests/fuzz/run-short.sh $(FUZZ_CLI_BIN) \
		$(FUZZ_SHORT_TIME) 2 "command line + snapshots (parse, show, diff)" tests/fuzz/cli.dict \
		tests/fuzz/corpus-cli || rc=1; \
	exit $$rc

fuzz-seeds: $(FUZZ_OUT)/gen_seeds
	$(FUZZ_OUT)/gen_seeds tests/fuzz/corpus

.DEFAULT_GOAL := $(_fuzz_saved_goal)
