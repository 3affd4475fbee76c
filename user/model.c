// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* In-memory run data: rows of summed stats, deltas, merges. */
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
};

void em_snapshot_init(struct em_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->meta.filters.vcpu = -1;
}

void em_snapshot_free(struct em_snapshot *s)
{
	free(s->rows);
	s->rows = NULL;
	s->nrows = s->cap = 0;
	em_labels_free(&s->labels);
}

struct em_row *em_snapshot_row(struct em_snapshot *s, uint32_t isa, uint32_t reason,
			       uint32_t tgid, uint32_t vcpu)
{
	struct em_row *r;
	size_t i;

	/* Linear: a run has tens of distinct rows, hundreds with a breakdown. */
	for (i = 0; i < s->nrows; i++) {
		r = &s->rows[i];
		if (r->isa == isa && r->reason == reason && r->tgid == tgid && r->vcpu == vcpu)
			return r;
	}
	if (s->nrows == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct em_row *n = realloc(s->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->rows = n;
		s->cap = cap;
	}
	r = &s->rows[s->nrows++];
	memset(r, 0, sizeof(*r));
	r->isa = isa;
	r->reason = reason;
	r->tgid = tgid;
	r->vcpu = vcpu;
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

void em_stats_sub(struct em_stats *out, const struct em_stats *cur, const struct em_stats *prev)
{
	unsigned i;

	/* min/max are not subtractable: the interval view keeps the run's. */
	out->count = cur->count - prev->count;
	out->lat_count = cur->lat_count - prev->lat_count;
	out->lat_sum = cur->lat_sum - prev->lat_sum;
	out->lat_min = cur->lat_min;
	out->lat_max = cur->lat_max;
	for (i = 0; i < EM_HIST_BUCKETS; i++)
		out->hist[i] = cur->hist[i] - prev->hist[i];
}

static const struct em_row *find_row(const struct em_snapshot *s, const struct em_row *like)
{
	size_t i;

	for (i = 0; i < s->nrows; i++) {
		const struct em_row *r = &s->rows[i];

		if (r->isa == like->isa && r->reason == like->reason && r->tgid == like->tgid &&
		    r->vcpu == like->vcpu)
			return r;
	}
	return NULL;
}

int em_snapshot_delta(struct em_snapshot *out, const struct em_snapshot *cur,
		      const struct em_snapshot *prev)
{
	static const struct em_stats zero;
	size_t i;

	out->meta = cur->meta;
	if (em_labels_copy(&out->labels, &cur->labels))
		return -ENOMEM;
	for (i = 0; i < EM_CNT__MAX; i++)
		out->counters[i] = cur->counters[i] - (prev ? prev->counters[i] : 0);
	for (i = 0; i < cur->nrows; i++) {
		const struct em_row *c = &cur->rows[i];
		const struct em_row *p = prev ? find_row(prev, c) : NULL;
		struct em_row *o;

		if (p && p->st.count == c->st.count && p->st.lat_count == c->st.lat_count)
			continue; /* nothing happened in the interval */
		o = em_snapshot_row(out, c->isa, c->reason, c->tgid, c->vcpu);
		if (!o)
			return -ENOMEM;
		em_stats_sub(&o->st, &c->st, p ? &p->st : &zero);
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
