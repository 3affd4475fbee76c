// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The row model (user/model.c): interval deltas with their min/max and
 * percentiles, and the row index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hist.h"
#include "model.h"

/* cur = prev + samples: the cumulative readings the collector would give (dense). */
static void lat(struct em_stats *st, uint64_t v, uint64_t n)
{
	st->count += n;
	em_stats_add_latency(st, v, n);
}

/* The same samples added to a row of s (sparse, in s's arena). */
static void rlat(struct em_snapshot *s, struct em_row *r, uint64_t v, uint64_t n)
{
	r->st.count += n;
	assert_int_equal(em_rstats_add_latency(&s->hist, &r->st, v, n), 0);
}

static struct em_arena arena; /* the rows of sub(): reset by each call */

/* em_stats_sub of two collector readings, made sparse as rows hold them. */
static uint32_t sub(struct em_rstats *out, const struct em_stats *cur, const struct em_stats *prev)
{
	struct em_rstats c = { 0 }, p = { 0 };
	uint32_t approx = 99;

	em_arena_reset(&arena);
	assert_int_equal(em_rstats_add_dense(&arena, &c, cur), 0);
	assert_int_equal(em_rstats_add_dense(&arena, &p, prev), 0);
	assert_int_equal(em_stats_sub(&arena, out, &c, &p, &approx), 0);
	assert_true(approx != 99);
	return approx;
}

/* The rig's case: 400 fast IOIO exits (~30 us) after an interval of 40 ms ones. */
static void test_fast_interval_after_slow(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;
	uint32_t approx;

	(void)state;
	lat(&prev, 40000000, 10);
	lat(&prev, 29000, 5); /* the run's min is also set before */
	cur = prev;
	lat(&cur, 30000, 398);
	lat(&cur, 31000, 2);
	approx = sub(&out, &cur, &prev);
	assert_int_equal(out.count, 400);
	assert_int_equal(out.lat_count, 400);
	assert_int_equal(out.lat_sum, 398 * 30000ULL + 2 * 31000ULL);
	/* max: bounded by the interval's top bucket [30720, 32767], not 40 ms */
	assert_int_equal(approx, EM_APPROX_MIN | EM_APPROX_MAX);
	assert_int_equal(out.lat_max, em_hist_upper(em_hist_bucket(31000)));
	assert_true(out.lat_max >= 31000 && out.lat_max < 31000 * 1.125);
	/* min: the lower bound of the interval's lowest bucket [28672, 30719],
	 * raised to the run's min (29000, in the same bucket) */
	assert_int_equal(out.lat_min, 29000);
	/* percentiles stay inside the interval's buckets */
	assert_true(em_hist_quantile(&out, approx, EM_PPM_P99) <= out.lat_max);
	assert_true(em_hist_quantile(&out, approx, EM_PPM_P50) >= out.lat_min);
	/* the top rank with an inexact max: the bucket's midpoint, not the bound */
	assert_int_equal(em_hist_quantile(&out, approx, EM_PPM_MAX),
			 30720 + (em_hist_upper(em_hist_bucket(31000)) - 30720) / 2);
}

/* One 2 us sample after an earlier 5 ms exit: P50 = P99 = MAX = MIN = 2 us, exact. */
static void test_single_sample_is_exact(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;
	uint32_t approx;

	(void)state;
	lat(&prev, 5000000, 1);
	lat(&prev, 1000, 1);
	cur = prev;
	lat(&cur, 2000, 1);
	approx = sub(&out, &cur, &prev);
	assert_int_equal(approx, 0);
	assert_int_equal(out.lat_min, 2000);
	assert_int_equal(out.lat_max, 2000);
	assert_int_equal(em_hist_quantile(&out, approx, EM_PPM_P50), 2000);
	assert_int_equal(em_hist_quantile(&out, approx, EM_PPM_P99), 2000);
}

/* A new record in the interval is its exact extreme. */
static void test_new_records_exact(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;
	uint32_t approx;

	(void)state;
	lat(&prev, 5000, 10);
	cur = prev;
	lat(&cur, 6000, 5);
	lat(&cur, 90000, 1); /* new max */
	approx = sub(&out, &cur, &prev);
	assert_int_equal(approx, EM_APPROX_MIN);
	assert_int_equal(out.lat_max, 90000);
	assert_int_equal(em_hist_quantile(&out, approx, EM_PPM_MAX), 90000);

	prev = cur;
	lat(&cur, 100, 1); /* new min */
	lat(&cur, 6000, 3);
	approx = sub(&out, &cur, &prev);
	assert_int_equal(approx, EM_APPROX_MAX);
	assert_int_equal(out.lat_min, 100);
	assert_int_equal(em_hist_quantile(&out, approx, 1), 100); /* rank 1 */
	assert_int_equal(out.lat_max, em_hist_upper(em_hist_bucket(6000)));
}

