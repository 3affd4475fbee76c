// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Bucket bounds and percentiles of the HDR histogram in bpf/exitmon.h. */
#include <math.h>
#include "hist.h"

uint64_t em_hist_lower(uint32_t b)
{
	uint32_t group, sub, msb;

	if (b < EM_HIST_SUB)
		return b;
	if (b >= EM_HIST_BUCKETS - 1)
		return 1ULL << EM_HIST_MAX_LOG2;
	group = b / EM_HIST_SUB; /* 1 for [8,16), 2 for [16,32), ... */
	sub = b % EM_HIST_SUB;
	msb = group + EM_HIST_SUB_BITS - 1;
	return (1ULL << msb) + ((uint64_t)sub << (msb - EM_HIST_SUB_BITS));
}

uint64_t em_hist_upper(uint32_t b)
{
	if (b >= EM_HIST_BUCKETS - 1)
		return UINT64_MAX;
	return em_hist_lower(b + 1) - 1;
}

uint64_t em_hist_total(const struct em_stats *st)
{
	uint64_t t = 0;
	unsigned i;

	for (i = 0; i < EM_HIST_BUCKETS; i++)
		t += st->hist[i];
	return t;
}

uint64_t em_hist_percentile(const struct em_stats *st, double p)
{
	uint64_t total = em_hist_total(st), rank, seen = 0, lo, hi, v;
	uint32_t b;

	if (!total || p <= 0)
		return 0;
	if (p > 100)
		p = 100;
	/* nearest-rank: the smallest value with at least p% of the data at or below it */
	rank = (uint64_t)ceil(p / 100.0 * (double)total);
	if (rank < 1)
		rank = 1;
	if (rank >= total && st->lat_count)
		return st->lat_max; /* the top rank is the exact maximum */
	for (b = 0; b < EM_HIST_BUCKETS; b++) {
		seen += st->hist[b];
		if (seen >= rank)
			break;
	}
	if (b >= EM_HIST_BUCKETS)
		b = EM_HIST_BUCKETS - 1;
	lo = em_hist_lower(b);
	hi = em_hist_upper(b);
	/* The top bucket is open-ended; the exact max bounds it. */
	if (hi == UINT64_MAX || (st->lat_count && hi > st->lat_max))
		hi = st->lat_max > lo ? st->lat_max : lo;
	if (st->lat_count && lo < st->lat_min)
		lo = st->lat_min <= hi ? st->lat_min : hi;
	v = lo + (hi - lo) / 2;
	return v;
}
