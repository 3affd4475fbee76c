// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Histogram bucket math and percentiles (bpf/exitmon.h + user/hist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "hist.h"
#include "model.h"

static void test_bucket_edges(void **state)
{
	(void)state;
	assert_int_equal(em_hist_bucket(0), 0);
	assert_int_equal(em_hist_bucket(1), 1);
	assert_int_equal(em_hist_bucket(7), 7);
	assert_int_equal(em_hist_bucket(8), 8);
	assert_int_equal(em_hist_bucket(15), 15);
	assert_int_equal(em_hist_bucket(16), 16);
	assert_int_equal(em_hist_bucket(17), 16);
	assert_int_equal(em_hist_bucket(18), 17);
	assert_int_equal(em_hist_bucket(31), 23);
	assert_int_equal(em_hist_bucket(32), 24);
	assert_int_equal(em_hist_bucket(1024), 64);
	assert_int_equal(em_hist_bucket((1ULL << 36) - 1), EM_HIST_BUCKETS - 2);
	assert_int_equal(em_hist_bucket(1ULL << 36), EM_HIST_BUCKETS - 1);
	assert_int_equal(em_hist_bucket(UINT64_MAX), EM_HIST_BUCKETS - 1);
}

static void test_log2(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < 64; i++) {
		assert_int_equal(em_log2(1ULL << i), i);
		if (i > 1)
			assert_int_equal(em_log2((1ULL << i) - 1), i - 1);
	}
	assert_int_equal(em_log2(UINT64_MAX), 63);
}

/* Every power of two starts a bucket; bounds invert the mapping exactly. */
static void test_bounds_invert_buckets(void **state)
{
	uint32_t b;

	(void)state;
	for (b = 0; b < EM_HIST_BUCKETS; b++) {
		uint64_t lo = em_hist_lower(b), hi = em_hist_upper(b);

		assert_int_equal(em_hist_bucket(lo), b);
		assert_int_equal(em_hist_bucket(hi), b);
		if (b + 1 < EM_HIST_BUCKETS)
			assert_int_equal(em_hist_lower(b + 1), hi + 1);
		/* the promise: width at most 1/8 of the lower bound (12.5 %) */
		if (lo >= EM_HIST_SUB && b + 1 < EM_HIST_BUCKETS)
			assert_true((hi - lo + 1) * EM_HIST_SUB <= lo);
	}
	for (b = 0; b < 64; b++) {
		uint32_t k = em_hist_bucket(1ULL << b);

		assert_int_equal(em_hist_lower(k), b < EM_HIST_MAX_LOG2 ? 1ULL << b : 1ULL << EM_HIST_MAX_LOG2);
	}
}

/* em_hist_quantile of a dense histogram, through the rows' sparse form. */
static uint64_t quantile(const struct em_stats *st, uint32_t approx, uint32_t ppm)
{
	struct em_hb buf[EM_HIST_BUCKETS];
	struct em_rstats r;

	em_rstats_view(&r, st, buf);
	return em_hist_quantile(&r, approx, ppm);
}

static void test_percentiles(void **state)
{
	struct em_stats st;
	uint64_t v;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(quantile(&st, 0, EM_PPM_P50), 0);

	/* exact below 8 ns */
	em_stats_add_latency(&st, 3, 1);
	assert_int_equal(quantile(&st, 0, EM_PPM_P50), 3);
	assert_int_equal(quantile(&st, 0, EM_PPM_P99), 3);

	/* 90 values of 1000 ns and 10 of 100000 ns */
	memset(&st, 0, sizeof(st));
	em_stats_add_latency(&st, 1000, 90);
	em_stats_add_latency(&st, 100000, 10);
	v = quantile(&st, 0, EM_PPM_P50);
	assert_true(v >= 1000 * 0.94 && v <= 1000 * 1.07);
	v = quantile(&st, 0, 900000);
	assert_true(v >= 1000 * 0.94 && v <= 1000 * 1.07);
	v = quantile(&st, 0, 910000);
	assert_true(v >= 100000 * 0.94 && v <= 100000 * 1.07);
	/* the top rank is clamped to the exact max */
	assert_int_equal(quantile(&st, 0, EM_PPM_MAX), 100000);

	/* a single huge value in the open-ended bucket reads back as the max */
	memset(&st, 0, sizeof(st));
	em_stats_add_latency(&st, UINT64_MAX, 1);
	assert_int_equal(quantile(&st, 0, EM_PPM_P99), UINT64_MAX);
}

/*
 * Nearest rank in integers: p99.9 of 1000 samples is rank 999 (floating
 * point made it 999.0000000000001 -> 1000, the max).
 */
