// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of user/diff.c: arithmetic, sorting, filter, output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <linux/types.h>

#include "bpf/exitmon.h"
#include "user/model.h"
#include "user/diff.h"
#include "user/hist.h"

#define VMX EM_ISA_VMX
#define SVM EM_ISA_SVM
#define ANY EM_ANY_PID, EM_ANY_VCPU

static struct em_row *add(struct em_snapshot *s, uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu,
			  uint64_t count)
{
	struct em_row *r = em_snapshot_row(s, isa, reason, tgid, vcpu);

	assert_non_null(r);
	r->st.count = count;
	return r;
}

static void meta(struct em_snapshot *s, const char *kernel, uint64_t duration_s)
{
	em_snapshot_init(s);
	strcpy(s->meta.hostname, "kvm-host-1");
	strcpy(s->meta.kernel, kernel);
	strcpy(s->meta.cpu_vendor, "GenuineIntel");
	strcpy(s->meta.cpu_model, "Intel(R) Xeon(R)");
	s->meta.isa = VMX;
	s->meta.duration_ns = duration_s * 1000000000ULL;
}

/*
 * A (10 s): 30 IO_INSTRUCTION 100, 12 HLT 50 (gone in B), 1 EXTERNAL_INTERRUPT 0,
 *           48 EPT_VIOLATION 1000
 * B (20 s): 30 300, 14 INVLPG 209650 (new), 1 0, 48 900
 * plus breakdown rows that must not count.
 */
static void pair(struct em_snapshot *a, struct em_snapshot *b)
{
	struct em_row *r;

	meta(a, "6.1.0", 10);
	meta(b, "6.5.0", 20);
	r = add(a, VMX, 30, ANY, 100);
	assert_int_equal(em_rstats_add_latency(&a->hist, &r->st, 1000, 90), 0);
	assert_int_equal(em_rstats_add_latency(&a->hist, &r->st, 100000, 10), 0);
	add(a, VMX, 30, 77, EM_ANY_VCPU, 100);
	add(a, VMX, 12, ANY, 50);
	add(a, VMX, 1, ANY, 0);
	add(a, VMX, 48, ANY, 1000);

	add(b, VMX, 48, ANY, 900);
	r = add(b, VMX, 14, ANY, 209650);
	assert_int_equal(em_rstats_add_latency(&b->hist, &r->st, 2000, 209650), 0);
	add(b, VMX, 14, 77, 3, 5);   /* breakdown only */
	add(b, VMX, 99, 77, EM_ANY_VCPU, 5); /* breakdown without total: ignored */
	add(b, VMX, 1, ANY, 0);
	r = add(b, VMX, 30, ANY, 300);
	assert_int_equal(em_rstats_add_latency(&b->hist, &r->st, 3000, 300), 0);

	a->meta.nparams = 3;
	strcpy(a->meta.params[0].name, "npt");
	strcpy(a->meta.params[0].value, "1");
	strcpy(a->meta.params[1].name, "ept");
	strcpy(a->meta.params[1].value, "Y");
	strcpy(a->meta.params[2].name, "nested");
	strcpy(a->meta.params[2].value, "0");
	b->meta.nparams = 3;
	strcpy(b->meta.params[0].name, "ept");
	strcpy(b->meta.params[0].value, "Y");
	strcpy(b->meta.params[1].name, "npt");
	strcpy(b->meta.params[1].value, "0");
	strcpy(b->meta.params[2].name, "halt_poll_ns");
	strcpy(b->meta.params[2].value, "0");
}

static const struct em_diff_row *find(const struct em_diff_row *rows, size_t n, uint32_t isa, uint32_t reason)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].isa == isa && rows[i].reason == reason)
			return &rows[i];
	fail_msg("reason %u not in the diff", reason);
	return NULL;
}

