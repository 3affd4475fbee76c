// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * BPF tier: the aggregation core (bpf/aggregate.bpf.h) driven through
 * BPF_PROG_TEST_RUN with synthetic exit/entry sequences, and the real
 * programs loaded and attached to this kernel's kvm tracepoints.
 * Needs root and kernel BTF; without them every test skips, saying why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "exitmon_test.skel.h"
#include "collector.h"
#include "hist.h"
#include "kstats.h"
#include "sysinfo.h"
#include <bpf/btf.h>

static const char *skip_reason;

#define TID(tgid, tid) (((uint64_t)(tgid) << 32) | (tid))
#define SVM EM_ISA_SVM
#define VMX EM_ISA_VMX

struct opts {
	uint32_t tgid, vcpu;
	const uint32_t *reasons; /* slots of the reason filter, nreasons long */
	unsigned nreasons;
	bool per_vm, per_vcpu;
	uint32_t breakdown_max;
};

struct fx {
	struct exitmon_test_bpf *skel;
	int prog;
	int ncpu;
};

static void check_env(void)
{
	if (geteuid() != 0)
		skip_reason = "needs root (BPF_PROG_TEST_RUN and map access)";
	else if (access("/sys/kernel/btf/vmlinux", R_OK))
		skip_reason = "kernel has no BTF (/sys/kernel/btf/vmlinux)";
}

static struct fx *fx_open(const struct opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned i;

	assert_non_null(f);
	f->skel = exitmon_test_bpf__open();
	assert_non_null(f->skel);
	if (o) {
		f->skel->rodata->filter_tgid = o->tgid;
		f->skel->rodata->filter_vcpu = o->vcpu ? o->vcpu : EM_ANY_VCPU;
		f->skel->rodata->filter_reasons_on = o->nreasons > 0;
		for (i = 0; i < o->nreasons; i++)
			f->skel->rodata->filter_reasons[o->reasons[i] / 64] |= 1ULL << (o->reasons[i] % 64);
		f->skel->rodata->breakdown_vm = o->per_vm;
		f->skel->rodata->breakdown_vcpu = o->per_vcpu;
		if (o->breakdown_max) {
			assert_int_equal(bpf_map__set_max_entries(f->skel->maps.breakdown,
								  o->breakdown_max), 0);
			assert_int_equal(bpf_map__set_max_entries(f->skel->maps.breakdown_index,
								  o->breakdown_max), 0);
			f->skel->rodata->breakdown_rows = o->breakdown_max;
		}
	}
	assert_int_equal(exitmon_test_bpf__load(f->skel), 0);
	f->prog = bpf_program__fd(f->skel->progs.run_event);
	f->ncpu = libbpf_num_possible_cpus();
	return f;
}

static void fx_close(struct fx *f)
{
	exitmon_test_bpf__destroy(f->skel);
	free(f);
}

/* One synthetic event on CPU cpu (-1: wherever the test runs). */
static void ev_on(struct fx *f, int cpu, uint64_t op, uint64_t pid_tgid, uint32_t isa,
		  uint32_t reason, uint32_t vcpu, uint64_t ts, uint64_t key)
{
	uint64_t ctx[7] = { op, pid_tgid, isa, reason, vcpu, ts, key };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = ctx, .ctx_size_in = sizeof(ctx));

	if (cpu >= 0) {
		topts.cpu = cpu;
		topts.flags = BPF_F_TEST_RUN_ON_CPU;
	}
	assert_int_equal(bpf_prog_test_run_opts(f->prog, &topts), 0);
	assert_int_equal(topts.retval, 0);
}

static void ev(struct fx *f, uint64_t op, uint64_t pid_tgid, uint32_t isa, uint32_t reason,
	       uint32_t vcpu, uint64_t ts)
{
	ev_on(f, -1, op, pid_tgid, isa, reason, vcpu, ts, 0);
}

/* Times are offset by T0: a timestamp of 0 means "no exit pending", and
 * bpf_ktime_get_ns() is never 0 on a running system. */
#define T0 1000000ULL
#define EXIT(f, pt, isa, r, vcpu, ts) ev(f, 0, pt, isa, r, vcpu, T0 + (ts))
#define ENTRY(f, pt, vcpu, ts) ev(f, 1, pt, 0, 0, vcpu, T0 + (ts))
/* As raw_tp does: the vCPU is named by its struct kvm_vcpu address, key. */
#define EXITK(f, pt, key, r, ts) ev_on(f, -1, 0, pt, SVM, r, EM_ANY_VCPU, T0 + (ts), key)
#define ENTRYK(f, pt, key, ts) ev_on(f, -1, 1, pt, 0, 0, EM_ANY_VCPU, T0 + (ts), key)
#define THREAD_EXIT(f, pt) ev(f, 2, pt, 0, 0, 0, 0)

/* The hist_carry map, as the collector reads it. */
static void read_carries(struct fx *f, struct em_carries *out)
{
	assert_int_equal(em_carries_load(bpf_map__fd(f->skel->maps.hist_carry), out), 0);
}

/*
 * Exact stats of one value (summed over CPUs in a per-CPU map) with the
 * carries of its wrapped buckets (ckey: whose; NULL: none); false if absent.
 */
static bool lookup_sum_carry(struct fx *f, struct bpf_map *m, const void *key,
			     const struct em_key *ckey, struct em_stats *out)
{
	struct em_kstats *vals = calloc(f->ncpu, sizeof(*vals));
	struct em_carries carries = { 0 };
	int cpu;
	bool ok;

	assert_non_null(vals);
	memset(out, 0, sizeof(*out));
	ok = !bpf_map_lookup_elem(bpf_map__fd(m), key, vals);
	for (cpu = 0; ok && cpu < f->ncpu; cpu++)
		em_kstats_add(out, &vals[cpu]);
	if (ok && ckey) {
		read_carries(f, &carries);
		em_carries_apply(&carries, ckey, out);
	}
	em_carries_free(&carries);
	free(vals);
	return ok;
}

/* The breakdown row of key (found through breakdown_index); false if it has none. */
static bool bd_row(struct fx *f, const struct em_key *key, uint32_t *idx, struct em_bd_row *row)
{
	if (bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.breakdown_index), key, idx))
		return false;
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.breakdown), idx, row), 0);
	assert_memory_equal(&row->key, key, sizeof(*key)); /* the row names its key */
	return true;
}

/* A stats row (by row) or a breakdown key's row (by its em_key), exact. */
static bool lookup_sum(struct fx *f, struct bpf_map *m, const void *key, struct em_stats *out)
{
	struct em_carries carries = { 0 };
	struct em_bd_row row;
	struct em_key rk;
	uint32_t idx;

	if (m == f->skel->maps.stats) {
		rk = em_carry_row_key(*(const uint32_t *)key);
		return lookup_sum_carry(f, m, key, &rk, out);
	}
	memset(out, 0, sizeof(*out));
	if (!bd_row(f, key, &idx, &row))
		return false;
	em_kstats_add(out, &row.st);
	read_carries(f, &carries);
	em_carries_apply(&carries, key, out);
	em_carries_free(&carries);
	return true;
}

/* The stats row a slot was given (EM_ROW_OTHER: none). */
static uint32_t slot_row(struct fx *f, uint32_t slot)
{
	uint64_t row = EM_ROW_OTHER;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.row_of), &slot, &row), 0);
	return row;
}

/* Stats of a code: its row (by slot, or by its "other" key); zero when it has none. */
static struct em_stats reason_stats(struct fx *f, uint32_t isa, uint32_t reason)
{
	struct em_stats st;
	uint32_t slot = em_slot(isa, reason), row = EM_ROW_OTHER;
	struct em_key k = { isa, reason, EM_ANY_PID, EM_ANY_VCPU };
	uint64_t r;

