// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Prometheus / OpenMetrics rendering (user/metrics.c) of hand-built snapshots. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "hist.h"
#include "metrics.h"

static const struct em_metrics_ctx ctx = {
	.version = "9.9.9", .attach = "tp", .collect_seconds = 0.001,
};

static void add(struct em_snapshot *s, uint32_t reason, uint32_t tgid, uint64_t count,
		uint64_t lat, uint64_t nlat)
{
	struct em_row *r = em_snapshot_row(s, EM_ISA_SVM, reason, tgid, EM_ANY_VCPU);

	assert_non_null(r);
	r->st.count += count;
	if (nlat)
		assert_int_equal(em_rstats_add_latency(&s->hist, &r->st, lat, nlat), 0);
}

static void sample(struct em_snapshot *s)
{
	em_snapshot_init(s);
	s->meta.isa = EM_ISA_SVM;
	add(s, 0x72, EM_ANY_PID, 900, 2000, 899);        /* CPUID, 2 us, one unpaired */
	add(s, 0x7b, EM_ANY_PID, 99, 4000, 99);          /* IOIO, 4 us */
	add(s, 0x78, EM_ANY_PID, 1, 5000000000ULL, 1);   /* HLT, 5 s idle */
	s->counters[EM_CNT_MAP_BYTES] = 4096;
}

static char *render(const struct em_snapshot *s, struct em_metrics_state *st,
		    enum em_metrics_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(em_metrics_render(f, s, st, &ctx, fmt), 0);
	fclose(f);
	return buf;
}

/* Value of the sample line that starts with `key ` (name{labels}), or -1. */
static double value(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while ((p = strstr(p, key))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every sample line is "name{labels} value": no timestamp, no duplicate series. */
static void check_samples(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line;
	char *keys[4096];
	size_t nk = 0, i;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp;

		if (line[0] == '#')
			continue;
		sp = strrchr(line, ' ');
		assert_non_null(sp);
		*sp = '\0';
		assert_null(strchr(strchr(line, '}') ? strchr(line, '}') : line, ' '));
		for (i = 0; i < nk; i++)
			assert_string_not_equal(keys[i], line);
		assert_true(nk < 4096);
		keys[nk++] = line;
	}
	free(copy);
}

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(em_metrics_escape("a\"b\\c\nd", out, sizeof(out)), "a\\\"b\\\\c\\nd");
	assert_string_equal(em_metrics_escape("plain", out, sizeof(out)), "plain");
	/* truncation never cuts an escape in half */
	assert_string_equal(em_metrics_escape("ab\"", out, 4), "ab");
	assert_string_equal(em_metrics_escape("ab\"", out, 5), "ab\\\"");
}

static void test_le(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(em_metrics_le(0, b, sizeof(b)), "0.000001024");
	assert_string_equal(em_metrics_le(10, b, sizeof(b)), "0.001048576");
	assert_string_equal(em_metrics_le(20, b, sizeof(b)), "1.073741824");
	assert_string_equal(em_metrics_le(EM_METRICS_NBOUNDS - 1, b, sizeof(b)), "68.719476736");
}

/* Bucket le=2^k ns counts exactly the samples below 2^k ns, at every edge. */
static void test_fold_edges(void **state)
{
	uint64_t cum[EM_METRICS_NBOUNDS + 1];
	unsigned k, i;

	(void)state;
	for (k = 0; k <= EM_HIST_MAX_LOG2 + 1; k++) {
		uint64_t vals[3] = { (1ULL << k) - 1, 1ULL << k, (1ULL << k) + 1 };
		unsigned v;

		for (v = 0; v < 3; v++) {
			struct em_rstats st = { 0 };
			struct em_arena ar = { 0 };

			assert_int_equal(em_rstats_add_latency(&ar, &st, vals[v], 3), 0);
			em_metrics_fold(&st, cum);
			em_arena_free(&ar);
			for (i = 0; i < EM_METRICS_NBOUNDS; i++)
				assert_int_equal(cum[i],
						 vals[v] < (1ULL << (EM_METRICS_LE_MIN_LOG2 + i)) ? 3 : 0);
			assert_int_equal(cum[EM_METRICS_NBOUNDS], 3);
		}
	}
}

