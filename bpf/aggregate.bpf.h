/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The inline core of exitmon's handlers: maps, filters and the exit/entry
 * aggregation. Included by exitmon.bpf.c (real tracepoints) and by
 * exitmon_test.bpf.c (raw_tp programs driven by BPF_PROG_TEST_RUN), so the
 * tests exercise exactly this code. Inputs are plain values (pid_tgid,
 * isa, reason, vcpu, time) so the caller decides where they come from.
 */
#ifndef EXITMON_AGGREGATE_BPF_H
#define EXITMON_AGGREGATE_BPF_H

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
 * max_entries; 1 otherwise). Preallocated: an on-demand per-CPU insert
 * from a tracepoint can fail while the allocator's cache refills, which
 * lost exits from the breakdown (seen in the nested rig).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, struct em_key);
	__type(value, struct em_stats);
} breakdown SEC(".maps");

/*
 * Exit awaiting its entry, per vCPU thread. Two levels, because the
 * pending lookup was ~40 % of the handlers' cost (docs/performance.md):
 *  - pending_fast: a direct-mapped ARRAY, slot tid % EM_PENDING_FAST, owned
 *    by the first thread that claims it (cmpxchg, once per thread) and
 *    kept; one cache line per slot so vCPU threads share no lines;
 *  - pending: an LRU hash for threads whose slot another thread owns; LRU
 *    so threads of VMs that are gone get evicted.
 * Memory is bounded whatever the number of VMs. A slot left by a dead
 * thread passes to the next thread that reuses its tid; the tgid check in
 * em_on_entry() keeps a stale exit from being paired with it.
 */
#define EM_PENDING_FAST 8192

struct em_pending_slot {
	__u32 owner; /* tid, 0 = free */
	__u32 pad0;
	struct em_pending p;
	__u8 pad[64 - 8 - sizeof(struct em_pending)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EM_PENDING_FAST);
	__type(key, __u32);
	__type(value, struct em_pending_slot);
} pending_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tid */
	__type(value, struct em_pending);
} pending SEC(".maps");

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

static __always_inline struct em_stats *em_hash_stats(void *map, struct em_key *key, bool create)
{
	struct em_stats *st = bpf_map_lookup_elem(map, key);

	if (st || !create)
		return st;
	/* First exit of this key: insert zeroes; losing a race is fine. */
	bpf_map_update_elem(map, key, &em_zero_stats, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/*
 * Stats of (isa, reason). Only the exit creates hash keys and counts
 * overflow: an entry whose exit found the table full adds no latency.
 */
static __always_inline struct em_stats *em_reason_stats(__u32 isa, __u32 reason, bool on_exit)
{
	__u32 slot = em_slot(isa, reason);
	struct em_key key = { .isa = isa, .reason = reason,
			      .tgid = EM_ANY_PID, .vcpu = EM_ANY_VCPU };
	struct em_stats *st;

	if (slot < EM_NSLOTS)
		return bpf_map_lookup_elem(&stats, &slot);
	st = em_hash_stats(&other_stats, &key, on_exit);
	if (st)
		return st;
	if (on_exit)
		em_count(EM_CNT_OTHER_OVERFLOW);
	slot = EM_SLOT_OTHER;
	return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline struct em_stats *em_breakdown_stats(__u32 isa, __u32 reason,
							   __u32 tgid, __u32 vcpu, bool on_exit)
{
	struct em_key key = {
		.isa = isa,
		.reason = reason,
		.tgid = tgid,
		.vcpu = breakdown_vcpu ? vcpu : EM_ANY_VCPU,
	};
	struct em_stats *st = em_hash_stats(&breakdown, &key, on_exit);

	if (!st && on_exit)
		em_count(EM_CNT_BREAKDOWN_OVERFLOW);
	return st;
}

/* The thread's pending record, or NULL; claim: take a free fast slot. */
static __always_inline struct em_pending *em_pending_find(__u32 tid, bool claim)
{
	__u32 idx = tid & (EM_PENDING_FAST - 1);
	struct em_pending_slot *s = bpf_map_lookup_elem(&pending_fast, &idx);

	if (s) {
		/* only thread tid ever runs this with tid: no race once owned */
		if (s->owner == tid)
			return &s->p;
		if (claim && !s->owner && !__sync_val_compare_and_swap(&s->owner, 0, tid))
			return &s->p;
	}
	return bpf_map_lookup_elem(&pending, &tid);
}

static __always_inline void em_on_exit(__u64 pid_tgid, __u32 isa, __u32 reason, __u32 vcpu,
				       __u64 now)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct em_pending *p;
	struct em_stats *st;

	if (!em_target_ok(tgid, vcpu)) {
		/* another VM or vCPU: its thread never records a pending exit */
		em_count(EM_CNT_FILTERED);
		return;
	}
	if (!em_reason_ok(isa, reason)) {
		em_count(EM_CNT_FILTERED);
		/* A filtered exit must not lend its entry to an earlier exit. */
		p = em_pending_find(tid, false);
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

	p = em_pending_find(tid, true);
	if (p) {
		p->ts = now;
		p->isa = isa;
		p->reason = reason;
		p->vcpu = vcpu;
		p->tgid = tgid;
	} else {
		struct em_pending np = { .ts = now, .isa = isa, .reason = reason,
					 .vcpu = vcpu, .tgid = tgid };

		if (bpf_map_update_elem(&pending, &tid, &np, BPF_ANY))
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
	p = em_pending_find(tid, false);
	if (!p || !p->ts || p->tgid != tgid) {
		/*
		 * First entry of a vCPU, its exit was filtered, or the record
		 * is a dead thread's whose tid was reused: no latency.
		 */
		if (p)
			p->ts = 0;
		em_count(EM_CNT_UNPAIRED_ENTRY);
		return;
	}
	lat = now > p->ts ? now - p->ts : 0;
	p->ts = 0;
	st = em_reason_stats(p->isa, p->reason, false);
	if (st)
		em_stats_add_latency(st, lat, 1);
	if (breakdown_vm || breakdown_vcpu) {
		st = em_breakdown_stats(p->isa, p->reason, p->tgid, p->vcpu, false);
		if (st)
			em_stats_add_latency(st, lat, 1);
	}
}

#endif