	memset(&st, 0, sizeof(st));
	if (slot < EM_NSLOTS)
		row = slot_row(f, slot);
	else if (!bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.other_row), &k, &r))
		row = r;
	if (row != EM_ROW_OTHER)
		assert_true(lookup_sum(f, f->skel->maps.stats, &row, &st));
	return st;
}

static struct em_stats row_stats(struct fx *f, uint32_t row)
{
	struct em_stats st;

	assert_true(lookup_sum(f, f->skel->maps.stats, &row, &st));
	return st;
}

static uint64_t counter(struct fx *f, uint32_t idx)
{
	uint64_t *v = calloc(f->ncpu, sizeof(*v)), sum = 0;
	int cpu;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.counters), &idx, v), 0);
	for (cpu = 0; cpu < f->ncpu; cpu++)
		sum += v[cpu];
	free(v);
	return sum;
}

/* Sum of counts over every row (the "other" codes have rows too). */
static uint64_t all_counts(struct fx *f)
{
	struct em_stats st;
	uint64_t sum = 0;
	uint32_t row;

	for (row = 0; row < EM_ROWS; row++) {
		assert_true(lookup_sum(f, f->skel->maps.stats, &row, &st));
		sum += st.count;
	}
	return sum;
}

static int setup(void **state)
{
	(void)state;
	return 0;
}

#define NEED_ENV()                                              \
	do {                                                    \
		if (skip_reason) {                              \
			print_message("skip: %s\n", skip_reason); \
			skip();                                 \
		}                                               \
	} while (0)

static void test_pairing_single_thread(void **state)
{
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 1000);
	ENTRY(f, TID(100, 101), 0, 1500);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 2000);
	ENTRY(f, TID(100, 101), 0, 2100);
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.count, 2);
	assert_int_equal(st.lat_count, 2);
	assert_int_equal(st.lat_sum, 600);
	assert_int_equal(st.lat_min, 100);
	assert_int_equal(st.lat_max, 500);
	/* 100 = 0b1100100: msb 6 -> bucket (6-3+1)*8 + ((100>>3)&7) = 32+4 */
	assert_int_equal(st.hist[36], 1);
	/* 500: msb 8 -> (8-3+1)*8 + ((500>>5)&7) = 48+7 */
	assert_int_equal(st.hist[55], 1);
	assert_int_equal(em_hist_total(&st), 2);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 0);
	fx_close(f);
}

static void test_interleaved_threads(void **state)
{
	struct fx *f;
	struct em_stats cpuid, io;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	/* two vCPU threads of one VM and one of another, interleaved */
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 100);
	EXIT(f, TID(100, 102), SVM, 0x7b, 1, 200);
	EXIT(f, TID(200, 201), SVM, 0x72, 0, 250);
	ENTRY(f, TID(100, 101), 0, 350);  /* 0x72: 250 */
	ENTRY(f, TID(200, 201), 0, 260);  /* 0x72: 10 */
	ENTRY(f, TID(100, 102), 1, 1200); /* 0x7b: 1000 */
	cpuid = reason_stats(f, SVM, 0x72);
	io = reason_stats(f, SVM, 0x7b);
	assert_int_equal(cpuid.count, 2);
	assert_int_equal(cpuid.lat_count, 2);
	assert_int_equal(cpuid.lat_sum, 260);
	assert_int_equal(cpuid.lat_min, 10);
	assert_int_equal(cpuid.lat_max, 250);
	assert_int_equal(io.count, 1);
	assert_int_equal(io.lat_sum, 1000);
	assert_int_equal(io.hist[em_hist_bucket(1000)], 1);
	fx_close(f);
}

static void test_entry_without_exit(void **state)
{
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	ENTRY(f, TID(100, 101), 0, 50); /* first entry of a vCPU */
	EXIT(f, TID(100, 101), SVM, 0x78, 0, 100);
	ENTRY(f, TID(100, 101), 0, 400);
	ENTRY(f, TID(100, 101), 0, 900); /* no exit in between */
	st = reason_stats(f, SVM, 0x78);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_count, 1);
	assert_int_equal(st.lat_sum, 300);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 2);
	fx_close(f);
}

static void test_exit_without_entry(void **state)
{
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	/* the final HLT of a VM that never re-enters: counted, no latency */
	EXIT(f, TID(100, 101), SVM, 0x78, 0, 100);
	st = reason_stats(f, SVM, 0x78);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_count, 0);
	assert_int_equal(em_hist_total(&st), 0);
	fx_close(f);
}

static void test_reason_filter(void **state)
{
	static const uint32_t slots[] = { EM_SVM_BASE + 0x72 };
	struct opts o = { .reasons = slots, .nreasons = 1 };
	struct fx *f;
	struct em_stats cpuid, io;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	ENTRY(f, TID(100, 101), 0, 10);
	EXIT(f, TID(100, 101), SVM, 0x7b, 0, 20); /* filtered */
	ENTRY(f, TID(100, 101), 0, 30);           /* must not pair with anything */
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 40);
	EXIT(f, TID(100, 101), SVM, 0x7b, 0, 45); /* filtered, clears the pending 0x72 */
	ENTRY(f, TID(100, 101), 0, 1000);
	cpuid = reason_stats(f, SVM, 0x72);
	io = reason_stats(f, SVM, 0x7b);
	assert_int_equal(cpuid.count, 2);
	assert_int_equal(cpuid.lat_count, 1);
	assert_int_equal(cpuid.lat_sum, 10);
	assert_int_equal(io.count, 0);
	assert_int_equal(io.lat_count, 0);
	assert_int_equal(counter(f, EM_CNT_FILTERED), 2);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 2);
	fx_close(f);
}

static void test_vmx_flags_pass_basic_filter(void **state)
{
	static const uint32_t slots[] = { 33 };
	struct opts o = { .reasons = slots, .nreasons = 1 };
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXIT(f, TID(1, 1), VMX, 0x80000021, 0, 0); /* INVALID_STATE|FAILED_VMENTRY */
	EXIT(f, TID(1, 1), VMX, 10, 0, 5);         /* CPUID: filtered */
	st = reason_stats(f, VMX, 0x80000021);     /* kept, by its exact code */
	assert_int_equal(st.count, 1);
	st = reason_stats(f, VMX, 10);
	assert_int_equal(st.count, 0);
	fx_close(f);
}

static void test_pid_and_vcpu_filters(void **state)
{
	struct opts o = { .tgid = 100 };
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	ENTRY(f, TID(100, 101), 0, 7);
	EXIT(f, TID(200, 201), SVM, 0x72, 0, 0);
	ENTRY(f, TID(200, 201), 0, 9);
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_sum, 7);
	/* the other VM's exit is filtered, its entry not even looked at */
	assert_int_equal(counter(f, EM_CNT_FILTERED), 1);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 0);
	fx_close(f);

	o.tgid = 0;
	o.vcpu = 1;
	f = fx_open(&o);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	EXIT(f, TID(100, 102), SVM, 0x72, 1, 0);
	ENTRY(f, TID(100, 101), 0, 5);
	ENTRY(f, TID(100, 102), 1, 3);
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_sum, 3);
	fx_close(f);
}