static void test_fold_cumulative(void **state)
{
	struct em_rstats st = { 0 };
	struct em_arena ar = { 0 };
	uint64_t cum[EM_METRICS_NBOUNDS + 1], v;
	unsigned i;

	(void)state;
	for (v = 1; v < (1ULL << 40); v = v * 3 + 7)
		assert_int_equal(em_rstats_add_latency(&ar, &st, v, v % 5 + 1), 0);
	assert_int_equal(em_rstats_add_latency(&ar, &st, 0, 2), 0);
	assert_int_equal(em_rstats_add_latency(&ar, &st, UINT64_MAX, 1), 0);
	em_metrics_fold(&st, cum);
	for (i = 1; i <= EM_METRICS_NBOUNDS; i++)
		assert_true(cum[i] >= cum[i - 1]);
	assert_int_equal(cum[EM_METRICS_NBOUNDS], st.lat_count);
	assert_int_equal(cum[EM_METRICS_NBOUNDS], em_hist_total(&st));
	em_arena_free(&ar);
}

static void test_negotiate(void **state)
{
	(void)state;
	assert_int_equal(em_metrics_negotiate(NULL), EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate(""), EM_METRICS_TEXT);
	/* what Prometheus 2.42 sends */
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text;version=1.0.0,"
					      "application/openmetrics-text;version=0.0.1;q=0.75,"
					      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
			 EM_METRICS_OPENMETRICS);
	assert_int_equal(em_metrics_negotiate("Application/OpenMetrics-Text; Version=1.0.0"),
			 EM_METRICS_OPENMETRICS);
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text"), EM_METRICS_OPENMETRICS);
	assert_int_equal(em_metrics_negotiate("text/plain;version=0.0.4"), EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate("*/*"), EM_METRICS_TEXT);
	/* only a version we do not write */
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text;version=0.0.1"),
			 EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text;q=0"), EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text;q=0.2, text/plain"),
			 EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate("text/plain;q=0.2, application/openmetrics-text"),
			 EM_METRICS_OPENMETRICS);
	assert_int_equal(em_metrics_negotiate("application/openmetrics-text;q=junk"), EM_METRICS_TEXT);
	assert_int_equal(em_metrics_negotiate(",,;;=,application/json"), EM_METRICS_TEXT);
}

static void test_text(void **state)
{
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	char *t;

	(void)state;
	sample(&s);
	t = render(&s, &st, EM_METRICS_TEXT);
	assert_non_null(strstr(t, "# TYPE exitmon_exits_total counter\n"));
	assert_non_null(strstr(t, "# TYPE exitmon_exit_handling_seconds histogram\n"));
	assert_non_null(strstr(t, "# TYPE exitmon_build_info gauge\n"));
	assert_null(strstr(t, "# EOF"));
	assert_null(strstr(t, "# UNIT"));
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\"}") == 900);
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x78\",name=\"HLT\"}") == 1);
	/* 2 us: below 2.048 us, not below 1.024 us */
	assert_true(value(t, "exitmon_exit_handling_seconds_bucket{isa=\"svm\",reason=\"0x72\","
			     "name=\"CPUID\",idle=\"false\",le=\"0.000001024\"}") == 0);
	assert_true(value(t, "exitmon_exit_handling_seconds_bucket{isa=\"svm\",reason=\"0x72\","
			     "name=\"CPUID\",idle=\"false\",le=\"0.000002048\"}") == 899);
	assert_true(value(t, "exitmon_exit_handling_seconds_bucket{isa=\"svm\",reason=\"0x72\","
			     "name=\"CPUID\",idle=\"false\",le=\"+Inf\"}") == 899);
	assert_true(value(t, "exitmon_exit_handling_seconds_count{isa=\"svm\",reason=\"0x72\","
			     "name=\"CPUID\",idle=\"false\"}") == 899);
	assert_non_null(strstr(t, "exitmon_exit_handling_seconds_sum{isa=\"svm\",reason=\"0x72\","
				  "name=\"CPUID\",idle=\"false\"} 0.001798000\n"));
	/* idle reasons are kept, labelled */
	assert_true(value(t, "exitmon_exit_handling_seconds_count{isa=\"svm\",reason=\"0x78\","
			     "name=\"HLT\",idle=\"true\"}") == 1);
	assert_true(value(t, "exitmon_build_info{version=\"9.9.9\",attach=\"tp\",isa=\"svm\"}") == 1);
	assert_true(value(t, "exitmon_bpf_map_memory_bytes") == 4096);
	assert_true(value(t, "exitmon_overflows_total{cause=\"pending_full\"}") == 0);
	assert_null(strstr(t, "vm=\""));
	check_samples(t);
	free(t);
	em_snapshot_free(&s);
}

