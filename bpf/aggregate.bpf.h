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
const volatile __u32 breakdown_rows = 1; /* max_entries of breakdown (--max-keys) */

/* Per (isa, reason) stats, one row per slot that occurred (EM_ROWS in exitmon.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EM_ROWS);
	__type(key, __u32);
	__type(value, struct em_kstats);
} stats SEC(".maps");

/*
 * Slot -> its row in stats (0: none yet); [EM_ROW_OF_NEXT] counts the
 * rows of stats handed out, [EM_ROW_OF_BD_NEXT] those of breakdown.
 * Written once per slot; mmapable so the collector reads it without
 * syscalls (u64 values: array elements are 8-byte aligned, so the mapped
 * view has no gaps).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EM_ROW_OF_LEN);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} row_of SEC(".maps");

/*
 * Codes outside the dense slots, by exact raw value -> their row in stats
 * (0 until the first exit has claimed one, or for good when the rows ran
 * out); bounded. Not per CPU: a key is written once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EM_OTHER_KEYS);
	__type(key, struct em_key);
	__type(value, __u64);
} other_row SEC(".maps");

/*
 * Per VM / per vCPU breakdown, only when asked for (user space sets
 * max_entries of both maps to --max-keys; 1 otherwise). Keyed by (isa,
 * reason, VM, vCPU) always, also for --per-vm (user space sums a VM's
 * vCPUs): a vCPU's exits and entries are serialised by KVM, so one key is
 * never updated on two CPUs at once and needs no per-CPU copies (at 256
 * possible CPUs those were 256 x 2.2 KiB per key, and an insert zeroed
 * all of them inside kvm_exit).
 *  - breakdown: rows handed out on first use (row_of[EM_ROW_OF_BD_NEXT]
 *    counts them), each holding its key; mmapable, so the collector reads
 *    them in place, no copy and no syscall per key;
 *  - breakdown_index: key -> row, looked up once per exit; the exit puts
 *    the row in its pending record, so the entry needs no hash lookup.
 *    Preallocated: an on-demand insert from a tracepoint can fail while
 *    the allocator's cache refills (seen in the nested rig).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct em_bd_row);
} breakdown SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct em_key);
	__type(value, __u32);
} breakdown_index SEC(".maps");

/*
 * Wraps of the u32 histogram buckets (struct em_kstats): whose bucket ->
 * how many times it passed 2^32. Written once per 2^32 samples of one
 * bucket, so shared (atomic add) rather than per CPU. User space reads it
 * before and after the rows and reads again when it moved meanwhile.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EM_CARRY_KEYS);
	__type(key, struct em_carry_key);
	__type(value, __u64);
} hist_carry SEC(".maps");

/*
 * Exit awaiting its entry, per vCPU (key: struct kvm_vcpu * on raw_tp,
 * EM_VCPU_KEY(tgid, vcpu id) on classic tracepoints), so an entry pairs
 * only with its own vCPU's exit whichever thread runs it. Two levels,
 * because the pending lookup was ~40 % of the handlers' cost
 * (docs/performance.md):
 *  - pending_fast: a direct-mapped ARRAY, slot = hash(key) % EM_PENDING_FAST,
 *    owned by the first vCPU that claims it (cmpxchg, once per vCPU); one
 *    64-byte slot per vCPU, page-aligned (BPF_F_MMAPABLE puts the values
 *    on a page boundary; a plain ARRAY starts them 56 bytes into a line,
 *    so each slot straddled two lines shared with its neighbours);
 *  - pending: an LRU hash for vCPUs whose slot another vCPU owns; a
 *    record is deleted once consumed, so evictions are inserts - deletes -
 *    keys left (user space shows them as pending_full).
 * A record names the thread that made the exit and that thread's
 * generation (thread_gen, bumped when the thread exits): a record whose
 * thread has exited is dead, pairs with nothing, and its fast slot can be
 * taken by another vCPU. That covers a reused tid, a reused kvm_vcpu
 * address, and slots of vCPUs that are gone.
 */
#define EM_THREAD_GENS 65536

/* The bench builds a variant without it, to measure the alignment. */
#ifndef EM_PENDING_FAST_FLAGS
#define EM_PENDING_FAST_FLAGS BPF_F_MMAPABLE
#endif

