// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* exitmon: command dispatch and the live loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "collector.h"
#include "diff.h"
#include "reasons.h"
#include "render.h"
#include "snapshot.h"
#include "sysinfo.h"

static volatile sig_atomic_t stop_flag, save_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_save(int sig)
{
	(void)sig;
	save_flag = 1;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void render(const struct em_opts *o, const struct em_snapshot *v,
		   const struct em_view_ctx *ctx)
{
	if (o->output == EM_OUT_JSON)
		em_render_json(stdout, v, ctx);
	else
		em_render_table(stdout, v, ctx);
	fflush(stdout);
}

/* Keeps the rows of the reasons asked for (all when none). */
static void filter_rows(struct em_snapshot *s, const struct em_filters *f)
{
	size_t i, n = 0;

	for (i = 0; i < s->nrows; i++)
		if (em_row_matches(&s->rows[i], f->reasons, f->nreasons))
			s->rows[n++] = s->rows[i];
	s->nrows = n;
}

static struct termios saved_tio;
static bool tio_saved;

static void keys_off(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

static void keys_on(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio))
		return;
	t = saved_tio;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t)) {
		tio_saved = true;
		atexit(keys_off);
	}
}

static int save(const struct em_opts *o, const struct em_snapshot *s, bool force)
{
	char err[256];
	int rc = em_snapshot_save(o->save_path, s, force, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "exitmon: cannot save %s: %s\n", o->save_path, err);
		return EM_EXIT_FAIL;
	}
	fprintf(stderr, "exitmon: saved %s\n", o->save_path);
	return EM_EXIT_OK;
}

_Static_assert((int)EM_COLL_ATTACH_TP == (int)EM_ATTACH_TP && (int)EM_COLL_ATTACH_RAW_TP ==
	       (int)EM_ATTACH_RAW_TP, "--attach maps onto em_collector_attach");

static int cmd_run(const struct em_opts *o)
{
	struct em_snapshot cur, prev, view;
	struct em_collector *col;
	struct em_view_ctx ctx = { 0 };
	char err[512];
	double t0, next, deadline, last_tick, last_change;
	uint64_t last_total = 0;
	bool live = !o->duration_s || o->interval_set, cumulative = o->cumulative, saved = false;
	bool tty = isatty(STDOUT_FILENO) && o->output == EM_OUT_TABLE;
	int rc = EM_EXIT_OK;

	if (o->save_path && !o->force && !access(o->save_path, F_OK)) {
		fprintf(stderr, "exitmon: %s exists; use --force to overwrite it\n", o->save_path);
		return EM_EXIT_FAIL;
	}
	col = em_collector_open(&(struct em_collector_cfg){ .attach = (enum em_collector_attach)o->attach,
		.isa = o->isa, .filters = o->filters, .max_keys = o->max_keys, .verbose = o->verbose,
		.vm_globs = o->vm_globs, .nvm_globs = o->nvm_globs },
		err, sizeof(err));
	if (!col) {
		fprintf(stderr, "exitmon: %s\n", err);
		return EM_EXIT_FAIL;
	}
	em_snapshot_init(&cur);
	em_snapshot_init(&prev);
	cur.meta.isa = o->isa;
	em_sysinfo_fill(&cur.meta);
	cur.meta.filters = o->filters;
	cur.meta.start_ns = real_ns();
	snprintf(cur.meta.attach, sizeof(cur.meta.attach), "%s", em_collector_attach_name(col));
	prev.meta = cur.meta;

	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGUSR1, on_save);
	if (o->ready_file) {
		int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
	}
	fprintf(stderr, "exitmon: tracing KVM exits (%s, %s)%s\n", em_isa_name(o->isa) ?: "unknown isa",
		em_collector_attach_name(col),
		o->duration_s ? "" : "; Ctrl-C to stop");
	if (tty && live)
		keys_on();

	t0 = last_tick = last_change = mono_s();
	next = t0 + o->interval_s;
	deadline = o->duration_s ? t0 + o->duration_s : 0;
	ctx.attach = em_collector_attach_name(col);
	ctx.isa = o->isa;
	while (!stop_flag) {
		double now = mono_s(), until = next;
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		char key = 0;

		if (deadline && deadline < until)
			until = deadline;
		if (until > now && poll(&pfd, tio_saved ? 1 : 0, (int)((until - now) * 1000) + 1) > 0 &&
		    read(STDIN_FILENO, &key, 1) == 1) {
			if (key == 'q')
				stop_flag = 1;
			else if (key == 'c')
				cumulative = !cumulative;
			else if (key == 's')
				save_flag = 1;
		}
		now = mono_s();
		if (save_flag && o->save_path) {
			save_flag = 0;
			if (!em_collector_read(col, &cur)) {
				cur.meta.duration_ns = (uint64_t)((now - t0) * 1e9);
				if (!save(o, &cur, o->force || saved))
					saved = true;
			}
		}
		if (stop_flag || (deadline && now >= deadline))
			break;
		if (now < next)
			continue;
		next += o->interval_s;
		if (next < now)
			next = now + o->interval_s;
		if ((rc = em_collector_read(col, &cur))) {
			fprintf(stderr, "exitmon: cannot read the maps: %s\n", strerror(-rc));
			rc = EM_EXIT_FAIL;
			goto out;
		}
		if (em_snapshot_total(&cur) != last_total) {
			last_total = em_snapshot_total(&cur);
			last_change = now;
		}
		if (live) {
			em_snapshot_init(&view);
			ctx.elapsed_s = now - t0;
			ctx.quiet_s = now - last_change;
			cur.meta.duration_ns = (uint64_t)((now - t0) * 1e9);
			if (cumulative) {
				ctx.type = "cumulative";
				ctx.period_s = now - t0;
				em_snapshot_delta(&view, &cur, NULL);
			} else {
				ctx.type = "interval";
				ctx.period_s = now - last_tick;
				em_snapshot_delta(&view, &cur, &prev);
			}
			if (tty)
				fputs("\033[H\033[2J", stdout);
			render(o, &view, &ctx);
			if (tio_saved)
				printf("\nkeys: c %s, s save%s, q quit\n",
				       cumulative ? "per-interval view" : "cumulative view",
				       o->save_path ? "" : " (needs --save)");
			if (!tty && o->output == EM_OUT_TABLE)
				fputc('\n', stdout);
			em_snapshot_free(&view);
		}
		last_tick = now;
		em_snapshot_free(&prev);
		em_snapshot_init(&prev);
		em_snapshot_delta(&prev, &cur, NULL);
	}

	/* final table: the whole run */
	if ((rc = em_collector_read(col, &cur))) {
		fprintf(stderr, "exitmon: cannot read the maps: %s\n", strerror(-rc));
		rc = EM_EXIT_FAIL;
		goto out;
	}
	ctx.elapsed_s = ctx.period_s = mono_s() - t0;
	cur.meta.duration_ns = (uint64_t)(ctx.elapsed_s * 1e9);
	if (em_snapshot_total(&cur) != last_total)
		last_change = mono_s();
	ctx.quiet_s = mono_s() - last_change;
	ctx.type = "final";
	keys_off();
	if (tty && live)
		fputc('\n', stdout);
	render(o, &cur, &ctx);
	if (o->save_path)
		rc = save(o, &cur, o->force || saved);
