# exitmon — KVM exit counts and exit-handling latency with eBPF.
# `make` builds ./exitmon; `make test` runs every test tier; `make deps`
# installs the Debian build dependencies.

VERSION   := 0.1.0
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     := build

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -I. -Iuser -Ibpf -I$(BUILD) -DEXITMON_VERSION=\"$(VERSION)\"
LDLIBS    := -lbpf -lelf -lz -ljansson -lm -lmicrohttpd
# -mcpu=v3: 32-bit cmpxchg (kernel >= 5.12) for claiming pending slots
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -I. -Ibpf

# Pure logic, linked by the unit tests without libbpf or root.
PURE_SRCS := user/model.c user/reasons.c user/hist.c user/render.c user/cli.c user/sysinfo.c \
             user/err.c user/safefile.c user/runloop.c \
             user/metrics.c \
             $(wildcard user/snapshot.c user/diff.c)
PURE_OBJS := $(PURE_SRCS:user/%.c=$(BUILD)/%.o)
APP_OBJS  := $(BUILD)/main.o $(BUILD)/collector.o $(BUILD)/serve.o

DEPS_APT  := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev \
             libcmocka-dev libmicrohttpd-dev pkg-config make gcc python3-jsonschema

.PHONY: all deps test unit bpftest install uninstall clean bench
# keep the BPF objects between the skeletons and the next build
.SECONDARY:
all: exitmon

$(BUILD):
	mkdir -p $@

# vmlinux.h was generated on a 6.18 kernel with:
#   bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
# CO-RE relocates it against whatever kernel runs exitmon.
$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/aggregate.bpf.h bpf/exitmon.h vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: user/%.c $(wildcard user/*.h) bpf/exitmon.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/collector.o: $(BUILD)/exitmon.skel.h

exitmon: $(APP_OBJS) $(PURE_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# --- tests --------------------------------------------------------------
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

$(BUILD)/tests/%: tests/unit/%.c $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(PURE_OBJS) -lcmocka -ljansson -lm -o $@

$(BUILD)/tests/test_bpf: tests/bpf/test_bpf.c $(BUILD)/exitmon_test.skel.h $(BUILD)/exitmon.skel.h \
                         $(BUILD)/collector.o $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/collector.o $(PURE_OBJS) -lcmocka $(LDLIBS) -o $@

# tests/serve: renders saved snapshots for promtool and the OpenMetrics parser
$(BUILD)/tests/prom_render: tests/serve/prom_render.c $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(PURE_OBJS) -ljansson -lm -o $@

# tests/serve/scrape-bench.sh: CPU per scrape with many rows (root)
$(BUILD)/tests/scrape_bench: tests/serve/scrape_bench.c $(BUILD)/collector.o $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/collector.o $(PURE_OBJS) $(LDLIBS) -o $@

unit: $(UNIT_TESTS)
bpftest: $(BUILD)/tests/test_bpf

# One command for every tier; prints "N passed, N failed, N skipped".
test: exitmon unit bpftest
	bash tests/run-all.sh

deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS_APT)

install: exitmon
	install -D -m 0755 exitmon $(DESTDIR)$(PREFIX)/sbin/exitmon

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/exitmon

clean:
	rm -rf $(BUILD) exitmon

-include tests/vm/vm.mk tests/fuzz/fuzz.mk guest/guest.mk kernel-patch/kpatch.mk tests/bench/bench.mk
