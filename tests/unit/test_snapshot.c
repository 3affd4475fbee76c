// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of user/snapshot.c: round trip, atomic save, validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/types.h>

#include <jansson.h>
#include "bpf/exitmon.h"
#include "user/model.h"
#include <jansson.h>
#include "user/snapshot.h"
#include "user/diff.h"

static char tmpdir[] = "/tmp/exitmon-test-snapshot-XXXXXX";

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void set_hist(struct em_snapshot *s, struct em_rstats *st, const uint32_t *b, const uint64_t *n,
		     size_t k)
{
	size_t i;

	for (i = 0; i < k; i++) {
		assert_int_equal(em_rstats_add_bucket(&s->hist, st, b[i], n[i]), 0);
		st->lat_count += n[i];
	}
}

/* A run with every kind of field set: the fixture of most tests. */
static void fixture(struct em_snapshot *s)
{
	static const uint32_t b0[] = { 10, 20 };
	static const uint64_t n0[] = { 40, 50 };
	static const uint32_t b1[] = { 0, 7, 100, EM_HIST_BUCKETS - 1 };
	static const uint64_t n1[] = { 1, 2, 3, 4 };
	struct em_row *r;
	unsigned i;

	em_snapshot_init(s);
	strcpy(s->meta.exitmon_version, "0.1.0-test");
	strcpy(s->meta.hostname, "kvm-host-1");
	strcpy(s->meta.kernel, "6.1.0-18-amd64");
	strcpy(s->meta.cpu_vendor, "GenuineIntel");
	strcpy(s->meta.cpu_model, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz \"quoted\" \\ and µ");
	s->meta.isa = EM_ISA_VMX;
	s->meta.nparams = 3;
	strcpy(s->meta.params[0].name, "ept");
	strcpy(s->meta.params[0].value, "Y");
	strcpy(s->meta.params[1].name, "enable_apicv");
	strcpy(s->meta.params[1].value, "N");
	strcpy(s->meta.params[2].name, "halt_poll_ns");
	strcpy(s->meta.params[2].value, "200000");
	s->meta.start_ns = 1735787045123456789LL;
	s->meta.duration_ns = 10000000000ULL;
	s->meta.filters.nreasons = 2;
	s->meta.filters.reasons[0] = 30;
	s->meta.filters.reasons[1] = 48;
	s->meta.filters.pid = 4242;
	s->meta.filters.vcpu = 3;
	s->meta.filters.per_vm = true;
	s->meta.filters.per_vcpu = false;
	strcpy(s->meta.attach, "raw_tp");
	s->meta.interval = true;
	for (i = 0; i < EM_CNT__MAX; i++)
		s->counters[i] = 1000 * (i + 1) + i;

	/* rows[0]: count 100, lat_count 90, hist [[10,40],[20,50]] (tests below rely on it) */
	r = em_snapshot_row(s, EM_ISA_VMX, 30, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count = 100;
	set_hist(s, &r->st, b0, n0, 2);
	r->st.lat_sum = 90 * 50;
	r->st.lat_min = 10;
	r->st.lat_max = 300;
	r->approx = EM_APPROX_MAX; /* an interval's bound */

	r = em_snapshot_row(s, EM_ISA_VMX, 30, 4242, EM_ANY_VCPU);
	r->st = s->rows[0].st;

	r = em_snapshot_row(s, EM_ISA_VMX, 48, 4242, 3);
	r->st.count = 10;
	set_hist(s, &r->st, b1, n1, 4);
	r->st.lat_sum = 123456789;
	r->st.lat_min = 0;
	r->st.lat_max = 1ULL << 40;

	/* no latency at all, garbage min/max kept as is */
	r = em_snapshot_row(s, EM_ISA_VMX, 12, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count = 7;
	r->st.lat_min = 99;
	r->st.lat_max = 1;

	/* VMX code with a flag bit, from the "other" hash */
	r = em_snapshot_row(s, EM_ISA_VMX, 0x80000021u, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count = 1;

	/* the overflow row (isa neither vmx nor svm) */
	r = em_snapshot_row(s, 0, 0, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count = 5;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Files in tmpdir other than the given ones (a leftover temp file). */
static int stray_files(const char *keep1, const char *keep2)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((keep1 && !strcmp(e->d_name, keep1)) || (keep2 && !strcmp(e->d_name, keep2)))
			continue;
		print_message("# stray file %s\n", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/exitmon-test-snapshot-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	(void)state;
	em_snapshot_save_hook = NULL;
	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlink(path_in(e->d_name));
		closedir(d);
	}
	return rmdir(tmpdir);
}

/* ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct em_snapshot a, b;
	char err[256] = "";
	struct stat st;

	(void)state;
	fixture(&a);
	assert_int_equal(em_snapshot_save(path_in("run.json"), &a, false, err, sizeof(err)), 0);
	assert_int_equal(stat(path_in("run.json"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(em_snapshot_load(path_in("run.json"), &b, err, sizeof(err)), 0);
	assert_true(em_snapshot_equal(&a, &b));

	/* spot checks, in case em_snapshot_equal were too lenient */
	assert_string_equal(b.meta.cpu_model, a.meta.cpu_model);
	assert_string_equal(b.meta.params[2].name, "halt_poll_ns");
	assert_string_equal(b.meta.params[2].value, "200000");
	assert_int_equal(b.meta.isa, EM_ISA_VMX);
	assert_int_equal(b.meta.start_ns, 1735787045123456789LL);
	assert_int_equal(b.meta.filters.vcpu, 3);
	assert_true(b.meta.filters.per_vm);
	assert_int_equal(b.counters[EM_CNT_BREAKDOWN_OVERFLOW], 7006);
	assert_int_equal(b.nrows, 6);
	assert_int_equal(b.rows[2].vcpu, 3);
	assert_int_equal(b.rows[2].tgid, 4242);
	assert_int_equal(b.rows[0].vcpu, EM_ANY_VCPU);
	assert_int_equal(em_rstats_bucket(&b.rows[2].st, EM_HIST_BUCKETS - 1), 4);
	assert_int_equal(em_rstats_bucket(&b.rows[2].st, 0), 1);
	assert_int_equal(b.rows[2].st.lat_max, 1ULL << 40);
	assert_int_equal(b.rows[3].st.lat_min, 99);
	assert_int_equal(b.rows[4].reason, 0x80000021u);
	assert_int_equal(b.rows[5].isa, 0);
	assert_string_equal(b.meta.attach, "raw_tp");
	assert_true(b.meta.interval);
	assert_int_equal(b.rows[0].approx, EM_APPROX_MAX);
	assert_int_equal(b.rows[1].approx, 0);

	/* and a second change is seen */
	assert_int_equal(em_rstats_add_bucket(&b.hist, &b.rows[2].st, 5, 1), 0);
	assert_false(em_snapshot_equal(&a, &b));
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_format_shape(void **state)
{
	struct em_snapshot a;
	char err[256] = "";
	char *text;

	(void)state;
	fixture(&a);
	assert_int_equal(em_snapshot_save(path_in("run.json"), &a, false, err, sizeof(err)), 0);
	text = slurp(path_in("run.json"));
	assert_non_null(strstr(text, "\"format\": \"exitmon-snapshot\""));
	assert_non_null(strstr(text, "\"version\": 2"));
	assert_non_null(strstr(text, "\"attach\": \"raw_tp\""));
	assert_non_null(strstr(text, "\"view\": \"interval\""));
	assert_non_null(strstr(text, "\"scheme\": \"hdr-log2\""));
	assert_non_null(strstr(text, "\"sub_bucket_bits\": 3"));
	assert_non_null(strstr(text, "\"max_log2\": 36"));
	assert_non_null(strstr(text, "\"buckets\": 273"));
	assert_non_null(strstr(text, "\"lat_max_approx\": true"));
	assert_null(strstr(text, "\"lat_min_approx\"")); /* only when set */
	assert_non_null(strstr(text, "\"start\": \"2025-01-02T03:04:05.123456789Z\""));
	assert_non_null(strstr(text, "\"isa\": \"vmx\""));
	assert_non_null(strstr(text, "\"name\": \"IO_INSTRUCTION\""));
	assert_non_null(strstr(text, "\"vcpu\": -1"));
	assert_non_null(strstr(text, "\"unpaired_entries\": 4003"));
	assert_null(strstr(text, "\"hist\": [\n"
				 "        [\n"
				 "          0,\n"
				 "          0\n")); /* sparse: no zero buckets */
	free(text);
	em_snapshot_free(&a);
}

static void test_round_trip_extremes(void **state)
{
	struct em_snapshot a, b;
	struct em_row *r;
	char err[256] = "";
	unsigned i;

	(void)state;
	em_snapshot_init(&a);
	a.meta.isa = EM_ISA_SVM;
	a.meta.start_ns = -1; /* 1969-12-31T23:59:59.999999999Z */
	a.meta.duration_ns = INT64_MAX;
	a.meta.nparams = EM_MAX_PARAMS;
	for (i = 0; i < EM_MAX_PARAMS; i++) {
		memset(a.meta.params[i].name, 'a' + i, sizeof(a.meta.params[i].name) - 1);
		memset(a.meta.params[i].value, 'z', sizeof(a.meta.params[i].value) - 1);
	}
	memset(a.meta.hostname, 'h', sizeof(a.meta.hostname) - 1);
	a.meta.filters.nreasons = EM_MAX_FILTER_REASONS;
	for (i = 0; i < EM_MAX_FILTER_REASONS; i++)
		a.meta.filters.reasons[i] = UINT32_MAX - i;
	a.meta.filters.pid = UINT32_MAX;
	a.meta.filters.per_vcpu = true;
	for (i = 0; i < EM_CNT__MAX; i++)
		a.counters[i] = INT64_MAX;
	r = em_snapshot_row(&a, EM_ISA_SVM, EM_SVM_EXIT_INVALID, UINT32_MAX, EM_ANY_VCPU - 1);
	r->st.count = INT64_MAX;
	r->st.lat_count = INT64_MAX;
	assert_int_equal(em_rstats_add_bucket(&a.hist, &r->st, EM_HIST_BUCKETS - 1, INT64_MAX), 0);
	r->st.lat_sum = INT64_MAX;
	r->st.lat_min = INT64_MAX;
	r->st.lat_max = INT64_MAX;
	r = em_snapshot_row(&a, EM_ISA_SVM, EM_SVM_EXIT_NPF, 1, 0);
	r->st.count = 0;
	r = em_snapshot_row(&a, 7, 123, EM_ANY_PID, EM_ANY_VCPU);
	r->st.count = 1;
	assert_int_equal(em_snapshot_save(path_in("x.json"), &a, false, err, sizeof(err)), 0);
	assert_int_equal(em_snapshot_load(path_in("x.json"), &b, err, sizeof(err)), 0);
	assert_true(em_snapshot_equal(&a, &b));
	em_snapshot_free(&b);

	/* an empty run */
	em_snapshot_free(&a);
	em_snapshot_init(&a);
	a.meta.isa = EM_ISA_VMX;
	assert_int_equal(em_snapshot_save(path_in("x.json"), &a, true, err, sizeof(err)), 0);
	assert_int_equal(em_snapshot_load(path_in("x.json"), &b, err, sizeof(err)), 0);
	assert_true(em_snapshot_equal(&a, &b));
	assert_null(b.rows);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_invalid_utf8_is_sanitised(void **state)
{
	struct em_snapshot a, b;
	char err[256] = "";

	(void)state;
	em_snapshot_init(&a);
	a.meta.isa = EM_ISA_VMX;
	strcpy(a.meta.hostname, "bad\xff\xfehost");
	assert_int_equal(em_snapshot_save(path_in("u.json"), &a, false, err, sizeof(err)), 0);
	assert_int_equal(em_snapshot_load(path_in("u.json"), &b, err, sizeof(err)), 0);
	assert_string_equal(b.meta.hostname, "bad??host");
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_save_unrepresentable(void **state)
{
	struct em_snapshot a;
	char err[256] = "";

	(void)state;
	fixture(&a);
	a.rows[1].st.lat_sum = (uint64_t)INT64_MAX + 1; /* e.g. a wrapped delta */
	assert_int_equal(em_snapshot_save(path_in("big.json"), &a, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rows[1].lat_sum_ns"));
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(access(path_in("big.json"), F_OK), -1);
	/* a counter above 2^63-1: refused by the one counters writer, named */
	a.rows[1].st.lat_sum = 1;
	a.counters[EM_CNT_FILTERED] = (uint64_t)INT64_MAX + 1;
	assert_int_equal(em_snapshot_save(path_in("big.json"), &a, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "counters.filtered"));
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(access(path_in("big.json"), F_OK), -1);
	a.counters[EM_CNT_FILTERED] = 0;
	assert_int_equal(stray_files(NULL, NULL), 0);

	a.rows[1].st.lat_sum = 0;
	a.meta.filters.nreasons = EM_MAX_FILTER_REASONS + 1;
	assert_int_equal(em_snapshot_save(path_in("big.json"), &a, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "filters.reasons"));

	a.meta.filters.nreasons = 0;
	a.meta.nparams = 2;
	strcpy(a.meta.params[1].name, "ept");
	assert_int_equal(em_snapshot_save(path_in("big.json"), &a, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "duplicate parameter \"ept\""));
	assert_int_equal(stray_files(NULL, NULL), 0);
	em_snapshot_free(&a);
}

static void test_no_overwrite_without_force(void **state)
{
	struct em_snapshot a;
	char err[256] = "";
	char *text;

	(void)state;
	fixture(&a);
	spit(path_in("old.json"), "precious\n");
	assert_int_equal(em_snapshot_save(path_in("old.json"), &a, false, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already exists (use --force to overwrite)"));
	text = slurp(path_in("old.json"));
	assert_string_equal(text, "precious\n");
	free(text);
	assert_int_equal(stray_files("old.json", NULL), 0);

	/* with force it is replaced */
	assert_int_equal(em_snapshot_save(path_in("old.json"), &a, true, err, sizeof(err)), 0);
	text = slurp(path_in("old.json"));
	assert_non_null(strstr(text, "exitmon-snapshot"));
	free(text);
	assert_int_equal(stray_files("old.json", NULL), 0);
	em_snapshot_free(&a);
}

static int hook_calls;
static char hook_tmp[512];

static int hook_fail(const char *tmp, const char *path)
{
	struct stat st, dir;

	(void)path;
	hook_calls++;
	snprintf(hook_tmp, sizeof(hook_tmp), "%s", tmp);
	/* the temp file is complete, unnamed (O_TMPFILE), on the target's file system */
	assert_int_equal(stat(tmp, &st), 0);
	assert_true(st.st_size > 100);
	assert_int_equal(strncmp(tmp, "/proc/self/fd/", 14), 0);
	assert_int_equal(stat(tmpdir, &dir), 0);
	assert_true(st.st_dev == dir.st_dev);
	return -EIO;
}

static void test_atomic_failure_keeps_old_file(void **state)
{
	struct em_snapshot a;
	char err[256] = "";
	char *text;

	(void)state;
	fixture(&a);
	spit(path_in("run.json"), "old contents\n");
	em_snapshot_save_hook = hook_fail;
	hook_calls = 0;
	assert_int_equal(em_snapshot_save(path_in("run.json"), &a, true, err, sizeof(err)), -EIO);
	em_snapshot_save_hook = NULL;
	assert_int_equal(hook_calls, 1);
	assert_non_null(strstr(err, "rename"));
	text = slurp(path_in("run.json"));
	assert_string_equal(text, "old contents\n");
	free(text);
	assert_int_equal(access(hook_tmp, F_OK), -1);
	assert_int_equal(stray_files("run.json", NULL), 0);

	/* same with no previous file: nothing is left at all */
	em_snapshot_save_hook = hook_fail;
	assert_int_equal(em_snapshot_save(path_in("new.json"), &a, false, err, sizeof(err)), -EIO);
	em_snapshot_save_hook = NULL;
	assert_int_equal(access(path_in("new.json"), F_OK), -1);
	assert_int_equal(stray_files("run.json", NULL), 0);
	em_snapshot_free(&a);
}

/* A racing writer creates the target between our check and our rename. */
static int hook_race(const char *tmp, const char *path)
{
	(void)tmp;
	spit(path, "the other writer's\n");
	return 0;
}

static void test_no_clobber_race(void **state)
{
	struct em_snapshot a;
	char err[256] = "";
	char *text;

	(void)state;
	fixture(&a);
	em_snapshot_save_hook = hook_race;
	assert_int_equal(em_snapshot_save(path_in("race.json"), &a, false, err, sizeof(err)), -EEXIST);
	em_snapshot_save_hook = NULL;
	assert_non_null(strstr(err, "already exists (use --force to overwrite)"));
	text = slurp(path_in("race.json"));
	assert_string_equal(text, "the other writer's\n");
	free(text);
	assert_int_equal(stray_files("race.json", NULL), 0);
	em_snapshot_free(&a);
}

static void test_save_bad_paths(void **state)
{
	struct em_snapshot a;
	char err[256] = "";

	(void)state;
	fixture(&a);
	assert_true(em_snapshot_save(path_in("no/such/dir/x.json"), &a, false, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot create a temporary file"));
	assert_true(em_snapshot_save(path_in(""), &a, true, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a file name"));
	/* target is a directory */
	assert_int_equal(mkdir(path_in("d"), 0755), 0);
	assert_true(em_snapshot_save(path_in("d"), &a, true, err, sizeof(err)) < 0);
	assert_int_equal(rmdir(path_in("d")), 0);
	assert_int_equal(stray_files(NULL, NULL), 0);
	/* relative path in the current directory */
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(em_snapshot_save("rel.json", &a, false, err, sizeof(err)), 0);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(stray_files("rel.json", NULL), 0);
	/* NULL err is fine */
	assert_int_equal(em_snapshot_save(path_in("rel.json"), &a, false, NULL, 0), -EEXIST);
	em_snapshot_free(&a);
}

static void test_load_io_errors(void **state)
{
	struct em_snapshot b;
	char err[256] = "";

	(void)state;
	assert_int_equal(em_snapshot_load(path_in("missing.json"), &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(b.nrows, 0);
	assert_null(b.rows);
	assert_int_equal(em_snapshot_load(tmpdir, &b, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "directory"));
	spit(path_in("empty.json"), "");
	assert_int_equal(em_snapshot_load(path_in("empty.json"), &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
}

/* ------------------------------------------------------------------ */
/* Bad input: mutations of a valid document, and raw texts.            */

static json_t *fixture_json(void)
{
	struct em_snapshot a;
	char err[256] = "";
	json_t *j;

	fixture(&a);
	j = em_snapshot_to_json(&a, err, sizeof(err));
	assert_non_null(j);
	em_snapshot_free(&a);
	return j;
}

/* Sets (or deletes when value is NULL) the element at a dotted path. */
static void mutate(json_t *root, const char *path, const char *value)
{
	char buf[128], *save = NULL, *tok, *next;
	json_t *cur = root, *v = NULL;
	json_error_t je;

	if (value) {
		v = json_loads(value, JSON_DECODE_ANY, &je);
		if (!v)
			fail_msg("bad test value %s: %s", value, je.text);
	}
	snprintf(buf, sizeof(buf), "%s", path);
	tok = strtok_r(buf, ".", &save);
	for (;;) {
		next = strtok_r(NULL, ".", &save);
		if (!next)
			break;
		cur = json_is_array(cur) ? json_array_get(cur, atoi(tok)) : json_object_get(cur, tok);
		assert_non_null(cur);
		tok = next;
	}
	if (json_is_array(cur)) {
		size_t i = atoi(tok);

		if (!v)
			assert_int_equal(json_array_remove(cur, i), 0);
		else if (i == json_array_size(cur))
			assert_int_equal(json_array_append_new(cur, v), 0);
		else
			assert_int_equal(json_array_set_new(cur, i, v), 0);
	} else if (!v) {
		assert_int_equal(json_object_del(cur, tok), 0);
	} else {
		assert_int_equal(json_object_set_new(cur, tok, v), 0);
	}
}

struct bad_case {
	const char *path;  /* NULL: text is the whole document */
	const char *value; /* JSON text; NULL deletes */
	const char *want;  /* substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ "format", NULL, "not an exitmon snapshot: no \"format\" field" },
	{ "format", "\"exitmon-snapshot-x\"", "not an exitmon snapshot: \"format\" is \"exitmon-snapshot-x\"" },
	{ "format", "7", "\"format\" is an integer" },
	{ "version", NULL, "missing field \"version\"" },
	{ "version", "3", "unsupported snapshot format version 3 (this exitmon reads versions 1 to 2; it was written by a newer exitmon)" },
	{ "version", "0", "unsupported snapshot format version 0" },
	{ "version", "\"1\"", "version: expected an integer, got a string" },
	{ "hostname", NULL, "missing field \"hostname\"" },
	{ "kernel", "5", "kernel: expected a string, got an integer" },
	{ "cpu_vendor", "\"0123456789012345678901234567890123456789\"", "cpu_vendor: string too long (40 bytes, max 31)" },
	{ "exitmon_version", "null", "exitmon_version: expected a string, got null" },
	{ "isa", "\"arm\"", "isa: unknown isa \"arm\" (expected vmx or svm)" },
	{ "isa", "\"VMX\"", "isa: unknown isa \"VMX\"" },
	{ "isa", "\"intel\"", "isa: unknown isa \"intel\"" },
	{ "isa", "1", "isa: 1 is not valid here" },
	{ "isa", "-1", "isa: -1 is not valid here" },
	{ "isa", "[]", "isa: expected \"vmx\" or \"svm\", got an array" },
	{ "isa", NULL, "missing field \"isa\"" },
	{ "kvm_params", "[]", "kvm_params: expected an object, got an array" },
	{ "kvm_params.ept", "1", "kvm_params.ept: expected a string, got an integer" },
	{ "kvm_params.ept", "\"0123456789012345678901234567890123456789012345678901234567\"", "kvm_params.ept: string too long" },
	{ "kvm_params.this_is_a_very_long_kvm_parameter_name_that_does_not_fit", "\"1\"", "parameter name" },
	{ "start_ns", "1.5", "start_ns: expected an integer, got a real number" },
	{ "start_ns", NULL, "missing field \"start_ns\"" },
	{ "duration_ns", "-5", "duration_ns: negative value -5" },
	{ "duration_ns", "1e3", "duration_ns: expected an integer, got a real number" },
	{ "filters", NULL, "missing field \"filters\"" },
	{ "filters.reasons", "[30, -1]", "filters.reasons[1]: negative value -1" },
	{ "filters.reasons", "[4294967296]", "filters.reasons[0]: 4294967296 out of range (0..4294967295)" },
	{ "filters.reasons", "{}", "filters.reasons: expected an array, got an object" },
	{ "filters.pid", NULL, "filters: missing field \"pid\"" },
	{ "filters.vcpu", "-2", "filters.vcpu: -2 out of range (-1..4294967294)" },
	{ "filters.per_vm", "1", "filters.per_vm: expected a boolean, got an integer" },
	{ "counters", "[]", "counters: expected an object, got an array" },
	{ "counters.exits", NULL, "counters: missing field \"exits\"" },
	{ "counters.breakdown_overflow", "\"12\"", "counters.breakdown_overflow: expected an integer, got a string" },
	{ "counters.pending_full", "-1", "counters.pending_full: negative value -1" },
	{ "rows", NULL, "missing field \"rows\"" },
	{ "rows", "{}", "rows: expected an array, got an object" },
	{ "rows.0", "5", "rows[0]: expected an object, got an integer" },
	{ "rows.0.count", "-1", "rows[0].count: negative value -1" },
	{ "rows.0.count", "100.0", "rows[0].count: expected an integer, got a real number" },
	{ "rows.0.count", "89", "rows[0]: lat_count 90 exceeds count 89" },
	{ "rows.0.count", NULL, "rows[0]: missing field \"count\"" },
	{ "rows.2.lat_sum_ns", "true", "rows[2].lat_sum_ns: expected an integer, got true" },
	{ "rows.0.lat_min_ns", "301", "rows[0]: lat_min_ns 301 exceeds lat_max_ns 300" },
	{ "rows.0.isa", "\"arm\"", "rows[0].isa: unknown isa \"arm\"" },
	{ "rows.0.reason", "4294967296", "rows[0].reason: 4294967296 out of range" },
	{ "rows.0.tgid", "\"x\"", "rows[0].tgid: expected an integer, got a string" },
	{ "rows.0.vcpu", "-2", "rows[0].vcpu: -2 out of range" },
	{ "rows.0.vcpu", "4294967295", "rows[0].vcpu: 4294967295 out of range" },
	{ "rows.0.hist", NULL, "rows[0]: missing field \"hist\"" },
	{ "rows.0.hist", "{}", "rows[0].hist: expected an array of [bucket, count] pairs, got an object" },
	{ "rows.0.hist.0", "[273, 40]", "rows[0].hist[0]: bucket 273 out of range (0..272)" },
	{ "rows.0.hist.0", "[-1, 40]", "rows[0].hist[0]: bucket -1 out of range" },
	{ "rows.0.hist.0", "[10]", "rows[0].hist[0]: expected a [bucket, count] pair" },
	{ "rows.0.hist.0", "[10, 40, 1]", "rows[0].hist[0]: expected a [bucket, count] pair" },
	{ "rows.0.hist.0", "7", "rows[0].hist[0]: expected a [bucket, count] pair, got an integer" },
	{ "rows.0.hist.0", "[1.0, 40]", "rows[0].hist[0]: bucket index is a real number" },
	{ "rows.0.hist.0", "[10, -40]", "rows[0].hist[0]: negative value -40" },
	{ "rows.0.hist.0", "[10, \"40\"]", "rows[0].hist[0]: expected an integer, got a string" },
	{ "rows.0.hist.0", "[10, 41]", "rows[0].hist: buckets sum to 91 but lat_count is 90" },
	{ "rows.0.hist.0", "[20, 40]", "rows[0].hist[1]: bucket 20 appears twice" },
	{ "rows.0.hist.0", "[30, 40]", "rows[0].hist[1]: bucket 20 out of order" },
	{ "rows.0.hist.2", "[30, 0]", NULL /* zero counts are accepted */ },
	{ "rows.0.hist.2", "[271, 9223372036854775807]", "rows[0].hist: " },
	{ "rows.0.hist", "[[10, 40], [271, 9223372036854775807], [272, 9223372036854775807]]",
	  "rows[0].hist: bucket counts overflow" },
	{ "rows.6", "{\"isa\":\"vmx\",\"reason\":48,\"tgid\":4242,\"vcpu\":3,\"count\":0,\"lat_count\":0,"
		    "\"lat_sum_ns\":0,\"lat_min_ns\":0,\"lat_max_ns\":0,\"hist\":[]}",
	  "rows[6]: duplicate of rows[2] (isa vmx, reason 48, tgid 4242, vcpu 3)" },
	{ "unknown_future_field", "{\"x\": 1}", NULL /* ignored */ },
	{ "attach", NULL, "missing field \"attach\"" },
	{ "attach", "5", "attach: expected a string or null, got an integer" },
	{ "attach", "null", NULL /* unknown */ },
	{ "attach", "\"a_very_long_attach_mode\"", "attach: string too long" },
	{ "view", NULL, "missing field \"view\"" },
	{ "view", "\"delta\"", "view: \"delta\" (expected \"cumulative\" or \"interval\")" },
	{ "hist_layout", NULL, "missing field \"hist_layout\"" },
	{ "hist_layout.scheme", "\"linear\"", "hist_layout.scheme: unknown histogram scheme \"linear\"" },
	{ "hist_layout.unit", "\"us\"", "hist_layout.unit: \"us\" (expected \"ns\")" },
	{ "hist_layout.sub_bucket_bits", "17", "hist_layout.sub_bucket_bits: 17 out of range (0..16)" },
	{ "hist_layout.max_log2", "64", "hist_layout.max_log2: 64 out of range (1..63)" },
	{ "hist_layout.max_log2", "3", "hist_layout: max_log2 3 must exceed sub_bucket_bits 3" },
	{ "hist_layout.buckets", "272", "hist_layout.buckets: 272, but sub_bucket_bits 3 and max_log2 36 make 273" },
	{ "rows.0.lat_max_approx", "1", "rows[0].lat_max_approx: expected a boolean, got an integer" },
	{ "rows.0.name", "42", NULL /* informational, ignored */ },
	{ "start", NULL, NULL /* informational */ },
};

/*
 * The loader reads rows apart (and plain rows without jansson): the
 * whole-tree parse of the same text must give the same verdict, message
 * and snapshot.
 */
static void same_as_tree(const char *text, size_t len, int rc, const char *err, const struct em_snapshot *got,
			 const char *label)
{
	struct em_snapshot t;
	char terr[512] = "";
	int trc;

	em_snapshot_whole_tree = true;
	trc = em_snapshot_parse(text, len, &t, terr, sizeof(terr));
	em_snapshot_whole_tree = false;
	if (trc != rc || (rc && strcmp(err, terr)))
		fail_msg("%s: rows apart gave %d \"%s\", the whole tree %d \"%s\"", label, rc, rc ? err : "",
			 trc, trc ? terr : "");
	if (!rc && !em_snapshot_equal(got, &t))
		fail_msg("%s: rows apart and the whole tree read different snapshots", label);
	em_snapshot_free(&t);
}

static void check_bad(const char *text, size_t len, const char *want, const char *label)
{
	struct em_snapshot b;
	char err[512] = "";
	int rc;

	memset(&b, 0xa5, sizeof(b));
	rc = em_snapshot_parse(text, len, &b, err, sizeof(err));
	same_as_tree(text, len, rc, err, &b, label);
	if (!want) {
		if (rc)
			fail_msg("%s: expected success, got %d: %s", label, rc, err);
		em_snapshot_free(&b);
		return;
	}
	if (rc != -EINVAL)
		fail_msg("%s: expected -EINVAL, got %d (%s)", label, rc, err);
	if (!strstr(err, want))
		fail_msg("%s: error \"%s\" lacks \"%s\"", label, err, want);
	if (strchr(err, '\n'))
		fail_msg("%s: error has a newline", label);
	/* left empty, nothing to free */
	assert_int_equal(b.nrows, 0);
	assert_null(b.rows);
}

static void test_bad_fields(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		json_t *j = fixture_json();
		char label[160];
		char *text;

		mutate(j, bc->path, bc->value);
		text = json_dumps(j, JSON_COMPACT);
		assert_non_null(text);
		snprintf(label, sizeof(label), "%s = %.60s", bc->path, bc->value ? bc->value : "(deleted)");
		check_bad(text, strlen(text), bc->want, label);
		free(text);
		json_decref(j);
	}
}

static void test_bad_texts(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "empty file" },
		{ "hello", "invalid JSON: " },
		{ "{\"format\": \"exitmon-snapshot\", \"version\": 1,", "truncated JSON: " },
		{ "[1, 2]", "not an exitmon snapshot: the document is an array, expected an object" },
		{ "\"exitmon-snapshot\"", "not an exitmon snapshot: the document is a string" },
		{ "{}", "not an exitmon snapshot: no \"format\" field" },
		{ "{\"format\": \"exitmon-snapshot\", \"format\": \"exitmon-snapshot\"}", "duplicate object key" },
		{ "{\"format\": \"exitmon-snapshot\", \"version\": 99999999999999999999}", "too big" },
		{ "{\"format\": \"exitmon-snapshot\", \"version\": 1} trailing", "invalid JSON: end of file expected" },
		{ "{\"format\": \"exitmon-snapshot\\u0000\"}", "invalid JSON: " },
		{ "\xef\xbb\xbf{}", "invalid JSON" },
		{ "{\"format\": \"\xff\"}", "invalid JSON" },
		/* the input quoted in a message never brings a newline or an escape sequence */
		{ "{\"format\": \"cp\\u0\n\"}", "invalid JSON: invalid escape near '\"cp\\u0?' (line" },
		{ "{\"format\": \"\\u001b[31mred\\nline\"}", "\"format\" is \"?[31mred?line\", expected" },
		{ "{\"format\": \"\xc2\xb5s\"}", "\"format\" is \"??s\"" },
	};
	json_t *j = fixture_json();
	char *full;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_bad(cases[i].text, strlen(cases[i].text), cases[i].want, cases[i].text);

	/* every proper prefix of a valid document is refused, none crashes */
	full = json_dumps(j, JSON_INDENT(2));
	n = strlen(full);
	for (i = 1; i < n; i++) {
		struct em_snapshot b;
		char err[256] = "";

		if (em_snapshot_parse(full, i, &b, err, sizeof(err)) == 0)
			fail_msg("prefix of %zu/%zu bytes accepted", i, n);
		assert_true(err[0]);
		assert_null(b.rows);
	}
	/* and the whole one, with the NUL not counted, is accepted */
	{
		struct em_snapshot b;
		char err[256] = "";

		assert_int_equal(em_snapshot_parse(full, n, &b, err, sizeof(err)), 0);
		em_snapshot_free(&b);
	}
	free(full);
	json_decref(j);
}

/* text with the first `from` replaced by `to` (caller frees) */
static char *replace1(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	if (!out)
		abort();
	sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

/*
 * Rows apart: plain rows skip jansson, every other spelling falls to it
 * (or the whole document to the whole-tree parse), with the same result.
 */
static void test_rows_apart(void **state)
{
	static const struct {
		const char *from, *to;
		int plain; /* rows read plainly: -1 as the file as saved, -2 one fewer */
	} cases[] = {
		/* as saved: all plain but the overflow row (isa 0 is written as a number) */
		{ "\"rows\": [", "\"rows\": [", -1 },
		{ "\"name\": \"", "\"name\": \"\\u0041", -2 },         /* an escape */
		{ "\"tgid\": ", "\"extra\": [1, {\"a\": null}], \"tgid\": ", -2 }, /* an unknown key */
		{ "      \"vcpu\": 3", "      \"vcpu\": -0", -2 },        /* jansson's 0 (a row's, not filters') */
		{ "\"lat_sum_ns\": 123456789", "\"lat_sum_ns\": 1234567890123456789", -2 }, /* 19 digits */
		{ "\"lat_max_approx\": true", "\"lat_max_approx\": true, \"lat_min_approx\": false", -1 },
		{ "\"hist\": [", "\"hist\": [\n[0, 0],", -1 },            /* a zero count */
		{ "\"hist\": [", "\"hist\": [\n[30, 0],", 0 },            /* out of order: refused by both */
		{ "\"rows\": [", "\"r\\u006fws\": [", 0 },             /* the whole-tree parse */
		{ "\"count\": 100", "\"count\": 0100", 0 },              /* invalid JSON */
		{ "\"count\": 100", "\"count\": 100, \"count\": 100", 0 }, /* duplicate key */
		{ "\"count\": 100", "\"count\": 1e2", 0 },               /* a real */
		{ "\n  ]", "\n  ,]", 0 },                                  /* trailing comma */
		/* members after the rows (the tail) */
		{ "\n  ]\n}", "\n  ],\n  \"extra\": {\"x\": [1]}\n}", -1 },
		{ "\n  ]\n}", "\n  ],\n  \"format\": \"exitmon-snapshot\"\n}", 0 }, /* duplicate key */
		{ "\n  ]\n}", "\n  ],\n}", 0 },                           /* trailing comma */
		{ "\n  ]\n}", "\n  ]\n} x", 0 },                          /* trailing garbage */
	};
	json_t *j = fixture_json();
	char *full = json_dumps(j, JSON_INDENT(2)), label[160];
	size_t i;

	(void)state;
	assert_non_null(full);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = replace1(full, cases[i].from, cases[i].to), err[512] = "";
		unsigned long before = em_snapshot_plain_rows;
		struct em_snapshot b;
		int rc = em_snapshot_parse(text, strlen(text), &b, err, sizeof(err));

		snprintf(label, sizeof(label), "%s -> %s", cases[i].from, cases[i].to);
		same_as_tree(text, strlen(text), rc, err, &b, label);
		if (cases[i].plain < 0 && rc)
			fail_msg("%s: refused: %s", label, err);
		if (!i)
			assert_int_equal(em_snapshot_plain_rows - before, b.nrows - 1);
		if (cases[i].plain < 0 && em_snapshot_plain_rows - before != b.nrows + cases[i].plain)
			fail_msg("%s: %lu rows read plainly of %zu", label, em_snapshot_plain_rows - before, b.nrows);
		if (cases[i].plain >= 0 && !rc)
			assert_int_equal(em_snapshot_plain_rows - before, (unsigned)cases[i].plain);
		em_snapshot_free(&b);
		free(text);
	}
	/* VM names ("vms") come after the rows, in the tail */
	{
		static const struct em_label names[] = {
			{ .tgid = 4242, .vcpu = 3, .src = EM_VCPU_THREAD, .index = 0, .tid = 4250 },
			{ .tgid = 4242, .vcpu = EM_ANY_VCPU, .name = "web,01", .src = EM_NAME_QEMU, .index = -1 },
		};
		struct em_snapshot a, b;
		char *text, err[512] = "";
		json_t *jl;

		fixture(&a);
		assert_int_equal(em_labels_copy(&a.labels, &(struct em_labels){ .n = 2, .v = (struct em_label *)names }), 0);
		jl = em_snapshot_to_json(&a, err, sizeof(err));
		assert_non_null(jl);
		text = json_dumps(jl, JSON_INDENT(2));
		json_decref(jl);
		assert_non_null(strstr(text, "\"vms\""));
		assert_true(strstr(text, "\"vms\"") > strstr(text, "\"rows\""));
		assert_int_equal(em_snapshot_parse(text, strlen(text), &b, err, sizeof(err)), 0);
		same_as_tree(text, strlen(text), 0, err, &b, "vms");
		assert_true(em_snapshot_equal(&a, &b));
		em_snapshot_free(&a);
		em_snapshot_free(&b);
		free(text);
	}
	/* the same with CRLF and tabs for whitespace: still plain */
	{
		char *text = malloc(3 * strlen(full) + 1), *o = text, err[512] = "";
		unsigned long before = em_snapshot_plain_rows;
		struct em_snapshot b;
		const char *p;

		assert_non_null(text);
		for (p = full; *p; p++)
			if (*p == '\n')
				o += sprintf(o, "\r\n\t");
			else
				*o++ = *p;
		*o = '\0';
		assert_int_equal(em_snapshot_parse(text, strlen(text), &b, err, sizeof(err)), 0);
		same_as_tree(text, strlen(text), 0, err, &b, "CRLF");
		assert_int_equal(em_snapshot_plain_rows - before, b.nrows - 1);
		em_snapshot_free(&b);
		free(text);
	}
	free(full);
	json_decref(j);
}

/* Truncated file on disk says so. */
static void test_truncated_file(void **state)
{
	struct em_snapshot a, b;
	char err[256] = "";
	char *text;

	(void)state;
	fixture(&a);
	assert_int_equal(em_snapshot_save(path_in("t.json"), &a, false, err, sizeof(err)), 0);
	text = slurp(path_in("t.json"));
	text[strlen(text) / 2] = '\0';
	spit(path_in("t.json"), text);
	free(text);
	assert_int_equal(em_snapshot_load(path_in("t.json"), &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "truncated JSON"));
	em_snapshot_free(&a);
}

/* Parses the JSON document j (consumed). */
static int parse_json(json_t *j, struct em_snapshot *s, char *err, size_t errlen)
{
	char *text = json_dumps(j, JSON_COMPACT);
	int rc;

	json_decref(j);
	assert_non_null(text);
	rc = em_snapshot_parse(text, strlen(text), s, err, errlen);
	free(text);
	return rc;
}

/* A version 1 file (no attach, view, hist_layout, approx) is still read. */
static void test_read_v1(void **state)
{
	struct em_snapshot a, b;
	json_t *j = fixture_json();
	char err[256] = "";

	(void)state;
	mutate(j, "version", "1");
	mutate(j, "attach", NULL);
	mutate(j, "view", NULL);
	mutate(j, "hist_layout", NULL);
	mutate(j, "rows.0.lat_max_approx", NULL);
	assert_int_equal(parse_json(j, &b, err, sizeof(err)), 0);
	assert_string_equal(b.meta.attach, "");
	assert_false(b.meta.interval);
	assert_int_equal(b.meta.hist_layout.sub_bits, EM_HIST_SUB_BITS);
	assert_int_equal(b.meta.hist_layout.max_log2, EM_HIST_MAX_LOG2);
	fixture(&a);
	assert_int_equal(b.nrows, a.nrows);
	assert_int_equal(b.rows[2].st.nb, a.rows[2].st.nb);
	assert_memory_equal(b.rows[2].st.hb, a.rows[2].st.hb, a.rows[2].st.nb * sizeof(*a.rows[2].st.hb));
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

/* Bucket of v in a layout, by its bounds. */
static uint32_t bucket_in(const struct em_hist_layout *l, uint64_t v)
{
	uint32_t b;

	for (b = 0; b + 1 < em_layout_buckets(l); b++)
		if (v <= em_layout_upper(l, b))
			break;
	return b;
}

/* A row of one value per (value, count) pair in layout l, as a writer with that layout would. */
static json_t *layout_doc(const struct em_hist_layout *l, const uint64_t *v, const uint64_t *n, size_t k)
{
	json_t *j = fixture_json(), *rows, *row, *hist;
	uint64_t total = 0;
	char buf[64];
	size_t i;

	rows = json_object_get(j, "rows");
	while (json_array_size(rows) > 1)
		json_array_remove(rows, 1);
	row = json_array_get(rows, 0);
	hist = json_array();
	for (i = 0; i < k; i++) {
		json_array_append_new(hist, json_pack("[iI]", (int)bucket_in(l, v[i]), (json_int_t)n[i]));
		total += n[i];
	}
	json_object_set_new(row, "hist", hist);
	json_object_set_new(row, "count", json_integer((json_int_t)total));
	json_object_set_new(row, "lat_count", json_integer((json_int_t)total));
	json_object_set_new(row, "lat_min_ns", json_integer(0));
	json_object_set_new(row, "lat_max_ns", json_integer((json_int_t)v[k - 1]));
	snprintf(buf, sizeof(buf), "%u", l->sub_bits);
	mutate(j, "hist_layout.sub_bucket_bits", buf);
	snprintf(buf, sizeof(buf), "%u", l->max_log2);
	mutate(j, "hist_layout.max_log2", buf);
	snprintf(buf, sizeof(buf), "%u", em_layout_buckets(l));
	mutate(j, "hist_layout.buckets", buf);
	return j;
}

/* A finer layout is re-bucketed exactly into the native one, and diff says so. */
static void test_rebucket_finer(void **state)
{
	const struct em_hist_layout fine = { 5, 40 };
	const uint64_t v[] = { 3, 3000, 3050, 100000, 1ULL << 37, 1ULL << 39 }, n[] = { 1, 2, 3, 4, 5, 6 };
	struct em_snapshot b;
	char err[512] = "", *out = NULL;
	size_t len = 0, i;
	FILE *f;

	(void)state;
	assert_int_equal(parse_json(layout_doc(&fine, v, n, 6), &b, err, sizeof(err)), 0);
	assert_int_equal(b.meta.hist_layout.sub_bits, 5);
	assert_int_equal(b.meta.hist_layout.max_log2, 40);
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, 3), 1);
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, em_hist_bucket(3000)), 2 + 3); /* same native bucket */
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, em_hist_bucket(100000)), 4);
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, EM_HIST_BUCKETS - 1), 5 + 6); /* >= 2^36 */
	for (i = 0, len = 0; i < EM_HIST_BUCKETS; i++)
		len += em_rstats_bucket(&b.rows[0].st, i);
	assert_int_equal(len, 21);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(em_diff_print(f, &b, "fine.json", &b, "fine.json", NULL), 0);
	fclose(f);
	assert_non_null(strstr(out, "warning: A was recorded with histogram layout sub_bucket_bits 5, max_log2 40 and re-bucketed"));
	free(out);
	em_snapshot_free(&b);
}

/* A coarser layout: single-value buckets move, a bucket spanning several native ones is refused. */
static void test_rebucket_coarser(void **state)
{
	const struct em_hist_layout coarse = { 2, 30 };
	const uint64_t v1[] = { 2, 3 }, n1[] = { 5, 6 };
	const uint64_t v2[] = { 3, 3000 }, n2[] = { 1, 1 };
	const uint64_t v3[] = { 1ULL << 31 }, n3[] = { 1 };
	struct em_snapshot b;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_json(layout_doc(&coarse, v1, n1, 2), &b, err, sizeof(err)), 0);
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, 2), 5);
	assert_int_equal(em_rstats_bucket(&b.rows[0].st, 3), 6);
	em_snapshot_free(&b);
	assert_int_equal(parse_json(layout_doc(&coarse, v2, n2, 2), &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rows[0].hist[1]: bucket 41 [2560, 3071] of the file's histogram layout "
				    "(sub_bucket_bits 2, max_log2 30) spans several buckets of this exitmon's (3, 36) "
				    "and cannot be split"));
	/* the open top bucket at 2^30 would spread over native buckets up to 2^36 */
	assert_int_equal(parse_json(layout_doc(&coarse, v3, n3, 1), &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "[1073741824, inf]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_extremes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8_is_sanitised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_unrepresentable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_overwrite_without_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_failure_keeps_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_clobber_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_io_errors, setup, teardown),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_read_v1),
		cmocka_unit_test(test_rebucket_finer),
		cmocka_unit_test(test_rebucket_coarser),
		cmocka_unit_test(test_bad_texts),
		cmocka_unit_test_setup_teardown(test_truncated_file, setup, teardown),
		cmocka_unit_test(test_rows_apart),
	};

	return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
