// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer harness of the snapshot loader (tests/fuzz/fuzz.mk).
 * Any input: em_snapshot_parse() either refuses it with a message and
 * an empty snapshot, or accepts it, exactly as its whole-tree parse does
 * (em_snapshot_whole_tree: the loader reads rows apart, plain ones
 * without jansson); then the accepted snapshot must survive to_json ->
 * parse unchanged, and diff must print it (against itself and against an
 * empty run) without trouble.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <jansson.h>
#include "user/snapshot.h"
#include "user/diff.h"

#include "check.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_snapshot s, t, empty;
	struct em_diff_opts o = { 0 };
	char err[512], terr[512];
	json_t *j;
	int trc;
	char *text;
	int rc;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	err[0] = '\0';
	rc = em_snapshot_parse((const char *)data, size, &s, err, sizeof(err));
	/* the rows-apart loader gives the whole-tree parse's verdict, message and rows */
	em_snapshot_whole_tree = true;
	terr[0] = '\0';
	trc = em_snapshot_parse((const char *)data, size, &t, terr, sizeof(terr));
	em_snapshot_whole_tree = false;
	if (trc != rc || (rc && strcmp(err, terr)))
		fprintf(stderr, "rows apart: %d \"%s\", whole tree: %d \"%s\"\n", rc, err, trc, terr);
	CHECK(trc == rc && (!rc || !strcmp(err, terr)));
	CHECK(rc || em_snapshot_equal(&s, &t));
	em_snapshot_free(&t);
	if (rc) {
		CHECK(rc < 0);
		CHECK(err[0] != '\0' && !strchr(err, '\n'));
		CHECK(s.nrows == 0 && s.rows == NULL);
		return 0;
	}

	/* a loaded snapshot is always representable, and round-trips exactly */
	j = em_snapshot_to_json(&s, err, sizeof(err));
	CHECK(j != NULL);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	CHECK(text != NULL);
	rc = em_snapshot_parse(text, strlen(text), &t, err, sizeof(err));
	if (rc)
		fprintf(stderr, "re-parse failed: %s\n", err);
	CHECK(rc == 0);
	CHECK(em_snapshot_equal(&s, &t));
	free(text);

	em_snapshot_init(&empty);
	o.sort = (int)(size % 5);
	o.json = size & 1;
	if (s.meta.filters.nreasons) {
		o.reasons = s.meta.filters.reasons;
		o.nreasons = s.meta.filters.nreasons;
	}
	CHECK(em_diff_print(devnull, &s, "a", &t, "b", &o) == 0);
	o.json = !o.json;
	CHECK(em_diff_print(devnull, &empty, "empty", &s, "s", &o) == 0);

	em_snapshot_free(&s);
	em_snapshot_free(&t);
	return 0;
}
