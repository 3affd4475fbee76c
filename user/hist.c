// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Bucket bounds and percentiles of the HDR histogram in bpf/exitmon.h. */
#include "hist.h"

const struct em_hist_layout em_hist_native = { EM_HIST_SUB_BITS, EM_HIST_MAX_LOG2 };

_Static_assert((EM_HIST_MAX_LOG2 - EM_HIST_SUB_BITS + 1) * EM_HIST_SUB + 1 == EM_HIST_BUCKETS,
	       "em_layout_buckets() must agree with bpf/exitmon.h");

bool em_layout_valid(const struct em_hist_layout *l)
{
	return l->sub_bits <= EM_HIST_LAYOUT_MAX_SUB_BITS && l->max_log2 > l->sub_bits &&
	       l->max_log2 <= EM_HIST_LAYOUT_MAX_LOG2;
}

uint32_t em_layout_buckets(const struct em_hist_layout *l)
{
	return (l->max_log2 - l->sub_bits + 1) * (1u << l->sub_bits) + 1;
}

uint64_t em_layout_lower(const struct em_hist_layout *l, uint32_t b)
{
	uint32_t group, sub, msb;

	if (b < (1u << l->sub_bits))
		return b;
	if (b >= em_layout_buckets(l) - 1)
		return 1ULL << l->max_log2;
	group = b >> l->sub_bits; /* 1 for [2^s, 2^(s+1)), 2 for the next power, ... */
	sub = b & ((1u << l->sub_bits) - 1);
	msb = group + l->sub_bits - 1;
	return (1ULL << msb) + ((uint64_t)sub << (msb - l->sub_bits));
}

uint64_t em_layout_upper(const struct em_hist_layout *l, uint32_t b)
{
	if (b >= em_layout_buckets(l) - 1)
		return UINT64_MAX;
	return em_layout_lower(l, b + 1) - 1;
}

uint64_t em_hist_lower(uint32_t b)
{
	return em_layout_lower(&em_hist_native, b);
}

uint64_t em_hist_upper(uint32_t b)
{
	return em_layout_upper(&em_hist_native, b);
}

uint64_t em_stats_total(const struct em_stats *st)
{
	uint64_t t = 0;
	unsigned i;

	for (i = 0; i < EM_HIST_BUCKETS; i++)
		t += st->hist[i];
	return t;
}

uint64_t em_rstats_total(const struct em_rstats *st)
{
	uint64_t t = 0;
	uint32_t i;

	for (i = 0; i < st->nb; i++)
		t += st->hb[i].n;
	return t;
}

uint64_t em_hist_quantile(const struct em_rstats *st, uint32_t approx, uint32_t ppm)
{
	uint64_t total = em_rstats_total(st), rank, seen = 0, lo, hi;
	uint32_t i, b;

	if (!total || !ppm)
		return 0;
	if (ppm > EM_PPM_MAX)
		ppm = EM_PPM_MAX;
	/* nearest rank, exactly: ceil(ppm * total / 10^6) in 128 bits */
	rank = (uint64_t)(((unsigned __int128)ppm * total + EM_PPM_MAX - 1) / EM_PPM_MAX);
	if (st->lat_count && rank >= total && !(approx & EM_APPROX_MAX))
		return st->lat_max; /* the top rank is the exact maximum */
	if (st->lat_count && rank == 1 && !(approx & EM_APPROX_MIN))
		return st->lat_min;
	for (i = 0; i < st->nb; i++) {
		seen += st->hb[i].n;
		if (seen >= rank)
			break;
	}
	/* not reached only when the sum wrapped: the top bucket, as the dense walk did */
	b = i < st->nb && st->hb[i].b < EM_HIST_BUCKETS ? st->hb[i].b : EM_HIST_BUCKETS - 1;
	lo = em_hist_lower(b);
	hi = em_hist_upper(b);
	/* min and max (exact or bounds) bound every sample, the open top bucket too */
	if (st->lat_count && hi > st->lat_max)
		hi = st->lat_max > lo ? st->lat_max : lo;
	if (st->lat_count && lo < st->lat_min)
		lo = st->lat_min <= hi ? st->lat_min : hi;
	return lo + (hi - lo) / 2;
}
