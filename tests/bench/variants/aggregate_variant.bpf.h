/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * BENCHMARK COPY of bpf/aggregate.bpf.h with compile-time knobs, used by
 * tests/bench only to find where the time goes. Not used by exitmon.
 *   EMB_NO_CNT        drop the EXITS / ENTRIES counters (derivable in user
 *                     space: exits = sum(count) + filtered, entries =
 *                     sum(lat_count) + unpaired)
 *   EMB_TASK_STORAGE  keep the pending exit in task-local storage instead of
 *                     the LRU hash keyed by tid (needs a task: tracing progs)
 *   EMB_DIRECT_PENDING a direct-mapped ARRAY (slot tid % 8192) in front of
 *                     the LRU hash for the pending exit (see below)
 *   EMB_NO_HIST       skip the histogram update (measurement only)
 * Without knobs it is byte-for-byte the same logic as bpf/aggregate.bpf.h.
 *
 * The inline core of exitmon's handlers: maps, filters and the exit/entry
 * aggregation. Included by exitmon.bpf.c (real tracepoints) and by
 * exitmon_test.bpf.c (raw_tp programs driven by BPF_PROG_TEST_RUN), so the
 * tests exercise exactly this code. Inputs are plain values (pid_tgid,
 * isa, reason, vcpu, time) so the caller decides where they come from.
 */
#ifndef EXITMON_AGGREGATE_BPF_H
#define EXITMON_AGGREGATE_BPF_H
#define EMB_VARIANT 1

#include "exitmon.h"

/* Filters and options: read-only data, fixed by user space before load. */
const volatile __u32 filter_tgid = 0;          /* 0 = any VM process */
const volatile __u32 filter_vcpu = EM_ANY_VCPU; /* EM_ANY_VCPU = any vCPU */
const volatile bool filter_reasons_on = false;
const volatile __u64 filter_reasons[EM_FILTER_WORDS] = {}; /* bitmap over slots */
const volatile bool breakdown_vm = false;
const volatile bool breakdown_vcpu = false;

/* Per (isa, reason) stats for every code an architecture defines. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EM_NSLOTS);
	__type(key, __u32);
	__type(value, struct em_stats);
} stats SEC(".maps");

/* Codes outside the dense slots, by exact raw value; bounded. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, struct em_key);
	__type(value, struct em_stats);
} other_stats SEC(".maps");

/*
 * Per VM / per vCPU breakdown, only when asked for (user space sets
 * max_entries; 1 otherwise). Allocated on use: most slots stay empty.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct em_key);
	__type(value, struct em_stats);
} breakdown SEC(".maps");

/*
 * Exit awaiting its entry, per vCPU thread. LRU so threads of VMs that
 * are gone get evicted: memory stays bounded whatever the number of VMs.
 */
#ifdef EMB_TASK_STORAGE
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct em_pending);
} pending SEC(".maps");
#define EMB_PENDING_GET(tidp) \
	((void)(tidp), (struct em_pending *)bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0))
#define EMB_PENDING_NEW(tidp, np) \
	((void)(tidp), bpf_task_storage_get(&pending, bpf_get_current_task_btf(), (np), \
			      BPF_LOCAL_STORAGE_GET_F_CREATE) ? 0 : -1)
#else
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tid */
	__type(value, struct em_pending);
} pending SEC(".maps");
#ifdef EMB_DIRECT_PENDING
/*
 * Direct-mapped cache in front of the LRU hash: slot tid % 8192 of a plain
 * ARRAY (lookups inlined by the verifier, no hashing), owned by one tid at
 * a time; a thread whose slot is owned by another live thread falls back
 * to the hash, so pairing stays exact. One cache line per slot: vCPU
 * threads on different CPUs do not share lines.
 */
struct emb_dslot {
	__u32 tid;
	__u32 pad0;
	struct em_pending p;
	__u8 pad[64 - 8 - sizeof(struct em_pending)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct emb_dslot);
} pending_direct SEC(".maps");

static __always_inline struct em_pending *emb_pending_get(__u32 *tidp)
{
	__u32 idx = *tidp & 8191;
	struct emb_dslot *d = bpf_map_lookup_elem(&pending_direct, &idx);

	if (d && d->tid == *tidp)
		return &d->p;
	return bpf_map_lookup_elem(&pending, tidp);
}

static __always_inline long emb_pending_new(__u32 *tidp, struct em_pending *np)
{
	__u32 idx = *tidp & 8191;
	struct emb_dslot *d = bpf_map_lookup_elem(&pending_direct, &idx);

	/* free slot, or its owner has nothing pending: take it */
	if (d && (d->tid == 0 || d->p.ts == 0)) {
		d->tid = *tidp;
		d->p = *np;
		return 0;
	}
	return bpf_map_update_elem(&pending, tidp, np, BPF_ANY);
}
#define EMB_PENDING_GET(tidp) emb_pending_get(tidp)
#define EMB_PENDING_NEW(tidp, np) emb_pending_new((tidp), (np))
#else
#define EMB_PENDING_GET(tidp) ((struct em_pending *)bpf_map_lookup_elem(&pending, (tidp)))
#define EMB_PENDING_NEW(tidp, np) bpf_map_update_elem(&pending, (tidp), (np), BPF_ANY)
#endif
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EM_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Source of zeroed values for hash inserts (the BPF stack is too small). */
static const struct em_stats em_zero_stats;

static __always_inline void em_count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		(*c)++;
}

