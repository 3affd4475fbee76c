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
	em_arena_free(&s->hist);
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

/* st's pairs moved into a new allocation of ar, exactly nb. */
static int copy_buckets(struct em_arena *ar, struct em_rstats *st)
{
	struct em_hb *hb = NULL;

	if (st->nb && !(hb = em_arena_alloc(ar, st->nb)))
		return -ENOMEM;
	if (st->nb)
		memcpy(hb, st->hb, st->nb * sizeof(*hb));
	st->hb = hb;
	st->cap = st->nb;
	return 0;
}

int em_snapshot_copy(struct em_snapshot *dst, const struct em_snapshot *src)
{
	int rc;

	size_t i;

	dst->nrows = 0;
	em_arena_reset(&dst->hist);
	if ((rc = em_snapshot_reserve(dst, src->nrows)))
		return rc;
	dst->meta = src->meta;
	memcpy(dst->counters, src->counters, sizeof(dst->counters));
	if (src->nrows)
		memcpy(dst->rows, src->rows, src->nrows * sizeof(*dst->rows));
	for (i = 0; i < src->nrows; i++) /* the buckets into dst's own arena */
		if ((rc = copy_buckets(&dst->hist, &dst->rows[i].st)))
			return rc;
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

	if (!s->nrows)
		em_arena_reset(&s->hist); /* rows dropped (nrows = 0): their buckets too */
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

	EM_STATS_MERGE(a, b);
	for (i = 0; i < EM_HIST_BUCKETS; i++)
		a->hist[i] += b->hist[i];
}

/* ---- the arena of the rows' buckets ---------------------------------------- */

#define EM_ARENA_CHUNK 4096 /* pairs (64 KiB); > EM_HIST_BUCKETS, so any request fits */

struct em_arena_chunk {
	struct em_arena_chunk *next;
	size_t used;
	struct em_hb v[EM_ARENA_CHUNK];
};

void em_arena_free(struct em_arena *a)
{
	struct em_arena_chunk *c = a->head, *n;

	for (; c; c = n) {
		n = c->next;
		free(c);
	}
	a->head = a->cur = NULL;
}

void em_arena_reset(struct em_arena *a)
{
	a->cur = a->head;
	if (a->cur)
		a->cur->used = 0;
}

struct em_hb *em_arena_alloc(struct em_arena *a, uint32_t n)
{
	struct em_arena_chunk *c;
	struct em_hb *p;

	if (!n || n > EM_HIST_BUCKETS)
		return NULL;
	/* the chunks after cur are free (a reset keeps them): reuse them first */
	while (a->cur && a->cur->used + n > EM_ARENA_CHUNK && a->cur->next) {
		a->cur = a->cur->next;
		a->cur->used = 0;
	}
	if (!a->cur || a->cur->used + n > EM_ARENA_CHUNK) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->next = NULL;
		c->used = 0;
		if (a->cur)
			a->cur->next = c; /* cur is the last chunk here */
		else
			a->head = c;
		a->cur = c;
	}
	p = &a->cur->v[a->cur->used];
	a->cur->used += n;
	return p;
}

/* ---- sparse row statistics ------------------------------------------------ */

/*
 * a's pairs += the n pairs of v (increasing buckets). In place when the
 * union fits a's room, else into a new allocation with room to grow (a
 * total summing many rows doubles, so its dropped allocations stay below
 * its final size).
 */
