// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Kernel rows (u32 buckets + carries) to exact user-space stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kstats.h"

void em_kstats_add(struct em_stats *dst, const struct em_kstats *src)
{
	unsigned i;

	EM_STATS_MERGE(dst, src);
	for (i = 0; i < EM_HIST_BUCKETS; i++)
		dst->hist[i] += src->hist[i];
}

int em_carries_push(struct em_carries *c, const struct em_carry_key *key, uint64_t n)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct em_carry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].key = *key;
	c->v[c->n].n = n;
	c->n++;
	return 0;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

/* Order of (isa, reason, tgid, vcpu); bucket last when with_bucket. */
static int cmp_key(const struct em_carry_key *a, const struct em_carry_key *b, bool with_bucket)
{
	int r;

	if ((r = cmp_u32(a->key.isa, b->key.isa)) || (r = cmp_u32(a->key.reason, b->key.reason)) ||
	    (r = cmp_u32(a->key.tgid, b->key.tgid)) || (r = cmp_u32(a->key.vcpu, b->key.vcpu)))
		return r;
	return with_bucket ? cmp_u32(a->bucket, b->bucket) : 0;
}

static int cmp_carry(const void *a, const void *b)
{
	return cmp_key(&((const struct em_carry *)a)->key, &((const struct em_carry *)b)->key, true);
}

void em_carries_sort(struct em_carries *c)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), cmp_carry);
}

bool em_carries_equal(const struct em_carries *a, const struct em_carries *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (cmp_key(&a->v[i].key, &b->v[i].key, true) || a->v[i].n != b->v[i].n)
			return false;
	return true;
}

void em_carries_apply(const struct em_carries *c, const struct em_key *key, struct em_stats *st)
{
	struct em_carry_key k = { .key = *key };
	size_t lo = 0, hi = c->n, mid;

	if (!c->n)
		return; /* the usual case: no bucket ever wrapped */
	while (lo < hi) { /* first entry of key */
		mid = lo + (hi - lo) / 2;
		if (cmp_key(&c->v[mid].key, &k, false) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->n && !cmp_key(&c->v[lo].key, &k, false); lo++)
		if (c->v[lo].key.bucket < EM_HIST_BUCKETS)
			st->hist[c->v[lo].key.bucket] += c->v[lo].n << 32;
}

struct em_key em_carry_row_key(uint32_t row)
{
	return (struct em_key){ .isa = 0, .reason = row, .tgid = EM_ANY_PID, .vcpu = EM_ANY_VCPU };
}

void em_carries_free(struct em_carries *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}