static __always_inline bool em_target_ok(__u32 tgid, __u32 vcpu)
{
	if (filter_tgid && tgid != filter_tgid)
		return false;
	if (filter_vcpu != EM_ANY_VCPU && vcpu != filter_vcpu)
		return false;
	return true;
}

static __always_inline bool em_reason_ok(__u32 isa, __u32 reason)
{
	__u32 slot, word;

	if (!filter_reasons_on)
		return true;
	/* VMX flag bits (e.g. FAILED_VMENTRY) do not change the reason asked for. */
	slot = em_slot(isa, isa == EM_ISA_VMX ? reason & EM_VMX_BASIC_MASK : reason);
	word = slot / 64;
	/* keep clang from folding the bound check away from the index */
	asm volatile("" : "+r"(word));
	if (word >= EM_FILTER_WORDS)
		return false;
	return (filter_reasons[word] >> (slot % 64)) & 1;
}

static __always_inline struct em_stats *em_hash_stats(void *map, struct em_key *key)
{
	struct em_stats *st = bpf_map_lookup_elem(map, key);

	if (st)
		return st;
	/* First exit of this key: insert zeroes; losing a race is fine. */
	bpf_map_update_elem(map, key, &em_zero_stats, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* Stats of (isa, reason); count_overflow is set on the exit, not the entry. */
static __always_inline struct em_stats *em_reason_stats(__u32 isa, __u32 reason,
							bool count_overflow)
{
	__u32 slot = em_slot(isa, reason);
	struct em_key key = { .isa = isa, .reason = reason,
			      .tgid = EM_ANY_PID, .vcpu = EM_ANY_VCPU };
	struct em_stats *st;

	if (slot < EM_NSLOTS)
		return bpf_map_lookup_elem(&stats, &slot);
	st = em_hash_stats(&other_stats, &key);
	if (st)
		return st;
	if (count_overflow)
		em_count(EM_CNT_OTHER_OVERFLOW);
	slot = EM_SLOT_OTHER;
	return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline struct em_stats *em_breakdown_stats(__u32 isa, __u32 reason,
							   __u32 tgid, __u32 vcpu,
							   bool count_overflow)
{
	struct em_key key = {
		.isa = isa,
		.reason = reason,
		.tgid = tgid,
		.vcpu = breakdown_vcpu ? vcpu : EM_ANY_VCPU,
	};
	struct em_stats *st = em_hash_stats(&breakdown, &key);

	if (!st && count_overflow)
		em_count(EM_CNT_BREAKDOWN_OVERFLOW);
	return st;
}

static __always_inline void em_add_latency(struct em_stats *st, __u64 lat)
{
	__u32 b = em_hist_bucket(lat);

	if (!st->lat_count || lat < st->lat_min)
		st->lat_min = lat;
	if (lat > st->lat_max)
		st->lat_max = lat;
	st->lat_count++;
	st->lat_sum += lat;
#ifndef EMB_NO_HIST
	if (b < EM_HIST_BUCKETS) /* always true; bounds the index for the verifier */
		st->hist[b]++;
#else
	(void)b;
#endif
}

static __always_inline void em_on_exit(__u64 pid_tgid, __u32 isa, __u32 reason, __u32 vcpu,
				       __u64 now)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct em_pending *p;
	struct em_stats *st;

#ifndef EMB_NO_CNT
	em_count(EM_CNT_EXITS);
#endif
	if (!em_target_ok(tgid, vcpu) || !em_reason_ok(isa, reason)) {
		em_count(EM_CNT_FILTERED);
		/* A filtered exit must not lend its entry to an earlier exit. */
		p = EMB_PENDING_GET(&tid);
		if (p)
			p->ts = 0;
		return;
	}
	st = em_reason_stats(isa, reason, true);
	if (st)
		st->count++;
	if (breakdown_vm || breakdown_vcpu) {
		st = em_breakdown_stats(isa, reason, tgid, vcpu, true);
		if (st)
			st->count++;
	}

	p = EMB_PENDING_GET(&tid);
	if (p) {
		p->ts = now;
		p->isa = isa;
		p->reason = reason;
		p->vcpu = vcpu;
		p->tgid = tgid;
	} else {
		struct em_pending np = { .ts = now, .isa = isa, .reason = reason,
					 .vcpu = vcpu, .tgid = tgid };

		if (EMB_PENDING_NEW(&tid, &np))
			em_count(EM_CNT_PENDING_FULL);
	}
}

static __always_inline void em_on_entry(__u64 pid_tgid, __u32 vcpu, __u64 now)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct em_pending *p;
	struct em_stats *st;
	__u64 lat;

	if (!em_target_ok(tgid, vcpu))
		return;
#ifndef EMB_NO_CNT
	em_count(EM_CNT_ENTRIES);
#endif
	p = EMB_PENDING_GET(&tid);
	if (!p || !p->ts) {
		/* first entry of a vCPU, or its exit was filtered: no latency */
		em_count(EM_CNT_UNPAIRED_ENTRY);
		return;
	}
	lat = now > p->ts ? now - p->ts : 0;
	p->ts = 0;
	st = em_reason_stats(p->isa, p->reason, false);
	if (st)
		em_add_latency(st, lat);
	if (breakdown_vm || breakdown_vcpu) {
		st = em_breakdown_stats(p->isa, p->reason, p->tgid, p->vcpu, false);
		if (st)
			em_add_latency(st, lat);
	}
}

#endif
