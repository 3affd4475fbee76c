// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Real outputs of the JSON emitters against the shipped schemas
 * (docs/NAME.schema.json) with a real validator (python3-jsonschema, via
 * tests/schema/validate.sh): report lines of every type, a diff, saved
 * snapshots (v2) and the fuzz seeds (v1 and v2). --strict also checks that
 * a member the schema does not list is refused, so a field added to the
 * output without the schema fails here. The JSON examples in docs/ are
 * checked too. Run from the repository root (make test does); skips, with
 * the reason, when the validator is missing, except under CI=true.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "diff.h"
#include "render.h"
#include "snapshot.h"

static char dir[] = "/tmp/exitmon-schema-XXXXXX";

static void add(struct em_snapshot *s, uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu,
		uint64_t count, uint64_t lat, uint64_t nlat)
{
	struct em_row *r = em_snapshot_row(s, isa, reason, tgid, vcpu);

	assert_non_null(r);
	r->st.count += count;
	if (nlat)
		assert_int_equal(em_rstats_add_latency(&s->hist, &r->st, lat, nlat), 0);
}

static void run_a(struct em_snapshot *s, uint64_t scale)
{
	em_snapshot_init(s);
	s->meta.isa = EM_ISA_SVM;
	strcpy(s->meta.kernel, "6.1.0-test");
	strcpy(s->meta.attach, "raw_tp");
	s->meta.duration_ns = 2000000000ULL * scale;
	s->meta.filters.per_vcpu = true;
	add(s, EM_ISA_SVM, 0x72, EM_ANY_PID, EM_ANY_VCPU, 900 * scale, 2000, 900 * scale);
	add(s, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU, 99 * scale, 40000000 / scale, 99 * scale);
	add(s, EM_ISA_SVM, 0x78, EM_ANY_PID, EM_ANY_VCPU, 1, 5000000000ULL, 1);
	add(s, EM_ISA_SVM, 0x72, 4242, 1, 900 * scale, 2000, 900 * scale);
	add(s, 0, 0, EM_ANY_PID, EM_ANY_VCPU, 3, 0, 0); /* the overflow row */
	s->counters[EM_CNT_EXITS] = 1003 * scale;
}

static char *path_in(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Runs validate.sh with args; skips the test when the validator is missing. */
static void validate(const char *args)
{
	char cmd[4096];
	int st;

	if (access("tests/schema/validate.sh", X_OK)) {
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			fail_msg("tests/schema/validate.sh not found: run from the repository root");
		skip();
	}
	snprintf(cmd, sizeof(cmd), "tests/schema/validate.sh %s", args);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			fail_msg("python3-jsonschema missing under CI=true");
		print_message("skipped: python3-jsonschema is not installed\n");
		skip();
	}
	if (WEXITSTATUS(st))
		fail_msg("schema validation failed: %s", cmd);
}

/* Report lines of every type, as `run -o json` and `show -o json` print them. */
static void test_report_lines(void **state)
{
	struct em_snapshot a, b, view;
	struct em_view_ctx ctx = { .period_s = 1.0, .elapsed_s = 3.0 };
	FILE *f = fopen(path_in("report.jsonl"), "w");

	(void)state;
	assert_non_null(f);
	run_a(&a, 1);
	em_snapshot_init(&b); /* a later reading: a plus fast IOIO exits */
	assert_int_equal(em_snapshot_copy(&b, &a), 0);
	add(&b, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU, 400, 30000, 400);
	add(&b, EM_ISA_SVM, 0x72, EM_ANY_PID, EM_ANY_VCPU, 10, 2100, 10);
	em_snapshot_init(&view);
	assert_int_equal(em_snapshot_delta(&view, &b, &a), 0);
	assert_int_equal(view.rows[1].approx, EM_APPROX_MAX); /* a bound in JSON */
	ctx.type = "interval";
	assert_int_equal(em_render_json(f, &view, &ctx), 0);
	ctx.type = "cumulative";
	assert_int_equal(em_render_json(f, &b, &ctx), 0);
	ctx.type = "final";
	assert_int_equal(em_render_json(f, &b, &ctx), 0);
	ctx.type = "snapshot";
	assert_int_equal(em_render_json(f, &view, &ctx), 0);
	em_snapshot_free(&view);
	em_snapshot_init(&view); /* an empty interval */
	ctx.type = "interval";
	assert_int_equal(em_render_json(f, &view, &ctx), 0);
	fclose(f);
	{
		char args[512];

		snprintf(args, sizeof(args), "--strict %s", path_in("report.jsonl"));
		validate(args);
	}
	em_snapshot_free(&a);
	em_snapshot_free(&b);
	em_snapshot_free(&view);
}

/* The strict check: a field the schema does not list makes it fail. */
static void test_unlisted_field_fails(void **state)
{
	char cmd[512];
	FILE *f = fopen(path_in("extra.json"), "w");
	struct em_snapshot a;
	struct em_view_ctx ctx = { .type = "final", .period_s = 1.0 };
	int st;

	(void)state;
	assert_non_null(f);
	run_a(&a, 1);
	assert_int_equal(em_render_json(f, &a, &ctx), 0);
	fclose(f);
	validate(path_in("extra.json"));
	/* the same line with one more member, as a careless change to render.c would add */
	snprintf(cmd, sizeof(cmd),
		 "sed -i 's/\"counters\":{/\"new_field\":1,\"counters\":{/' %s && "
		 "tests/schema/validate.sh %s >/dev/null", path_in("extra.json"), path_in("extra.json"));
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	em_snapshot_free(&a);
}

static void test_diff_and_snapshots(void **state)
{
	struct em_snapshot a, b;
	struct em_diff_opts o = { .json = true };
	char err[256], args[2048];
	FILE *f = fopen(path_in("diff.json"), "w");

	(void)state;
	assert_non_null(f);
	run_a(&a, 1);
	run_a(&b, 3);
	b.meta.interval = true;
	b.rows[0].approx = EM_APPROX_MIN | EM_APPROX_MAX;
	strcpy(b.meta.kernel, "6.5.0-test");
	assert_int_equal(em_diff_print(f, &a, "a.json", &b, "b.json", &o), 0);
	fclose(f);
	assert_int_equal(em_snapshot_save(path_in("a.json"), &a, true, err, sizeof(err)), 0);
	assert_int_equal(em_snapshot_save(path_in("b.json"), &b, true, err, sizeof(err)), 0);
	snprintf(args, sizeof(args), "--strict %s %s %s tests/fuzz/corpus/*.json", path_in("diff.json"),
		 path_in("a.json"), path_in("b.json"));
	validate(args);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

/* The examples in the docs are real documents. */
static void test_docs_examples(void **state)
{
	(void)state;
	validate("--docs docs/json.md docs/snapshots.md");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_lines),
		cmocka_unit_test(test_unlisted_field_fails),
		cmocka_unit_test(test_diff_and_snapshots),
		cmocka_unit_test(test_docs_examples),
	};
	return cmocka_run_group_tests_name("schema", tests, setup, teardown);
}
