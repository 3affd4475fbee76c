// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* In-memory run data: rows of summed stats, their index, deltas, merges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

const char *const em_counter_names[EM_CNT__MAX] = {
	[EM_CNT_EXITS] = "exits",
	[EM_CNT_FILTERED] = "filtered",
	[EM_CNT_ENTRIES] = "entries",
	[EM_CNT_UNPAIRED_ENTRY] = "unpaired_entries",
	[EM_CNT_PENDING_FULL] = "pending_full",
	[EM_CNT_OTHER_OVERFLOW] = "other_overflow",
	[EM_CNT_BREAKDOWN_OVERFLOW] = "breakdown_overflow",
	[EM_CNT_RECURSION_MISSES] = "recursion_misses",
	[EM_CNT_HIST_CARRY_LOST] = "hist_carry_lost",
	[EM_CNT_MAP_BYTES] = "map_bytes",
};

void em_snapshot_init(struct em_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->meta.filters.vcpu = -1;
	s->meta.hist_layout = em_hist_native;
}

void em_snapshot_free(struct em_snapshot *s)
{
	free(s->rows);
	free(s->index);
	s->rows = NULL;
	s->index = NULL;
	s->nrows = s->cap = s->index_cap = s->nindexed = 0;
	em_labels_free(&s->labels);
}

static bool same_key(const struct em_row *r, uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu)
{
	return r->isa == isa && r->reason == reason && r->tgid == tgid && r->vcpu == vcpu;
}

static size_t hash_key(uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu)
{
	/* two rounds of a 64-bit mixer (splitmix64's) over the 128-bit key */
	uint64_t h = ((uint64_t)isa << 32 | reason) * 0x9e3779b97f4a7c15ULL;

	h ^= ((uint64_t)tgid << 32 | vcpu);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)(h ^ (h >> 31));
}

/* Slot of the key in the index: the row's slot, or the empty one that ends its probe. */
static size_t probe(const struct em_snapshot *s, uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu)
{
	size_t mask = s->index_cap - 1, i = hash_key(isa, reason, tgid, vcpu) & mask;

	while (s->index[i] && !same_key(&s->rows[s->index[i] - 1], isa, reason, tgid, vcpu))
		i = (i + 1) & mask;
	return i;
}

/*
 * Indexes rows [nindexed, nrows) with room for `extra` more; rebuilds from
 * scratch when rows were removed or the table must grow.
 */
static int reindex(struct em_snapshot *s, size_t extra, size_t *dup)
{
	size_t need = 16;

	if (s->nrows + extra > UINT32_MAX - 1)
		return -ENOMEM; /* slots hold row + 1 in 32 bits */
	while (need < 2 * (s->nrows + extra))
		need *= 2;
	if (s->nrows < s->nindexed || need > s->index_cap) {
		uint32_t *n = calloc(need, sizeof(*n));

		if (!n)
			return -ENOMEM;
		free(s->index);
		s->index = n;
		s->index_cap = need;
		s->nindexed = 0;
	}
	for (; s->nindexed < s->nrows; s->nindexed++) {
		const struct em_row *r = &s->rows[s->nindexed];
		size_t i = probe(s, r->isa, r->reason, r->tgid, r->vcpu);

		if (s->index[i]) {
			if (dup)
				*dup = s->nindexed;
			return -EEXIST;
		}
		s->index[i] = (uint32_t)s->nindexed + 1;
	}
	return 0;
}

int em_snapshot_reindex(struct em_snapshot *s, size_t *dup)
{
	return reindex(s, 0, dup);
}

const struct em_row *em_snapshot_find(const struct em_snapshot *s, uint32_t isa, uint32_t reason,
				      uint32_t tgid, uint32_t vcpu)
{
	size_t i;

	if (s->index_cap && s->nindexed == s->nrows) {
		i = probe(s, isa, reason, tgid, vcpu);
		return s->index[i] ? &s->rows[s->index[i] - 1] : NULL;
	}
	for (i = 0; i < s->nrows; i++)
		if (same_key(&s->rows[i], isa, reason, tgid, vcpu))
			return &s->rows[i];
	return NULL;
}