static void test_rank_integer(void **state)
{
	struct em_stats st;
	uint64_t v;

	(void)state;
	memset(&st, 0, sizeof(st));
	em_stats_add_latency(&st, 1000, 999);
	em_stats_add_latency(&st, 2000000, 1);
	v = quantile(&st, 0, 999000);
	assert_true(v >= 1000 * 0.94 && v <= 1000 * 1.07);
	assert_int_equal(quantile(&st, 0, 999001), 2000000); /* rank 1000 */
	assert_int_equal(quantile(&st, 0, 1), 1000);          /* rank 1: the exact min */
	assert_int_equal(quantile(&st, 0, 0), 0);
	assert_int_equal(quantile(&st, 0, 2000000), 2000000); /* above 100 %: the max */
	/* 2^40 samples: the product ppm * total needs more than 64 bits */
	memset(&st, 0, sizeof(st));
	em_stats_add_latency(&st, 100, 1ULL << 40);
	em_stats_add_latency(&st, 5000, 1ULL << 40);
	v = quantile(&st, 0, EM_PPM_P50);
	assert_true(v >= 94 && v <= 107);
	v = quantile(&st, 0, 500001);
	assert_true(v >= 5000 * 0.94 && v <= 5000 * 1.07);
}

/* With approximate extremes the top and bottom ranks are bucket midpoints. */
static void test_approx_extremes(void **state)
{
	struct em_stats st;

	(void)state;
	memset(&st, 0, sizeof(st));
	em_stats_add_latency(&st, 3000, 4);
	st.lat_min = em_hist_lower(em_hist_bucket(3000)); /* bounds, as em_stats_sub gives */
	st.lat_max = em_hist_upper(em_hist_bucket(3000));
	assert_int_equal(quantile(&st, EM_APPROX_MIN | EM_APPROX_MAX, EM_PPM_MAX),
			 st.lat_min + (st.lat_max - st.lat_min) / 2);
	assert_int_equal(quantile(&st, EM_APPROX_MIN | EM_APPROX_MAX, 1),
			 st.lat_min + (st.lat_max - st.lat_min) / 2);
	assert_int_equal(quantile(&st, 0, EM_PPM_MAX), st.lat_max);
	assert_int_equal(quantile(&st, 0, 1), st.lat_min);
}

/* The generic layout functions: the native layout and others. */
static void test_layouts(void **state)
{
	const struct em_hist_layout l0 = { 0, 10 }, l5 = { 5, 40 }, bad1 = { 17, 40 }, bad2 = { 3, 64 },
				    bad3 = { 5, 5 };
	uint32_t b;

	(void)state;
	assert_true(em_layout_valid(&em_hist_native));
	assert_int_equal(em_layout_buckets(&em_hist_native), EM_HIST_BUCKETS);
	assert_false(em_layout_valid(&bad1));
	assert_false(em_layout_valid(&bad2));
	assert_false(em_layout_valid(&bad3));
	/* sub_bits 0: plain powers of two */
	assert_int_equal(em_layout_buckets(&l0), 12);
	assert_int_equal(em_layout_lower(&l0, 0), 0);
	assert_int_equal(em_layout_lower(&l0, 1), 1);
	assert_int_equal(em_layout_lower(&l0, 2), 2);
	assert_int_equal(em_layout_lower(&l0, 3), 4);
	assert_int_equal(em_layout_upper(&l0, 10), 1023);
	assert_int_equal(em_layout_lower(&l0, 11), 1024);
	assert_int_equal(em_layout_upper(&l0, 11), UINT64_MAX);
	/* contiguous, increasing bounds for a finer layout */
	for (b = 0; b + 1 < em_layout_buckets(&l5); b++) {
		assert_true(em_layout_lower(&l5, b) <= em_layout_upper(&l5, b));
		assert_int_equal(em_layout_upper(&l5, b) + 1, em_layout_lower(&l5, b + 1));
	}
	assert_int_equal(em_layout_lower(&l5, em_layout_buckets(&l5) - 1), 1ULL << 40);
}

/* Every value from 8 to 2^20: percentile of a one-value histogram within 1/16. */
static void test_relative_error(void **state)
{
	struct em_stats st;
	uint64_t v, worst_num = 0, worst_den = 1;

	(void)state;
	for (v = 8; v < (1 << 20); v += v / 64 + 1) {
		uint64_t p, err;

		memset(&st, 0, sizeof(st));
		st.hist[em_hist_bucket(v)] = 2; /* min/max below are mere bounds: the bucket alone */
		st.lat_count = 2;
		st.lat_min = 0;
		st.lat_max = UINT64_MAX; /* no clamping: the bucket alone */
		p = quantile(&st, EM_APPROX_MIN | EM_APPROX_MAX, EM_PPM_P50);
		err = p > v ? p - v : v - p;
		if (err * worst_den > worst_num * v) {
			worst_num = err;
			worst_den = v;
		}
	}
	assert_true(worst_num * 16 <= worst_den);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_log2),
		cmocka_unit_test(test_bounds_invert_buckets),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_relative_error),
		cmocka_unit_test(test_rank_integer),
		cmocka_unit_test(test_approx_extremes),
		cmocka_unit_test(test_layouts),
	};
	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