struct em_pending_slot {
	__u64 owner; /* vCPU key, 0 = free */
	struct em_pending p;
	__u8 pad[64 - 8 - sizeof(struct em_pending)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EM_PENDING_FAST);
	__uint(map_flags, EM_PENDING_FAST_FLAGS);
	__type(key, __u32);
	__type(value, struct em_pending_slot);
} pending_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* vCPU key */
	__type(value, struct em_pending);
} pending SEC(".maps");

/* Generation of each thread (tid % EM_THREAD_GENS), bumped at its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EM_THREAD_GENS);
	__type(key, __u32);
	__type(value, __u32);
} thread_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EM_BCNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

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

/* The next free row of stats, or OTHER when they are used up. */
static __always_inline __u32 em_new_row(void)
{
	__u32 k = EM_ROW_OF_NEXT;
	__u64 *next = bpf_map_lookup_elem(&row_of, &k), n;

	if (!next || *next >= EM_ROWS - 1) /* full: no add, so it cannot wrap */
		return EM_ROW_OTHER;
	n = __sync_fetch_and_add(next, 1) + 1;
	return n < EM_ROWS ? n : EM_ROW_OTHER;
}

/*
 * The slot's row; its first exit hands it the next free row. 0 (OTHER)
 * when it has none and the rows are used up.
 */
static __always_inline __u32 em_slot_row(__u32 slot)
{
	__u64 *r = bpf_map_lookup_elem(&row_of, &slot), n, old;

	if (!r)
		return EM_ROW_OTHER;
	if (*r)
		return *r;
	n = em_new_row();
	if (n == EM_ROW_OTHER)
		return EM_ROW_OTHER;
	/* a racing first exit on another CPU may win: use its row (n stays unused) */
	old = __sync_val_compare_and_swap(r, 0, n);
	return old ? old : n;
}

/*
 * Row of a code outside the slots. The first exit inserts the key (value
 * 0) before it claims a row, so a full hash costs no row, and a code
 * whose claim found the rows used up keeps 0 and never claims again.
 */
static __always_inline __u32 em_other_row(struct em_key *key)
{
	__u64 *r = bpf_map_lookup_elem(&other_row, key), zero = 0;

	if (r)
		return *r;
	if (bpf_map_update_elem(&other_row, key, &zero, BPF_NOEXIST)) {
		/* full, or another CPU's first exit inserted it meanwhile */
		r = bpf_map_lookup_elem(&other_row, key);
		return r ? *r : EM_ROW_OTHER;
	}
	r = bpf_map_lookup_elem(&other_row, key);
	if (!r)
		return EM_ROW_OTHER;
	*r = em_new_row(); /* only this exit inserted the key */
	return *r;
}

/*
 * Stats row of an exit's (isa, reason), claimed by the code's first exit;
 * OTHER (counted) when none is left. The entry adds its latency to the
 * row its exit recorded.
 */
static __always_inline struct em_kstats *em_reason_stats(__u32 isa, __u32 reason, __u32 *rowp)
{
	__u32 slot = em_slot(isa, reason), row;
	struct em_key key = { .isa = isa, .reason = reason,
			      .tgid = EM_ANY_PID, .vcpu = EM_ANY_VCPU };

	row = slot < EM_NSLOTS ? em_slot_row(slot) : em_other_row(&key);
	if (row == EM_ROW_OTHER)
		em_count(EM_CNT_OTHER_OVERFLOW);
	*rowp = row;
	return bpf_map_lookup_elem(&stats, &row);
}

/*
 * The breakdown row of (isa, reason, VM, vCPU), claimed by the key's first
 * exit; EM_NO_SLOT (counted) when the rows are used up.
 */
