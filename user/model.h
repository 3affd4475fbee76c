/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * exitmon's in-memory picture of one run: metadata plus rows of stats.
 * The collector fills it from the maps, render prints it, snapshot
 * saves/loads it, diff compares two of them. Pure data, no libbpf.
 */
#ifndef EXITMON_MODEL_H
#define EXITMON_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "exitmon.h"
#include "hist.h"
#include "labels.h"

/* Snapshot file format written (1 is still read; docs/snapshots.md). */
#define EM_FORMAT_VERSION 2
#define EM_MAX_FILTER_REASONS 64
#define EM_MAX_PARAMS 16

/*
 * The (bucket, count) pairs of rows (hist.h) live in an arena owned by a
 * snapshot (em_snapshot.hist) or by the caller: chunks that never move,
 * freed all at once, so a row (and a copy of the struct) stays valid while
 * its arena lives, and a run loop that resets its snapshots every refresh
 * allocates nothing new. Two row structs copied from one another share
 * their pairs: add to one of them only.
 */
struct em_arena_chunk;
struct em_arena {
	struct em_arena_chunk *head, *cur; /* cur: the chunk being filled */
};

/*
 * Rows with tgid == EM_ANY_PID and vcpu == EM_ANY_VCPU are the per-reason
 * totals and are always present for every reason seen. With --per-vm the
 * snapshot also has rows (tgid, EM_ANY_VCPU); with --per-vcpu rows
 * (tgid, vcpu) (a vCPU id alone is ambiguous across VMs).
 */
struct em_row {
	uint32_t isa;
	uint32_t reason; /* raw exit code */
	uint32_t tgid;   /* EM_ANY_PID unless --per-vm */
	uint32_t vcpu;   /* EM_ANY_VCPU unless --per-vcpu */
	uint32_t approx; /* EM_APPROX_MIN/MAX: lat_min/lat_max are histogram bounds */
	struct em_rstats st; /* summed over CPUs; buckets in the snapshot's arena */
};

struct em_param {
	char name[48];
	char value[48];
};

struct em_filters {
	uint32_t nreasons;
	uint32_t reasons[EM_MAX_FILTER_REASONS]; /* raw codes of em_meta.isa */
	uint32_t pid;  /* 0 = any */
	int64_t vcpu;  /* -1 = any */
	bool per_vm;
	bool per_vcpu;
};

struct em_meta {
	char exitmon_version[32];
	char hostname[256];
	char kernel[128];
	char cpu_vendor[32];
	char cpu_model[128];
	uint32_t isa;         /* EM_ISA_VMX / EM_ISA_SVM, 0 = unknown */
	uint32_t nparams;
	struct em_param params[EM_MAX_PARAMS]; /* KVM module parameters, e.g. npt=1 */
	int64_t start_ns;     /* wall clock (CLOCK_REALTIME) of the start, ns */
	uint64_t duration_ns; /* length of the run */
	struct em_filters filters;
	char attach[16];      /* attach mode ("raw_tp", "tp"), "" = unknown (v1 files) */
	bool interval;        /* the rows are one interval's deltas, not cumulative */
	/* histogram layout the data was recorded with (a file's, before re-bucketing) */
	struct em_hist_layout hist_layout;
};

/*
 * Rows are an array (in insertion order, which is the file order of a
 * snapshot) plus an open-addressing hash index over the identity (isa,
 * reason, tgid, vcpu), so finding or adding a row is O(1) with 65,536 live
 * breakdown keys. The index follows the array lazily: it covers rows
 * [0, nindexed); code that appends rows directly is indexed on the next
 * lookup, and code that shrinks nrows (the collector restarting a read,
 * a filter compacting rows) makes the next lookup rebuild it.
 */
struct em_snapshot {
	struct em_meta meta;
	uint64_t counters[EM_CNT__MAX];
	size_t nrows;
	size_t cap;
	struct em_row *rows;
	uint32_t *index;  /* slots: row index + 1, 0 = empty */
	size_t index_cap; /* power of two, >= 2 * nindexed; 0 = none */
	size_t nindexed;
	struct em_arena hist; /* the rows' pairs; reset when rows restart (nrows = 0, then em_snapshot_row) */
	struct em_labels labels; /* VM and vCPU names of the breakdown rows */
};

/* Names of enum em_counter, as in JSON output and snapshots. */
extern const char *const em_counter_names[EM_CNT__MAX];

void em_snapshot_init(struct em_snapshot *s);
void em_snapshot_free(struct em_snapshot *s);
/* Row with this identity, created zeroed if absent; NULL on ENOMEM. */
struct em_row *em_snapshot_row(struct em_snapshot *s, uint32_t isa, uint32_t reason,
			       uint32_t tgid, uint32_t vcpu);