static void test_out_of_table_codes(void **state)
{
	struct fx *f;
	struct em_stats st;
	uint32_t i;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXIT(f, TID(1, 1), SVM, 0x500, 0, 0);
	ENTRY(f, TID(1, 1), 0, 40);
	EXIT(f, TID(1, 1), VMX, 200, 0, 0);
	EXIT(f, TID(1, 1), 7, 1, 0, 0); /* unknown isa */
	st = reason_stats(f, SVM, 0x500);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_sum, 40);
	assert_int_equal(reason_stats(f, VMX, 200).count, 1);
	assert_int_equal(reason_stats(f, 7, 1).count, 1);
	/* use up the rows: the rest is still counted, in OTHER */
	for (i = 0; i < 100; i++)
		EXIT(f, TID(1, 1), SVM, 0x1000 + i, 0, 0);
	st = row_stats(f, EM_ROW_OTHER);
	assert_int_equal(st.count, 100 - (EM_ROWS - 1 - 3));
	assert_int_equal(counter(f, EM_CNT_OTHER_OVERFLOW), 100 - (EM_ROWS - 1 - 3));
	assert_int_equal(reason_stats(f, SVM, 0x1000 + 200).count, 0);
	for (i = 0; i < 100; i++) /* again: no code claims anything any more */
		EXIT(f, TID(1, 1), SVM, 0x1000 + i, 0, 0);
	assert_int_equal(row_stats(f, EM_ROW_OTHER).count, 2 * (100 - (EM_ROWS - 1 - 3)));
	assert_int_equal(reason_stats(f, SVM, 0x1000).count, 2);
	/* every exit is in exactly one row: the derivation of counters.exits */
	assert_int_equal(all_counts(f), 203);
	fx_close(f);
}

/*
 * Rows are handed out on first use: the first EM_ROWS - 1 codes get one
 * each, the rest go to row OTHER, counted as overflow, with their
 * latency; nothing is lost.
 */
static void test_rows_on_first_use_and_overflow(void **state)
{
	const uint32_t ncodes = EM_ROWS + 8;
	struct em_stats st;
	struct fx *f;
	uint32_t i, k = EM_NSLOTS;
	uint64_t used;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	assert_int_equal(slot_row(f, em_slot(SVM, 0x72)), EM_ROW_OTHER); /* none yet */
	for (i = 0; i < ncodes; i++) {
		EXIT(f, TID(1, 1), SVM, i, 0, 100 * i);
		ENTRY(f, TID(1, 1), 0, 100 * i + 7);
		EXIT(f, TID(1, 1), SVM, i, 0, 100 * i + 50); /* the same code again: same row */
		ENTRY(f, TID(1, 1), 0, 100 * i + 60);
	}
	for (i = 0; i < EM_ROWS - 1; i++) {
		assert_int_equal(slot_row(f, em_slot(SVM, i)), i + 1);
		st = reason_stats(f, SVM, i);
		assert_int_equal(st.count, 2);
		assert_int_equal(st.lat_sum, 7 + 10);
	}
	for (; i < ncodes; i++)
		assert_int_equal(slot_row(f, em_slot(SVM, i)), EM_ROW_OTHER);
	st = row_stats(f, EM_ROW_OTHER);
	assert_int_equal(st.count, 2 * (ncodes - (EM_ROWS - 1)));
	assert_int_equal(st.lat_count, 2 * (ncodes - (EM_ROWS - 1)));
	assert_int_equal(counter(f, EM_CNT_OTHER_OVERFLOW), 2 * (ncodes - (EM_ROWS - 1)));
	assert_int_equal(all_counts(f), 2 * ncodes);
	/* the row counter stopped at the end: it cannot wrap round to reuse rows */
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.row_of), &k, &used), 0);
	assert_int_equal(used, EM_ROWS - 1);
	fx_close(f);
}

static void test_isas_do_not_collide(void **state)
{
	struct fx *f;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXIT(f, TID(1, 1), VMX, 10, 0, 0);
	EXIT(f, TID(1, 1), SVM, 10, 0, 0);
	EXIT(f, TID(1, 1), SVM, 0x400, 0, 0);
	EXIT(f, TID(1, 1), SVM, 0xffffffff, 0, 0);
	/* VMRUN failures INVALID_PMC, IDLE_REQUIRED, BUSY: own slots, not "other" */
	EXIT(f, TID(1, 1), SVM, 0xfffffffc, 0, 0);
	EXIT(f, TID(1, 1), SVM, 0xfffffffd, 0, 0);
	EXIT(f, TID(1, 1), SVM, 0xfffffffd, 0, 0);
	EXIT(f, TID(1, 1), SVM, 0xfffffffe, 0, 0);
	assert_int_equal(em_slot(SVM, 0xfffffffc), EM_SVM_BASE + 0x104);
	assert_int_equal(em_slot(SVM, 0xffffffff), EM_SVM_BASE + 0x107);
	assert_int_equal(reason_stats(f, SVM, 0xfffffffc).count, 1);
	assert_int_equal(reason_stats(f, SVM, 0xfffffffd).count, 2);
	assert_int_equal(reason_stats(f, SVM, 0xfffffffe).count, 1);
	assert_int_equal(all_counts(f), 8);
	assert_int_equal(reason_stats(f, VMX, 10).count, 1);
	assert_int_equal(reason_stats(f, SVM, 10).count, 1);
	assert_int_equal(reason_stats(f, SVM, 0x400).count, 1);
	assert_int_equal(reason_stats(f, SVM, 0xffffffff).count, 1);
	fx_close(f);
}

static void test_breakdown_per_vcpu(void **state)
{
	struct opts o = { .per_vm = true, .per_vcpu = true, .breakdown_max = 3 };
	struct fx *f;
	struct em_stats st;
	struct em_key k0 = { SVM, 0x72, 100, 0 }, k1 = { SVM, 0x72, 100, 1 }, k3 = { SVM, 0x72, 100, 3 };
	int i;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	for (i = 0; i < 5; i++) {
		EXIT(f, TID(100, 101), SVM, 0x72, 0, 10 * i);
		ENTRY(f, TID(100, 101), 0, 10 * i + 2);
	}
	for (i = 0; i < 3; i++) {
		EXIT(f, TID(100, 102), SVM, 0x72, 1, 10 * i);
		ENTRY(f, TID(100, 102), 1, 10 * i + 4);
	}
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &k0, &st));
	assert_int_equal(st.count, 5);
	assert_int_equal(st.lat_sum, 10);
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &k1, &st));
	assert_int_equal(st.count, 3);
	assert_int_equal(st.lat_sum, 12);
	assert_int_equal(reason_stats(f, SVM, 0x72).count, 8);
	/* a third key fits, a fourth overflows and is counted as such */
	EXIT(f, TID(100, 103), SVM, 0x72, 2, 0);
	EXIT(f, TID(100, 104), SVM, 0x72, 3, 0);
	EXIT(f, TID(100, 104), SVM, 0x72, 3, 0);
	assert_int_equal(counter(f, EM_CNT_BREAKDOWN_OVERFLOW), 2);
	assert_int_equal(reason_stats(f, SVM, 0x72).count, 11);
	/* the entry of an exit that missed the breakdown must not create its key */
	ENTRY(f, TID(100, 104), 3, 5);
	assert_false(lookup_sum(f, f->skel->maps.breakdown, &k3, &st));
	assert_int_equal(reason_stats(f, SVM, 0x72).lat_count, 9);
	fx_close(f);
}

/*
 * --per-vm alone: keys still carry the vCPU (one key is only ever updated
 * by one vCPU, so the plain hash needs no per-CPU copies); the collector
 * sums them per VM. The value is one em_stats, not one per CPU.
 */