static void test_openmetrics(void **state)
{
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	char *t;
	size_t n;

	(void)state;
	sample(&s);
	t = render(&s, &st, EM_METRICS_OPENMETRICS);
	n = strlen(t);
	assert_true(n > 6 && !strcmp(t + n - 6, "# EOF\n"));
	assert_non_null(strstr(t, "# TYPE exitmon_exits counter\n"));
	assert_non_null(strstr(t, "# TYPE exitmon_build info\n"));
	assert_non_null(strstr(t, "# UNIT exitmon_exit_handling_seconds seconds\n"));
	assert_non_null(strstr(t, "# UNIT exitmon_bpf_map_memory_bytes bytes\n"));
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\"}") == 900);
	check_samples(t);
	free(t);
	em_snapshot_free(&s);
}

/* No rows at all (this host: no VMX/SVM): families still valid, counters 0. */
static void test_empty(void **state)
{
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	char *t;

	(void)state;
	em_snapshot_init(&s);
	t = render(&s, &st, EM_METRICS_TEXT);
	assert_non_null(strstr(t, "# TYPE exitmon_exits_total counter\n"));
	assert_null(strstr(t, "exitmon_exits_total{"));
	assert_true(value(t, "exitmon_seen_exits_total") == 0);
	assert_true(value(t, "exitmon_build_info{version=\"9.9.9\",attach=\"tp\",isa=\"unknown\"}") == 1);
	check_samples(t);
	free(t);
	em_snapshot_free(&s);
}

/*
 * The nested tier's exact-count check, on known rows: N more CPUID exits
 * raise the counter by exactly N, _count equals the paired exits, and every
 * sample of the second scrape is >= the first (counters never go down).
 */
static void test_exact_and_monotonic(void **state)
{
	const char *key = "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\"}";
	const char *cnt = "exitmon_exit_handling_seconds_count{isa=\"svm\",reason=\"0x72\","
			  "name=\"CPUID\",idle=\"false\"}";
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	char *a, *b, *save = NULL, *line;
	const uint64_t n = 100000;

	(void)state;
	sample(&s);
	a = render(&s, &st, EM_METRICS_TEXT);
	add(&s, 0x72, EM_ANY_PID, n, 3000, n - 1);
	add(&s, 0x7b, EM_ANY_PID, 5, 70000000000ULL, 5); /* past the last bound */
	b = render(&s, &st, EM_METRICS_TEXT);
	assert_true(value(b, key) - value(a, key) == (double)n);
	assert_true(value(b, cnt) == 899 + n - 1);
	for (line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' ');

		if (line[0] == '#' || !strncmp(line, "exitmon_scrape_", 15))
			continue;
		*sp = '\0';
		assert_true(value(a, line) <= strtod(sp + 1, NULL));
	}
	free(a);
	free(b);
	em_snapshot_free(&s);
}

