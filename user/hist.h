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
 * Value at quantile ppm/10^6 (0 < ppm <= 10^6) of the histogram, nearest
 * rank: the rank is ceil(ppm * total / 10^6), computed exactly. Rank 1 is
 * lat_min and the top rank lat_max when those are exact (approx says
 * which are not); otherwise the midpoint of the bucket holding the rank,
 * clamped to [lat_min, lat_max], so the error is at most half a bucket
 * (<= 1/16 of the value above 8 ns). Returns 0 for an empty histogram.
 */
uint64_t em_hist_quantile(const struct em_stats *st, uint32_t approx, uint32_t ppm);
/* Sum of the buckets. */
uint64_t em_hist_total(const struct em_stats *st);

#endif