out:
	em_collector_close(col);
	em_snapshot_free(&cur);
	em_snapshot_free(&prev);
	return rc;
}

static int load(const char *path, struct em_snapshot *s)
{
	char err[512];

	if (em_snapshot_load(path, s, err, sizeof(err))) {
		fprintf(stderr, "exitmon: %s: %s\n", path, err);
		return EM_EXIT_FAIL;
	}
	return EM_EXIT_OK;
}

static int cmd_show(struct em_opts *o)
{
	struct em_snapshot s;
	struct em_view_ctx ctx = { .type = "snapshot" };
	char err[256];
	int rc;

	if ((rc = load(o->files[0], &s)))
		return rc;
	if (em_cli_resolve_reasons(o, o->isa ? o->isa : s.meta.isa, err, sizeof(err))) {
		fprintf(stderr, "exitmon: %s\n", err);
		em_snapshot_free(&s);
		return EM_EXIT_USAGE;
	}
	filter_rows(&s, &o->filters);
	ctx.period_s = ctx.elapsed_s = s.meta.duration_ns / 1e9;
	ctx.isa = s.meta.isa;
	render(o, &s, &ctx);
	em_snapshot_free(&s);
	return EM_EXIT_OK;
}

static int cmd_diff(struct em_opts *o)
{
	struct em_snapshot a, b;
	struct em_diff_opts d = { 0 };
	char err[256];
	int rc, sort = EM_DIFF_SORT_DELTA;

	if (o->sort && (sort = em_diff_sort_parse(o->sort)) < 0) {
		fprintf(stderr, "exitmon: invalid --sort '%s' (delta, count, name, reason, ratio)\n", o->sort);
		return EM_EXIT_USAGE;
	}
	if ((rc = load(o->files[0], &a)))
		return rc;
	if ((rc = load(o->files[1], &b))) {
		em_snapshot_free(&a);
		return rc;
	}
	if (em_cli_resolve_reasons(o, o->isa ? o->isa : a.meta.isa, err, sizeof(err))) {
		fprintf(stderr, "exitmon: %s\n", err);
		rc = EM_EXIT_USAGE;
		goto out;
	}
	d.sort = sort;
	d.reasons = o->filters.reasons;
	d.nreasons = o->filters.nreasons;
	d.json = o->output == EM_OUT_JSON;
	if (em_diff_print(stdout, &a, o->files[0], &b, o->files[1], &d)) {
		fprintf(stderr, "exitmon: cannot print the comparison\n");
		rc = EM_EXIT_FAIL;
	}
out:
	em_snapshot_free(&a);
	em_snapshot_free(&b);
	return rc;
}

static int cmd_reasons(const struct em_opts *o)
{
	const struct em_reason *r;
	size_t n, i;
	char num[32];

	r = em_reasons(o->isa, &n);
	printf("%-10s %-26s %s\n", em_isa_name(o->isa), "NAME", "DESCRIPTION");
	for (i = 0; i < n; i++)
		printf("%-10s %-26s %s%s\n", em_reason_number(o->isa, r[i].code, num, sizeof(num)),
		       r[i].name, r[i].descr ? r[i].descr : "",
		       r[i].flags & EM_REASON_IDLE ? " (latency is mostly idle time)" : "");
	return EM_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct em_opts o;
	char err[512];

	if (em_cli_parse(argc, argv, em_host_isa(), &o, err, sizeof(err))) {
		fprintf(stderr, "exitmon: %s (see exitmon -h)\n", err);
		return EM_EXIT_USAGE;
	}
	switch (o.cmd) {
	case EM_CMD_HELP:
		em_cli_usage(stdout);
		return EM_EXIT_OK;
	case EM_CMD_VERSION:
		printf("exitmon %s\n", EXITMON_VERSION);
		return EM_EXIT_OK;
	case EM_CMD_REASONS:
		return cmd_reasons(&o);
	case EM_CMD_SHOW:
		return cmd_show(&o);
	case EM_CMD_DIFF:
		return cmd_diff(&o);
	case EM_CMD_RUN:
	default:
		return cmd_run(&o);
	}
}