int em_snapshot_reserve(struct em_snapshot *s, size_t n)
{
	struct em_row *rows;

	if (n <= s->cap)
		return 0;
	rows = realloc(s->rows, n * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	s->rows = rows;
	s->cap = n;
	return reindex(s, n - s->nrows, NULL) == -ENOMEM ? -ENOMEM : 0;
}

int em_snapshot_copy(struct em_snapshot *dst, const struct em_snapshot *src)
{
	int rc;

	dst->nrows = 0;
	if ((rc = em_snapshot_reserve(dst, src->nrows)))
		return rc;
	dst->meta = src->meta;
	memcpy(dst->counters, src->counters, sizeof(dst->counters));
	if (src->nrows)
		memcpy(dst->rows, src->rows, src->nrows * sizeof(*dst->rows));
	dst->nrows = src->nrows;
	if (em_labels_copy(&dst->labels, &src->labels))
		return -ENOMEM;
	return reindex(dst, 0, NULL);
}

struct em_row *em_snapshot_row(struct em_snapshot *s, uint32_t isa, uint32_t reason,
			       uint32_t tgid, uint32_t vcpu)
{
	struct em_row *r;
	size_t i;

	/* room for one more row in the index first, so the slot found stays valid */
	if (reindex(s, 1, NULL))
		return NULL;
	i = probe(s, isa, reason, tgid, vcpu);
	if (s->index[i])
		return &s->rows[s->index[i] - 1];
	if (s->nrows == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct em_row *n = realloc(s->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->rows = n;
		s->cap = cap;
	}
	r = &s->rows[s->nrows];
	memset(r, 0, sizeof(*r));
	r->isa = isa;
	r->reason = reason;
	r->tgid = tgid;
	r->vcpu = vcpu;
	s->index[i] = (uint32_t)s->nrows + 1;
	s->nindexed = ++s->nrows;
	return r;
}

void em_stats_add(struct em_stats *a, const struct em_stats *b)
{
	unsigned i;

	if (b->lat_count) {
		if (!a->lat_count || b->lat_min < a->lat_min)
			a->lat_min = b->lat_min;
		if (b->lat_max > a->lat_max)
			a->lat_max = b->lat_max;
	}
	a->count += b->count;
	a->lat_count += b->lat_count;
	a->lat_sum += b->lat_sum;
	for (i = 0; i < EM_HIST_BUCKETS; i++)
		a->hist[i] += b->hist[i];
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

uint32_t em_stats_sub(struct em_stats *out, const struct em_stats *cur, const struct em_stats *prev)
{
	uint64_t lo, hi;
	uint32_t approx = 0, b, first, last;

	out->count = cur->count - prev->count;
	out->lat_count = cur->lat_count - prev->lat_count;
	out->lat_sum = cur->lat_sum - prev->lat_sum;
	for (b = 0; b < EM_HIST_BUCKETS; b++) /* branch-free: the compiler vectorises it */
		out->hist[b] = cur->hist[b] - prev->hist[b];
	out->lat_min = out->lat_max = 0;
	if (!out->lat_count)
		return 0;
	if (!prev->lat_count) { /* every sample is in the interval */
		out->lat_min = cur->lat_min;
		out->lat_max = cur->lat_max;
		return 0;
	}
	for (first = 0; first < EM_HIST_BUCKETS && !out->hist[first]; first++)
		;
	for (last = EM_HIST_BUCKETS - 1; last > first && !out->hist[last]; last--)
		;
	if (first == EM_HIST_BUCKETS) {
		/* buckets read before the counts moved: only the run's extremes bound it */
		first = 0;
		last = EM_HIST_BUCKETS - 1;
	}
	if (cur->lat_min < prev->lat_min) {
		out->lat_min = cur->lat_min; /* a new minimum: it is in this interval */
	} else {
		lo = clamp(em_hist_lower(first), cur->lat_min, cur->lat_max);
		hi = clamp(em_hist_upper(first), lo, cur->lat_max);
		out->lat_min = lo;
		approx |= lo == hi ? 0 : EM_APPROX_MIN;
	}
	if (cur->lat_max > prev->lat_max) {
		out->lat_max = cur->lat_max;
	} else {
		lo = clamp(em_hist_lower(last), cur->lat_min, cur->lat_max);
		hi = clamp(em_hist_upper(last), lo, cur->lat_max);
		out->lat_max = hi;
		approx |= lo == hi ? 0 : EM_APPROX_MAX;
	}
	if (out->lat_count == 1) {
		out->lat_min = out->lat_max = out->lat_sum;
		approx = 0;
	} else if (out->lat_count == 2 && approx == EM_APPROX_MAX) {
		out->lat_max = out->lat_sum - out->lat_min;
		approx = 0;
	} else if (out->lat_count == 2 && approx == EM_APPROX_MIN) {
		out->lat_min = out->lat_sum - out->lat_max;
		approx = 0;
	}
	return approx;
}

int em_snapshot_delta(struct em_snapshot *out, const struct em_snapshot *cur,
		      const struct em_snapshot *prev)
{
	size_t i;

	if (!prev)
		return em_snapshot_copy(out, cur);
	out->nrows = 0; /* out's buffers are reused */
	if (em_snapshot_reserve(out, cur->nrows))
		return -ENOMEM;
	out->meta = cur->meta;
	out->meta.interval = true;
	if (em_labels_copy(&out->labels, &cur->labels))
		return -ENOMEM;
	for (i = 0; i < EM_CNT__MAX; i++)
		out->counters[i] = cur->counters[i] - prev->counters[i];
	out->counters[EM_CNT_MAP_BYTES] = cur->counters[EM_CNT_MAP_BYTES]; /* a gauge */
	for (i = 0; i < cur->nrows; i++) {
		const struct em_row *c = &cur->rows[i];
		const struct em_row *p = em_snapshot_find(prev, c->isa, c->reason, c->tgid, c->vcpu);
		struct em_row *o;

		if (p && p->st.count == c->st.count && p->st.lat_count == c->st.lat_count)
			continue; /* nothing happened in the interval */
		o = em_snapshot_row(out, c->isa, c->reason, c->tgid, c->vcpu);
		if (!o)
			return -ENOMEM;
		if (p) {
			o->approx = em_stats_sub(&o->st, &c->st, &p->st);
		} else {
			o->st = c->st; /* new in the interval: all of it, with its own bounds */
			o->approx = c->approx;
		}
	}
	return 0;
}

bool em_row_matches(const struct em_row *r, const uint32_t *reasons, size_t n)
{
	uint32_t basic = r->isa == EM_ISA_VMX ? r->reason & EM_VMX_BASIC_MASK : r->reason;
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (reasons[i] == r->reason || reasons[i] == basic)
			return true;
	return false;
}

uint64_t em_snapshot_total(const struct em_snapshot *s)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < s->nrows; i++)
		if (em_row_is_total(&s->rows[i]))
			t += s->rows[i].st.count;
	return t;
}
