/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Command line: pure parsing into struct em_opts (unit-tested, no root). */
#ifndef EXITMON_CLI_H
#define EXITMON_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"

/* Exit statuses, documented in -h and README. */
#define EM_EXIT_OK 0
#define EM_EXIT_FAIL 1
#define EM_EXIT_USAGE 2

enum em_cmd { EM_CMD_RUN, EM_CMD_SHOW, EM_CMD_DIFF, EM_CMD_REASONS, EM_CMD_HELP, EM_CMD_VERSION };
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
	const char *sort;    /* diff --sort KEY */
	const char *reason_args[EM_MAX_FILTER_REASONS]; /* --reason as typed */
	unsigned nreason_args;
	const char *files[2];
	unsigned nfiles;
	const char *vm_globs[EM_MAX_VM_GLOBS]; /* --vm NAME (glob) */
	unsigned nvm_globs;
};

/*
 * Parses argv. host_isa is used when --isa is absent (0 = unknown: names
 * then need --isa). Returns EM_EXIT_OK, or EM_EXIT_USAGE with one line in err.
 */
int em_cli_parse(int argc, char **argv, uint32_t host_isa, struct em_opts *o, char *err,
		 size_t errlen);
/*
 * Resolves the --reason arguments against isa into o->filters.reasons
 * (run resolves at parse time; show/diff against the snapshot's isa).
 */
int em_cli_resolve_reasons(struct em_opts *o, uint32_t isa, char *err, size_t errlen);
void em_cli_usage(FILE *f);

#endif
