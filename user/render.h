/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Table and JSON-lines output of a view (interval, cumulative or saved run). */
#ifndef EXITMON_RENDER_H
#define EXITMON_RENDER_H

#include <stdio.h>
#include <stdbool.h>
#include "model.h"

struct em_view_ctx {
	const char *type;    /* "interval", "final" or "snapshot" */
	double period_s;     /* time the counts cover, for rates */
	double elapsed_s;    /* since the start of the run */
	double quiet_s;      /* seconds without any exit, for the "no VM?" hint */
	const char *attach;  /* attach mode, or NULL */
	uint32_t isa;        /* for names when rows carry none */
};

void em_render_table(FILE *f, const struct em_snapshot *view, const struct em_view_ctx *ctx);
/* One JSON object on one line; returns 0 or -1 on ENOMEM/IO error. */
int em_render_json(FILE *f, const struct em_snapshot *view, const struct em_view_ctx *ctx);
/* "0x7b" for SVM, "30" for VMX, "other" for the overflow row. */
const char *em_reason_number(uint32_t isa, uint32_t reason, char *buf, size_t len);

#endif
