// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * User-space row model benchmark (docs/performance.md, "Row model"):
 *   rowbench EXITMON WORKDIR [KEYS [ROWS]]
 * 1. `EXITMON show` (table and -o json) and `EXITMON diff` of a snapshot
 *    of ROWS (100,000) rows written by the real save code: wall time, CPU
 *    time and peak RSS of the child (wait4), and the file size;
 * 2. a live refresh with KEYS (65,536) breakdown keys, every key changed:
 *    the collector's row adds (nrows = 0, em_snapshot_row +
 *    em_snapshot_add_stats of the dense per-key stats), the interval
 *    delta, the table and the JSON line, and the copy kept as the previous
 *    reading; min / median / max of 7 refreshes that reuse their buffers,
 *    and the first one (which allocates).
 * Not a pass/fail test: it prints figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <malloc.h>
#include "model.h"
#include "render.h"
#include "snapshot.h"

static double clock_s(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time: the figures stay meaningful on a machine shared with other jobs. */
static double cpu_s(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define ROUNDS 8 /* the first allocates and is shown apart; 7 timed */

static void print3(const char *what, double *v)
{
	double first = v[0];

	v++;
	qsort(v, ROUNDS - 1, sizeof(*v), cmp_d);
	printf("| %-48s | %8.1f | %8.1f | %8.1f | %8.1f |\n", what, v[0] * 1e3, v[(ROUNDS - 1) / 2] * 1e3,
	       v[ROUNDS - 2] * 1e3, first * 1e3);
}

/* Key i of the breakdown: 64 VMs x 64 vCPUs x 16 reasons for 65,536. */
static void key(uint32_t i, uint32_t *reason, uint32_t *tgid, uint32_t *vcpu)
{
	static const uint32_t reasons[16] = { 0x72, 0x7b, 0x78, 0x400, 0x7c, 0x60, 0x61, 0x64,
					      0x65, 0x6e, 0x7f, 0x80, 0x81, 0x401, 0x0, 0x3 };

	*reason = reasons[i % 16];
	*vcpu = (i / 16) % 64;
	*tgid = 10000 + i / (16 * 64);
}

static void refresh(uint32_t keys)
{
	struct em_stats *st = calloc(keys, sizeof(*st));
	struct em_snapshot cur, prev, view;
	double t_rows[ROUNDS], t_delta[ROUNDS], t_table[ROUNDS], t_json[ROUNDS], t_copy[ROUNDS], t_all[ROUNDS];
	struct em_view_ctx ctx = { .type = "interval", .period_s = 1.0, .elapsed_s = 1.0 };
	FILE *null = fopen("/dev/null", "w");
	uint32_t i, reason, tgid, vcpu;
	int round;

	if (!st || !null)
		exit(1);
	/* kept between refreshes, as the run loop should: buffers are reused */
	em_snapshot_init(&cur);
	em_snapshot_init(&prev);
	em_snapshot_init(&view);
	cur.meta.isa = EM_ISA_SVM;
	cur.meta.filters.per_vcpu = true;
	for (round = 0; round < ROUNDS; round++) {
		double t0, t1, t2, t3, t4, t5;

		for (i = 0; i < keys; i++) { /* the kernel's counts move between refreshes */
			st[i].count += 10 + i % 7;
			em_stats_add_latency(&st[i], 1000 + (i % 50) * 100, 10);
		}
		t0 = cpu_s();
		cur.nrows = 0; /* as em_collector_read() */
		for (i = 0; i < keys; i++) {
			struct em_row *r;

			key(i, &reason, &tgid, &vcpu);
			r = em_snapshot_row(&cur, EM_ISA_SVM, reason, tgid, vcpu);
			if (!r)
				exit(1);
			if (em_snapshot_add_stats(&cur, r, &st[i])) /* a new row is zeroed */
				exit(1);
		}
		t1 = cpu_s();
		if (em_snapshot_delta(&view, &cur, round ? &prev : NULL))
			exit(1);
		t2 = cpu_s();
		em_render_table(null, &view, &ctx);
		t3 = cpu_s();
		em_render_json(null, &view, &ctx);
		t4 = cpu_s();
		if (em_snapshot_copy(&prev, &cur))
			exit(1);
		t5 = cpu_s();
		t_rows[round] = t1 - t0;
		t_delta[round] = t2 - t1;
		t_table[round] = t3 - t2;
		t_json[round] = t4 - t3;
		t_copy[round] = t5 - t4;
		t_all[round] = t5 - t0 - (t4 - t3); /* a table refresh */
	}
	printf("### Row model: live refresh, %u breakdown keys (every key changed), CPU ms over %d refreshes\n\n",
	       keys, ROUNDS - 1);
	printf("| step | min | median | max | first refresh (allocates) |\n|---|---|---|---|---|\n");
	print3("collector row adds (index lookup + add)", t_rows);
	print3("interval delta (index lookup in prev)", t_delta);
	print3("table render (to /dev/null)", t_table);
	print3("JSON line render (to /dev/null)", t_json);
	print3("copy as the previous reading", t_copy);
	print3("table refresh in all (adds+delta+table+copy)", t_all);
	printf("\n");
	em_snapshot_free(&cur);
	em_snapshot_free(&prev);
	em_snapshot_free(&view);
	free(st);
	fclose(null);
}

/* A snapshot of nrows rows (totals + per-vCPU rows), saved with the real code. */
static void gen(const char *path, uint32_t nrows, uint64_t seed)
{
	struct em_snapshot s;
	char err[256];
	uint32_t i, reason, tgid, vcpu;

	em_snapshot_init(&s);
	s.meta.isa = EM_ISA_SVM;
	snprintf(s.meta.kernel, sizeof(s.meta.kernel), "6.1.0-bench");
	s.meta.duration_ns = 10000000000ULL;
	s.meta.filters.per_vcpu = true;
	if (em_snapshot_reserve(&s, nrows + 16)) /* r stays valid while t is added */
		exit(1);
	for (i = 0; i < nrows; i++) {
		struct em_row *r, *t;

		key(i, &reason, &tgid, &vcpu);
		r = em_snapshot_row(&s, EM_ISA_SVM, reason, tgid, vcpu);
		t = em_snapshot_row(&s, EM_ISA_SVM, reason, EM_ANY_PID, EM_ANY_VCPU);
		if (!r || !t)
			exit(1);
		r->st.count = 100 + (i + seed) % 1000;
		if (em_rstats_add_latency(&s.hist, &r->st, 1000 + (i % 50) * 100, 50) ||
		    em_rstats_add_latency(&s.hist, &r->st, 30000 + (i % 7) * 1000, 40) ||
		    em_rstats_add_latency(&s.hist, &r->st, 2000000, 10) ||
		    em_rstats_add(&s.hist, &t->st, &r->st))
			exit(1);
	}
	unlink(path);
	if (em_snapshot_save(path, &s, true, err, sizeof(err))) {
		fprintf(stderr, "rowbench: cannot save %s: %s\n", path, err);
		exit(1);
	}
	em_snapshot_free(&s);
}

/* Runs argv with stdout to /dev/null; prints wall, CPU and peak RSS. */
static void child(const char *what, char *const argv[])
{
	struct rusage ru;
	double t0 = now_s(), wall;
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
		exit(1);
	wall = now_s() - t0;
	printf("| %-40s | %6.3f | %6.3f | %8.1f | %s |\n", what, wall,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss / 1024.0, WIFEXITED(status) && !WEXITSTATUS(status) ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
	uint32_t keys = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 65536;
	uint32_t rows = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 100000;
	char a[4096], b[4096];
	struct stat st;

	if (argc < 3) {
		fprintf(stderr, "usage: rowbench EXITMON WORKDIR [KEYS [ROWS]]\n");
		return 2;
	}
	snprintf(a, sizeof(a), "%s/rows-a.json", argv[2]);
	snprintf(b, sizeof(b), "%s/rows-b.json", argv[2]);
	gen(a, rows, 0);
	gen(b, rows, 1);
	/*
	 * A forked child's peak RSS starts at its parent's RSS: the children
	 * run first, with the generator's memory handed back.
	 */
	malloc_trim(0);
	if (stat(a, &st))
		return 1;
	printf("### Row model: show / diff of a snapshot of %u breakdown rows (+ totals), %.1f MB file\n\n",
	       rows, st.st_size / 1e6);
	printf("| command | wall s | CPU s | peak RSS MiB | |\n|---|---|---|---|---|\n");
	child("show FILE", (char *[]){ argv[1], "show", a, NULL });
	child("show FILE -o json", (char *[]){ argv[1], "show", a, "-o", "json", NULL });
	child("diff A B", (char *[]){ argv[1], "diff", a, b, NULL });
	child("diff A B -o json", (char *[]){ argv[1], "diff", a, b, "-o", "json", NULL });
	if (!getenv("ROWBENCH_KEEP")) {
		unlink(a);
		unlink(b);
	}
	refresh(keys);
	return 0;
}
