// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exitmon's real handlers (bpf/exitmon.bpf.c, with bpf/aggregate.bpf.h),
 * compiled with every map look-up and probe read wrapped so that the
 * address it touches is logged (tests/bench/touch.h), plus the BPF stack
 * and the read-only options the path reads. Attached in the rig by
 * `make bench` (rig-payload.sh config touchrec); embench dumps the log and
 * bench.sh counts the distinct pages and cache lines per exit+entry pair.
 * The log's own writes are not counted. Not a handler anyone should run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "touch.h"

struct emb_touch_log emb_log;

static __always_inline void emb_rec(__u64 addr, __u32 size, __u32 kind)
{
	__u64 p = emb_log.pairs, idx;
	__u32 n;

	if (p < EMB_TOUCH_FIRST)
		return;
	p -= EMB_TOUCH_FIRST;
	if (p >= EMB_TOUCH_PAIRS)
		return;
	n = emb_log.n[p];
	if (n >= EMB_TOUCH_SLOTS)
		return;
	emb_log.n[p] = n + 1;
	/* one flat index with its own bound: 6.1's verifier loses p * n */
	idx = p * EMB_TOUCH_SLOTS + n;
	asm volatile("" : "+r"(idx));
	if (idx >= EMB_TOUCH_PAIRS * EMB_TOUCH_SLOTS)
		return;
	emb_log.t[idx].addr = addr;
	emb_log.t[idx].size = size;
	emb_log.t[idx].kind = kind;
	emb_log.t[idx].side = emb_log.side;
}

static __always_inline void *emb_lookup(void *map, const void *key, __u32 kind, __u32 size)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v) {
		if (kind == EMB_T_STATS) {
			emb_log.last_stats = (__u64)v;
			/* exit: count (offset 0); entry: lat_count..lat_max (8..39) */
			if (emb_log.side)
				emb_rec((__u64)v + 8, 32, kind);
			else
				emb_rec((__u64)v, 8, kind);
		} else {
			emb_rec((__u64)v, size, kind);
		}
	}
	return v;
}

static __always_inline long emb_probe_read(void *dst, __u32 size, const void *src)
{
	emb_rec((__u64)src, size, EMB_T_PROBE);
	return bpf_probe_read_kernel(dst, size, src);
}

/* Which map: each map's type is a distinct anonymous struct. */
#define EMB_KIND(m) _Generic((m),                                              \
	typeof(&pending_fast): EMB_T_PENDING_FAST, typeof(&pending): EMB_T_PENDING, \
	typeof(&thread_gen): EMB_T_THREAD_GEN, typeof(&row_of): EMB_T_ROW_OF,     \
	typeof(&other_row): EMB_T_OTHER_ROW, typeof(&stats): EMB_T_STATS,          \
	typeof(&counters): EMB_T_COUNTERS, default: EMB_T_MAP_OTHER)
/* bytes of the value the core reads or writes (whole small values) */
#define EMB_SIZE(m) _Generic((m),                                              \
	typeof(&pending_fast): 8 + sizeof(struct em_pending), typeof(&pending): sizeof(struct em_pending), \
	typeof(&thread_gen): 4, typeof(&row_of): 8, typeof(&other_row): 8,          \
	typeof(&counters): 8, default: 8)

#define bpf_map_lookup_elem(m, k) emb_lookup((m), (k), EMB_KIND(m), EMB_SIZE(m))
#define bpf_probe_read_kernel(d, s, p) emb_probe_read((d), (s), (p))

#include "aggregate.bpf.h"

static __always_inline void emb_on_exit(__u64 pid_tgid, __u32 isa, __u32 reason, __u32 vcpu,
					__u64 key, __u64 now)
{
	volatile __u64 local = 0;

	emb_rec((__u64)&local, 8, EMB_T_STACK);
	emb_rec((__u64)&filter_tgid, 4, EMB_T_RODATA);
	emb_rec((__u64)&filter_vcpu, 4, EMB_T_RODATA);
	emb_rec((__u64)&filter_reasons_on, 1, EMB_T_RODATA);
	emb_rec((__u64)&breakdown_vm, 1, EMB_T_RODATA);
	emb_rec((__u64)&breakdown_vcpu, 1, EMB_T_RODATA);
	emb_log.exit_ts = now;
	em_on_exit(pid_tgid, isa, reason, vcpu, key, now);
	emb_log.side = 1;
}

static __always_inline void emb_on_entry(__u64 pid_tgid, __u32 vcpu, __u64 key, __u64 now)
{
	volatile __u64 local = 0;
	__u64 st;

	emb_rec((__u64)&local, 8, EMB_T_STACK);
	emb_rec((__u64)&filter_tgid, 4, EMB_T_RODATA);
	emb_rec((__u64)&filter_vcpu, 4, EMB_T_RODATA);
	emb_rec((__u64)&breakdown_vm, 1, EMB_T_RODATA);
	emb_rec((__u64)&breakdown_vcpu, 1, EMB_T_RODATA);
	emb_log.last_stats = 0;
	em_on_entry(pid_tgid, vcpu, key, now);
	st = emb_log.last_stats;
	if (st) {
		__u64 lat = now > emb_log.exit_ts ? now - emb_log.exit_ts : 0;

		emb_rec(st + __builtin_offsetof(struct em_kstats, hist) +
			sizeof(((struct em_kstats *)0)->hist[0]) * (__u64)em_hist_bucket(lat),
			sizeof(((struct em_kstats *)0)->hist[0]), EMB_T_STATS_HIST);
	}
	emb_log.side = 0;
	emb_log.magic = EMB_TOUCH_MAGIC;
	emb_log.pairs++;
}

#define em_on_exit emb_on_exit
#define em_on_entry emb_on_entry
#include "exitmon.bpf.c"