static int merge(struct em_arena *ar, struct em_rstats *a, const struct em_hb *v, uint32_t n)
{
	uint32_t i = 0, j = 0, m = 0, k, cap;
	struct em_hb *hb;

	while (i < a->nb || j < n) { /* size of the union */
		if (j == n || (i < a->nb && a->hb[i].b < v[j].b))
			i++;
		else if (i == a->nb || v[j].b < a->hb[i].b)
			j++;
		else
			i++, j++;
		m++;
	}
	if (m <= a->cap && m == a->nb) { /* no new bucket: add in place */
		for (i = j = 0; j < n; j++) {
			while (a->hb[i].b != v[j].b)
				i++;
			a->hb[i].n += v[j].n;
		}
		return 0;
	}
	cap = m;
	if (a->nb && m < 2 * a->nb)
		cap = 2 * a->nb < EM_HIST_BUCKETS ? 2 * a->nb : EM_HIST_BUCKETS;
	if (m > a->cap || !a->hb) {
		if (!(hb = em_arena_alloc(ar, cap)))
			return -ENOMEM;
	} else {
		hb = a->hb; /* fits: merge from the top down, in place */
		i = a->nb;
		j = n;
		for (k = m; k-- > 0;) {
			if (j == 0 || (i > 0 && a->hb[i - 1].b > v[j - 1].b))
				hb[k] = a->hb[--i];
			else if (i == 0 || v[j - 1].b > a->hb[i - 1].b)
				hb[k] = v[--j];
			else
				hb[k] = a->hb[--i], hb[k].n += v[--j].n;
		}
		a->nb = m;
		return 0;
	}
	for (i = j = k = 0; k < m; k++) {
		if (j == n || (i < a->nb && a->hb[i].b < v[j].b))
			hb[k] = a->hb[i++];
		else if (i == a->nb || v[j].b < a->hb[i].b)
			hb[k] = v[j++];
		else
			hb[k] = a->hb[i++], hb[k].n += v[j++].n;
	}
	a->hb = hb;
	a->nb = m;
	a->cap = cap;
	return 0;
}

int em_rstats_add(struct em_arena *ar, struct em_rstats *a, const struct em_rstats *b)
{
	if (b->nb && merge(ar, a, b->hb, b->nb))
		return -ENOMEM;
	EM_STATS_MERGE(a, b);
	return 0;
}

/* The non-empty buckets of a dense histogram, in order; returns how many. */
static uint32_t sparse_of(const struct em_stats *d, struct em_hb v[EM_HIST_BUCKETS])
{
	uint32_t b, n = 0;

	for (b = 0; b < EM_HIST_BUCKETS; b++)
		if (d->hist[b])
			v[n++] = (struct em_hb){ .n = d->hist[b], .b = b };
	return n;
}

int em_rstats_add_dense(struct em_arena *ar, struct em_rstats *a, const struct em_stats *b)
{
	struct em_hb v[EM_HIST_BUCKETS];
	uint32_t n = sparse_of(b, v);

	if (n && merge(ar, a, v, n))
		return -ENOMEM;
	EM_STATS_MERGE(a, b);
	return 0;
}

int em_rstats_add_bucket(struct em_arena *ar, struct em_rstats *a, uint32_t b, uint64_t n)
{
	struct em_hb v = { .n = n, .b = b };

	if (!n)
		return 0;
	if (b >= EM_HIST_BUCKETS)
		return -EINVAL;
	if (a->nb && a->hb[a->nb - 1].b == b) { /* the loader's case: buckets come in order */
		a->hb[a->nb - 1].n += n;
		return 0;
	}
	if (a->nb < a->cap && (!a->nb || a->hb[a->nb - 1].b < b)) {
		a->hb[a->nb++] = v;
		return 0;
	}
	return merge(ar, a, &v, 1);
}

int em_rstats_add_latency(struct em_arena *ar, struct em_rstats *a, uint64_t lat, uint64_t n)
{
	struct em_rstats x = { .lat_count = n, .lat_sum = lat * n, .lat_min = lat, .lat_max = lat };

	if (em_rstats_add_bucket(ar, a, em_hist_bucket(lat), n))
		return -ENOMEM;
	EM_STATS_MERGE(a, &x);
	return 0;
}

uint64_t em_rstats_bucket(const struct em_rstats *a, uint32_t b)
{
	uint32_t i;

	for (i = 0; i < a->nb; i++)
		if (a->hb[i].b == b)
			return a->hb[i].n;
	return 0;
}