static void test_breakdown_per_vm_keys_by_vcpu(void **state)
{
	struct opts o = { .per_vm = true, .breakdown_max = 8 };
	struct em_key k0 = { SVM, 0x72, 100, 0 }, k1 = { SVM, 0x72, 100, 1 };
	struct em_bd_row r;
	uint32_t idx, k = EM_ROW_OF_BD_NEXT;
	uint64_t next;
	struct fx *f;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	assert_int_equal(bpf_map__value_size(f->skel->maps.breakdown), sizeof(struct em_bd_row));
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	ENTRY(f, TID(100, 101), 0, 4);
	EXIT(f, TID(100, 102), SVM, 0x72, 1, 0);
	EXIT(f, TID(100, 102), SVM, 0x72, 1, 10);
	/* rows handed out in order of first exits, each holding its key */
	assert_true(bd_row(f, &k0, &idx, &r));
	assert_int_equal(idx, 0);
	assert_int_equal(r.st.count, 1);
	assert_int_equal(r.st.lat_sum, 4);
	assert_true(bd_row(f, &k1, &idx, &r));
	assert_int_equal(idx, 1);
	assert_int_equal(r.st.count, 2);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.row_of), &k, &next), 0);
	assert_int_equal(next, 2);
	fx_close(f);
}

static void test_histogram_edges(void **state)
{
	static const struct {
		uint64_t lat;
		uint32_t bucket;
	} cases[] = {
		{ 0, 0 }, { 1, 1 }, { 7, 7 }, { 8, 8 }, { 15, 15 }, { 16, 16 }, { 17, 16 },
		{ 18, 17 }, { 1024, 64 }, { 1ULL << 20, 144 }, { (1ULL << 36) - 1, 271 },
		{ 1ULL << 36, EM_HIST_BUCKETS - 1 }, { UINT64_MAX - 1, EM_HIST_BUCKETS - 1 },
	};
	struct fx *f;
	struct em_stats st;
	size_t i;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* raw times: the largest latency needs the whole u64 range */
		ev(f, 0, TID(1, 1), SVM, 0x72, 0, 1);
		ev(f, 1, TID(1, 1), 0, 0, 0, 1 + cases[i].lat);
		st = reason_stats(f, SVM, 0x72);
		assert_int_equal(st.lat_count, i + 1);
		assert_true(st.hist[cases[i].bucket] >= 1);
		assert_int_equal(st.lat_max, i == 0 ? 0 : cases[i].lat);
	}
	assert_int_equal(st.lat_min, 0);
	assert_int_equal(st.hist[EM_HIST_BUCKETS - 1], 2);
	assert_int_equal(st.hist[16], 2); /* 16 and 17 share a bucket */
	fx_close(f);
}

/* The n-th vCPU key (a kvm_vcpu-like address, 16 KiB apart) whose fast slot is idx. */
static uint64_t key_for_slot(uint32_t idx, unsigned n)
{
	uint64_t k;

	for (k = 0xffff888100000000ULL;; k += 0x4000)
		if (em_pending_idx(k) == idx && n-- == 0)
			return k;
}

static bool lru_has(struct fx *f, uint64_t key)
{
	struct em_pending p;

	return !bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.pending), &key, &p);
}

/* vCPUs whose keys share a direct-mapped pending slot still pair exactly. */
static void test_pending_slot_collision(void **state)
{
	uint64_t ka = key_for_slot(7, 0), kb = key_for_slot(7, 1), kc = key_for_slot(7, 2);
	struct fx *f;
	struct em_stats st;
	int i;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	for (i = 0; i < 3; i++) {
		EXITK(f, TID(100, 101), ka, 0x72, 1000 * i);
		EXITK(f, TID(100, 102), kb, 0x72, 1000 * i + 1);
		EXITK(f, TID(100, 103), kc, 0x72, 1000 * i + 2);
		ENTRYK(f, TID(100, 103), kc, 1000 * i + 32); /* 30 */
		ENTRYK(f, TID(100, 101), ka, 1000 * i + 10); /* 10 */
		ENTRYK(f, TID(100, 102), kb, 1000 * i + 21); /* 20 */
	}
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.count, 9);
	assert_int_equal(st.lat_count, 9);
	assert_int_equal(st.lat_sum, 3 * (10 + 20 + 30));
	assert_int_equal(st.lat_min, 10);
	assert_int_equal(st.lat_max, 30);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 0);
	/* b and c went through the LRU, each record deleted once consumed */
	assert_int_equal(counter(f, EM_BCNT_PENDING_INSERT), 6);
	assert_int_equal(counter(f, EM_BCNT_PENDING_DELETE), 6);
	assert_false(lru_has(f, kb));
	fx_close(f);
}

/* (a) A dead thread's pending exit is not paired with a new thread reusing its tid. */
static void test_reused_tid_not_paired(void **state)
{
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXIT(f, TID(100, 101), SVM, 0x78, 0, 0);   /* VM 100 halts and is killed */
	ENTRY(f, TID(300, 101), 0, 5000000);       /* new VM 300 gets tid 101 */
	EXIT(f, TID(300, 101), SVM, 0x7b, 0, 5000010);
	ENTRY(f, TID(300, 101), 0, 5000015);
	st = reason_stats(f, SVM, 0x78);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_count, 0);
	st = reason_stats(f, SVM, 0x7b);
	assert_int_equal(st.lat_count, 1);
	assert_int_equal(st.lat_sum, 5);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 1);
	fx_close(f);
}

/*
 * (a) Same tgid, same tid and the same kvm_vcpu address: a new VM after
 * the old one's thread exited. Its first entry must not take the dead
 * VM's HLT.
 */
static void test_same_tgid_tid_reused_after_exit(void **state)
{
	uint64_t k = key_for_slot(11, 0);
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXITK(f, TID(100, 101), k, 0x78, 0); /* the last exit: HLT, never re-entered */
	THREAD_EXIT(f, TID(100, 101));
	ENTRYK(f, TID(100, 101), k, 3000000000ULL); /* the new VM's first entry */
	EXITK(f, TID(100, 101), k, 0x7b, 3000000010ULL);
	ENTRYK(f, TID(100, 101), k, 3000000015ULL);
	st = reason_stats(f, SVM, 0x78);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_count, 0);
	st = reason_stats(f, SVM, 0x7b);
	assert_int_equal(st.lat_count, 1);
	assert_int_equal(st.lat_sum, 5);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 1);
	fx_close(f);
}

/* (b) One thread runs several vCPUs: each entry pairs with its own vCPU's exit. */
static void test_one_thread_several_vcpus(void **state)
{
	uint64_t ka = key_for_slot(20, 0), kb = key_for_slot(21, 0);
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXITK(f, TID(100, 101), ka, 0x72, 0);  /* vCPU A exits */
	ENTRYK(f, TID(100, 101), kb, 10);      /* the thread switches to B: B's first entry */
	EXITK(f, TID(100, 101), kb, 0x7b, 20); /* B exits */
	ENTRYK(f, TID(100, 101), ka, 100);     /* A again: 100 after its exit */
	ENTRYK(f, TID(100, 101), kb, 130);     /* B: 110 */
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.lat_count, 1);
	assert_int_equal(st.lat_sum, 100);
	st = reason_stats(f, SVM, 0x7b);
	assert_int_equal(st.lat_count, 1);
	assert_int_equal(st.lat_sum, 110);
	assert_int_equal(counter(f, EM_CNT_UNPAIRED_ENTRY), 1);
	fx_close(f);
}

/*
 * (c) --vcpu 1 while vCPU 1 moves between threads T and U and T also runs
 * the filtered vCPU 0: every latency is vCPU 1's own exit -> entry.
 */
