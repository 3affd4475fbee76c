/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* HDR log2 latency buckets (bpf/exitmon.h) -> bounds and percentiles. */
#ifndef EXITMON_HIST_H
#define EXITMON_HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "exitmon.h"

/*
 * A histogram layout of the HDR log2 family: values below 2^sub_bits get
 * one bucket each, every power of two above is split into 2^sub_bits
 * linear sub-buckets, values >= 2^max_log2 share the last bucket. The
 * kernel's is em_hist_native; snapshot files name theirs (docs/snapshots.md)
 * so a file written with another layout can still be read.
 */
struct em_hist_layout {
	uint32_t sub_bits;
	uint32_t max_log2;
};

#define EM_HIST_LAYOUT_MAX_SUB_BITS 16
#define EM_HIST_LAYOUT_MAX_LOG2 63

extern const struct em_hist_layout em_hist_native;

/* True when the parameters describe a layout this code can handle. */
bool em_layout_valid(const struct em_hist_layout *l);
/* Number of buckets of a valid layout. */
uint32_t em_layout_buckets(const struct em_hist_layout *l);
/* Smallest value in bucket b of l. */
uint64_t em_layout_lower(const struct em_hist_layout *l, uint32_t b);
/* Largest value in bucket b of l (UINT64_MAX for the last one). */
uint64_t em_layout_upper(const struct em_hist_layout *l, uint32_t b);

/* Bounds of the native buckets. */
uint64_t em_hist_lower(uint32_t b);
uint64_t em_hist_upper(uint32_t b);

/*
 * Bits of em_row.approx: lat_min / lat_max are not the exact extremes
 * but bounds taken from the histogram (an interval's min is then a lower
 * bound of it, its max an upper bound, both inside the extreme bucket).
 */
#define EM_APPROX_MIN 1u
#define EM_APPROX_MAX 2u

/* Quantiles in parts per million, so ranks are integer arithmetic. */
#define EM_PPM_P50 500000u
#define EM_PPM_P99 990000u
#define EM_PPM_MAX 1000000u

/*
 * A row's histogram is sparse: only its non-empty buckets, as (bucket,
 * count) pairs in increasing bucket order (a run's rows typically fill
 * 2-6 of the 273 buckets). The kernel's dense struct em_stats is what the
 * collector hands over (em_snapshot_add_stats()); rows never hold it,
 * so a row is ~80 bytes plus 16 per non-empty bucket instead of 2.2 KiB.
 */
struct em_hb {
	uint64_t n; /* samples, > 0 */
	uint32_t b; /* native bucket (bpf/exitmon.h) */
	uint32_t pad;
};

struct em_rstats {
	uint64_t count;     /* exits */
	uint64_t lat_count; /* exits whose next entry was seen */
	uint64_t lat_sum;   /* ns */
	uint64_t lat_min;   /* ns; meaningful only when lat_count > 0 */
	uint64_t lat_max;   /* ns */
	struct em_hb *hb;   /* nb pairs, room for cap, in an arena (model.h) */
	uint32_t nb, cap;
};

/*
 * Value at quantile ppm/10^6 (0 < ppm <= 10^6) of the histogram, nearest
 * rank: the rank is ceil(ppm * total / 10^6), computed exactly. Rank 1 is
 * lat_min and the top rank lat_max when those are exact (approx says
 * which are not); otherwise the midpoint of the bucket holding the rank,
 * clamped to [lat_min, lat_max], so the error is at most half a bucket
 * (<= 1/16 of the value above 8 ns). Returns 0 for an empty histogram.
 */
uint64_t em_hist_quantile(const struct em_rstats *st, uint32_t approx, uint32_t ppm);
/*
 * Sum of the buckets, of a row's sparse stats or of the kernel's dense
 * ones (the BPF tier checks both with this one name).
 */
uint64_t em_rstats_total(const struct em_rstats *st);
uint64_t em_stats_total(const struct em_stats *st);
#define em_hist_total(st)                                                                   \
	_Generic((st), struct em_rstats *: em_rstats_total, const struct em_rstats *: em_rstats_total, \
		 default: em_stats_total)(st)

#endif
