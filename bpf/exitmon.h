/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Types and pure helpers shared by the BPF programs and user space.
 * The one definition of the map key/value layout: both sides include this.
 * No libc or kernel headers here; the includer provides __u32/__u64
 * (vmlinux.h in BPF, <linux/types.h> in user space).
 */
#ifndef EXITMON_H
#define EXITMON_H

/* Values of the kvm_exit tracepoint's `isa` field (arch/x86/kvm/trace.h). */
#define EM_ISA_VMX 1
#define EM_ISA_SVM 2

/*
 * Latency histogram, HDR style: values below EM_HIST_SUB have one bucket
 * each; every power of two above is split into EM_HIST_SUB linear
 * sub-buckets, so a bucket's width is at most 1/EM_HIST_SUB (12.5 %) of
 * its lower bound. Values >= 2^EM_HIST_MAX_LOG2 ns (~68.7 s) share the
 * last bucket; the exact maximum is kept separately in lat_max.
 */
#define EM_HIST_SUB_BITS 3
#define EM_HIST_SUB (1u << EM_HIST_SUB_BITS)
#define EM_HIST_MAX_LOG2 36
#define EM_HIST_BUCKETS ((EM_HIST_MAX_LOG2 - EM_HIST_SUB_BITS + 1) * EM_HIST_SUB + 1)

/*
 * Dense slots: one per exit code that an architecture defines, so the hot
 * path finds a code's stats row (row_of, see EM_ROWS) by array lookup, not
 * a hash.
 *   VMX: basic reason 0..EM_VMX_SLOTS-1 with no flag bits      -> 0 ..
 *   SVM: exit codes 0x0..0xff                                  -> EM_SVM_BASE + code
 *        0x400..0x403 (NPF, AVIC, VMGEXIT)                     -> EM_SVM_BASE + 0x100 + (code - 0x400)
 *        0xfffffffc..0xffffffff (INVALID_PMC, IDLE_REQUIRED,
 *        BUSY, VMEXIT_INVALID: VMRUN failures)                 -> EM_SVM_BASE + 0x104 + (code - 0xfffffffc)
 * Everything else (VMX flag bits such as FAILED_VMENTRY, codes past the
 * table, unknown isa) goes to the bounded "other" hash keyed by the raw
 * code, so it stays visible with its exact value; if that hash is full
 * it is counted in row EM_ROW_OTHER.
 */
#define EM_VMX_SLOTS 96
#define EM_SVM_BASE EM_VMX_SLOTS
#define EM_SVM_SLOTS (0x100 + 4 + 4)
#define EM_NSLOTS (EM_SVM_BASE + EM_SVM_SLOTS)
#define EM_NO_SLOT 0xffffffffu

/*
 * Rows of the per-CPU stats array, handed to slots on first use (a slot's
 * row is claimed with cmpxchg by its first exit), so memory follows the
 * reasons that occur, not the 360 a table could name: EM_ROWS x 1136
 * bytes (struct em_kstats) per possible CPU. Codes outside the slots get rows too, through the
 * "other" hash (code -> row). Row 0 is OTHER: exits whose code found no
 * free row or a full "other" hash (counted in EM_CNT_OTHER_OVERFLOW).
 */
#define EM_ROWS 32
#define EM_ROW_OTHER 0
/* Keys of the "other" hash (codes outside the slots -> row). */
#define EM_OTHER_KEYS 64

#define EM_SVM_EXIT_NPF 0x400u
#define EM_SVM_EXIT_INVALID 0xffffffffu
#define EM_SVM_EXIT_VMRUN_FAIL_FIRST 0xfffffffcu /* INVALID_PMC */
#define EM_VMX_BASIC_MASK 0xffffu

/* Wildcards in em_key when no breakdown per VM / per vCPU is asked. */
#define EM_ANY_PID 0u
#define EM_ANY_VCPU 0xffffffffu

/* Key of the "other" and breakdown hashes. */
struct em_key {
	__u32 isa;
	__u32 reason; /* raw exit code, as in the tracepoint */
	__u32 tgid;   /* VM process, or EM_ANY_PID */
	__u32 vcpu;   /* vCPU id, or EM_ANY_VCPU */
};

/* Per (isa, reason) aggregate as user space holds it: exact u64 everywhere. */
struct em_stats {
	__u64 count;     /* exits */
	__u64 lat_count; /* exits whose next entry was seen (latency known) */
	__u64 lat_sum;   /* ns */
	__u64 lat_min;   /* ns; meaningful only when lat_count > 0 */
	__u64 lat_max;   /* ns */
	__u64 hist[EM_HIST_BUCKETS];
};

/*
 * The same aggregate as the kernel keeps it: per CPU in stats (summed by
 * user space), one copy per breakdown key. Buckets are u32, which halves
 * the memory that dominates exitmon's footprint (stats is per possible
 * CPU: 32 rows x 256 CPUs x 1136 bytes = 8.9 MiB, was 17.4 MiB with u64
 * buckets). A bucket that wraps adds one to its hist_carry entry (2^32
 * samples each), so user space rebuilds the exact u64: em_kstats_add()
 * plus the carries (user/kstats.c). Counts, sums and extremes stay u64.
 */