void em_stats_add_rstats(struct em_stats *a, const struct em_rstats *b)
{
	uint32_t i;

	EM_STATS_MERGE(a, b);
	for (i = 0; i < b->nb; i++)
		if (b->hb[i].b < EM_HIST_BUCKETS)
			a->hist[b->hb[i].b] += b->hb[i].n;
}

void em_rstats_view(struct em_rstats *out, const struct em_stats *d, struct em_hb buf[EM_HIST_BUCKETS])
{
	*out = (struct em_rstats){ .count = d->count, .lat_count = d->lat_count, .lat_sum = d->lat_sum,
				   .lat_min = d->lat_min, .lat_max = d->lat_max, .hb = buf };
	out->nb = out->cap = sparse_of(d, buf);
}

int em_snapshot_add_stats(struct em_snapshot *s, struct em_row *r, const struct em_stats *st)
{
	return em_rstats_add_dense(&s->hist, &r->st, st);
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * out's pairs = cur's - prev's, the buckets that differ (wrapping as
 * unsigned, as the dense subtraction did, should prev exceed cur).
 */
static int sub_buckets(struct em_arena *ar, struct em_rstats *out, const struct em_rstats *cur,
		       const struct em_rstats *prev)
{
	uint32_t i = 0, j = 0, m = 0, pass;

	out->hb = NULL;
	out->nb = out->cap = 0;
	for (pass = 0; pass < 2; pass++) { /* count, then fill */
		if (pass) {
			if (!m)
				return 0;
			if (!(out->hb = em_arena_alloc(ar, m)))
				return -ENOMEM;
			out->cap = m;
		}
		for (i = j = 0; i < cur->nb || j < prev->nb;) {
			uint64_t n;
			uint32_t b;

			if (j == prev->nb || (i < cur->nb && cur->hb[i].b < prev->hb[j].b)) {
				b = cur->hb[i].b;
				n = cur->hb[i++].n;
			} else if (i == cur->nb || prev->hb[j].b < cur->hb[i].b) {
				b = prev->hb[j].b;
				n = -prev->hb[j++].n;
			} else {
				b = cur->hb[i].b;
				n = cur->hb[i++].n - prev->hb[j++].n;
			}
			if (!n)
				continue;
			if (!pass)
				m++;
			else
				out->hb[out->nb++] = (struct em_hb){ .n = n, .b = b };
		}
	}
	return 0;
}

int em_stats_sub(struct em_arena *ar, struct em_rstats *out, const struct em_rstats *cur,
		 const struct em_rstats *prev, uint32_t *approx_out)
{
	uint64_t lo, hi;
	uint32_t approx = 0, first, last;

	*approx_out = 0;
	out->count = cur->count - prev->count;
	out->lat_count = cur->lat_count - prev->lat_count;
	out->lat_sum = cur->lat_sum - prev->lat_sum;
	if (sub_buckets(ar, out, cur, prev))
		return -ENOMEM;
	out->lat_min = out->lat_max = 0;
	if (!out->lat_count)
		return 0;
	if (!prev->lat_count) { /* every sample is in the interval */
		out->lat_min = cur->lat_min;
		out->lat_max = cur->lat_max;
		return 0;
	}
	if (out->nb) {
		first = out->hb[0].b;
		last = out->hb[out->nb - 1].b;
	} else {
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
	*approx_out = approx;
	return 0;
}

int em_snapshot_delta(struct em_snapshot *out, const struct em_snapshot *cur,
		      const struct em_snapshot *prev)
{
	size_t i;

	if (!prev)
		return em_snapshot_copy(out, cur);
	out->nrows = 0; /* out's buffers are reused */
	em_arena_reset(&out->hist);
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
			if (em_stats_sub(&out->hist, &o->st, &c->st, &p->st, &o->approx))
				return -ENOMEM;
		} else {
			o->st = c->st; /* new in the interval: all of it, with its own bounds */
			o->approx = c->approx;
			if (copy_buckets(&out->hist, &o->st))
				return -ENOMEM;
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