static void test_arithmetic(void **state)
{
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	const struct em_diff_row *d;
	size_t n;

	(void)state;
	pair(&a, &b);
	assert_int_equal(em_diff_compute(&a, &b, NULL, &rows, &n), 0);
	assert_int_equal(n, 5);

	d = find(rows, n, VMX, 30);
	assert_true(d->in_a && d->in_b);
	assert_int_equal(d->count_a, 100);
	assert_int_equal(d->count_b, 300);
	assert_int_equal(d->delta, 200);
	assert_int_equal(d->abs_delta, 200);
	assert_float_equal(d->ratio, 3.0, 1e-12);
	assert_float_equal(d->rate_a, 10.0, 1e-9); /* 100 in 10 s */
	assert_float_equal(d->rate_b, 15.0, 1e-9); /* 300 in 20 s */
	assert_true(d->lat_a && d->lat_b);
	assert_int_equal(d->lat_avg_ns_a, (90 * 1000 + 10 * 100000) / 100);
	assert_int_equal(d->lat_avg_ns_b, 3000);
	assert_int_equal(d->lat_p99_ns_a, em_hist_quantile(&a.rows[0].st, 0, EM_PPM_P99));
	assert_true(d->lat_p99_ns_a > 80000 && d->lat_p99_ns_a < 120000); /* in the 100 us bucket */
	assert_string_equal(d->name, "IO_INSTRUCTION");

	d = find(rows, n, VMX, 14); /* new */
	assert_false(d->in_a);
	assert_true(d->in_b);
	assert_int_equal(d->count_a, 0);
	assert_int_equal(d->delta, 209650);
	assert_true(isinf(d->ratio) && d->ratio > 0);
	assert_float_equal(d->rate_a, 0.0, 0);
	assert_float_equal(d->rate_b, 209650 / 20.0, 1e-9);
	assert_false(d->lat_a);
	assert_int_equal(d->lat_avg_ns_a, 0);
	assert_int_equal(d->lat_p99_ns_a, 0);
	assert_int_equal(d->count_b, 209650); /* the breakdown row (5) not added */

	d = find(rows, n, VMX, 12); /* gone */
	assert_true(d->in_a);
	assert_false(d->in_b);
	assert_int_equal(d->delta, -50);
	assert_int_equal(d->abs_delta, 50);
	assert_float_equal(d->ratio, 0.0, 0);
	assert_false(d->lat_b);

	d = find(rows, n, VMX, 1); /* zero in both */
	assert_int_equal(d->delta, 0);
	assert_true(isnan(d->ratio));

	d = find(rows, n, VMX, 48);
	assert_int_equal(d->delta, -100);
	assert_float_equal(d->ratio, 0.9, 1e-12);
	assert_float_equal(d->rate_a, 100.0, 1e-9);
	assert_float_equal(d->rate_b, 45.0, 1e-9);

	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_zero_duration_and_huge_counts(void **state)
{
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	size_t n;

	(void)state;
	meta(&a, "k", 0);
	meta(&b, "k", 1);
	add(&a, VMX, 1, ANY, INT64_MAX);
	add(&b, VMX, 1, ANY, 0);
	assert_int_equal(em_diff_compute(&a, &b, NULL, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_true(isnan(rows[0].rate_a));
	assert_float_equal(rows[0].rate_b, 0.0, 0);
	assert_int_equal(rows[0].delta, -INT64_MAX);
	assert_int_equal(rows[0].abs_delta, INT64_MAX);
	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);

	/* nothing on either side */
	meta(&a, "k", 1);
	meta(&b, "k", 1);
	assert_int_equal(em_diff_compute(&a, &b, NULL, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

static void order(int sort, const uint32_t *want, size_t nwant)
{
	struct em_diff_opts o = { .sort = sort };
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	size_t n, i;

	pair(&a, &b);
	assert_int_equal(em_diff_compute(&a, &b, &o, &rows, &n), 0);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		if (rows[i].reason != want[i])
			fail_msg("sort %d: position %zu has reason %u, want %u", sort, i, rows[i].reason, want[i]);
	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_sorting(void **state)
{
	(void)state;
	/* |delta|: 14 (209650), 30 (200), 48 (100), 12 (50), 1 (0) */
	order(EM_DIFF_SORT_DELTA, (const uint32_t[]){ 14, 30, 48, 12, 1 }, 5);
	/* max count: 14, 48 (1000), 30 (300), 12 (50), 1 */
	order(EM_DIFF_SORT_COUNT, (const uint32_t[]){ 14, 48, 30, 12, 1 }, 5);
	/* names: EPT_VIOLATION, EXTERNAL_INTERRUPT, HLT, INVLPG, IO_INSTRUCTION */
	order(EM_DIFF_SORT_NAME, (const uint32_t[]){ 48, 1, 12, 14, 30 }, 5);
	order(EM_DIFF_SORT_REASON, (const uint32_t[]){ 1, 12, 14, 30, 48 }, 5);
	/* ratio: new (inf), 3.0, 0.9, gone (0), none (NaN) */
	order(EM_DIFF_SORT_RATIO, (const uint32_t[]){ 14, 30, 48, 12, 1 }, 5);
	/* out-of-range sort falls back to delta */
	order(1234, (const uint32_t[]){ 14, 30, 48, 12, 1 }, 5);
}

static void test_sort_ties_by_reason(void **state)
{
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	size_t n;

	(void)state;
	meta(&a, "k", 1);
	meta(&b, "k", 1);
	add(&a, VMX, 40, ANY, 10);
	add(&a, VMX, 7, ANY, 10);
	add(&a, VMX, 20, ANY, 10);
	add(&b, VMX, 40, ANY, 20);
	add(&b, VMX, 7, ANY, 20);
	add(&b, VMX, 20, ANY, 20);
	assert_int_equal(em_diff_compute(&a, &b, NULL, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].reason, 7);
	assert_int_equal(rows[1].reason, 20);
	assert_int_equal(rows[2].reason, 40);
	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_filter(void **state)
{
	static const uint32_t only[] = { 30, 12, 999 };
	struct em_diff_opts o = { .sort = EM_DIFF_SORT_REASON, .reasons = only, .nreasons = 3 };
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	size_t n;

	(void)state;
	pair(&a, &b);
	assert_int_equal(em_diff_compute(&a, &b, &o, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].reason, 12);
	assert_int_equal(rows[1].reason, 30);
	free(rows);
	/* VMX flag bits do not hide the basic reason (as with the live filter) */
	add(&b, VMX, 0x80000021u, ANY, 2); /* INVALID_STATE|FAILED_VMENTRY */
	o.reasons = (const uint32_t[]){ 33 };
	o.nreasons = 1;
	assert_int_equal(em_diff_compute(&a, &b, &o, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].reason, 0x80000021u);
	free(rows);
	/* reasons NULL or nreasons 0: everything */
	o.reasons = only;
	o.nreasons = 0;
	assert_int_equal(em_diff_compute(&a, &b, &o, &rows, &n), 0);
	assert_int_equal(n, 6);
	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_isa_keyed(void **state)
{
	struct em_snapshot a, b;
	struct em_diff_row *rows;
	size_t n;

	(void)state;
	meta(&a, "k", 1);
	meta(&b, "k", 1);
	b.meta.isa = SVM;
	strcpy(b.meta.cpu_vendor, "AuthenticAMD");
	add(&a, VMX, 0x7b, ANY, 5);
	add(&b, SVM, 0x7b, ANY, 5);
	assert_int_equal(em_diff_compute(&a, &b, NULL, &rows, &n), 0);
	assert_int_equal(n, 2); /* same number, different exits */
	assert_true(rows[0].in_a != rows[0].in_b);
	assert_true(rows[1].in_a != rows[1].in_b);
	free(rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_sort_parse(void **state)
{
	(void)state;
	assert_int_equal(em_diff_sort_parse("delta"), EM_DIFF_SORT_DELTA);
	assert_int_equal(em_diff_sort_parse("count"), EM_DIFF_SORT_COUNT);
	assert_int_equal(em_diff_sort_parse("name"), EM_DIFF_SORT_NAME);
	assert_int_equal(em_diff_sort_parse("reason"), EM_DIFF_SORT_REASON);
	assert_int_equal(em_diff_sort_parse("ratio"), EM_DIFF_SORT_RATIO);
	assert_int_equal(em_diff_sort_parse("RATIO"), EM_DIFF_SORT_RATIO);
	assert_int_equal(em_diff_sort_parse("rate"), -1);
	assert_int_equal(em_diff_sort_parse(""), -1);
	assert_int_equal(em_diff_sort_parse(NULL), -1);
}

static char *print(const struct em_snapshot *a, const struct em_snapshot *b, const struct em_diff_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(em_diff_print(f, a, "before.json", b, "after.json", o), 0);
	fclose(f);
	return buf;
}

static const char *line_with(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	if (!p)
		fail_msg("output lacks \"%s\":\n%s", needle, text);
	return p;
}

static void test_print_table(void **state)
{
	struct em_snapshot a, b;
	const char *p14, *p30, *p12;
	char *out;

	(void)state;
	pair(&a, &b);
	out = print(&a, &b, NULL);
	line_with(out, "A: before.json: kvm-host-1, kernel 6.1.0, vmx (GenuineIntel), 10.000 s, 1150 exits\n");
	line_with(out, "B: after.json: kvm-host-1, kernel 6.5.0, vmx (GenuineIntel), 20.000 s, 210850 exits\n");
	line_with(out, "warning: kernels differ (6.1.0 vs 6.5.0)\n");
	line_with(out, "warning: durations differ (10.000 s vs 20.000 s): compare rates, not counts\n");
	assert_null(strstr(out, "CPU vendor/isa differ"));
	assert_null(strstr(out, "filters"));
	line_with(out, "KVM parameters that differ:\n");
	line_with(out, "  npt: 1 → 0\n");
	line_with(out, "  nested: 0 → (not set)\n");
	line_with(out, "  halt_poll_ns: (not set) → 0\n");
	assert_null(strstr(out, "ept:"));
	line_with(out, "REASON NAME");
	p14 = line_with(out, "      14 INVLPG");
	line_with(p14, "            0       209650       +209650      new          0.0      10482.5         -      2.00         -      2.");
	line_with(p14, "only B\n");
	p30 = line_with(out, "      30 IO_INSTRUCTION");
	line_with(p30, "3.00x         10.0         15.0");
	p12 = line_with(out, "      12 HLT *");
	line_with(p12, "-50     gone          5.0          0.0");
	line_with(p12, "only A\n");
	assert_true(p14 < p30 && p30 < p12);
	line_with(out, "TOTAL                                  1150       210850       +209700");
	line_with(out, "* exit-to-entry time is mostly the vCPU idling");
	free(out);

	/* a run against itself: no warnings, nothing changed */
	out = print(&a, &a, NULL);
	assert_null(strstr(out, "warning"));
	assert_null(strstr(out, "KVM parameters"));
	line_with(out, "1.00x");
	assert_null(strstr(out, "only"));
	free(out);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_print_warnings(void **state)
{
	struct em_snapshot a, b;
	char *out;

	(void)state;
	meta(&a, "6.1.0", 1);
	meta(&b, "6.1.0", 1);
	b.meta.isa = SVM;
	strcpy(b.meta.cpu_vendor, "AuthenticAMD");
	b.meta.filters.nreasons = 2;
	b.meta.filters.reasons[0] = 0x7b;
	b.meta.filters.reasons[1] = 0x400;
	b.meta.filters.pid = 42;
	add(&b, SVM, 0x400, ANY, 3);
	out = print(&a, &b, NULL);
	line_with(out, "warning: CPU vendor/isa differ (GenuineIntel vmx vs AuthenticAMD svm)");
	line_with(out, "warning: the runs used different filters (A: none; B: reasons 123,1024, pid 42)");
	assert_null(strstr(out, "kernels differ"));
	line_with(out, "   0x400 NPF");
	free(out);

	/* filters: same set in another order is the same */
	a.meta.filters = b.meta.filters;
	a.meta.filters.reasons[0] = 0x400;
	a.meta.filters.reasons[1] = 0x7b;
	out = print(&a, &b, NULL);
	assert_null(strstr(out, "filters"));
	free(out);
	em_snapshot_free(&a);
	em_snapshot_free(&b);

	meta(&a, "k", 1);
	meta(&b, "k", 1);
	out = print(&a, &b, NULL);
	line_with(out, "no VM exits in either run\n");
	free(out);

	/* strings from a crafted file cannot move the cursor or fake lines */
	strcpy(a.meta.hostname, "evil\x1b[2J\nwarning: fake \xc2\x9b" "1m µs");
	a.meta.nparams = 1;
	strcpy(a.meta.params[0].name, "n\rx");
	strcpy(a.meta.params[0].value, "1\n");
	out = print(&a, &b, NULL);
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\r'));
	assert_null(strstr(out, "\xc2\x9b"));
	assert_null(strstr(out, "\nwarning: fake"));
	line_with(out, "A: before.json: evil?[2J?warning: fake ??1m µs, kernel k");
	line_with(out, "  n?x: 1? → (not set)\n");
	free(out);
}

static void test_print_json(void **state)
{
	struct em_diff_opts o = { .json = true };
	struct em_snapshot a, b;
	json_error_t je;
	json_t *j, *r, *t;
	char *out;

	(void)state;
	pair(&a, &b);
	out = print(&a, &b, &o);
	j = json_loads(out, 0, &je);
	if (!j)
		fail_msg("not JSON (%s):\n%s", je.text, out);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "a"), "file")), "before.json");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "b"), "duration_ns")), 20000000000LL);
	assert_string_equal(json_string_value(json_object_get(j, "format")), "exitmon-diff");
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "b"), "count")), 210850);
	assert_int_equal(json_array_size(json_object_get(j, "warnings")), 2); /* kernel, duration */
	t = json_array_get(json_object_get(j, "kvm_params"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "name")), "npt");
	assert_string_equal(json_string_value(json_object_get(t, "a")), "1");
	assert_string_equal(json_string_value(json_object_get(t, "b")), "0");
	t = json_array_get(json_object_get(j, "kvm_params"), 2);
	assert_true(json_is_null(json_object_get(t, "a")));

	assert_int_equal(json_array_size(json_object_get(j, "rows")), 5);
	r = json_array_get(json_object_get(j, "rows"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "isa")), "vmx");
	assert_int_equal(json_integer_value(json_object_get(r, "reason")), 14);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "INVLPG");
	assert_true(json_is_false(json_object_get(r, "in_a")));
	assert_true(json_is_true(json_object_get(r, "in_b")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "b"), "count")), 209650);
	assert_int_equal(json_integer_value(json_object_get(r, "delta")), 209650);
	assert_true(json_is_null(json_object_get(r, "ratio")));
	assert_string_equal(json_string_value(json_object_get(r, "change")), "new");
	assert_float_equal(json_real_value(json_object_get(json_object_get(r, "b"), "rate_per_s")), 10482.5, 1e-9);
	assert_true(json_is_null(json_object_get(json_object_get(r, "a"), "lat_avg_ns")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "b"), "lat_avg_ns")), 2000);

	r = json_array_get(json_object_get(j, "rows"), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "reason")), 30);
	assert_float_equal(json_real_value(json_object_get(r, "ratio")), 3.0, 1e-12);
	assert_string_equal(json_string_value(json_object_get(r, "change")), "up");
	r = json_array_get(json_object_get(j, "rows"), 3);
	assert_string_equal(json_string_value(json_object_get(r, "change")), "gone");
	r = json_array_get(json_object_get(j, "rows"), 4);
	assert_string_equal(json_string_value(json_object_get(r, "change")), "same");

	t = json_object_get(j, "total");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "a"), "count")), 1150);
	assert_int_equal(json_integer_value(json_object_get(t, "delta")), 209700);
	json_decref(j);
	free(out);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_write_error(void **state)
{
	struct em_diff_opts o = { .json = true };
	struct em_snapshot a, b;
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (!f)
		skip();
	pair(&a, &b);
	assert_int_equal(em_diff_print(f, &a, "a", &b, "b", NULL), -EIO);
	clearerr(f);
	assert_int_equal(em_diff_print(f, &a, "a", &b, "b", &o), -EIO);
	fclose(f);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_zero_duration_and_huge_counts),
		cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_sort_ties_by_reason),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_isa_keyed),
		cmocka_unit_test(test_sort_parse),
		cmocka_unit_test(test_print_table),
		cmocka_unit_test(test_print_warnings),
		cmocka_unit_test(test_print_json),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
