/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Command line: pure parsing into struct em_opts (unit-tested, no root). */
#ifndef EXITMON_CLI_H
#define EXITMON_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "collector.h"
#include "model.h"

/* Exit statuses, documented in -h and README. */
#define EM_EXIT_OK 0
#define EM_EXIT_FAIL 1
#define EM_EXIT_USAGE 2

enum em_cmd { EM_CMD_RUN, EM_CMD_SHOW, EM_CMD_DIFF, EM_CMD_REASONS, EM_CMD_HELP, EM_CMD_VERSION,
	      EM_CMD_SERVE };
enum em_output { EM_OUT_TABLE, EM_OUT_JSON };
enum em_attach { EM_ATTACH_AUTO, EM_ATTACH_RAW_TP, EM_ATTACH_TP };

struct em_opts {
	enum em_cmd cmd;
	enum em_output output;
	enum em_attach attach;
	double interval_s;   /* -i */
	bool interval_set;
	double duration_s;   /* -d; 0 = until Ctrl-C */
	uint32_t isa;        /* --isa or the host's */
	struct em_filters filters; /* --reason (resolved), -p, --vcpu, --per-vm, --per-vcpu */
	uint32_t max_keys;   /* --max-keys: breakdown hash size */
	bool cumulative;
	const char *save_path;
	bool force;
	const char *ready_file;
	int verbose;
	int sort;            /* diff --sort KEY (enum em_diff_sort) */
	const char *reason_args[EM_MAX_FILTER_REASONS]; /* --reason as typed */
	unsigned nreason_args;
	const char *files[2];
	unsigned nfiles;
	/* serve (user/serve.c) */
	const char *listen;      /* --listen ADDR:PORT */
	uint32_t max_series;     /* --max-series: VMs with their own vm label */
	const char *textfile_dir; /* run --textfile DIR */
};

/* Limits of -i and -d, in seconds (documented in -h). */
#define EM_INTERVAL_MIN 0.05
#define EM_INTERVAL_MAX 86400.0
#define EM_DURATION_MIN 0.05
#define EM_DURATION_MAX (366 * 86400.0)

/*
 * Parses argv against the command table in cli.c: each command accepts
 * its own options plus the global ones (-o, --isa, -v, -h, -V), before
 * or after the command word. host_isa is used when --isa is absent (0 =
 * unknown: names then need --isa). Returns EM_EXIT_OK, or EM_EXIT_USAGE
 * with one line in err.
 */
int em_cli_parse(int argc, char **argv, uint32_t host_isa, struct em_opts *o, char *err,
		 size_t errlen);
/*
 * Resolves the --reason arguments against isa into o->filters.reasons
 * (run resolves at parse time; show/diff against the snapshot's isa).
 */
int em_cli_resolve_reasons(struct em_opts *o, uint32_t isa, char *err, size_t errlen);
void em_cli_usage(FILE *f);
/* The collector's configuration from the options (run and serve). */
struct em_collector_cfg em_cli_collector_cfg(const struct em_opts *o);

/*
 * Bodies of show and diff on snapshots already loaded (pure: used by
 * main and the command-line fuzzer). s is filtered in place. Return an
 * exit status; the message, if any, is in err.
 */
struct em_snapshot;
int em_cli_show(struct em_opts *o, struct em_snapshot *s, FILE *out, char *err, size_t errlen);
int em_cli_diff(struct em_opts *o, const struct em_snapshot *a, const struct em_snapshot *b,
		FILE *out, char *err, size_t errlen);

#endif