static void test_vcpu_filter_no_stale_pairing(void **state)
{
	struct opts o = { .vcpu = 1 };
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXIT(f, TID(100, 101), SVM, 0x72, 1, 0); /* vCPU 1 exits on T */
	ENTRY(f, TID(100, 101), 0, 5);           /* T runs vCPU 0: filtered */
	ENTRY(f, TID(100, 102), 1, 50);          /* vCPU 1 re-entered by U: 50 */
	EXIT(f, TID(100, 102), SVM, 0x72, 1, 150);
	EXIT(f, TID(100, 101), SVM, 0x7b, 0, 160); /* vCPU 0 on T: filtered */
	ENTRY(f, TID(100, 101), 1, 200);         /* vCPU 1 back on T: 50, not 200 */
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.count, 2);
	assert_int_equal(st.lat_count, 2);
	assert_int_equal(st.lat_sum, 100);
	assert_int_equal(st.lat_max, 50);
	assert_int_equal(reason_stats(f, SVM, 0x7b).count, 0);
	assert_int_equal(counter(f, EM_CNT_FILTERED), 1);
	fx_close(f);
}

/* A fast slot whose vCPU's thread exited is taken by the next vCPU hashing there. */
static void test_slot_reuse_after_thread_exit(void **state)
{
	uint64_t ka = key_for_slot(42, 0), kb = key_for_slot(42, 1);
	uint32_t idx = 42;
	struct em_pending_slot_view {
		uint64_t owner;
		struct em_pending p;
		uint8_t pad[64 - 8 - sizeof(struct em_pending)];
	} slot;
	struct fx *f;
	struct em_stats st;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	EXITK(f, TID(100, 101), ka, 0x72, 0);
	ENTRYK(f, TID(100, 101), ka, 10);      /* A owns slot 42 */
	EXITK(f, TID(200, 201), kb, 0x72, 20); /* A's thread lives: B goes to the LRU */
	assert_true(lru_has(f, kb));
	ENTRYK(f, TID(200, 201), kb, 25);
	assert_false(lru_has(f, kb));          /* consumed, deleted */
	THREAD_EXIT(f, TID(100, 101));         /* A's thread ends */
	EXITK(f, TID(200, 201), kb, 0x72, 30); /* B takes slot 42 over */
	assert_false(lru_has(f, kb));
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.pending_fast), &idx, &slot), 0);
	assert_true(slot.owner == kb);
	ENTRYK(f, TID(200, 201), kb, 37);
	st = reason_stats(f, SVM, 0x72);
	assert_int_equal(st.lat_count, 3);
	assert_int_equal(st.lat_sum, 10 + 5 + 7);
	assert_int_equal(counter(f, EM_BCNT_PENDING_INSERT), 1);
	assert_int_equal(counter(f, EM_BCNT_PENDING_DELETE), 1);
	fx_close(f);
}

/*
 * An exit reuses the rows its vCPU's record names only for the same code,
 * and the breakdown row only for the same VM and vCPU too: a slot taken
 * over from a dead vCPU of another VM holds that VM's breakdown row.
 */
static void test_exit_reuses_rows_of_same_key_only(void **state)
{
	struct opts o = { .per_vcpu = true, .breakdown_max = 8 };
	uint64_t ka = key_for_slot(43, 0), kb = key_for_slot(43, 1);
	struct em_key a = { SVM, 0x72, 100, EM_ANY_VCPU }, b = { SVM, 0x72, 200, EM_ANY_VCPU };
	struct em_key bio = { SVM, 0x7b, 200, EM_ANY_VCPU };
	struct em_stats st;
	struct fx *f;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXITK(f, TID(100, 101), ka, 0x72, 0);  /* A owns slot 43 */
	ENTRYK(f, TID(100, 101), ka, 10);
	THREAD_EXIT(f, TID(100, 101));
	EXITK(f, TID(200, 201), kb, 0x72, 20); /* B takes it over: same code, another VM */
	ENTRYK(f, TID(200, 201), kb, 25);
	EXITK(f, TID(200, 201), kb, 0x72, 30); /* B again: its own rows, from its record */
	ENTRYK(f, TID(200, 201), kb, 37);
	EXITK(f, TID(200, 201), kb, 0x7b, 40); /* another code: looked up */
	ENTRYK(f, TID(200, 201), kb, 41);
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &a, &st));
	assert_int_equal(st.count, 1);
	assert_int_equal(st.lat_sum, 10);
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &b, &st));
	assert_int_equal(st.count, 2);
	assert_int_equal(st.lat_sum, 5 + 7);
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &bio, &st));
	assert_int_equal(st.count, 1);
	assert_int_equal(reason_stats(f, SVM, 0x72).count, 3);
	assert_int_equal(reason_stats(f, SVM, 0x7b).count, 1);
	assert_int_equal(reason_stats(f, SVM, 0x7b).lat_sum, 1);
	fx_close(f);
}

/* An exit on one CPU and its entry on another: count on the first, latency on the second. */
static void test_exit_and_entry_on_different_cpus(void **state)
{
	uint64_t k = key_for_slot(99, 0);
	uint32_t slot = em_slot(SVM, 0x72);
	struct em_kstats *vals;
	struct fx *f;

	(void)state;
	NEED_ENV();
	f = fx_open(NULL);
	if (f->ncpu < 2) {
		fx_close(f);
		print_message("skip: needs 2 CPUs\n");
		skip();
	}
	ev_on(f, 0, 0, TID(100, 101), SVM, 0x72, EM_ANY_VCPU, T0, k);
	ev_on(f, 1, 1, TID(100, 101), 0, 0, EM_ANY_VCPU, T0 + 40, k);
	vals = calloc(f->ncpu, sizeof(*vals));
	assert_non_null(vals);
	slot = slot_row(f, slot);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stats), &slot, vals), 0);
	assert_int_equal(vals[0].count, 1);
	assert_int_equal(vals[0].lat_count, 0);
	assert_int_equal(vals[1].count, 0);
	assert_int_equal(vals[1].lat_count, 1);
	assert_int_equal(vals[1].lat_sum, 40);
	free(vals);
	fx_close(f);
}

/*
 * u32 buckets: a bucket that passes 2^32 wraps to 0 and leaves one carry
 * in hist_carry, for a stats row (keyed by its row) and for a breakdown
 * key (by the key); the exact sum is 2^32 per carry plus the buckets.
 */
static void test_hist_bucket_wrap_carries(void **state)
{
	struct opts o = { .per_vcpu = true, .breakdown_max = 8 };
	struct em_key bk = { SVM, 0x72, 100, 0 }, rk;
	struct em_carry_key ck;
	struct em_kstats *vals;
	struct em_bd_row bv;
	struct em_stats st;
	uint32_t row, b = em_hist_bucket(40), bi;
	uint64_t n, one_cpu_wrap;
	struct fx *f;
	int cpu;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	ENTRY(f, TID(100, 101), 0, 40);
	row = slot_row(f, em_slot(SVM, 0x72));
	assert_int_not_equal(row, EM_ROW_OTHER);
	/* every CPU's bucket at 2^32 - 1; the breakdown value's too */
	vals = calloc(f->ncpu, sizeof(*vals));
	assert_non_null(vals);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stats), &row, vals), 0);
	for (cpu = 0; cpu < f->ncpu; cpu++)
		vals[cpu].hist[b] = UINT32_MAX;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.stats), &row, vals, 0), 0);
	assert_true(bd_row(f, &bk, &bi, &bv));
	bv.st.hist[b] = UINT32_MAX;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.breakdown), &bi, &bv, 0), 0);

	ev_on(f, 0, 0, TID(100, 101), SVM, 0x72, 0, T0 + 100, 0);
	ev_on(f, 0, 1, TID(100, 101), 0, 0, 0, T0 + 140, 0); /* 40 ns again, on CPU 0 */

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stats), &row, vals), 0);
	assert_int_equal(vals[0].hist[b], 0); /* wrapped */
	rk = em_carry_row_key(row);
	ck = (struct em_carry_key){ .key = rk, .bucket = b };
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.hist_carry), &ck, &n), 0);
	assert_int_equal(n, 1);
	ck = (struct em_carry_key){ .key = bk, .bucket = b };
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.hist_carry), &ck, &n), 0);
	assert_int_equal(n, 1);

	/* exact: ncpu x (2^32 - 1) in the buckets + the one sample that wrapped */
	one_cpu_wrap = (uint64_t)f->ncpu * UINT32_MAX + 1;
	assert_true(lookup_sum(f, f->skel->maps.stats, &row, &st));
	assert_int_equal(st.hist[b], one_cpu_wrap);
	assert_int_equal(st.lat_count, 2);
	assert_true(lookup_sum(f, f->skel->maps.breakdown, &bk, &st));
	assert_int_equal(st.hist[b], (uint64_t)UINT32_MAX + 1);
	assert_int_equal(counter(f, EM_CNT_HIST_CARRY_LOST), 0);
	free(vals);
	fx_close(f);
}

