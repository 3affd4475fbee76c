// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * run's loop (user/runloop.c) with a fake clock, scripted keys and
 * signals, a fake collector (10 exits per read) and a recording output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "runloop.h"

enum { EV_KEY, EV_STOP, EV_SAVE, EV_EOF };

struct event {
	double at;
	int what, key;
};

struct fake {
	double t;
	const struct event *ev;
	size_t nev, iev;
	unsigned reads, read_err_at, emit_err_at, save_fail_at, key_calls;
	unsigned nviews, saves_tried;
	char type[64][16];
	uint64_t total[64];
	double period[64];
	uint64_t saved_total[8];
	volatile sig_atomic_t stop, save_now;
};

static double f_now(void *ctx)
{
	return ((struct fake *)ctx)->t;
}

/* The next scripted event within the timeout happens; else time passes. */
static int f_key(void *ctx, double timeout, bool keys)
{
	struct fake *f = ctx;
	const struct event *e;

	f->key_calls++;
	assert_true(timeout > 0);
	if (f->iev < f->nev && f->ev[f->iev].at <= f->t + timeout &&
	    !(f->ev[f->iev].what == EV_EOF && !keys)) {
		e = &f->ev[f->iev++];
		f->t = e->at;
		switch (e->what) {
		case EV_KEY:
			return keys ? e->key : 0;
		case EV_STOP:
			f->stop = 1;
			return 0;
		case EV_SAVE:
			f->save_now = 1;
			return 0;
		case EV_EOF:
			f->iev--; /* input stays gone */
			return keys ? -1 : 0;
		}
	}
	f->t += timeout;
	return 0;
}

static int f_read(void *ctx, struct em_snapshot *cur)
{
	struct fake *f = ctx;
	struct em_row *r;

	if (++f->reads == f->read_err_at)
		return -EIO;
	r = em_snapshot_row(cur, EM_ISA_SVM, 0x72, EM_ANY_PID, EM_ANY_VCPU);
	assert_non_null(r);
	r->st.count = 10ull * f->reads;
	return 0;
}

static int f_emit(void *ctx, const struct em_snapshot *v, const struct em_view_ctx *vc)
{
	struct fake *f = ctx;

	if (f->nviews + 1 == f->emit_err_at)
		return -EPIPE;
	assert_true(f->nviews < 64);
	snprintf(f->type[f->nviews], sizeof(f->type[0]), "%s", vc->type);
	f->total[f->nviews] = em_snapshot_total(v);
	f->period[f->nviews] = vc->period_s;
	f->nviews++;
	return 0;
}

static int f_save(void *ctx, const struct em_snapshot *s)
{
	struct fake *f = ctx;

	f->saves_tried++;
	if (f->saves_tried == f->save_fail_at)
		return 1;
	f->saved_total[f->saves_tried - 1] = em_snapshot_total(s);
	return 0;
}

static int run(struct fake *f, struct em_runloop_cfg *cfg, const struct event *ev, size_t nev,
	       struct em_runloop_result *res, struct em_snapshot *cur)
{
	struct em_runloop_io io = { .ctx = f, .now = f_now, .key = f_key, .read = f_read,
				    .emit = f_emit, .save = f_save };

	f->t = 100.0;
	f->ev = ev;
	f->nev = nev;
	cfg->stop = &f->stop;
	cfg->save_now = &f->save_now;
	if (!cfg->interval_s)
		cfg->interval_s = 1.0;
	em_snapshot_init(cur);
	return em_runloop(cfg, &io, cur, res);
}

#define RUN(f, cfg, ev, res, cur) run(f, cfg, ev, sizeof(ev) / sizeof(ev[0]), res, cur)
static const struct event none[1] = { { 1e9, EV_KEY, 0 } };

static void test_interval_deltas(void **state)
{
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .duration_s = 3.5, .live = true };
	struct em_runloop_result res;
	struct em_snapshot cur;
	unsigned i;

	(void)state;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 0);
	assert_int_equal(res.why, EM_STOP_DEADLINE);
	assert_int_equal(f.nviews, 4); /* t = 1, 2, 3, then the final one */
	for (i = 0; i < 3; i++) {
		assert_string_equal(f.type[i], "interval");
		assert_int_equal(f.total[i], 10); /* each interval's own exits */
		assert_true(f.period[i] > 0.999 && f.period[i] < 1.001);
	}
	assert_string_equal(f.type[3], "final");
	assert_int_equal(f.total[3], 40); /* the whole run */
	assert_true(f.period[3] > 3.499 && f.period[3] < 3.501);
	assert_int_equal(cur.meta.duration_ns, 3500000000ull);
	assert_int_equal(res.saves, 0);
	em_snapshot_free(&cur);
}