/* Two samples, one extreme known: the other is the sum minus it. */
static void test_two_samples(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;

	(void)state;
	lat(&prev, 1000, 1);
	lat(&prev, 50000, 1);
	cur = prev;
	lat(&cur, 500, 1);   /* new min: exact */
	lat(&cur, 20000, 1); /* max below the run's: sum - min */
	assert_int_equal(sub(&out, &cur, &prev), 0);
	assert_int_equal(out.lat_min, 500);
	assert_int_equal(out.lat_max, 20000);

	prev = cur;
	lat(&cur, 1500, 1);
	lat(&cur, 60000, 1); /* new max: exact, min = sum - max */
	assert_int_equal(sub(&out, &cur, &prev), 0);
	assert_int_equal(out.lat_min, 1500);
	assert_int_equal(out.lat_max, 60000);
}

/* Values below 8 ns have one-value buckets: bounds there are exact. */
static void test_one_value_buckets_exact(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;

	(void)state;
	lat(&prev, 2, 3);
	lat(&prev, 7, 3);
	cur = prev;
	lat(&cur, 3, 4);
	lat(&cur, 6, 4);
	assert_int_equal(sub(&out, &cur, &prev), 0);
	assert_int_equal(out.lat_min, 3);
	assert_int_equal(out.lat_max, 6);
}

/* Bounds never leave [run min, run max] (the last bucket is open-ended). */
static void test_bounds_clamped_to_run(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;
	uint32_t approx;

	(void)state;
	lat(&prev, 1ULL << 40, 2);
	lat(&prev, 1ULL << 37, 2);
	cur = prev;
	lat(&cur, 1ULL << 38, 3);
	approx = sub(&out, &cur, &prev);
	assert_int_equal(approx, EM_APPROX_MIN | EM_APPROX_MAX);
	assert_int_equal(out.lat_max, 1ULL << 40); /* top bucket: the run's max bounds it */
	assert_int_equal(out.lat_min, 1ULL << 37);
}

/* No latency in the interval, or none before it. */
static void test_empty_and_first_interval(void **state)
{
	struct em_stats prev = { 0 }, cur;
	struct em_rstats out;

	(void)state;
	cur = prev;
	cur.count = 3;
	assert_int_equal(sub(&out, &cur, &prev), 0);
	assert_int_equal(out.count, 3);
	assert_int_equal(out.lat_min, 0);
	assert_int_equal(out.lat_max, 0);
	lat(&cur, 700, 2);
	lat(&cur, 9000, 2);
	assert_int_equal(sub(&out, &cur, &prev), 0);
	assert_int_equal(out.lat_min, 700);
	assert_int_equal(out.lat_max, 9000);
}

/* em_snapshot_delta carries the bits into the rows and skips idle rows. */
static void test_snapshot_delta_rows(void **state)
{
	struct em_snapshot a, b, d;
	struct em_row *r;

	(void)state;
	em_snapshot_init(&a);
	em_snapshot_init(&d);
	r = em_snapshot_row(&a, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU);
	rlat(&a, r, 40000000, 1);
	rlat(&a, r, 20000, 1);
	r = em_snapshot_row(&a, EM_ISA_SVM, 0x72, EM_ANY_PID, EM_ANY_VCPU);
	rlat(&a, r, 1000, 1);
	em_snapshot_init(&b);
	assert_int_equal(em_snapshot_delta(&b, &a, NULL), 0); /* a copy */
	r = em_snapshot_row(&b, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU);
	rlat(&b, r, 30000, 400);
	a.counters[EM_CNT_FILTERED] = 5;
	b.counters[EM_CNT_FILTERED] = 12;
	a.counters[EM_CNT_MAP_BYTES] = b.counters[EM_CNT_MAP_BYTES] = 2478080;
	assert_int_equal(em_snapshot_delta(&d, &b, &a), 0);
	assert_int_equal(d.counters[EM_CNT_FILTERED], 7);          /* counters: the interval's */
	assert_int_equal(d.counters[EM_CNT_MAP_BYTES], 2478080);   /* a gauge: as it is now */
	assert_int_equal(d.nrows, 1); /* CPUID did not move */
	assert_int_equal(d.rows[0].reason, 0x7b);
	assert_int_equal(d.rows[0].st.count, 400);
	assert_int_equal(d.rows[0].approx, EM_APPROX_MIN | EM_APPROX_MAX);
	assert_true(d.rows[0].st.lat_max < 40000);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
	em_snapshot_free(&d);
}

