// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer harness of the command line plus two snapshot inputs
 * (tests/fuzz/fuzz.mk): parse -> show -> diff, as main.c runs them.
 * Input: command-line words separated by NUL bytes, then "\0\0", then
 * snapshot A, then "\0\0", then snapshot B. Checked: every result is an
 * exit status of the documented three, every message one printable line,
 * and nothing crashes, leaks or reads out of bounds (ASan/UBSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "user/cli.h"
#include "user/snapshot.h"

#include "check.h"

#define MAX_WORDS 24

static FILE *devnull;

/* One printable line (what err.c promises for every message). */
static void check_msg(const char *err)
{
	const char *p;

	CHECK(err[0] != '\0');
	for (p = err; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static const uint8_t *split(const uint8_t *p, const uint8_t *end, size_t *len)
{
	const uint8_t *q;

	for (q = p; q + 1 < end; q++)
		if (!q[0] && !q[1]) {
			*len = (size_t)(q - p);
			return q + 2;
		}
	*len = (size_t)(end - p);
	return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *p = data, *blob[2];
	size_t wlen, blen[2], i;
	char *words, *argv[MAX_WORDS + 2], err[512];
	struct em_snapshot a, b;
	struct em_opts o;
	int argc = 0, rc, ra, rb;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	p = split(p, end, &wlen);
	blob[0] = p;
	p = split(p, end, &blen[0]);
	blob[1] = p;
	blen[1] = (size_t)(end - p);

	/* argv: NUL-separated words (a copy: the parser writes into --reason lists) */
	words = malloc(wlen + 1);
	CHECK(words);
	memcpy(words, data, wlen);
	words[wlen] = '\0';
	argv[argc++] = "exitmon";
	for (i = 0; wlen && i <= wlen && argc <= MAX_WORDS; i += strlen(words + i) + 1)
		argv[argc++] = words + i;
	argv[argc] = NULL;

	err[0] = '\0';
	rc = em_cli_parse(argc, argv, size & 1 ? EM_ISA_SVM : EM_ISA_VMX, &o, err, sizeof(err));
	CHECK(rc == EM_EXIT_OK || rc == EM_EXIT_USAGE);
	if (rc)
		check_msg(err);
	if (rc || (o.cmd != EM_CMD_SHOW && o.cmd != EM_CMD_DIFF)) {
		/* still exercise show and diff, with their defaults */
		char *show[] = { "exitmon", "diff", "a", "b", NULL };

		CHECK(em_cli_parse(4, show, EM_ISA_SVM, &o, err, sizeof(err)) == EM_EXIT_OK);
		o.cmd = size & 2 ? EM_CMD_SHOW : EM_CMD_DIFF;
	}

	ra = em_snapshot_parse((const char *)blob[0], blen[0], &a, err, sizeof(err));
	if (ra)
		check_msg(err);
	rb = em_snapshot_parse((const char *)blob[1], blen[1], &b, err, sizeof(err));
	if (rb)
		check_msg(err);
	if (!ra && !rb && o.cmd == EM_CMD_DIFF) {
		err[0] = '\0';
		rc = em_cli_diff(&o, &a, &b, devnull, err, sizeof(err));
		CHECK(rc == EM_EXIT_OK || rc == EM_EXIT_USAGE);
		if (rc)
			check_msg(err);
	}
	if (!ra) {
		err[0] = '\0';
		rc = em_cli_show(&o, &a, devnull, err, sizeof(err));
		CHECK(rc == EM_EXIT_OK || rc == EM_EXIT_USAGE);
		if (rc)
			check_msg(err);
		em_snapshot_free(&a);
	}
	if (!rb)
		em_snapshot_free(&b);
	free(words);
	return 0;
}