static __always_inline __u32 em_breakdown_row(__u32 isa, __u32 reason, __u32 tgid, __u32 vcpu)
{
	struct em_key key = { .isa = isa, .reason = reason, .tgid = tgid, .vcpu = vcpu };
	__u32 *i = bpf_map_lookup_elem(&breakdown_index, &key), k = EM_ROW_OF_BD_NEXT, n;
	struct em_bd_row *r;
	__u64 *next;

	if (i)
		return *i;
	next = bpf_map_lookup_elem(&row_of, &k);
	if (!next || *next >= breakdown_rows) /* full: no add, so it cannot wrap */
		goto full;
	n = __sync_fetch_and_add(next, 1);
	if (n >= breakdown_rows || !(r = bpf_map_lookup_elem(&breakdown, &n)))
		goto full;
	r->key = key; /* before the row is findable */
	if (!bpf_map_update_elem(&breakdown_index, &key, &n, BPF_NOEXIST))
		return n;
	/*
	 * Another CPU inserted the key meanwhile (classic tp: two VMs in one
	 * process with one vCPU id): use its row; row n stays empty and the
	 * collector skips it.
	 */
	if ((i = bpf_map_lookup_elem(&breakdown_index, &key)))
		return *i;
full:
	em_count(EM_CNT_BREAKDOWN_OVERFLOW);
	return EM_NO_SLOT;
}

/*
 * A u32 bucket of key's row wrapped: one more 2^32 samples in hist_carry.
 * Runs once per 2^32 samples of a bucket; a full hash is counted.
 */
static __attribute__((noinline)) int em_hist_carry(__u32 isa, __u32 reason, __u32 tgid, __u32 vcpu,
						   __u32 bucket)
{
	struct em_carry_key ck = {
		.key = { .isa = isa, .reason = reason, .tgid = tgid, .vcpu = vcpu },
		.bucket = bucket,
	};
	__u64 one = 1, *n = bpf_map_lookup_elem(&hist_carry, &ck);

	if (!n && !bpf_map_update_elem(&hist_carry, &ck, &one, BPF_NOEXIST))
		return 0;
	if (!n) /* another CPU inserted it meanwhile, or the hash is full */
		n = bpf_map_lookup_elem(&hist_carry, &ck);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		em_count(EM_CNT_HIST_CARRY_LOST);
	return 0;
}

static __always_inline __u32 *em_thread_gen(__u32 tid)
{
	__u32 idx = tid & (EM_THREAD_GENS - 1);

	return bpf_map_lookup_elem(&thread_gen, &idx);
}

/* Was the record made by a thread that is still alive? */
static __always_inline bool em_pending_live(const struct em_pending *p)
{
	__u32 *g = em_thread_gen(p->tid);

	return g && *g == p->gen;
}

/*
 * The vCPU's pending record, or NULL; *in_lru says where it lives. claim:
 * take the fast slot if it is free or its record is dead.
 */
static __always_inline struct em_pending *em_pending_find(__u64 key, bool claim, bool *in_lru)
{
	__u32 idx = em_pending_idx(key);
	struct em_pending_slot *s = bpf_map_lookup_elem(&pending_fast, &idx);

	*in_lru = false;
	if (s) {
		__u64 owner = s->owner;

		/* a vCPU's events are serialised by KVM: no race once owned */
		if (owner == key)
			return &s->p;
		if (claim && (!owner || !em_pending_live(&s->p)) &&
		    __sync_val_compare_and_swap(&s->owner, owner, key) == owner) {
			/* a record it had in the LRU meanwhile is superseded */
			if (!bpf_map_delete_elem(&pending, &key))
				em_count(EM_BCNT_PENDING_DELETE);
			return &s->p;
		}
	}
	*in_lru = true;
	return bpf_map_lookup_elem(&pending, &key);
}

/* Nothing pending any more; an LRU record is deleted (not left to eviction). */
static __always_inline void em_pending_consume(__u64 key, struct em_pending *p, bool in_lru)
{
	p->ts = 0;
	if (in_lru && !bpf_map_delete_elem(&pending, &key))
		em_count(EM_BCNT_PENDING_DELETE);
}

