/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* HDR log2 latency buckets (bpf/exitmon.h) -> bounds and percentiles. */
#ifndef EXITMON_HIST_H
#define EXITMON_HIST_H

#include <stdint.h>
#include <linux/types.h>
#include "exitmon.h"

/* Smallest value that falls in bucket b. */
uint64_t em_hist_lower(uint32_t b);
/* Largest value that falls in bucket b (UINT64_MAX for the last one). */
uint64_t em_hist_upper(uint32_t b);
/*
 * Value at percentile p (0 < p <= 100) of the histogram: the midpoint of
 * the bucket holding that rank, clamped to [min, max] of the data, so the
 * error is at most half a bucket (<= 1/16 of the value above 8 ns).
 * Returns 0 for an empty histogram.
 */
uint64_t em_hist_percentile(const struct em_stats *st, double p);
/* Sum of the buckets. */
uint64_t em_hist_total(const struct em_stats *st);

#endif