/* A wrap that finds hist_carry full is counted, never silent. */
static void test_hist_carry_full_counted(void **state)
{
	struct em_key bk = { SVM, 0x72, 100, 0 };
	struct em_carry_key ck = { .key = { 9, 9, 9, 9 } };
	struct em_bd_row bv;
	struct opts o = { .per_vcpu = true, .breakdown_max = 8 };
	uint64_t one = 1;
	uint32_t b = em_hist_bucket(40), i, bi;
	struct fx *f;

	(void)state;
	NEED_ENV();
	f = fx_open(&o);
	for (i = 0; i < EM_CARRY_KEYS; i++) {
		ck.bucket = i;
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.hist_carry), &ck, &one,
						     BPF_NOEXIST), 0);
	}
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 0);
	ENTRY(f, TID(100, 101), 0, 40);
	assert_true(bd_row(f, &bk, &bi, &bv));
	bv.st.hist[b] = UINT32_MAX;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.breakdown), &bi, &bv, 0), 0);
	EXIT(f, TID(100, 101), SVM, 0x72, 0, 100);
	ENTRY(f, TID(100, 101), 0, 140);
	assert_int_equal(counter(f, EM_CNT_HIST_CARRY_LOST), 1);
	fx_close(f);
}

/* The real programs, on this kernel's kvm tracepoints; skips where kvm is absent. */
static struct em_collector *collector_or_skip(const struct em_collector_cfg *o)
{
	char err[512];
	struct em_collector *c = em_collector_open(o, err, sizeof(err));

	if (!c && strstr(err, "kvm tracepoints not found")) {
		print_message("skip: %s\n", err);
		skip();
	}
	if (!c)
		fail_msg("attach failed: %s", err);
	return c;
}

/* The real programs, on this kernel's kvm tracepoints. */
static void test_load_attach_real(void **state)
{
	struct em_collector_cfg o;
	struct em_collector *c;
	struct em_snapshot s;

	(void)state;
	NEED_ENV();
	memset(&o, 0, sizeof(o));
	o.filters.vcpu = -1;
	o.max_keys = 64;
	o.isa = EM_ISA_SVM;
	o.filters.per_vcpu = o.filters.per_vm = true;
	c = collector_or_skip(&o);
	em_snapshot_init(&s);
	s.meta.filters = o.filters;
	assert_int_equal(em_collector_read(c, &s), 0);
	print_message("# attached with %s; %zu rows (no VM runs here); maps hold %llu KiB\n",
		      em_collector_attach_name(c), s.nrows,
		      (unsigned long long)em_collector_map_bytes(c) >> 10);
	/* at least the stats array: EM_ROWS values per possible CPU */
	assert_true(em_collector_map_bytes(c) >=
		    (uint64_t)EM_ROWS * sizeof(struct em_kstats) * libbpf_num_possible_cpus());
	em_snapshot_free(&s);
	em_collector_close(c);
}

/*
 * The collector's read path (batched array read, slot -> code inverse,
 * per-CPU sums, hash and counters) on values written into the real maps.
 */
static void test_collector_reads_maps(void **state)
{
	static const struct {
		uint32_t isa, reason;
	} codes[] = {
		{ EM_ISA_VMX, 0 }, { EM_ISA_VMX, 14 }, { EM_ISA_VMX, EM_VMX_SLOTS - 1 },
		{ EM_ISA_SVM, 0 }, { EM_ISA_SVM, 0x72 }, { EM_ISA_SVM, 0xff },
		{ EM_ISA_SVM, 0x400 }, { EM_ISA_SVM, 0x403 }, { EM_ISA_SVM, 0xffffffff },
	};
	struct em_collector_cfg o;
	struct em_collector *c;
	struct em_snapshot s;
	struct em_kstats *vals;
	struct em_key k = { EM_ISA_VMX, 0x80000021, EM_ANY_PID, EM_ANY_VCPU };
	uint64_t *cnt;
	int ncpu = libbpf_num_possible_cpus(), cpu;
	size_t i, j;
	uint32_t slot, idx = EM_CNT_FILTERED;
	uint64_t row;

	(void)state;
	NEED_ENV();
	memset(&o, 0, sizeof(o));
	o.filters.vcpu = -1;
	o.isa = EM_ISA_SVM;
	c = collector_or_skip(&o);
	vals = calloc(ncpu, sizeof(*vals));
	cnt = calloc(ncpu, sizeof(*cnt));
	assert_non_null(vals);
	assert_non_null(cnt);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		memset(vals, 0, ncpu * sizeof(*vals));
		for (cpu = 0; cpu < ncpu; cpu++) {
			vals[cpu].count = 10 * (i + 1) + cpu; /* differs per CPU: sums are checked */
			vals[cpu].lat_count = 1;
			vals[cpu].lat_sum = 100 + cpu;
			vals[cpu].lat_min = 100 + cpu;
			vals[cpu].lat_max = 100 + cpu;
			vals[cpu].hist[em_hist_bucket(100 + cpu)] = 1;
		}
		/* as a first exit does: give the slot a row, then count in it */
		slot = em_slot(codes[i].isa, codes[i].reason);
		assert_true(slot < EM_NSLOTS);
		row = i + 1;
		assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "row_of"), &slot, &row, 0), 0);
		assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "stats"), &(uint32_t){ row },
						     vals, 0), 0);
	}
	/* a code outside the slots, counted in the row its "other" key names */
	memset(vals, 0, ncpu * sizeof(*vals));
	vals[0].count = 3;
	row = EM_ROWS - 1;
	assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "other_row"), &k, &row, 0), 0);
	assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "stats"), &(uint32_t){ row },
					     vals, 0), 0);
	/* rows handed out so far (the collector reads only those and OTHER) */
	slot = EM_NSLOTS;
	row = EM_ROWS - 1;
	assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "row_of"), &slot, &row, 0), 0);
	/* two wraps of row 1's bucket of 100 ns (codes[0]) */
	{
		struct em_carry_key ck = { .key = em_carry_row_key(1), .bucket = em_hist_bucket(100) };
		uint64_t two = 2;

		assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "hist_carry"), &ck, &two, 0), 0);
	}
	cnt[ncpu - 1] = 42;
	assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "counters"), &idx, cnt, 0), 0);
	/* pending_full = inserted - deleted - left in the LRU + refused: 10 - 3 - 2 + 1 */
	{
		static const struct { uint32_t idx; uint64_t v; } bc[] = {
			{ EM_BCNT_PENDING_INSERT, 10 }, { EM_BCNT_PENDING_DELETE, 3 },
			{ EM_BCNT_PENDING_INSERT_FAIL, 1 },
		};
		struct em_pending pend = { 0 };
		uint64_t key;

		for (j = 0; j < 3; j++) {
			memset(cnt, 0, ncpu * sizeof(*cnt));
			cnt[0] = bc[j].v;
			assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "counters"),
							     &bc[j].idx, cnt, 0), 0);
		}
		for (key = 1; key <= 2; key++)
			assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "pending"), &key,
							     &pend, 0), 0);
	}

	em_snapshot_init(&s);
	assert_int_equal(em_collector_read(c, &s), 0);
	assert_int_equal(s.nrows, sizeof(codes) / sizeof(codes[0]) + 1);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		uint64_t want = 0;

		for (cpu = 0; cpu < ncpu; cpu++)
			want += 10 * (i + 1) + cpu;
		for (j = 0; j < s.nrows; j++)
			if (s.rows[j].isa == codes[i].isa && s.rows[j].reason == codes[i].reason)
				break;
		assert_true(j < s.nrows);
		assert_int_equal(s.rows[j].st.count, want);
		assert_int_equal(s.rows[j].st.lat_count, ncpu);
		assert_int_equal(s.rows[j].st.lat_min, 100);
		assert_int_equal(s.rows[j].st.lat_max, 100 + ncpu - 1);
		assert_int_equal(em_hist_total(&s.rows[j].st), ncpu + (i == 0 ? 2ull << 32 : 0));
	}
	assert_int_equal(em_snapshot_row(&s, EM_ISA_VMX, 0x80000021, EM_ANY_PID, EM_ANY_VCPU)->st.count, 3);
	assert_int_equal(s.counters[EM_CNT_FILTERED], 42);
	assert_int_equal(s.counters[EM_CNT_PENDING_FULL], 6);
	assert_int_equal(s.counters[EM_CNT_RECURSION_MISSES], 0);
	{
		uint64_t rows = 0, lat = 0;

		for (j = 0; j < s.nrows; j++) {
			rows += s.rows[j].st.count;
			lat += s.rows[j].st.lat_count;
		}
		/* derived: exits = counts + filtered, entries = paired + unpaired (0) */
		assert_int_equal(s.counters[EM_CNT_EXITS], rows + 42);
		assert_int_equal(s.counters[EM_CNT_ENTRIES], lat);
	}
	em_snapshot_free(&s);
	free(vals);
	free(cnt);
	em_collector_close(c);
}

