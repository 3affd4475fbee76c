// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Table and JSON rendering (user/render.c) of hand-built views. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hist.h"
#include "render.h"

static void add(struct em_snapshot *s, uint32_t isa, uint32_t reason, uint64_t count,
		uint64_t lat, uint64_t nlat)
{
	struct em_row *r = em_snapshot_row(s, isa, reason, EM_ANY_PID, EM_ANY_VCPU);

	assert_non_null(r);
	r->st.count += count;
	if (nlat)
		assert_int_equal(em_rstats_add_latency(&s->hist, &r->st, lat, nlat), 0);
}

static __attribute__((noinline)) char *render_table(const struct em_snapshot *s, const struct em_view_ctx *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	em_render_table(f, s, ctx);
	fclose(f);
	return buf;
}

static void sample(struct em_snapshot *s)
{
	em_snapshot_init(s);
	s->meta.isa = EM_ISA_SVM;
	add(s, EM_ISA_SVM, 0x72, 900, 2000, 900);        /* CPUID, 2 us */
	add(s, EM_ISA_SVM, 0x7b, 99, 4000, 99);          /* IOIO, 4 us */
	add(s, EM_ISA_SVM, 0x78, 1, 5000000000ULL, 1);   /* HLT, 5 s idle */
}

static void test_table(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "final", .period_s = 2.0, .elapsed_s = 2.0 };
	char *t, *cpuid, *io, *hlt, *total;

	(void)state;
	sample(&s);
	t = render_table(&s, &ctx);
	cpuid = strstr(t, "0x72 CPUID");
	io = strstr(t, "0x7b IOIO");
	hlt = strstr(t, "0x78 HLT *");
	total = strstr(t, "TOTAL (latency excl. *)");
	assert_non_null(cpuid);
	assert_non_null(io);
	assert_non_null(hlt);
	assert_non_null(total);
	assert_true(cpuid < io && io < hlt && hlt < total); /* by count, then the total */
	assert_non_null(strstr(cpuid, "900       450.0  90.00      2.00"));
	/* the total's average leaves the 5 s HLT out: (900*2 + 99*4) / 999 us */
	assert_non_null(strstr(total, "1000       500.0 100.00      2.20"));
	assert_non_null(strstr(t, "mostly the vCPU idling"));
	assert_non_null(strstr(t, "1000 exits"));
	free(t);
	em_snapshot_free(&s);
}

static void test_empty_hint(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "final", .period_s = 2.0 };
	char *t;

	(void)state;
	em_snapshot_init(&s);
	t = render_table(&s, &ctx);
	assert_non_null(strstr(t, "no VM exits seen in the last 2 s: is a VM running"));
	free(t);
}

static void test_overflow_warnings(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "interval", .period_s = 1.0 };
	char *t;

	(void)state;
	sample(&s);
	s.counters[EM_CNT_BREAKDOWN_OVERFLOW] = 7;
	t = render_table(&s, &ctx);
	assert_non_null(strstr(t, "7 exits missing from the breakdown"));
	free(t);
	em_snapshot_free(&s);
}

static void test_vmx_numbers_and_flags(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "final", .period_s = 1.0 };
	char *t;

	(void)state;
	em_snapshot_init(&s);
	s.meta.isa = EM_ISA_VMX;
	add(&s, EM_ISA_VMX, 14, 5, 100, 5);
	add(&s, EM_ISA_VMX, 0x80000021, 1, 0, 0);
	t = render_table(&s, &ctx);
	assert_non_null(strstr(t, "      14 INVLPG"));
	assert_non_null(strstr(t, "INVALID_STATE|FAILED_VMENTRY"));
	free(t);
	em_snapshot_free(&s);
}

/* An interval whose max is a histogram bound shows it with "~" and says so. */
static void test_interval_approx_max(void **state)
{
	struct em_snapshot prev, cur, view;
	struct em_view_ctx ctx = { .type = "interval", .period_s = 1.0 };
	struct em_row *r;
	char *t;

	(void)state;
	em_snapshot_init(&prev);
	em_snapshot_init(&view);
	prev.meta.isa = EM_ISA_SVM;
	add(&prev, EM_ISA_SVM, 0x7b, 10, 40000000, 10); /* 40 ms in an earlier interval */
	add(&prev, EM_ISA_SVM, 0x72, 1, 1000, 1);
	em_snapshot_init(&cur);
	em_snapshot_delta(&cur, &prev, NULL);
	r = em_snapshot_row(&cur, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count += 400;
	assert_int_equal(em_rstats_add_latency(&cur.hist, &r->st, 30000, 400), 0);
	assert_int_equal(em_snapshot_delta(&view, &cur, &prev), 0);
	t = render_table(&view, &ctx);
	/* max of the interval's top bucket [28672, 30719], not 40000 us */
	assert_non_null(strstr(t, "~30.72\n"));
	assert_null(strstr(t, "40000.00"));
	assert_non_null(strstr(t, "~ upper bound from this interval's histogram"));
	free(t);
	em_snapshot_free(&view);
	em_snapshot_init(&view);
	assert_int_equal(em_snapshot_delta(&view, &cur, NULL), 0); /* cumulative: exact */
	t = render_table(&view, &ctx);
	assert_null(strstr(t, "~"));
	assert_non_null(strstr(t, "40000.00"));
	free(t);
	em_snapshot_free(&view);
	em_snapshot_free(&cur);
	em_snapshot_free(&prev);
}

static void test_breakdown_table(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "final", .period_s = 1.0 };
	struct em_row *r;
	char *t;

	(void)state;
	sample(&s);
	s.meta.filters.per_vcpu = s.meta.filters.per_vm = true;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x72, 4242, 1);
	r->st.count = 600;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x72, 4242, 0);
	r->st.count = 300;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x72, 4242, EM_ANY_VCPU);
	r->st.count = 900;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x7b, 77, 0);
	r->st.count = 100;
	t = render_table(&s, &ctx);
	/* "% PID": shares within one VM, per-vCPU rows and per-VM rows apart; no names: "-" and apic ids */
	assert_non_null(strstr(t, "-                    4242 apic 0           0x72 CPUID                                 300   33.33"));
	assert_non_null(strstr(t, "-                    4242 apic 1           0x72 CPUID                                 600   66.67"));
	assert_non_null(strstr(t, "-                    4242                  0x72 CPUID                                 900  100.00"));
	assert_non_null(strstr(t, "-                      77 apic 0           0x7b IOIO                                  100  100.00"));
	free(t);
	em_snapshot_free(&s);
}

