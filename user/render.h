/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Output of the model: the table, and the one JSON emitter (docs/json.md)
 * whose row and value helpers snapshots (snapshot.c) and diff (diff.c)
 * use too, so the same quantity has the same name everywhere.
 */
#ifndef EXITMON_RENDER_H
#define EXITMON_RENDER_H

#include <stdio.h>
#include <stdbool.h>
#include "model.h"

/* Version of every JSON document exitmon writes (the "version" member). */
#define EM_JSON_VERSION 2
#define EM_JSON_REPORT "exitmon-report"
#define EM_JSON_DIFF "exitmon-diff"

struct em_view_ctx {
	const char *type;    /* "interval", "cumulative", "final" or "snapshot" */
	double period_s;     /* time the counts cover, for rates */
	double elapsed_s;    /* since the start of the run */
	double quiet_s;      /* seconds without any exit, for the "no VM?" hint */
	const char *attach;  /* attach mode, or NULL for the view's meta.attach */
	uint32_t isa;        /* for names when rows carry none */
};

void em_render_table(FILE *f, const struct em_snapshot *view, const struct em_view_ctx *ctx);
/* One "exitmon-report" JSON object on one line; 0, or -1 on ENOMEM/IO error. */
int em_render_json(FILE *f, const struct em_snapshot *view, const struct em_view_ctx *ctx);
/* "0x7b" for SVM, "30" for VMX (hex with flag bits), "other" for the overflow row. */
const char *em_reason_number(uint32_t isa, uint32_t reason, char *buf, size_t len);
/* "CPUID", "INVALID_STATE|FAILED_VMENTRY", "OTHER (table full)". */
const char *em_row_name(uint32_t isa, uint32_t reason, char *buf, size_t len);

/* --- JSON building blocks (jansson; each returns a new reference or NULL) */

typedef struct json_t json_t; /* as jansson.h, which includers need not see */

/* "vmx" / "svm"; any other isa value (the overflow row) as its number. */
json_t *em_json_isa(uint32_t isa);
/* A string from a fixed-size buffer; bytes that are not UTF-8 become '?'. */
json_t *em_json_str(const char *buf, size_t size);
/* An integer; NULL when v is above INT64_MAX (JSON readers' limit). */
json_t *em_json_u64(uint64_t v);
/* A number, or null for NaN / infinity. */
json_t *em_json_num(double v);

struct em_json_row_opts {
	bool derived;     /* add the report fields (averages, percentiles, rate, share) */
	double period_s;  /* for rate_per_s */
	uint64_t total;   /* exits of the view, for pct */
};
/*
 * One row: identity, stored stats and the sparse histogram ([bucket,
 * count] pairs) as in snapshots; with o->derived also lat_avg_ns,
 * lat_p50_ns, lat_p99_ns, lat_min_approx, lat_max_approx, rate_per_s,
 * pct, idle. Without, the approx flags appear only when set. NULL with
 * err set when a value does not fit (above INT64_MAX) or on ENOMEM.
 */
json_t *em_json_row(const struct em_row *r, const struct em_json_row_opts *o, char *err, size_t errlen);
/* The counters object, by em_counter_names; NULL as above. */
json_t *em_json_counters(const uint64_t *counters, char *err, size_t errlen);

#endif
