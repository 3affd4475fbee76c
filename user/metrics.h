/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A snapshot as Prometheus metrics: text format 0.0.4 or OpenMetrics
 * 1.0.0 (docs/metrics.md lists every family). Pure C, no libbpf: used by
 * `exitmon serve` on each scrape and by `exitmon run --textfile`.
 */
#ifndef EXITMON_METRICS_H
#define EXITMON_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"

enum em_metrics_format { EM_METRICS_TEXT, EM_METRICS_OPENMETRICS };

#define EM_METRICS_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define EM_METRICS_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/*
 * Histogram bounds: le = 2^k ns for k = EM_METRICS_LE_MIN_LOG2 ..
 * EM_METRICS_LE_MAX_LOG2 (1.024 us .. 68.72 s), plus +Inf. Powers of two
 * are edges of the in-kernel buckets, so the fold is exact: bucket le=x
 * counts the exits handled in less than x (latencies are whole ns).
 */
#define EM_METRICS_LE_MIN_LOG2 10
#define EM_METRICS_LE_MAX_LOG2 EM_HIST_MAX_LOG2
#define EM_METRICS_NBOUNDS (EM_METRICS_LE_MAX_LOG2 - EM_METRICS_LE_MIN_LOG2 + 1)

/* vm label of the series that sums the VMs past --max-series. */
#define EM_METRICS_VM_OTHER "other"
#define EM_METRICS_DEFAULT_MAX_SERIES 64u
#define EM_METRICS_MAX_SERIES_LIMIT 65536u

/*
 * State kept between scrapes. VMs get their own vm label first come,
 * first served, and keep it for the life of the process, so every series
 * (vm="other" included) only grows: counters never go down.
 */
struct em_metrics_state {
	uint32_t max_series; /* VMs with their own vm label; 0 = the default */
	uint32_t nvms;
	uint32_t *vms;       /* sorted tgids that have their own label */
};

/* Per-scrape facts that are not in the snapshot. */
struct em_metrics_ctx {
	const char *version;     /* build_info version */
	const char *attach;      /* "raw_tp", "tp" */
	double collect_seconds;  /* time spent reading the maps for this scrape; < 0 = none */
};

void em_metrics_state_free(struct em_metrics_state *st);

/*
 * Writes the metrics of s (cumulative counts) to f. With per-VM rows
 * (s->meta.filters.per_vm or per_vcpu) the exit series carry a vm label.
 * Returns 0, -ENOMEM, or -EIO when f reports an error.
 */
int em_metrics_render(FILE *f, const struct em_snapshot *s, struct em_metrics_state *st,
		      const struct em_metrics_ctx *ctx, enum em_metrics_format fmt);

/*
 * Format for an HTTP Accept header (NULL or empty = text): OpenMetrics
 * when application/openmetrics-text (version 1.0.0 or none) has q > 0 and
 * a q at least that of text/plain, else text 0.0.4.
 */
enum em_metrics_format em_metrics_negotiate(const char *accept);
const char *em_metrics_content_type(enum em_metrics_format fmt);

/*
 * Label value escaped for both formats (\\, \", \n) into out; returns
 * out, truncated (never mid-escape) when outlen is short.
 */
const char *em_metrics_escape(const char *in, char *out, size_t outlen);

/* Bound i (0..EM_METRICS_NBOUNDS-1) as an exact decimal of seconds. */
const char *em_metrics_le(unsigned i, char *buf, size_t len);

/*
 * Folds st's histogram into cum[EM_METRICS_NBOUNDS + 1]: cumulative
 * counts per bound, the last being +Inf (= every sample).
 */
void em_metrics_fold(const struct em_rstats *st, uint64_t cum[EM_METRICS_NBOUNDS + 1]);

/*
 * Writes DIR/exitmon.prom (text format, for node_exporter's textfile
 * collector) atomically through safefile (an unnamed temporary in DIR,
 * linked into place). An existing exitmon.prom is replaced only if it is
 * a regular file or a symlink (the link, never its target); a directory,
 * device, FIFO or socket is refused. DIR must be an existing directory.
 * Returns 0 or -1 with one line in err.
 */
int em_metrics_write_textfile(const char *dir, const struct em_snapshot *s,
			      struct em_metrics_state *st, const struct em_metrics_ctx *ctx,
			      char *err, size_t errlen);

#endif