static __always_inline void em_on_exit(__u64 pid_tgid, __u32 isa, __u32 reason, __u32 vcpu,
				       __u64 key, __u64 now)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, gen, row, bd = EM_NO_SLOT;
	struct em_pending *p;
	struct em_kstats *st;
	struct em_bd_row *r;
	__u32 *g;
	bool in_lru, same;

	if (!em_target_ok(tgid, vcpu)) {
		/* another VM or vCPU: its vCPU never records a pending exit */
		em_count(EM_CNT_FILTERED);
		return;
	}
	if (!em_reason_ok(isa, reason)) {
		em_count(EM_CNT_FILTERED);
		/* A filtered exit must not lend its entry to an earlier exit. */
		p = em_pending_find(key, false, &in_lru);
		if (p)
			em_pending_consume(key, p, in_lru);
		return;
	}
	g = em_thread_gen(tid);
	gen = g ? *g : 0;
	p = em_pending_find(key, true, &in_lru);
	/*
	 * The record still holds the vCPU's last exit (an entry only clears
	 * ts; a slot taken over holds its last owner's). Rows never change
	 * once handed out, so the same code has the same stats row and the
	 * same (code, VM, vCPU) the same breakdown row: no row_of or index
	 * lookup, a page and a line fewer per exit (docs/performance.md).
	 * OTHER is not reused: it also stands for "no row yet".
	 */
	same = p && p->isa == isa && p->reason == reason;
	if (same && p->row != EM_ROW_OTHER) {
		row = p->row;
		st = bpf_map_lookup_elem(&stats, &row);
	} else {
		st = em_reason_stats(isa, reason, &row);
	}
	if (st)
		st->count++;
	if (breakdown_vm || breakdown_vcpu) {
		if (same && p->tgid == tgid && p->vcpu == vcpu && p->bd != EM_NO_SLOT)
			bd = p->bd;
		else
			bd = em_breakdown_row(isa, reason, tgid, vcpu);
		if (bd != EM_NO_SLOT && (r = bpf_map_lookup_elem(&breakdown, &bd)))
			r->st.count++;
	}
	if (p) {
		p->ts = now;
		p->isa = isa;
		p->reason = reason;
		p->vcpu = vcpu;
		p->tgid = tgid;
		p->tid = tid;
		p->gen = gen;
		p->row = row;
		p->bd = bd;
	} else {
		struct em_pending np = { .ts = now, .isa = isa, .reason = reason, .vcpu = vcpu,
					 .tgid = tgid, .tid = tid, .gen = gen, .row = row, .bd = bd };

		if (bpf_map_update_elem(&pending, &key, &np, BPF_NOEXIST))
			em_count(EM_BCNT_PENDING_INSERT_FAIL);
		else
			em_count(EM_BCNT_PENDING_INSERT);
	}
}

static __always_inline void em_on_entry(__u64 pid_tgid, __u32 vcpu, __u64 key, __u64 now)
{
	__u32 tgid = pid_tgid >> 32, row, bd, b;
	struct em_pending *p;
	struct em_kstats *st;
	struct em_bd_row *r;
	__u64 lat;
	bool in_lru;

	if (!em_target_ok(tgid, vcpu))
		return;
	p = em_pending_find(key, false, &in_lru);
	if (!p || !p->ts || p->tgid != tgid || !em_pending_live(p)) {
		/*
		 * First entry of a vCPU, its exit was filtered, or the record
		 * is a dead thread's (tid or kvm_vcpu address reused): no latency.
		 */
		if (p)
			em_pending_consume(key, p, in_lru);
		em_count(EM_CNT_UNPAIRED_ENTRY);
		return;
	}
	lat = now > p->ts ? now - p->ts : 0;
	row = p->row; /* the rows its exit counted in: no lookups by code here */
	bd = p->bd;
	em_pending_consume(key, p, in_lru); /* p may be gone after this */
	st = bpf_map_lookup_elem(&stats, &row);
	if (st && (b = em_kstats_add_latency(st, lat)) < EM_HIST_BUCKETS)
		em_hist_carry(0, row, EM_ANY_PID, EM_ANY_VCPU, b);
	if ((breakdown_vm || breakdown_vcpu) && bd != EM_NO_SLOT &&
	    (r = bpf_map_lookup_elem(&breakdown, &bd)) &&
	    (b = em_kstats_add_latency(&r->st, lat)) < EM_HIST_BUCKETS)
		em_hist_carry(r->key.isa, r->key.reason, r->key.tgid, r->key.vcpu, b);
}

/* A thread exits: every record it made is dead from now on. */
static __always_inline void em_on_thread_exit(__u64 pid_tgid)
{
	__u32 *g = em_thread_gen((__u32)pid_tgid);

	if (g)
		__sync_fetch_and_add(g, 1);
}

#endif