static void test_cumulative_and_c_toggles(void **state)
{
	static const struct event ev[] = { { 101.5, EV_KEY, 'c' }, { 103.5, EV_KEY, 'c' } };
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .duration_s = 4.5, .live = true, .keys = true };
	struct em_runloop_result res;
	struct em_snapshot cur;

	(void)state;
	assert_int_equal(RUN(&f, &cfg, ev, &res, &cur), 0);
	assert_int_equal(f.nviews, 5);
	assert_string_equal(f.type[0], "interval");
	assert_int_equal(f.total[0], 10);
	assert_string_equal(f.type[1], "cumulative"); /* after c at 1.5 */
	assert_int_equal(f.total[1], 20);
	assert_true(f.period[1] > 1.999 && f.period[1] < 2.001);
	assert_string_equal(f.type[2], "cumulative");
	assert_int_equal(f.total[2], 30);
	assert_string_equal(f.type[3], "interval"); /* c again at 3.5 */
	assert_int_equal(f.total[3], 10);
	assert_false(res.cumulative);
	em_snapshot_free(&cur);

	/* -c starts cumulative */
	memset(&f, 0, sizeof(f));
	cfg = (struct em_runloop_cfg){ .duration_s = 2.5, .live = true, .cumulative = true };
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 0);
	assert_string_equal(f.type[0], "cumulative");
	assert_int_equal(f.total[1], 20);
	em_snapshot_free(&cur);

	/* without keys (not a terminal) c is not read */
	memset(&f, 0, sizeof(f));
	cfg = (struct em_runloop_cfg){ .duration_s = 2.5, .live = true };
	assert_int_equal(RUN(&f, &cfg, ev, &res, &cur), 0);
	assert_string_equal(f.type[1], "interval");
	em_snapshot_free(&cur);
}

static void test_key_s_and_save_now(void **state)
{
	static const struct event ev[] = { { 101.5, EV_KEY, 's' }, { 102.2, EV_SAVE, 0 } };
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .duration_s = 3.5, .live = true, .keys = true, .save = true };
	struct em_runloop_result res;
	struct em_snapshot cur;

	(void)state;
	assert_int_equal(RUN(&f, &cfg, ev, &res, &cur), 0);
	assert_int_equal(res.why, EM_STOP_DEADLINE); /* saving does not stop the run */
	assert_int_equal(res.saves, 3);              /* key s, SIGUSR1, the final save */
	assert_int_equal(f.saved_total[0], 20);      /* read at 1.5: the second read */
	assert_int_equal(f.saved_total[2], em_snapshot_total(&cur));
	assert_int_equal(f.save_now, 0);
	assert_int_equal(f.nviews, 4);
	em_snapshot_free(&cur);

	/* no --save: s and SIGUSR1 save nothing */
	memset(&f, 0, sizeof(f));
	cfg.save = false;
	assert_int_equal(RUN(&f, &cfg, ev, &res, &cur), 0);
	assert_int_equal(f.saves_tried, 0);
	assert_int_equal(f.save_now, 0);
	em_snapshot_free(&cur);
}

static void test_stop_paths(void **state)
{
	static const struct event q[] = { { 101.5, EV_KEY, 'q' } };
	static const struct event sig[] = { { 102.25, EV_STOP, 0 } };
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .live = true, .keys = true, .save = true };
	struct em_runloop_result res;
	struct em_snapshot cur;

	(void)state;
	/* q: final view and save */
	assert_int_equal(RUN(&f, &cfg, q, &res, &cur), 0);
	assert_int_equal(res.why, EM_STOP_KEY);
	assert_string_equal(f.type[f.nviews - 1], "final");
	assert_true(f.period[f.nviews - 1] > 1.499 && f.period[f.nviews - 1] < 1.501);
	assert_int_equal(res.saves, 1);
	em_snapshot_free(&cur);

	/* SIGINT/SIGTERM/SIGHUP: the same, without waiting for the interval */
	memset(&f, 0, sizeof(f));
	assert_int_equal(RUN(&f, &cfg, sig, &res, &cur), 0);
	assert_int_equal(res.why, EM_STOP_SIGNAL);
	assert_int_equal(f.nviews, 3);
	assert_true(f.period[2] > 2.249 && f.period[2] < 2.251);
	assert_int_equal(res.saves, 1);
	em_snapshot_free(&cur);

	/* a signal during the setup (flag already set): final view and save at once */
	memset(&f, 0, sizeof(f));
	f.stop = 1;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 0);
	assert_int_equal(res.why, EM_STOP_SIGNAL);
	assert_int_equal(f.nviews, 1);
	assert_string_equal(f.type[0], "final");
	assert_int_equal(res.saves, 1);
	assert_int_equal(f.key_calls, 0);
	em_snapshot_free(&cur);

	/* SIGUSR1 during the setup: saved at the first turn */
	memset(&f, 0, sizeof(f));
	f.save_now = 1;
	cfg.duration_s = 0.5;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 0);
	assert_int_equal(res.saves, 2);
	em_snapshot_free(&cur);
}