static void test_attach_raw_tp_or_clear_error(void **state)
{
	struct em_collector_cfg o;
	struct em_collector *c;
	char err[512] = "";

	(void)state;
	NEED_ENV();
	memset(&o, 0, sizeof(o));
	o.filters.vcpu = -1;
	o.attach = EM_COLL_ATTACH_RAW_TP;
	o.isa = EM_ISA_SVM;
	c = em_collector_open(&o, err, sizeof(err));
	if (c) {
		assert_string_equal(em_collector_attach_name(c), "raw_tp");
		em_collector_close(c);
	} else {
		/* kernels without the vendor vCPU type in BTF must say so, not fail obscurely */
		assert_non_null(strstr(err, "raw_tp needs"));
		print_message("# raw_tp unavailable here: %s\n", err);
	}
}

/* The tracefs-offset mode loads and attaches to this kernel's classic tracepoints. */
static void test_attach_tp_format(void **state)
{
	struct em_collector_cfg o;
	struct em_collector *c;
	struct em_snapshot s;

	(void)state;
	NEED_ENV();
	memset(&o, 0, sizeof(o));
	o.filters.vcpu = -1;
	o.attach = EM_COLL_ATTACH_TP_FORMAT;
	o.isa = EM_ISA_SVM;
	c = collector_or_skip(&o);
	assert_string_equal(em_collector_attach_name(c), "tp_format");
	em_snapshot_init(&s);
	assert_int_equal(em_collector_read(c, &s), 0);
	em_snapshot_free(&s);
	em_collector_close(c);
}

/*
 * The breakdown read: batched over the plain hash; --per-vm sums a VM's
 * vCPU keys into one row, --per-vcpu keeps them. --max-keys is bounded by
 * the bytes it takes, and the refusal names the option.
 */
static void test_collector_breakdown_rows(void **state)
{
	struct em_collector_cfg o;
	struct em_collector *c;
	struct em_snapshot s;
	struct em_bd_row r;
	char err[512] = "";
	uint32_t v, k = EM_ROW_OF_BD_NEXT;
	uint64_t next = 601;
	int pass;

	(void)state;
	NEED_ENV();
	for (pass = 0; pass < 2; pass++) {
		memset(&o, 0, sizeof(o));
		o.filters.vcpu = -1;
		o.isa = EM_ISA_SVM;
		o.max_keys = 1024;
		o.filters.per_vm = true;
		o.filters.per_vcpu = pass == 1;
		c = collector_or_skip(&o);
		/* 600 rows handed out as exits hand them out, and an empty one (a lost claim race) */
		for (v = 0; v <= 600; v++) {
			memset(&r, 0, sizeof(r));
			r.st.count = v < 600 ? v + 1 : 0;
			r.key = (struct em_key){ SVM, 0x72, 100 + v % 2, v < 600 ? v : 0 };
			assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "breakdown"), &v, &r, 0), 0);
		}
		assert_int_equal(bpf_map_update_elem(em_collector_map_fd(c, "row_of"), &k, &next, 0), 0);
		em_snapshot_init(&s);
		s.meta.filters = o.filters;
		assert_int_equal(em_collector_read(c, &s), 0);
		if (pass == 0) {
			/* VM 100: vCPUs 0, 2, ..., 598 -> counts 1 + 3 + ... + 599 = 300^2 */
			assert_int_equal(em_snapshot_row(&s, SVM, 0x72, 100, EM_ANY_VCPU)->st.count, 90000);
			assert_int_equal(em_snapshot_row(&s, SVM, 0x72, 101, EM_ANY_VCPU)->st.count, 90300);
			assert_int_equal(s.nrows, 2);
		} else {
			assert_int_equal(s.nrows, 600);
			assert_int_equal(em_snapshot_row(&s, SVM, 0x72, 101, 599)->st.count, 600);
		}
		em_snapshot_free(&s);
		em_collector_close(c);
	}
	o.max_keys = 65536;
	c = em_collector_open(&o, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "--max-keys 65536 needs"));
	assert_non_null(strstr(err, "use --max-keys"));
}

/* A --reason code without a slot would silently drop every exit: refused. */
static void test_reason_without_slot_refused(void **state)
{
	struct em_collector_cfg o;
	struct em_collector *c;
	char err[512] = "";

	(void)state;
	NEED_ENV();
	memset(&o, 0, sizeof(o));
	o.filters.vcpu = -1;
	o.isa = EM_ISA_SVM;
	o.filters.nreasons = 2;
	o.filters.reasons[0] = 0xfffffffe; /* BUSY: has a slot */
	o.filters.reasons[1] = 0x500;      /* none */
	c = em_collector_open(&o, err, sizeof(err));
	if (!c && strstr(err, "kvm tracepoints not found")) {
		print_message("skip: %s\n", err);
		skip();
	}
	assert_null(c);
	assert_non_null(strstr(err, "--reason 0x500: exitmon has no slot"));
	o.filters.nreasons = 1;
	c = em_collector_open(&o, err, sizeof(err));
	assert_non_null(c);
	em_collector_close(c);
}

/* --- kvm_exit prototypes from BTF built here (clang -g), no root needed --- */

