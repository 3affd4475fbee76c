# Benchmarks (docs/performance.md). Included by the top Makefile; not part
# of `make test`. `make bench` installs what it needs (apt-get), runs the
# BPF_PROG_TEST_RUN figures on this machine, the nested-KVM figures in a
# QEMU TCG L1 (skipped, saying why, when qemu cannot run), and prints the
# tables. Knobs: BENCH_ROUNDS (test-run rounds, 7), BENCH_PAIRS (100000),
# BENCH_RIG=0 (skip the rig), BENCH_RIG_ROUNDS (3), BENCH_N (CPUIDs, 100000).
BENCH_BUILD := $(BUILD)/bench
BENCH_BPF_OBJS := $(BENCH_BUILD)/floor.bpf.o $(BENCH_BUILD)/pair.bpf.o \
                  $(BENCH_BUILD)/exitmon_test_unaligned.bpf.o $(BENCH_BUILD)/touch.bpf.o

.PHONY: bench bench-build bench-host bench-rig

$(BENCH_BUILD):
	mkdir -p $@

$(BENCH_BUILD)/floor.bpf.o: tests/bench/floor.bpf.c vmlinux.h | $(BENCH_BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_BUILD)/pair.bpf.o: tests/bench/pair.bpf.c bpf/aggregate.bpf.h bpf/exitmon.h vmlinux.h | $(BENCH_BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# exitmon's handlers with their accesses logged (pages/lines per pair)
$(BENCH_BUILD)/touch.bpf.o: tests/bench/touch.bpf.c tests/bench/touch.h bpf/exitmon.bpf.c bpf/aggregate.bpf.h bpf/exitmon.h vmlinux.h | $(BENCH_BUILD)
	$(CLANG) $(BPF_CFLAGS) -Itests/bench -c $< -o $@

# Opt-in variants of the core (bench.sh BENCH_VARIANTS=NAME): the handlers
# with tests/bench/NAME.patch applied to copies of bpf/aggregate.bpf.h and
# bpf/exitmon.bpf.c (see variant.bpf.c).
$(BENCH_BUILD)/variant-%/aggregate.bpf.h: bpf/aggregate.bpf.h bpf/exitmon.bpf.c tests/bench/%.patch
	rm -rf $(@D) && mkdir -p $(@D)
	cp bpf/aggregate.bpf.h bpf/exitmon.bpf.c $(@D)/
	patch -s -d $(@D) -p2 < tests/bench/$*.patch
$(BENCH_BUILD)/v_%.bpf.o: tests/bench/variant.bpf.c $(BENCH_BUILD)/variant-%/aggregate.bpf.h bpf/exitmon.bpf.c bpf/exitmon.h vmlinux.h
	$(CLANG) -I$(BENCH_BUILD)/variant-$* $(BPF_CFLAGS) -c $< -o $@
# the address log over a variant (rig phase touch logs every touch*.bpf.o)
$(BENCH_BUILD)/touch_%.bpf.o: tests/bench/touch.bpf.c tests/bench/touch.h $(BENCH_BUILD)/variant-%/aggregate.bpf.h bpf/exitmon.bpf.c bpf/exitmon.h vmlinux.h
	$(CLANG) -I$(BENCH_BUILD)/variant-$* $(BPF_CFLAGS) -Itests/bench -c $< -o $@
# the BPF tier against a variant: make build/bench/variant-NAME/test_bpf && sudo $@
$(BENCH_BUILD)/variant-%/exitmon.skel.h: $(BENCH_BUILD)/v_%.bpf.o
	$(LLVM_STRIP) -g -o $(@D)/exitmon.bpf.o $<
	$(BPFTOOL) gen skeleton $(@D)/exitmon.bpf.o > $@
$(BENCH_BUILD)/variant-%/exitmon_test.skel.h: tests/bench/variant.bpf.c $(BENCH_BUILD)/variant-%/aggregate.bpf.h bpf/exitmon_test.bpf.c bpf/exitmon.h vmlinux.h
	$(CLANG) -I$(BENCH_BUILD)/variant-$* $(BPF_CFLAGS) -DEMB_TEST_DRIVER -c $< -o $(@D)/exitmon_test.bpf.o
	$(LLVM_STRIP) -g $(@D)/exitmon_test.bpf.o
	$(BPFTOOL) gen skeleton $(@D)/exitmon_test.bpf.o > $@
$(BENCH_BUILD)/variant-%/test_bpf: tests/bpf/test_bpf.c user/collector.c $(BENCH_BUILD)/variant-%/exitmon.skel.h $(BENCH_BUILD)/variant-%/exitmon_test.skel.h $(PURE_OBJS)
	$(CC) -I$(@D) $(ALL_CFLAGS) -c user/collector.c -o $(@D)/collector.o
	$(CC) -I$(@D) $(ALL_CFLAGS) $(LDFLAGS) $< $(@D)/collector.o $(PURE_OBJS) -lcmocka $(LDLIBS) -o $@

# the test driver with pending_fast as a plain ARRAY (values at 56 mod 64)
$(BENCH_BUILD)/exitmon_test_unaligned.bpf.o: bpf/exitmon_test.bpf.c bpf/aggregate.bpf.h bpf/exitmon.h vmlinux.h | $(BENCH_BUILD)
	$(CLANG) $(BPF_CFLAGS) -DEM_PENDING_FAST_FLAGS=0 -c $< -o $@

$(BENCH_BUILD)/embench: tests/bench/embench.c tests/bench/touch.h bpf/exitmon.h | $(BENCH_BUILD)
	$(CC) $(EM_CFLAGS) -Itests/bench $(CFLAGS) $(EXTRA_CFLAGS) $< -lbpf -lelf -lz -o $@

# user-space row model benchmark (rowbench.c), separate from the BPF figures
$(BENCH_BUILD)/rowbench: tests/bench/rowbench.c $(PURE_OBJS) | $(BENCH_BUILD)
	$(CC) $(EM_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) $< $(PURE_OBJS) -ljansson -lm -o $@
bench-build: $(BENCH_BUILD)/rowbench

bench-build: exitmon $(BUILD)/exitmon_test.bpf.o $(BENCH_BPF_OBJS) $(BENCH_BUILD)/embench $(VMM_BIN)

bench:
	@bash tests/bench/bench.sh

bench-host: bench-build
	@BENCH_RIG=0 bash tests/bench/bench.sh

bench-rig: bench-build
	@BENCH_HOST=0 bash tests/bench/bench.sh