/* --- sparse rows against the dense arithmetic ---------------------------- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

/* A few random samples, sometimes in the same buckets as earlier ones. */
static void random_stats(struct em_stats *st)
{
	uint64_t k, n = rnd(6);

	memset(st, 0, sizeof(*st));
	for (k = 0; k < n; k++) {
		uint64_t v = rnd(4) ? 1000 + rnd(40) * 97 : rnd(1ULL << 40);

		lat(st, v, 1 + rnd(50));
	}
	st->count += rnd(3);
}

/* The pairs are sorted, distinct, non-empty and within their room; they equal d. */
static void assert_same(const struct em_rstats *r, const struct em_stats *d)
{
	struct em_stats back = { 0 };
	uint32_t i;

	assert_true(r->nb <= r->cap);
	for (i = 0; i < r->nb; i++) {
		assert_true(r->hb[i].n != 0);
		assert_true(r->hb[i].b < EM_HIST_BUCKETS);
		if (i)
			assert_true(r->hb[i - 1].b < r->hb[i].b);
	}
	em_stats_add_rstats(&back, r);
	assert_memory_equal(&back, d, sizeof(back));
	assert_int_equal(em_hist_total(r), em_hist_total(d));
}

/* add (in place or grown), add_bucket and sub give what the dense arrays give. */
static void test_sparse_matches_dense(void **state)
{
	struct em_arena ar = { 0 };
	int round, k;

	(void)state;
	for (round = 0; round < 300; round++) {
		struct em_stats sum = { 0 }, d, cur, prev;
		struct em_rstats acc = { 0 }, x = { 0 }, c = { 0 }, p = { 0 }, out;
		struct em_hb buf[EM_HIST_BUCKETS];
		uint32_t approx, b;
		uint64_t n;

		em_arena_reset(&ar);
		for (k = 0; k < 12; k++) { /* a total summing rows: grows, then adds in place */
			random_stats(&d);
			x = (struct em_rstats){ 0 };
			assert_int_equal(em_rstats_add_dense(&ar, &x, &d), 0);
			assert_same(&x, &d);
			assert_int_equal(em_rstats_add(&ar, &acc, &x), 0);
			em_stats_add(&sum, &d);
			assert_same(&acc, &sum);
			if (k % 3 == 2) { /* the same buckets again: in place */
				assert_int_equal(em_rstats_add(&ar, &acc, &x), 0);
				em_stats_add(&sum, &d);
				assert_same(&acc, &sum);
			}
			b = (uint32_t)rnd(EM_HIST_BUCKETS);
			n = 1 + rnd(9);
			assert_int_equal(em_rstats_add_bucket(&ar, &acc, b, n), 0);
			sum.hist[b] += n;
			assert_same(&acc, &sum);
		}
		/* cur - prev, prev not always below cur (wraps as the dense form) */
		random_stats(&prev);
		cur = prev;
		random_stats(&d);
		em_stats_add(&cur, &d);
		if (round % 5 == 0)
			cur.hist[rnd(EM_HIST_BUCKETS)] = 0;
		assert_int_equal(em_rstats_add_dense(&ar, &c, &cur), 0);
		assert_int_equal(em_rstats_add_dense(&ar, &p, &prev), 0);
		assert_int_equal(em_stats_sub(&ar, &out, &c, &p, &approx), 0);
		for (b = 0; b < EM_HIST_BUCKETS; b++)
			d.hist[b] = cur.hist[b] - prev.hist[b];
		em_rstats_view(&x, &d, buf); /* the dense difference, sparse */
		assert_int_equal(out.nb, x.nb);
		assert_memory_equal(out.hb, x.hb, x.nb * sizeof(*x.hb));
		assert_int_equal(out.count, cur.count - prev.count);
		assert_int_equal(out.lat_sum, cur.lat_sum - prev.lat_sum);
	}
	em_arena_free(&ar);
}