static void test_per_vm_cap(void **state)
{
	const char *other = "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"other\"}";
	struct em_snapshot s;
	struct em_metrics_state st = { .max_series = 2 };
	char *t;
	double before;

	(void)state;
	sample(&s);
	s.meta.filters.per_vm = true;
	add(&s, 0x72, 300, 30, 1000, 30);
	add(&s, 0x72, 100, 10, 1000, 10);
	add(&s, 0x7b, 200, 20, 1000, 20);
	t = render(&s, &st, EM_METRICS_TEXT);
	/* per-VM rows only (the totals would count twice), lowest pids first */
	assert_null(strstr(t, "name=\"CPUID\"} 900"));
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"100\"}") == 10);
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x7b\",name=\"IOIO\",vm=\"200\"}") == 20);
	assert_true(value(t, other) == 30);
	assert_true(value(t, "exitmon_vms_in_other") == 1);
	check_samples(t);
	before = value(t, other);
	free(t);

	/* a new, lower pid does not take a label from a VM that had one */
	add(&s, 0x72, 50, 5, 1000, 5);
	add(&s, 0x72, 100, 1, 1000, 1);
	t = render(&s, &st, EM_METRICS_TEXT);
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"100\"}") == 11);
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"50\"}") == -1);
	assert_true(value(t, other) == 35 && value(t, other) >= before);
	assert_true(value(t, "exitmon_vms_in_other") == 2);
	check_samples(t);
	free(t);
	em_metrics_state_free(&st);
	em_snapshot_free(&s);
}

/* --per-vcpu rows of one VM sum into its series. */
static void test_per_vcpu_rows_sum(void **state)
{
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	struct em_row *r;
	char *t;

	(void)state;
	em_snapshot_init(&s);
	s.meta.filters.per_vcpu = true;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x72, 7, 0);
	r->st.count = 3;
	r = em_snapshot_row(&s, EM_ISA_SVM, 0x72, 7, 1);
	r->st.count = 4;
	t = render(&s, &st, EM_METRICS_TEXT);
	assert_true(value(t, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"7\"}") == 7);
	check_samples(t);
	free(t);
	em_metrics_state_free(&st);
	em_snapshot_free(&s);
}

/* exitmon.prom that is not a regular file: never written through, never clobbered */
static void textfile_hostile(const char *dir, const char *path, const struct em_snapshot *s,
			     struct em_metrics_state *st)
{
	char victim[160], err[256], buf[64];
	struct stat sb;
	FILE *f;
	size_t n;

	/* a symlink to a file: the link is replaced, its target stays as it was */
	snprintf(victim, sizeof(victim), "%s.victim", dir);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(em_metrics_write_textfile(dir, s, st, &ctx, err, sizeof(err)), 0);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	f = fopen(victim, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "precious\n");
	unlink(victim);
	unlink(path);

	/* a FIFO and a directory are refused with one line and stay */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(em_metrics_write_textfile(dir, s, st, &ctx, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regular file"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(em_metrics_write_textfile(dir, s, st, &ctx, err, sizeof(err)), -1);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	rmdir(path);
}

static void test_textfile(void **state)
{
	char dir[] = "/tmp/exitmon-textfile.XXXXXX", path[128], err[256], buf[1 << 16];
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	FILE *f;
	size_t n;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sample(&s);
	/* an existing file is replaced, a dangling symlink named exitmon.prom too */
	snprintf(path, sizeof(path), "%s/exitmon.prom", dir);
	assert_int_equal(symlink("/nonexistent/target", path), 0);
	assert_int_equal(em_metrics_write_textfile(dir, &s, &st, &ctx, err, sizeof(err)), 0);
	assert_int_equal(em_metrics_write_textfile(dir, &s, &st, &ctx, err, sizeof(err)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_true(value(buf, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\"}") == 900);
	check_samples(buf);
	d = opendir(dir);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1); /* no temporary left */
	unlink(path);
	textfile_hostile(dir, path, &s, &st);

	/* not a directory / missing: one line, non-zero */
	assert_int_equal(em_metrics_write_textfile(path, &s, &st, &ctx, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "textfile "));
	assert_null(strchr(err, '\n'));
	rmdir(dir);
	assert_int_equal(em_metrics_write_textfile(dir, &s, &st, &ctx, err, sizeof(err)), -1);
	assert_null(strchr(err, '\n'));
	em_snapshot_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_le),
		cmocka_unit_test(test_fold_edges),
		cmocka_unit_test(test_fold_cumulative),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_exact_and_monotonic),
		cmocka_unit_test(test_per_vm_cap),
		cmocka_unit_test(test_per_vcpu_rows_sum),
		cmocka_unit_test(test_textfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
