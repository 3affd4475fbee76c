// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * CPU cost of one `exitmon serve` scrape (map read + OpenMetrics render)
 * with R breakdown rows in the maps, on this kernel's possible CPUs.
 * Attaches the real collector with --per-vm, fills the breakdown hash
 * with R (VM, reason) rows (every CPU's value non-zero), then times K
 * scrapes with getrusage. Root. Run by tests/serve/scrape-bench.sh.
 *   scrape_bench [ROWS [SCRAPES [MAX_SERIES]]]   (default 2000 10 65536)
 * Prints one line: key=value pairs.
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
#include "sysinfo.h"

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	unsigned rows = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	unsigned scrapes = argc > 2 ? (unsigned)atoi(argv[2]) : 10, i, k;
	static const uint32_t reasons[] = { 0x60, 0x72, 0x78, 0x7b, 0x400, 0x4e, 0x79, 0x13, 0x7c, 0x81 };
	const unsigned nr = sizeof(reasons) / sizeof(reasons[0]);
	struct em_collector_cfg o = { 0 };
	struct em_collector *col;
	struct em_snapshot s;
	struct em_metrics_state st = {
		.max_series = argc > 3 ? (uint32_t)atoi(argv[3]) : EM_METRICS_MAX_SERIES_LIMIT,
	};
	struct em_metrics_ctx ctx = { .version = "bench", .attach = "?", .map_bytes = -1 };
	struct em_stats *vals;
	char err[512];
	int ncpu = libbpf_num_possible_cpus(), fd;
	double t_read = 0, t_render = 0, t0;
	size_t bytes = 0;

	if (!rows || !scrapes || ncpu <= 0)
		return 2;
	o.isa = em_host_isa() ? em_host_isa() : EM_ISA_SVM;
	o.filters.per_vm = true;
	o.filters.vcpu = -1;
	o.max_keys = rows + 64;
	col = em_collector_open(&o, err, sizeof(err));
	if (!col) {
		fprintf(stderr, "scrape_bench: %s\n", err);
		return 1;
	}
	fd = em_collector_map_fd(col, "breakdown");
	vals = calloc(ncpu, sizeof(*vals));
	if (fd < 0 || !vals)
		return 1;
	for (i = 0; i < rows; i++) {
		struct em_key key = { .isa = EM_ISA_SVM, .reason = reasons[i % nr],
				      .tgid = 1000 + i / nr, .vcpu = EM_ANY_VCPU };
		int c;

		for (c = 0; c < ncpu; c++) {
			memset(&vals[c], 0, sizeof(vals[c]));
			vals[c].count = 100 + c;
			em_stats_add_latency(&vals[c], 1000 + 37 * c, 100 + c);
		}
		if (bpf_map_update_elem(fd, &key, vals, BPF_ANY)) {
			fprintf(stderr, "scrape_bench: breakdown update %u: %s\n", i, strerror(errno));
			return 1;
		}
	}
	em_snapshot_init(&s);
	s.meta.isa = o.isa;
	s.meta.filters = o.filters;
	for (k = 0; k < scrapes; k++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		t0 = cpu_s();
		if (em_collector_read(col, &s))
			return 1;
		t_read += cpu_s() - t0;
		t0 = cpu_s();
		f = open_memstream(&buf, &len);
		if (!f || em_metrics_render(f, &s, &st, &ctx, EM_METRICS_OPENMETRICS))
			return 1;
		fclose(f);
		t_render += cpu_s() - t0;
		bytes = len;
		free(buf);
	}
	printf("possible_cpus=%d rows=%zu max_series=%u scrapes=%u read_ms=%.2f render_ms=%.2f scrape_cpu_ms=%.2f bytes=%zu\n",
	       ncpu, s.nrows, st.max_series, scrapes, t_read * 1e3 / scrapes, t_render * 1e3 / scrapes,
	       (t_read + t_render) * 1e3 / scrapes, bytes);
	em_snapshot_free(&s);
	em_metrics_state_free(&st);
	em_collector_close(col);
	free(vals);
	return 0;
}
