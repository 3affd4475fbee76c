// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * CPU cost of one refresh on this kernel's possible CPUs, with the maps
 * filled as a busy host fills them: 16 reasons with stats rows (a value
 * on every CPU) and R breakdown keys. Times K refreshes with getrusage.
 * Root. Run by tests/serve/scrape-bench.sh.
 *   scrape_bench ROWS SCRAPES MAX_SERIES      `exitmon serve`: --per-vm,
 *       R (VM, reason) keys, map read + OpenMetrics render (default 2000 10 65536)
 *   scrape_bench ROWS REFRESHES table         live `exitmon run --per-vcpu`:
 *       R (VM, vCPU, reason) keys, 32 vCPUs a VM, map read + interval
 *       delta + table render
 * Prints one line: key=value pairs (read_bytes: map values copied per read).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector.h"
#include "metrics.h"
#include "render.h"
#include "sysinfo.h"

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Some latency samples in a kernel row, as the handlers add them. */
static void fill(struct em_kstats *v, uint64_t n, uint64_t lat)
{
	memset(v, 0, sizeof(*v));
	v->count = n;
	while (n--)
		em_kstats_add_latency(v, lat + 37 * (n % 5));
}

static const uint32_t reasons[16] = { 0x60, 0x72, 0x78, 0x7b, 0x400, 0x4e, 0x79, 0x13,
				      0x7c, 0x81, 0x64, 0x7f, 0x6e, 0x6f, 0x77, 0x0 };
#define NR (sizeof(reasons) / sizeof(reasons[0]))

/* The stats rows of the 16 reasons, claimed as first exits claim them. */
static int fill_stats(struct em_collector *col, int ncpu)
{
	struct em_kstats *vals = calloc(ncpu, sizeof(*vals));
	int rfd = em_collector_map_fd(col, "row_of"), sfd = em_collector_map_fd(col, "stats");
	uint64_t row;
	uint32_t slot, i;
	int c;

	if (!vals || rfd < 0 || sfd < 0)
		return -1;
	for (i = 0; i < NR; i++) {
		row = i + 1;
		slot = em_slot(EM_ISA_SVM, reasons[i]);
		for (c = 0; c < ncpu; c++)
			fill(&vals[c], 3 + c % 7, 900 + 11 * c);
		if (bpf_map_update_elem(rfd, &slot, &row, 0) ||
		    bpf_map_update_elem(sfd, &(uint32_t){ (uint32_t)row }, vals, 0))
			return -1;
	}
	slot = EM_ROW_OF_NEXT;
	row = NR;
	free(vals);
	return bpf_map_update_elem(rfd, &slot, &row, 0);
}

int main(int argc, char **argv)
{
	unsigned rows = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	unsigned scrapes = argc > 2 ? (unsigned)atoi(argv[2]) : 10, i, k;
	bool table = argc > 3 && !strcmp(argv[3], "table");
	struct em_collector_cfg o = { 0 };
	struct em_collector *col;
	struct em_snapshot s, prev, view;
	struct em_metrics_state st = {
		.max_series = argc > 3 && !table ? (uint32_t)atoi(argv[3]) : EM_METRICS_MAX_SERIES_LIMIT,
	};
	struct em_metrics_ctx ctx = { .version = "bench", .attach = "?" };
	struct em_view_ctx vctx = { .type = "interval", .period_s = 1, .elapsed_s = 1 };
	struct em_bd_row val;
	uint32_t k_next = EM_ROW_OF_BD_NEXT;
	uint64_t next;
	char err[512];
	int ncpu = libbpf_num_possible_cpus(), fd;
	double t_read = 0, t_render = 0, t0;
	size_t bytes = 0;
	FILE *devnull = fopen("/dev/null", "w");

	if (!rows || !scrapes || ncpu <= 0 || !devnull)
		return 2;
	o.isa = em_host_isa() ? em_host_isa() : EM_ISA_SVM;
	o.filters.per_vm = true;
	o.filters.per_vcpu = table;
	o.filters.vcpu = -1;
	o.max_keys = rows + 64;
	col = em_collector_open(&o, err, sizeof(err));
	if (!col) {
		fprintf(stderr, "scrape_bench: %s\n", err);
		return 1;
	}
	if (fill_stats(col, ncpu)) {
		fprintf(stderr, "scrape_bench: filling stats: %s\n", strerror(errno));
		return 1;
	}
	/* the breakdown rows, handed out as first exits hand them out */
	fd = em_collector_map_fd(col, "breakdown");
	for (i = 0; i < rows; i++) {
		/* table: VM i / (32 x 16), vCPU (i / 16) % 32; serve: one key a (VM, reason) */
		val.key = (struct em_key){ .isa = EM_ISA_SVM, .reason = reasons[i % NR],
					   .tgid = 1000 + (table ? i / (32 * NR) : i / NR),
					   .vcpu = table ? (i / NR) % 32 : EM_ANY_VCPU };
		fill(&val.st, 100 + i % 13, 1000 + 37 * (i % 64));
		if (bpf_map_update_elem(fd, &i, &val, BPF_ANY)) {
			fprintf(stderr, "scrape_bench: breakdown update %u: %s\n", i, strerror(errno));
			return 1;
		}
	}
	next = rows;
	if (bpf_map_update_elem(em_collector_map_fd(col, "row_of"), &k_next, &next, BPF_ANY))
		return 1;
	em_snapshot_init(&s);
	em_snapshot_init(&prev);
	em_snapshot_init(&view);
	s.meta.isa = prev.meta.isa = o.isa;
	s.meta.filters = prev.meta.filters = o.filters;
	if (table && em_collector_read(col, &prev))
		return 1;
	for (k = 0; k < scrapes; k++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		t0 = cpu_s();
		if (em_collector_read(col, &s))
			return 1;
		t_read += cpu_s() - t0;
		if (table) /* every key moved: the interval view holds them all */
			for (i = 0; i < s.nrows; i++)
				s.rows[i].st.count += 1 + k;
		t0 = cpu_s();
		if (table) {
			if (em_snapshot_delta(&view, &s, &prev) || em_snapshot_copy(&prev, &s))
				return 1;
			em_render_table(devnull, &view, &vctx);
		} else {
			f = open_memstream(&buf, &len);
			if (!f || em_metrics_render(f, &s, &st, &ctx, EM_METRICS_OPENMETRICS))
				return 1;
			fclose(f);
			bytes = len;
			free(buf);
		}
		t_render += cpu_s() - t0;
	}
	printf("possible_cpus=%d mode=%s rows=%zu max_series=%u refreshes=%u read_ms=%.2f render_ms=%.2f refresh_cpu_ms=%.2f read_bytes=%llu map_bytes=%llu body_bytes=%zu\n",
	       ncpu, table ? "table" : "serve", s.nrows, table ? 0 : st.max_series, scrapes,
	       t_read * 1e3 / scrapes, t_render * 1e3 / scrapes, (t_read + t_render) * 1e3 / scrapes,
	       (unsigned long long)em_collector_read_bytes(col),
	       (unsigned long long)em_collector_map_bytes(col), bytes);
	em_snapshot_free(&s);
	em_snapshot_free(&prev);
	em_snapshot_free(&view);
	em_metrics_state_free(&st);
	em_collector_close(col);
	fclose(devnull);
	return 0;
}