/*
 * Row with this identity or NULL. O(1) when the index covers every row
 * (em_snapshot_reindex(), or rows added by em_snapshot_row()), a linear
 * search otherwise (s is const here).
 */
const struct em_row *em_snapshot_find(const struct em_snapshot *s, uint32_t isa, uint32_t reason,
				      uint32_t tgid, uint32_t vcpu);
/*
 * Brings the index up to date with the rows. Returns 0, -ENOMEM, or
 * -EEXIST with *dup = the index of the first row whose identity an
 * earlier row already has (dup may be NULL).
 */
int em_snapshot_reindex(struct em_snapshot *s, size_t *dup);
/* Adds b's stats into a (count, sums, min, max, histogram): dense, the collector's per-CPU sum. */
void em_stats_add(struct em_stats *a, const struct em_stats *b);

void em_arena_free(struct em_arena *a);
/* Forgets every allocation (their memory is reused): nothing may point into a any more. */
void em_arena_reset(struct em_arena *a);
/* Room for n <= EM_HIST_BUCKETS pairs, NULL on ENOMEM. */
struct em_hb *em_arena_alloc(struct em_arena *a, uint32_t n);

/* a += b, a's new buckets in arena ar: 0 or -ENOMEM (a unchanged). */
int em_rstats_add(struct em_arena *ar, struct em_rstats *a, const struct em_rstats *b);
/* The same with b dense (the collector's sum over CPUs). */
int em_rstats_add_dense(struct em_arena *ar, struct em_rstats *a, const struct em_stats *b);
/* n samples in native bucket b (no other field changes): 0 or -ENOMEM. */
int em_rstats_add_bucket(struct em_arena *ar, struct em_rstats *a, uint32_t b, uint64_t n);
/* Adds n latency samples of lat ns, as em_stats_add_latency() does to the dense form. */
int em_rstats_add_latency(struct em_arena *ar, struct em_rstats *a, uint64_t lat, uint64_t n);
/* Samples in native bucket b. */
uint64_t em_rstats_bucket(const struct em_rstats *a, uint32_t b);
/* Dense a += sparse b: sums without allocating (the TOTAL line's latency). */
void em_stats_add_rstats(struct em_stats *a, const struct em_rstats *b);
/* out = d's values, its pairs in buf (no arena: out lives as long as buf). */
void em_rstats_view(struct em_rstats *out, const struct em_stats *d, struct em_hb buf[EM_HIST_BUCKETS]);
/* The collector's row add: r += st, r's buckets in s's arena. 0 or -ENOMEM. */
int em_snapshot_add_stats(struct em_snapshot *s, struct em_row *r, const struct em_stats *st);
/*
 * The interval out = cur - prev of two cumulative readings of one row.
 * Counts, sums and the histogram subtract exactly. Min and max of the
 * interval are exact when knowable: no earlier samples, a new record
 * (cur below prev's min / above prev's max), one sample (= the sum), two
 * samples with one extreme exact (the other = sum - it), or an extreme
 * bucket holding one value. Otherwise they are bounds from the interval's
 * histogram: min = the lower bound of its lowest non-empty bucket, max =
 * the upper bound of its highest, both within [cur min, cur max]. Sets
 * *approx to the EM_APPROX_* bits of the fields that are bounds. out's
 * buckets are allocated in ar; 0 or -ENOMEM. Walks only non-empty buckets.
 */
int em_stats_sub(struct em_arena *ar, struct em_rstats *out, const struct em_rstats *cur,
		 const struct em_rstats *prev, uint32_t *approx);
/* Room for n rows (and their index) without further allocation: 0 or -ENOMEM. */
int em_snapshot_reserve(struct em_snapshot *s, size_t n);
/*
 * dst = src (rows, meta, counters), reusing dst's buffers: a run loop
 * that keeps its snapshots between refreshes touches no new memory.
 */
int em_snapshot_copy(struct em_snapshot *dst, const struct em_snapshot *src);
/*
 * out = cur - prev row by row (rows absent in prev count from zero; rows
 * that did not move are left out); prev NULL copies cur. out's rows are
 * replaced and its buffers reused, so pass the same out every interval.
 * 0 or -ENOMEM.
 */
int em_snapshot_delta(struct em_snapshot *out, const struct em_snapshot *cur,
		      const struct em_snapshot *prev);
static inline bool em_row_is_total(const struct em_row *r)
{
	return r->tgid == EM_ANY_PID && r->vcpu == EM_ANY_VCPU;
}

/*
 * True when reasons is empty or holds r's code; VMX flag bits (e.g.
 * FAILED_VMENTRY) do not hide the basic reason, as in the BPF filter.
 */
bool em_row_matches(const struct em_row *r, const uint32_t *reasons, size_t n);

/* Sum of counts over the per-reason total rows. */
uint64_t em_snapshot_total(const struct em_snapshot *s);

#endif