struct em_kstats {
	__u64 count;
	__u64 lat_count;
	__u64 lat_sum;
	__u64 lat_min;
	__u64 lat_max;
	__u32 hist[EM_HIST_BUCKETS];
};

/*
 * Key of the hist_carry hash: whose bucket wrapped. A breakdown key as it
 * is; a stats row as { isa 0, reason = row, EM_ANY_PID, EM_ANY_VCPU }
 * (a row's code never changes during a run, and no breakdown key has
 * tgid EM_ANY_PID).
 */
struct em_carry_key {
	struct em_key key;
	__u32 bucket;
};

/* Keys of hist_carry; a wrap finding it full is counted (EM_CNT_HIST_CARRY_LOST). */
#define EM_CARRY_KEYS 4096

/*
 * Per-vCPU state between a kvm_exit and that vCPU's next kvm_entry (keyed
 * by the vCPU, see EM_VCPU_KEY below). tid/gen name the thread that made
 * the exit and its incarnation: when that thread exits its generation
 * changes and the record is dead (docs/design.md, "Pairing").
 */
struct em_pending {
	__u64 ts;     /* ns of the exit; 0 = nothing pending */
	__u32 isa;
	__u32 reason;
	__u32 vcpu;   /* vCPU id, or EM_ANY_VCPU when not read */
	__u32 tgid;
	__u32 tid;
	__u32 gen;
	__u32 row;    /* the exit's stats row: the entry adds its latency there */
	__u32 bd;     /* its breakdown row, or EM_NO_SLOT (none, or the breakdown is full) */
};

/*
 * A row of the per-VM / per-vCPU breakdown: an array handed out on first
 * use, like stats (bpf/aggregate.bpf.h). The exit that claims the row
 * writes its key; the collector reads key and stats from the mmapped array.
 */
struct em_bd_row {
	struct em_key key;
	struct em_kstats st;
};

/* row_of's entries after the slots: rows handed out, of stats and of breakdown. */
#define EM_ROW_OF_NEXT EM_NSLOTS
#define EM_ROW_OF_BD_NEXT (EM_NSLOTS + 1)
#define EM_ROW_OF_LEN (EM_NSLOTS + 2)

/*
 * Key of a vCPU in the classic tracepoint modes, whose record gives only
 * the vCPU id: the VM process plus the id. raw_tp keys by the
 * struct kvm_vcpu pointer instead. Neither is ever 0 (a VM process is
 * never pid 0), which marks a free pending slot.
 */
#define EM_VCPU_KEY(tgid, vcpu_id) ((((__u64)(tgid)) << 32) | (__u32)(vcpu_id))

/*
 * Run counters (indices of the per-CPU "counters" array and of
 * em_snapshot.counters). EXITS and ENTRIES are not counted in BPF: every
 * exit lands in exactly one per-reason row or in FILTERED, every entry
 * that passes the filters adds latency to exactly one row or is UNPAIRED,
 * so user space derives them (exits = sum of counts + filtered, entries =
 * sum of lat_count + unpaired) and the handlers save two map updates.
 */
enum em_counter {
	EM_CNT_EXITS = 0,          /* exits seen (before filters); derived */
	EM_CNT_FILTERED,           /* exits dropped by the pid/vCPU/reason filters */
	EM_CNT_ENTRIES,            /* entries of threads that passed the filters; derived */
	EM_CNT_UNPAIRED_ENTRY,     /* entries with no recorded exit (first entry, filtered exit) */
	EM_CNT_PENDING_FULL,       /* pending exits lost: evicted from the full pending LRU (derived) */
	EM_CNT_OTHER_OVERFLOW,     /* exits counted in row OTHER: no free row, or "other" hash full */
	EM_CNT_BREAKDOWN_OVERFLOW, /* exits not broken down: per-VM/vCPU hash full */
	EM_CNT_RECURSION_MISSES,   /* events the kernel did not run the programs for (bpf_prog_info) */
	EM_CNT_HIST_CARRY_LOST,    /* u32 bucket wraps not carried (hist_carry full): 2^32 samples each */
	EM_CNT_MAP_BYTES,          /* kernel memory of the maps (memlock); a gauge, set by user space */
	EM_CNT__MAX,
};

/*
 * Counters only the BPF side keeps, after the visible ones in the same
 * map; user space turns them into EM_CNT_PENDING_FULL: every record is
 * inserted into the pending LRU once and deleted once its entry (or a
 * filtered exit) consumed it, so evicted = inserted - deleted - still there.
 */
enum em_bpf_counter {
	EM_BCNT_PENDING_INSERT = EM_CNT__MAX, /* new records in the pending LRU */
	EM_BCNT_PENDING_INSERT_FAIL,          /* LRU update refused (-ENOMEM): record lost */
	EM_BCNT_PENDING_DELETE,               /* records deleted once consumed (entry, filtered exit) */
	EM_BCNT__MAX,
};

