// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Test helper of tests/serve: renders a saved snapshot with user/metrics.c,
 * so promtool and the OpenMetrics parser check populated histograms and
 * per-VM series on a host where no VM exits.
 *   prom_render FILE text|om [MAX_SERIES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "snapshot.h"

int main(int argc, char **argv)
{
	struct em_metrics_ctx ctx = { .version = "test", .attach = "tp", .collect_seconds = 0.001 };
	struct em_metrics_state st = { 0 };
	struct em_snapshot s;
	char err[512];
	int rc;

	if (argc < 3 || (strcmp(argv[2], "text") && strcmp(argv[2], "om"))) {
		fprintf(stderr, "usage: prom_render FILE text|om [MAX_SERIES]\n");
		return 2;
	}
	if (argc > 3)
		st.max_series = (uint32_t)strtoul(argv[3], NULL, 10);
	if (em_snapshot_load(argv[1], &s, err, sizeof(err))) {
		fprintf(stderr, "prom_render: %s: %s\n", argv[1], err);
		return 1;
	}
	rc = em_metrics_render(stdout, &s, &st, &ctx,
			       strcmp(argv[2], "om") ? EM_METRICS_TEXT : EM_METRICS_OPENMETRICS);
	em_metrics_state_free(&st);
	em_snapshot_free(&s);
	return rc ? 1 : 0;
}