static void test_failures(void **state)
{
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .duration_s = 5, .live = true, .save = true };
	struct em_runloop_result res;
	struct em_snapshot cur;

	(void)state;
	/* EPIPE on the second view: stop, no final view, still saved, status 1 */
	f.emit_err_at = 2;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 1);
	assert_int_equal(res.why, EM_STOP_OUTPUT);
	assert_int_equal(res.err, -EPIPE);
	assert_int_equal(f.nviews, 1);
	assert_int_equal(res.saves, 1);
	assert_int_equal(f.saved_total[0], 30); /* reads at 1, 2 and the final one */
	em_snapshot_free(&cur);

	/* a failing read of the maps */
	memset(&f, 0, sizeof(f));
	f.read_err_at = 2;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 1);
	assert_int_equal(res.why, EM_STOP_READ);
	assert_int_equal(res.err, -EIO);
	/* the last good reading (read 1) is still saved */
	assert_int_equal(res.saves, 1);
	assert_int_equal(f.saved_total[0], 10);
	em_snapshot_free(&cur);

	/* the final read fails: the last interval's reading is saved */
	memset(&f, 0, sizeof(f));
	f.read_err_at = 5; /* reads at 1..4 s, then the final one */
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 1);
	assert_int_equal(res.why, EM_STOP_READ);
	assert_int_equal(res.saves, 1);
	assert_int_equal(f.saved_total[0], 40);
	em_snapshot_free(&cur);

	/* the read for a save-now fails: reported as a read failure, not ignored */
	{
		static const struct event save_at[] = { { 102.5, EV_SAVE, 0 } };

		memset(&f, 0, sizeof(f));
		f.read_err_at = 3; /* reads at 1, 2 s, then the save-now one */
		assert_int_equal(RUN(&f, &cfg, save_at, &res, &cur), 1);
		assert_int_equal(res.why, EM_STOP_READ);
		assert_int_equal(res.saves, 1);
		assert_int_equal(f.saved_total[0], 20);
		em_snapshot_free(&cur);
	}

	/* the final save fails: status 1 */
	memset(&f, 0, sizeof(f));
	f.save_fail_at = 1;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 1);
	assert_int_equal(res.why, EM_STOP_DEADLINE);
	em_snapshot_free(&cur);

	/* stdin gone: keys are dropped, no busy loop */
	{
		static const struct event eof[] = { { 100.5, EV_EOF, 0 } };

		memset(&f, 0, sizeof(f));
		cfg.keys = true;
		cfg.duration_s = 3;
		assert_int_equal(RUN(&f, &cfg, eof, &res, &cur), 0);
		assert_true(f.key_calls < 10);
		em_snapshot_free(&cur);
	}
}

/* -d without -i: no views until the final one. */
static void test_not_live(void **state)
{
	struct fake f = { 0 };
	struct em_runloop_cfg cfg = { .duration_s = 2.5 };
	struct em_runloop_result res;
	struct em_snapshot cur;

	(void)state;
	assert_int_equal(RUN(&f, &cfg, none, &res, &cur), 0);
	assert_int_equal(f.nviews, 1);
	assert_string_equal(f.type[0], "final");
	assert_int_equal(f.total[0], 30);
	em_snapshot_free(&cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_deltas),
		cmocka_unit_test(test_cumulative_and_c_toggles),
		cmocka_unit_test(test_key_s_and_save_now),
		cmocka_unit_test(test_stop_paths),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_not_live),
	};
	return cmocka_run_group_tests_name("runloop", tests, NULL, NULL);
}