/* Reason filter: a bitmap over slots in read-only data. */
#define EM_FILTER_WORDS ((EM_NSLOTS + 63) / 64)

/* --- pure helpers, used by both sides ------------------------------- */

#ifndef EM_INLINE
#define EM_INLINE static inline __attribute__((always_inline))
#endif

/* floor(log2(v)) for v > 0, branchy because BPF has no clz instruction. */
EM_INLINE __u32 em_log2(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xffffffffULL) << 5; v >>= s; r |= s;
	s = (v > 0xffff) << 4; v >>= s; r |= s;
	s = (v > 0xff) << 3; v >>= s; r |= s;
	s = (v > 0xf) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (__u32)(v >> 1);
	return r;
}

EM_INLINE __u32 em_hist_bucket(__u64 v)
{
	__u32 msb;

	if (v < EM_HIST_SUB)
		return (__u32)v;
	msb = em_log2(v);
	if (msb >= EM_HIST_MAX_LOG2)
		return EM_HIST_BUCKETS - 1;
	return (msb - EM_HIST_SUB_BITS + 1) * EM_HIST_SUB +
	       (__u32)((v >> (msb - EM_HIST_SUB_BITS)) & (EM_HIST_SUB - 1));
}

/*
 * n latency samples of lat ns into the count, sum and extremes of st (an
 * em_stats or an em_kstats): the one definition, for both layouts.
 */
#define EM_LAT_ADD(st, lat, n)                                  \
	do {                                                    \
		if (!(st)->lat_count || (lat) < (st)->lat_min)  \
			(st)->lat_min = (lat);                  \
		if ((lat) > (st)->lat_max)                      \
			(st)->lat_max = (lat);                  \
		(st)->lat_count += (n);                         \
		(st)->lat_sum += (lat) * (n);                   \
	} while (0)

/*
 * a += b for everything but the histogram, between em_stats and
 * em_kstats in any mix: counts and sums add, extremes widen.
 */
#define EM_STATS_MERGE(a, b)                                                    \
	do {                                                                    \
		if ((b)->lat_count) {                                           \
			if (!(a)->lat_count || (b)->lat_min < (a)->lat_min)     \
				(a)->lat_min = (b)->lat_min;                    \
			if ((b)->lat_max > (a)->lat_max)                        \
				(a)->lat_max = (b)->lat_max;                    \
		}                                                               \
		(a)->count += (b)->count;                                       \
		(a)->lat_count += (b)->lat_count;                               \
		(a)->lat_sum += (b)->lat_sum;                                   \
	} while (0)

/* Adds n latency samples of lat ns to st (user space, test fixtures). */
EM_INLINE void em_stats_add_latency(struct em_stats *st, __u64 lat, __u64 n)
{
	__u32 b = em_hist_bucket(lat);

	EM_LAT_ADD(st, lat, n);
	if (b < EM_HIST_BUCKETS)
		st->hist[b] += n;
}

/*
 * One latency sample into the kernel's row (the BPF core). Returns the
 * bucket when its u32 wrapped to 0, for the caller to carry (2^32
 * samples), else EM_HIST_BUCKETS.
 */
EM_INLINE __u32 em_kstats_add_latency(struct em_kstats *st, __u64 lat)
{
	__u32 b = em_hist_bucket(lat);

	EM_LAT_ADD(st, lat, 1);
	if (b < EM_HIST_BUCKETS && !++st->hist[b]) /* b < ...: bounds the index for the verifier */
		return b;
	return EM_HIST_BUCKETS;
}

/* Direct-mapped pending slots (bpf/aggregate.bpf.h), a power of two. */
#define EM_PENDING_FAST 8192

/* Fast pending slot of a vCPU key: Fibonacci hashing, as kvm_vcpu
 * addresses are multiples of a large slab object size. */
EM_INLINE __u32 em_pending_idx(__u64 key)
{
	return (__u32)((key * 0x9E3779B97F4A7C15ULL) >> 51) & (EM_PENDING_FAST - 1);
}

/* Dense slot of (isa, raw reason), or EM_NO_SLOT for the "other" hash. */
EM_INLINE __u32 em_slot(__u32 isa, __u32 reason)
{
	if (isa == EM_ISA_VMX)
		return reason < EM_VMX_SLOTS ? reason : EM_NO_SLOT;
	if (isa == EM_ISA_SVM) {
		if (reason < 0x100)
			return EM_SVM_BASE + reason;
		if (reason - EM_SVM_EXIT_NPF < 4)
			return EM_SVM_BASE + 0x100 + (reason - EM_SVM_EXIT_NPF);
		if (reason >= EM_SVM_EXIT_VMRUN_FAIL_FIRST)
			return EM_SVM_BASE + 0x104 + (reason - EM_SVM_EXIT_VMRUN_FAIL_FIRST);
	}
	return EM_NO_SLOT;
}

#endif /* EXITMON_H */
