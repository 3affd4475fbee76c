// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Kernel rows (u32 buckets, per CPU) + carries -> exact user-space stats. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "kstats.h"

/* Per-CPU values sum; extremes come only from values with samples. */
static void test_kstats_add(void **state)
{
	struct em_kstats k[3];
	struct em_stats st;
	unsigned i;

	(void)state;
	memset(k, 0, sizeof(k));
	memset(&st, 0, sizeof(st));
	k[0].count = 5; /* exits, no latency yet: its zero min must not count */
	k[1].count = 1;
	k[1].lat_count = 2;
	k[1].lat_sum = 300;
	k[1].lat_min = 100;
	k[1].lat_max = 200;
	k[1].hist[em_hist_bucket(100)] = 1;
	k[1].hist[em_hist_bucket(200)] = 1;
	k[2].lat_count = 1;
	k[2].lat_sum = 50;
	k[2].lat_min = 50;
	k[2].lat_max = 50;
	k[2].hist[em_hist_bucket(200)] = UINT32_MAX; /* widened, not wrapped */
	for (i = 0; i < 3; i++)
		em_kstats_add(&st, &k[i]);
	assert_int_equal(st.count, 6);
	assert_int_equal(st.lat_count, 3);
	assert_int_equal(st.lat_sum, 350);
	assert_int_equal(st.lat_min, 50);
	assert_int_equal(st.lat_max, 200);
	assert_int_equal(st.hist[em_hist_bucket(100)], 1);
	assert_int_equal(st.hist[em_hist_bucket(200)], (uint64_t)UINT32_MAX + 1);
}

/* Carries are found by key (any push order), 2^32 each, only in their bucket. */
static void test_carries_apply_by_key(void **state)
{
	struct em_carries c = { 0 };
	struct em_key a = { EM_ISA_SVM, 0x72, 100, 3 }, b = { EM_ISA_SVM, 0x72, 100, 4 };
	struct em_key row = em_carry_row_key(5), none = em_carry_row_key(6);
	struct em_carry_key k;
	struct em_stats st;

	(void)state;
	k = (struct em_carry_key){ .key = b, .bucket = 40 };
	assert_int_equal(em_carries_push(&c, &k, 7), 0);
	k = (struct em_carry_key){ .key = a, .bucket = 41 };
	assert_int_equal(em_carries_push(&c, &k, 1), 0);
	k = (struct em_carry_key){ .key = row, .bucket = 2 };
	assert_int_equal(em_carries_push(&c, &k, 3), 0);
	k = (struct em_carry_key){ .key = a, .bucket = 40 };
	assert_int_equal(em_carries_push(&c, &k, 2), 0);
	k = (struct em_carry_key){ .key = a, .bucket = EM_HIST_BUCKETS }; /* hostile: ignored */
	assert_int_equal(em_carries_push(&c, &k, 9), 0);
	em_carries_sort(&c);

	memset(&st, 0, sizeof(st));
	st.hist[40] = 5;
	em_carries_apply(&c, &a, &st);
	assert_int_equal(st.hist[40], (2ull << 32) + 5);
	assert_int_equal(st.hist[41], 1ull << 32);
	memset(&st, 0, sizeof(st));
	em_carries_apply(&c, &b, &st);
	assert_int_equal(st.hist[40], 7ull << 32);
	assert_int_equal(st.hist[41], 0);
	memset(&st, 0, sizeof(st));
	em_carries_apply(&c, &row, &st);
	assert_int_equal(st.hist[2], 3ull << 32);
	memset(&st, 0, sizeof(st));
	em_carries_apply(&c, &none, &st);
	for (unsigned i = 0; i < EM_HIST_BUCKETS; i++)
		assert_int_equal(st.hist[i], 0);
	em_carries_free(&c);
}

/* Two readings of the carries compare equal only with the same keys and values. */
static void test_carries_equal(void **state)
{
	struct em_carries x = { 0 }, y = { 0 };
	struct em_carry_key k1 = { .key = { 1, 2, 3, 4 }, .bucket = 5 };
	struct em_carry_key k2 = { .key = { 1, 2, 3, 4 }, .bucket = 6 };

	(void)state;
	assert_true(em_carries_equal(&x, &y));
	em_carries_push(&x, &k1, 1);
	em_carries_push(&x, &k2, 1);
	em_carries_push(&y, &k2, 1);
	em_carries_push(&y, &k1, 1);
	em_carries_sort(&x);
	em_carries_sort(&y);
	assert_true(em_carries_equal(&x, &y));
	y.v[1].n = 2; /* one more wrap */
	assert_false(em_carries_equal(&x, &y));
	y.v[1].n = 1;
	em_carries_push(&y, &(struct em_carry_key){ .key = { 1, 2, 3, 5 } }, 1);
	assert_false(em_carries_equal(&x, &y));
	em_carries_free(&x);
	em_carries_free(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kstats_add),
		cmocka_unit_test(test_carries_apply_by_key),
		cmocka_unit_test(test_carries_equal),
	};
	return cmocka_run_group_tests_name("kstats", tests, NULL, NULL);
}