static const char btf_fixture_src[] =
	"struct kvm_vcpu { int vcpu_id; };\n"
	"typedef unsigned int u32;\n"
	"#if LAYOUT == 1 /* 5.16+ (6.9+ entry) */\n"
	"typedef void (*btf_trace_kvm_exit)(void *, struct kvm_vcpu *, u32);\n"
	"typedef void (*btf_trace_kvm_entry)(void *, struct kvm_vcpu *, _Bool);\n"
	"#elif LAYOUT == 0 /* 5.12-5.15 */\n"
	"typedef void (*btf_trace_kvm_exit)(void *, unsigned int, struct kvm_vcpu *, u32);\n"
	"typedef void (*btf_trace_kvm_entry)(void *, struct kvm_vcpu *);\n"
	"#elif LAYOUT == 2 /* unknown exit: a 64-bit reason */\n"
	"typedef void (*btf_trace_kvm_exit)(void *, struct kvm_vcpu *, unsigned long, u32);\n"
	"typedef void (*btf_trace_kvm_entry)(void *, struct kvm_vcpu *);\n"
	"#elif LAYOUT == 3 /* unknown entry: by vCPU id, as before 5.10 */\n"
	"typedef void (*btf_trace_kvm_exit)(void *, struct kvm_vcpu *, u32);\n"
	"typedef void (*btf_trace_kvm_entry)(void *, unsigned int);\n"
	"#elif LAYOUT == 4 /* no kvm tracepoints */\n"
	"typedef int btf_trace_other;\n"
	"#define btf_trace_kvm_exit btf_trace_other\n"
	"#define btf_trace_kvm_entry btf_trace_other\n"
	"#endif\n"
	"btf_trace_kvm_exit e;\n"
	"btf_trace_kvm_entry n;\n";

/* BTF of the fixture with LAYOUT=layout, or NULL (skip) when clang is missing. */
static struct btf *fixture_btf(int layout)
{
	char dir[] = "/tmp/exitmon-btf.XXXXXX", src[64], obj[64], cmd[256];
	struct btf *btf;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/layout.c", dir);
	snprintf(obj, sizeof(obj), "%s/layout.o", dir);
	fp = fopen(src, "w");
	assert_non_null(fp);
	fputs(btf_fixture_src, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "clang -g -O2 -target bpf -DLAYOUT=%d -c %s -o %s 2>/dev/null",
		 layout, src, obj);
	btf = system(cmd) ? NULL : btf__parse(obj, NULL);
	unlink(obj);
	unlink(src);
	rmdir(dir);
	return btf;
}

static void test_kvm_tp_layouts_from_btf(void **state)
{
	static const struct {
		int layout;
		enum em_kvm_layout want;
		const char *err;
	} cases[] = {
		{ 1, EM_KVM_LAYOUT_NEW, NULL },
		{ 0, EM_KVM_LAYOUT_OLD, NULL },
		{ 2, EM_KVM_LAYOUT_UNKNOWN, "kvm_exit tracepoint has an unknown prototype (3 arguments)" },
		{ 3, EM_KVM_LAYOUT_UNKNOWN, "kvm_entry tracepoint has an unknown prototype" },
		{ 4, EM_KVM_LAYOUT_UNKNOWN, "btf_trace_kvm_exit not in kernel BTF" },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct btf *btf = fixture_btf(cases[i].layout);

		if (!btf) {
			print_message("skip: clang -g -target bpf failed (clang missing?)\n");
			skip();
		}
		err[0] = '\0';
		assert_int_equal(em_kvm_tp_layout(btf, err, sizeof(err)), cases[i].want);
		if (cases[i].err)
			assert_non_null(strstr(err, cases[i].err));
		btf__free(btf);
	}
}

/* A kvm_exit format as tracefs printed it on 6.18 (first fields). */
static const char kvm_exit_format[] =
	"name: kvm_exit\nID: 103\nformat:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
	"\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;\n"
	"\nprint fmt: \"vcpu %u reason %s\", REC->vcpu_id, REC->exit_reason\n";

static void test_tp_format_offsets(void **state)
{
	char err[256];
	uint32_t off = 0;

	(void)state;
	assert_int_equal(em_tp_format_offset(kvm_exit_format, "exit_reason", &off, err, sizeof(err)), 0);
	assert_int_equal(off, 8);
	assert_int_equal(em_tp_format_offset(kvm_exit_format, "isa", &off, err, sizeof(err)), 0);
	assert_int_equal(off, 24);
	assert_int_equal(em_tp_format_offset(kvm_exit_format, "vcpu_id", &off, err, sizeof(err)), 0);
	assert_int_equal(off, 56);
	/* a suffix of a field is not that field */
	assert_int_equal(em_tp_format_offset(kvm_exit_format, "reason", &off, err, sizeof(err)), -1);
	assert_string_equal(err, "no field 'reason'");
	/* not a u32 */
	assert_int_equal(em_tp_format_offset(kvm_exit_format, "guest_rip", &off, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "size 8"));
	assert_int_equal(em_tp_format_offset("field:u32 isa;\toffset:99999;\tsize:4;", "isa", &off,
					     err, sizeof(err)), -1);
	assert_int_equal(em_tp_format_offset("", "isa", &off, err, sizeof(err)), -1);
}

static void test_kernel_version(void **state)
{
	unsigned maj = 0, min = 0;

	(void)state;
	assert_int_equal(em_kernel_version("5.15.0-91-generic", &maj, &min), 0);
	assert_int_equal(maj, 5);
	assert_int_equal(min, 15);
	assert_int_equal(em_kernel_version("6.1.0-56-amd64", &maj, &min), 0);
	assert_int_equal(min, 1);
	assert_int_equal(em_kernel_version("4.19", &maj, &min), 0);
	assert_int_equal(maj, 4);
	assert_int_equal(em_kernel_version("6", &maj, &min), -1);
	assert_int_equal(em_kernel_version("x.y", &maj, &min), -1);
	assert_int_equal(em_kernel_version(NULL, &maj, &min), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing_single_thread),
		cmocka_unit_test(test_interleaved_threads),
		cmocka_unit_test(test_entry_without_exit),
		cmocka_unit_test(test_exit_without_entry),
		cmocka_unit_test(test_reason_filter),
		cmocka_unit_test(test_vmx_flags_pass_basic_filter),
		cmocka_unit_test(test_pid_and_vcpu_filters),
		cmocka_unit_test(test_out_of_table_codes),
		cmocka_unit_test(test_rows_on_first_use_and_overflow),
		cmocka_unit_test(test_isas_do_not_collide),
		cmocka_unit_test(test_breakdown_per_vcpu),
		cmocka_unit_test(test_breakdown_per_vm_keys_by_vcpu),
		cmocka_unit_test(test_histogram_edges),
		cmocka_unit_test(test_pending_slot_collision),
		cmocka_unit_test(test_reused_tid_not_paired),
		cmocka_unit_test(test_same_tgid_tid_reused_after_exit),
		cmocka_unit_test(test_one_thread_several_vcpus),
		cmocka_unit_test(test_vcpu_filter_no_stale_pairing),
		cmocka_unit_test(test_slot_reuse_after_thread_exit),
		cmocka_unit_test(test_exit_reuses_rows_of_same_key_only),
		cmocka_unit_test(test_exit_and_entry_on_different_cpus),
		cmocka_unit_test(test_hist_bucket_wrap_carries),
		cmocka_unit_test(test_hist_carry_full_counted),
		cmocka_unit_test(test_load_attach_real),
		cmocka_unit_test(test_collector_reads_maps),
		cmocka_unit_test(test_attach_raw_tp_or_clear_error),
		cmocka_unit_test(test_attach_tp_format),
		cmocka_unit_test(test_reason_without_slot_refused),
		cmocka_unit_test(test_collector_breakdown_rows),
		cmocka_unit_test(test_kvm_tp_layouts_from_btf),
		cmocka_unit_test(test_tp_format_offsets),
		cmocka_unit_test(test_kernel_version),
	};

	check_env();
	return cmocka_run_group_tests_name("bpf", tests, setup, NULL);
}
