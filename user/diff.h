/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * `exitmon diff A B`: per-reason comparison of two runs (snapshots).
 * Only the per-reason total rows (tgid EM_ANY_PID, vcpu EM_ANY_VCPU)
 * take part; rows are keyed by (isa, reason).
 */
#ifndef EXITMON_DIFF_H
#define EXITMON_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"

enum em_diff_sort {
	EM_DIFF_SORT_DELTA = 0, /* |B - A| descending (default) */
	EM_DIFF_SORT_COUNT,     /* max(A, B) descending */
	EM_DIFF_SORT_NAME,      /* reason name, alphabetical */
	EM_DIFF_SORT_REASON,    /* isa, then raw code ascending */
	EM_DIFF_SORT_RATIO,     /* B/A descending: "new" first, "gone" last */
};

struct em_diff_opts {
	int sort;                /* enum em_diff_sort */
	const uint32_t *reasons; /* only these raw codes (any isa); NULL/0 = all */
	size_t nreasons;
	bool json;               /* one JSON document instead of the table */
};

/* One compared reason. */
struct em_diff_row {
	uint32_t isa, reason;
	char name[64];
	bool in_a, in_b;            /* the reason has a row in that snapshot */
	uint64_t count_a, count_b;
	int64_t delta;              /* count_b - count_a */
	uint64_t abs_delta;
	double ratio;               /* count_b / count_a; INFINITY when only B counted
				       ("new"), 0 when only A ("gone"), NAN when neither */
	double rate_a, rate_b;      /* exits per second; NAN when the duration is 0 */
	bool lat_a, lat_b;          /* that run has latency samples of the reason */
	uint64_t lat_avg_ns_a, lat_avg_ns_b; /* mean exit->entry latency (0 without) */
	uint64_t lat_p99_ns_a, lat_p99_ns_b; /* 99th percentile from the histogram */
};

/* "delta", "count", "name", "reason", "ratio" -> enum em_diff_sort, or -1. */
int em_diff_sort_parse(const char *s);

/*
 * The rows of the comparison, filtered and sorted as o says (o may be
 * NULL for the defaults). *rows is malloc'ed (free() it; NULL when
 * *nrows is 0). Returns 0 or -ENOMEM.
 */
int em_diff_compute(const struct em_snapshot *a, const struct em_snapshot *b,
		    const struct em_diff_opts *o, struct em_diff_row **rows, size_t *nrows);

/*
 * Prints the comparison: a header naming both runs (name_a/name_b are
 * what to call them, normally the file names), warnings when the CPU
 * vendor/isa, kernel or filters differ, the KVM parameters that differ
 * ("npt: 1 → 0"), then the table, or with o->json one JSON document.
 * Returns 0, -ENOMEM, or -EIO when writing to out failed.
 */
int em_diff_print(FILE *out, const struct em_snapshot *a, const char *name_a,
		  const struct em_snapshot *b, const char *name_b, const struct em_diff_opts *o);

#endif