/* A refresh reuses the arena; copies own their pairs. */
static void test_arena_reuse_and_copy(void **state)
{
	struct em_snapshot s, t;
	struct em_row *r;
	void *chunk;
	int i;

	(void)state;
	em_snapshot_init(&s);
	em_snapshot_init(&t);
	for (i = 0; i < 3000; i++)
		rlat(&s, em_snapshot_row(&s, EM_ISA_VMX, i, 0, 0), 1000 + i, 2);
	chunk = s.hist.head;
	assert_non_null(chunk);
	assert_int_equal(em_snapshot_copy(&t, &s), 0);
	s.nrows = 0; /* the collector's next read */
	for (i = 0; i < 3000; i++)
		rlat(&s, em_snapshot_row(&s, EM_ISA_VMX, i, 0, 0), 50, 1);
	assert_ptr_equal(s.hist.head, chunk); /* the same memory, reused */
	r = &t.rows[7]; /* the copy kept its own pairs */
	assert_int_equal(r->st.nb, 1);
	assert_int_equal(r->st.hb[0].b, em_hist_bucket(1007));
	assert_int_equal(r->st.hb[0].n, 2);
	assert_int_equal(s.rows[7].st.hb[0].b, em_hist_bucket(50));
	em_snapshot_free(&s);
	em_snapshot_free(&t);
	assert_null(s.hist.head);
}

/* --- row index ---------------------------------------------------------- */

static void test_index_finds_every_row(void **state)
{
	struct em_snapshot s;
	const uint32_t n = 70000;
	struct em_row *r;
	uint32_t i;

	(void)state;
	em_snapshot_init(&s);
	for (i = 0; i < n; i++) {
		r = em_snapshot_row(&s, EM_ISA_VMX, i % 64, 1000 + i / 64, i % 7 ? i % 97 : EM_ANY_VCPU);
		assert_non_null(r);
		r->st.count = i + 1;
	}
	/* keys that differ in one field only are distinct rows */
	assert_non_null(em_snapshot_row(&s, EM_ISA_SVM, 0, 1000, 0));
	assert_int_equal(s.nrows, n + 1);
	for (i = 0; i < n; i++) {
		const struct em_row *f = em_snapshot_find(&s, EM_ISA_VMX, i % 64, 1000 + i / 64,
							  i % 7 ? i % 97 : EM_ANY_VCPU);

		assert_non_null(f);
		assert_int_equal(f->st.count, i + 1);
		/* the same row again, not a new one */
		assert_ptr_equal(em_snapshot_row(&s, EM_ISA_VMX, i % 64, 1000 + i / 64,
						 i % 7 ? i % 97 : EM_ANY_VCPU), f);
	}
	assert_int_equal(s.nrows, n + 1);
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 0, 999, EM_ANY_VCPU));
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 64, 1000, 0));
	assert_true(s.index_cap >= 2 * s.nrows); /* load factor <= 1/2 */
	em_snapshot_free(&s);
	assert_null(s.index);
	assert_int_equal(s.nrows, 0);
}

/* Rows appended or removed behind the index's back are picked up. */
static void test_index_follows_rows(void **state)
{
	struct em_snapshot s;
	size_t dup = 0, i;

	(void)state;
	em_snapshot_init(&s);
	for (i = 0; i < 100; i++)
		assert_non_null(em_snapshot_row(&s, EM_ISA_VMX, (uint32_t)i, EM_ANY_PID, EM_ANY_VCPU));
	/* the collector restarts a read: nrows = 0, then the same rows again */
	s.nrows = 0;
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 5, EM_ANY_PID, EM_ANY_VCPU));
	assert_non_null(em_snapshot_row(&s, EM_ISA_VMX, 7, EM_ANY_PID, EM_ANY_VCPU));
	assert_int_equal(s.nrows, 1);
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 5, EM_ANY_PID, EM_ANY_VCPU));
	/* one row dropped from the end (a compaction) is not found any more */
	assert_non_null(em_snapshot_row(&s, EM_ISA_VMX, 8, EM_ANY_PID, EM_ANY_VCPU));
	s.nrows = 1;
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 8, EM_ANY_PID, EM_ANY_VCPU));
	assert_non_null(em_snapshot_row(&s, EM_ISA_VMX, 9, EM_ANY_PID, EM_ANY_VCPU));
	assert_int_equal(s.nrows, 2);
	assert_null(em_snapshot_find(&s, EM_ISA_VMX, 8, EM_ANY_PID, EM_ANY_VCPU));
	assert_int_equal(s.rows[1].reason, 9);
	/* rows appended directly (as a loader does), then indexed; a duplicate is named */
	s.rows[s.nrows++] = s.rows[0];
	s.rows[s.nrows - 1].reason = 11;
	assert_int_equal(em_snapshot_reindex(&s, &dup), 0);
	assert_non_null(em_snapshot_find(&s, EM_ISA_VMX, 11, EM_ANY_PID, EM_ANY_VCPU));
	s.rows[s.nrows++] = s.rows[0];
	assert_int_equal(em_snapshot_reindex(&s, &dup), -EEXIST);
	assert_int_equal(dup, 3);
	/* lookups still answer (linearly) while the index lags */
	assert_ptr_equal(em_snapshot_find(&s, EM_ISA_VMX, 9, EM_ANY_PID, EM_ANY_VCPU), &s.rows[1]);
	em_snapshot_free(&s);
}