static void test_json(void **state)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "final", .period_s = 2.0, .elapsed_s = 2.0 };
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	json_t *root, *rows;
	json_error_t jerr;
	bool seen = false;

	(void)state;
	sample(&s);
	s.counters[EM_CNT_EXITS] = 1000;
	assert_int_equal(em_render_json(f, &s, &ctx), 0);
	fclose(f);
	assert_non_null(strchr(buf, '\n'));
	assert_ptr_equal(strchr(buf, '\n'), buf + len - 1); /* one line */
	root = json_loads(buf, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "type")), "final");
	assert_string_equal(json_string_value(json_object_get(root, "isa")), "svm");
	rows = json_object_get(root, "rows");
	assert_int_equal(json_array_size(rows), 3);
	for (i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);

		if (json_integer_value(json_object_get(r, "reason")) != 0x78)
			continue;
		seen = true;
		assert_string_equal(json_string_value(json_object_get(r, "name")), "HLT");
		assert_true(json_is_true(json_object_get(r, "idle")));
		assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
		assert_int_equal(json_integer_value(json_object_get(r, "lat_max_ns")), 5000000000LL);
		assert_int_equal(json_integer_value(json_object_get(r, "vcpu")), -1);
	}
	assert_true(seen);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "total"), "count")), 1000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "total"), "lat_count")), 999);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "counters"), "exits")), 1000);
	json_decref(root);
	free(buf);
	em_snapshot_free(&s);
}

/*
 * The JSON line is built a row at a time: a row longer than the first
 * room (every bucket filled) comes out whole, and a row that cannot be
 * written (a value past 2^63-1) leaves no partial line behind.
 */
static void test_json_rows_one_at_a_time(void **state)
{
	struct em_view_ctx ctx = { .type = "snapshot", .period_s = 1.0 };
	struct em_snapshot s;
	struct em_row *r;
	char *buf = NULL;
	size_t len = 0;
	json_t *root, *hist;
	json_error_t jerr;
	FILE *f;
	uint32_t b;

	(void)state;
	em_snapshot_init(&s);
	s.meta.isa = EM_ISA_SVM;
	add(&s, EM_ISA_SVM, 0x72, 5, 1000, 5);
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU);
	for (b = 0; b < EM_HIST_BUCKETS; b++) { /* ~5 KB of JSON for this row */
		r->st.count += 1000000007;
		r->st.lat_count += 1000000007;
		assert_int_equal(em_rstats_add_bucket(&s.hist, &r->st, b, 1000000007), 0);
	}
	r->st.lat_sum = 1ULL << 62;
	r->st.lat_max = 1ULL << 40;
	f = open_memstream(&buf, &len);
	assert_int_equal(em_render_json(f, &s, &ctx), 0);
	fclose(f);
	root = json_loads(buf, 0, &jerr);
	assert_non_null(root);
	hist = json_object_get(json_array_get(json_object_get(root, "rows"), 1), "hist");
	assert_int_equal(json_array_size(hist), EM_HIST_BUCKETS);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(hist, EM_HIST_BUCKETS - 1), 1)),
			 1000000007);
	json_decref(root);
	free(buf);

	add(&s, EM_ISA_SVM, 0x78, (uint64_t)INT64_MAX + 1, 0, 0); /* the last row cannot be written */
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(em_render_json(f, &s, &ctx), -1);
	fclose(f);
	assert_int_equal(len, 0);
	free(buf);
	em_snapshot_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_empty_hint),
		cmocka_unit_test(test_overflow_warnings),
		cmocka_unit_test(test_vmx_numbers_and_flags),
		cmocka_unit_test(test_breakdown_table),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_rows_one_at_a_time),
		cmocka_unit_test(test_interval_approx_max),
	};
	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