/* copy and delta replace the destination's rows and reuse its buffers */
static void test_copy_and_delta_reuse(void **state)
{
	struct em_snapshot a, b, out;
	struct em_row *rows;
	uint32_t i;

	(void)state;
	em_snapshot_init(&a);
	em_snapshot_init(&b);
	em_snapshot_init(&out);
	for (i = 0; i < 1000; i++)
		rlat(&a, em_snapshot_row(&a, EM_ISA_VMX, i % 50, i / 50, 0), 100 + i, 1);
	a.counters[EM_CNT_FILTERED] = 5;
	assert_int_equal(em_snapshot_copy(&b, &a), 0);
	assert_int_equal(b.nrows, 1000);
	assert_int_equal(b.counters[EM_CNT_FILTERED], 5);
	assert_non_null(em_snapshot_find(&b, EM_ISA_VMX, 49, 19, 0));
	for (i = 0; i < 10; i++)
		rlat(&a, em_snapshot_row(&a, EM_ISA_VMX, i, 0, 0), 7, 1);
	assert_int_equal(em_snapshot_delta(&out, &a, &b), 0);
	assert_int_equal(out.nrows, 10);
	rows = out.rows;
	assert_int_equal(em_snapshot_delta(&out, &a, &b), 0); /* again: replaced, not appended */
	assert_int_equal(out.nrows, 10);
	assert_ptr_equal(out.rows, rows);
	assert_int_equal(out.rows[3].st.count, 1);
	assert_int_equal(out.rows[3].st.lat_max, 7);
	assert_null(em_snapshot_find(&out, EM_ISA_VMX, 49, 19, 0));
	rows = b.rows;
	a.labels.v = calloc(1, sizeof(*a.labels.v)); /* per-VM names (labels.h) travel with the copy */
	assert_non_null(a.labels.v);
	a.labels.n = a.labels.cap = 1;
	a.labels.v[0] = (struct em_label){ .tgid = 77, .vcpu = EM_ANY_VCPU, .name = "vm-77", .index = -1 };
	assert_int_equal(em_snapshot_copy(&b, &a), 0);
	assert_ptr_equal(b.rows, rows);
	assert_int_equal(b.labels.n, 1);
	assert_string_equal(em_labels_vm_name(&b.labels, 77), "vm-77");
	assert_int_equal(em_snapshot_find(&b, EM_ISA_VMX, 3, 0, 0)->st.count, 2);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
	em_snapshot_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_interval_after_slow),
		cmocka_unit_test(test_single_sample_is_exact),
		cmocka_unit_test(test_new_records_exact),
		cmocka_unit_test(test_two_samples),
		cmocka_unit_test(test_one_value_buckets_exact),
		cmocka_unit_test(test_bounds_clamped_to_run),
		cmocka_unit_test(test_empty_and_first_interval),
		cmocka_unit_test(test_snapshot_delta_rows),
		cmocka_unit_test(test_sparse_matches_dense),
		cmocka_unit_test(test_arena_reuse_and_copy),
		cmocka_unit_test(test_index_finds_every_row),
		cmocka_unit_test(test_index_follows_rows),
		cmocka_unit_test(test_copy_and_delta_reuse),
	};
	int rc = cmocka_run_group_tests_name("model", tests, NULL, NULL);

	em_arena_free(&arena);
	return rc;
}
