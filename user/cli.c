// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Command-line parsing for exitmon, kept free of libbpf: a command table
 * in which each command declares its options (as bpftool's cmd_select or
 * git's builtin table), so that an option a command does not use is a
 * usage error naming it instead of being silently ignored.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "diff.h"
#include "err.h"
#include "reasons.h"
#include "render.h"

void em_cli_usage(FILE *f)
{
	fputs(
"Usage: exitmon [run] [OPTIONS]          live table of KVM exits (needs root)\n"
"       exitmon show FILE [-o json] [--reason R]...\n"
"       exitmon diff A B [--sort KEY] [--reason R]... [-o json]\n"
"       exitmon reasons [--isa vmx|svm]\n"
"\n"
"Counts KVM VM exits per exit reason and the time KVM takes to handle each\n"
"(kvm_exit -> next kvm_entry of the same vCPU thread), from the kvm\n"
"tracepoints, with eBPF.\n"
"\n"
"Run options:\n"
"  -i, --interval SEC     refresh every SEC seconds (default 1; 0.05 to 86400)\n"
"  -d, --duration SEC     stop after SEC seconds and print the final table\n"
"                         (0.05 s to 366 days)\n"
"  -r, --reason R         only this exit reason; number (14, 0x7b) or name\n"
"                         (INVLPG, npf), repeatable or comma-separated\n"
"  -p, --pid PID          only the VM process PID\n"
"      --vcpu N           only vCPU N\n"
"      --vm NAME          only the VMs named NAME (a glob; repeatable); follows\n"
"                         VMs that start later (implies --per-vm)\n"
"      --per-vm           break counts down per VM process\n"
"      --per-vcpu         break counts down per VM process and vCPU\n"
"      --max-keys N       size of the breakdown table (default 1024)\n"
"  -c, --cumulative       show totals since start instead of per interval\n"
"                         (live keys: c toggles, s saves, q quits)\n"
"  -s, --save FILE        save a snapshot of the run when it ends (also on\n"
"                         SIGUSR1 or key s); refuses to overwrite without -f\n"
"  -f, --force            overwrite FILE (a regular file or a symlink only)\n"
"      --attach MODE      auto (default), raw_tp or tp\n"
"      --ready-file PATH  create PATH (which must not exist) once tracing has\n"
"                         started\n"
"      --textfile DIR     also write DIR/exitmon.prom (Prometheus text format,\n"
"                         for node_exporter's textfile collector) every\n"
"                         interval, atomically (write, then rename)\n"
"Serve options (exitmon serve: Prometheus / OpenMetrics endpoint, needs root;\n"
"the maps are read on each scrape of /metrics, / links to it):\n"
"      --listen ADDR:PORT numeric address and port (default 127.0.0.1:10283;\n"
"                         [::1]:PORT for IPv6, 0.0.0.0:PORT for every interface)\n"
"      --per-vm           add a vm label (the VM's pid) to the exit series\n"
"      --max-series N     at most N VMs get their own vm label (default 64,\n"
"                         1..65536); later VMs are summed into vm=\"other\"\n"
"  -r, --reason R, -p PID, --vcpu N, --max-keys N, --attach MODE,\n"
"      --ready-file PATH  as for run\n"
"Show and diff options:\n"
"  -r, --reason R         only these exit reasons\n"
"      --sort KEY         diff order: delta (default), count, name, reason, ratio\n"
"Global options (before or after the command):\n"
"  -o, --output FMT       table (default) or json (one JSON object per line)\n"
"      --isa ISA          vmx or svm reason names (default: this CPU's)\n"
"  -v, --verbose          print libbpf messages\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"Latency marked * (HLT, MWAIT, ...) is mostly the vCPU idling; it is shown\n"
"but left out of the total's latency.\n"
"\n"
"SIGINT, SIGTERM and SIGHUP stop the run (and save it with --save);\n"
"SIGUSR1 saves now.\n"
"\n"
"Exit status: 0 success, 1 runtime failure (privilege, BTF, kvm missing,\n"
"bad snapshot, write error), 2 usage error.\n", f);
}

#define fail(err, errlen, ...) em_errf(err, errlen, EM_EXIT_USAGE, __VA_ARGS__)

/* Decimal seconds only: no sign, hex, inf/nan or leading space. */
static int parse_seconds(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!((*s >= '0' && *s <= '9') || *s == '.') || strspn(s, "0123456789.eE+-") != strlen(s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* Decimal only, a digit first: "010" is 10, " -1" is refused. */
static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int em_cli_resolve_reasons(struct em_opts *o, uint32_t isa, char *err, size_t errlen)
{
	unsigned i;

	o->filters.nreasons = 0;
	if (!o->nreason_args)
		return EM_EXIT_OK;
	if (!isa)
		return fail(err, errlen, "cannot resolve --reason: unknown CPU vendor; pass --isa vmx|svm");
	for (i = 0; i < o->nreason_args; i++) {
		uint32_t code, j;
		bool dup = false;

		if (em_reason_parse(isa, o->reason_args[i], &code, err, errlen)) {
			em_sanitise(err);
			return EM_EXIT_USAGE;
		}
		for (j = 0; j < o->filters.nreasons; j++)
			dup |= o->filters.reasons[j] == code;
		if (!dup)
			o->filters.reasons[o->filters.nreasons++] = code;
	}
	return EM_EXIT_OK;
}

/* Splits a --reason list in place; an empty item ('', ',', '14,') is an error. */
static int add_reasons(struct em_opts *o, char *arg, char *err, size_t errlen)
{
	char *p = arg, *comma;

	if (!*arg)
		return fail(err, errlen, "empty --reason value");
	for (;;) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p)
			return fail(err, errlen, "empty item in a --reason list");
		if (o->nreason_args >= EM_MAX_FILTER_REASONS)
			return fail(err, errlen, "too many --reason values (at most %d)",
				    EM_MAX_FILTER_REASONS);
		o->reason_args[o->nreason_args++] = p;
		if (!comma)
			return EM_EXIT_OK;
		p = comma + 1;
	}
}

/*
 * The option table. To add an option: an OPT_ id, its entry in options[]
 * (long name, short letter or 0, whether it takes a value), a case in
 * apply(), and its id in the option list of each command that uses it
 * (or in global_opts if every command does).
 */
enum em_opt {
	OPT_INTERVAL, OPT_DURATION, OPT_REASON, OPT_PID, OPT_VCPU, OPT_PER_VM, OPT_PER_VCPU,
	OPT_MAX_KEYS, OPT_CUMULATIVE, OPT_SAVE, OPT_FORCE, OPT_ATTACH, OPT_READY, OPT_SORT,
	OPT_OUTPUT, OPT_ISA, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_LISTEN, OPT_MAX_SERIES,
	OPT_TEXTFILE, OPT_VM,
	OPT__MAX
};

static const struct {
	const char *name;
	char letter;
	bool value;
} options[OPT__MAX] = {
	[OPT_INTERVAL] = { "interval", 'i', true },
	[OPT_DURATION] = { "duration", 'd', true },
	[OPT_REASON] = { "reason", 'r', true },
	[OPT_PID] = { "pid", 'p', true },
	[OPT_VCPU] = { "vcpu", 0, true },
	[OPT_PER_VM] = { "per-vm", 0, false },
	[OPT_PER_VCPU] = { "per-vcpu", 0, false },
	[OPT_MAX_KEYS] = { "max-keys", 0, true },
	[OPT_CUMULATIVE] = { "cumulative", 'c', false },
	[OPT_SAVE] = { "save", 's', true },
	[OPT_FORCE] = { "force", 'f', false },
	[OPT_ATTACH] = { "attach", 0, true },
	[OPT_READY] = { "ready-file", 0, true },
	[OPT_SORT] = { "sort", 0, true },
	[OPT_OUTPUT] = { "output", 'o', true },
	[OPT_ISA] = { "isa", 0, true },
	[OPT_VERBOSE] = { "verbose", 'v', false },
	[OPT_HELP] = { "help", 'h', false },
	[OPT_VERSION] = { "version", 'V', false },
	[OPT_LISTEN] = { "listen", 0, true },
	[OPT_MAX_SERIES] = { "max-series", 0, true },
	[OPT_TEXTFILE] = { "textfile", 0, true },
	[OPT_VM] = { "vm", 0, true },
};

/* Option lists end with OPT__MAX. */
static const enum em_opt global_opts[] = { OPT_OUTPUT, OPT_ISA, OPT_VERBOSE, OPT_HELP, OPT_VERSION,
					   OPT__MAX };
static const enum em_opt run_opts[] = {
	OPT_INTERVAL, OPT_DURATION, OPT_REASON, OPT_PID, OPT_VCPU, OPT_PER_VM, OPT_PER_VCPU,
	OPT_MAX_KEYS, OPT_CUMULATIVE, OPT_SAVE, OPT_FORCE, OPT_ATTACH, OPT_READY, OPT_TEXTFILE, OPT_VM, OPT__MAX
};
static const enum em_opt serve_opts[] = {
	OPT_REASON, OPT_PID, OPT_VCPU, OPT_PER_VM, OPT_MAX_KEYS, OPT_ATTACH, OPT_READY, OPT_LISTEN,
	OPT_MAX_SERIES, OPT_VM, OPT__MAX
};
static const enum em_opt show_opts[] = { OPT_REASON, OPT__MAX };
static const enum em_opt diff_opts[] = { OPT_REASON, OPT_SORT, OPT__MAX };
static const enum em_opt no_opts[] = { OPT__MAX };

/*
 * The command table. To add a command: an EM_CMD_ value in cli.h, one
 * entry here with its option list and number of file arguments, and its
 * case in main.c's dispatch.
 */
static const struct {
	const char *name;
	enum em_cmd cmd;
	const enum em_opt *opts;
	unsigned nfiles;      /* file arguments it needs */
	const char *files_msg;
} commands[] = {
	{ "run", EM_CMD_RUN, run_opts, 0, NULL },
	{ "show", EM_CMD_SHOW, show_opts, 1, "show needs one snapshot file" },
	{ "diff", EM_CMD_DIFF, diff_opts, 2, "diff needs two snapshot files" },
	{ "reasons", EM_CMD_REASONS, no_opts, 0, NULL },
	{ "help", EM_CMD_HELP, no_opts, 0, NULL },
	{ "serve", EM_CMD_SERVE, serve_opts, 0, NULL },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static bool in_list(const enum em_opt *list, enum em_opt id)
{
	for (; *list != OPT__MAX; list++)
		if (*list == id)
			return true;
	return false;
}

/* The option named by a long name (up to len bytes) or a letter; OPT__MAX if none. */
static enum em_opt find_opt(const char *name, size_t len, char letter)
{
	int i;

	for (i = 0; i < OPT__MAX; i++)
		if (name ? strlen(options[i].name) == len && !strncmp(options[i].name, name, len)
			 : letter && options[i].letter == letter)
			return i;
	return OPT__MAX;
}

struct parse_state {
	bool isa_given;
	uint32_t host_isa;
	const char *shown; /* the option as the user typed it, for messages */
};

static int apply(struct em_opts *o, enum em_opt id, char *val, struct parse_state *ps, char *err,
		 size_t errlen)
{
	uint32_t v;

	switch (id) {
	case OPT_INTERVAL:
		if (parse_seconds(val, EM_INTERVAL_MIN, EM_INTERVAL_MAX, &o->interval_s))
			return fail(err, errlen, "invalid interval '%s' (seconds, 0.05 to 86400)", val);
		o->interval_set = true;
		break;
	case OPT_DURATION:
		if (parse_seconds(val, EM_DURATION_MIN, EM_DURATION_MAX, &o->duration_s))
			return fail(err, errlen, "invalid duration '%s' (seconds, 0.05 to 31622400)", val);
		break;
	case OPT_REASON:
		return add_reasons(o, val, err, errlen);
	case OPT_PID:
		if (parse_u32(val, &v) || !v || v > 4194304)
			return fail(err, errlen, "invalid pid '%s' (1 to 4194304)", val);
		o->filters.pid = v;
		break;
	case OPT_VCPU:
		if (parse_u32(val, &v) || v >= EM_ANY_VCPU)
			return fail(err, errlen, "invalid vCPU id '%s'", val);
		o->filters.vcpu = v;
		break;
	case OPT_VM:
		if (!*val || strlen(val) > 255)
			return fail(err, errlen, "invalid --vm '%.40s' (a VM name or glob, 1..255 bytes)", val);
		if (o->nvm_globs >= EM_MAX_VM_GLOBS)
			return fail(err, errlen, "too many --vm (at most %d)", EM_MAX_VM_GLOBS);
		o->vm_globs[o->nvm_globs++] = val;
		break;
	case OPT_PER_VM:
		o->filters.per_vm = true;
		break;
	case OPT_PER_VCPU:
		o->filters.per_vcpu = true;
		break;
	case OPT_MAX_KEYS:
		if (parse_u32(val, &v) || !v || v > 65536)
			return fail(err, errlen, "invalid --max-keys '%s' (1..65536)", val);
		o->max_keys = v;
		break;
	case OPT_CUMULATIVE:
		o->cumulative = true;
		break;
	case OPT_SAVE:
		/* the table or JSON lines already go to stdout */
		if (!strcmp(val, "-"))
			return fail(err, errlen, "--save -: the snapshot cannot go to stdout; name a file (./- for one named '-')");
		o->save_path = val;
		break;
	case OPT_FORCE:
		o->force = true;
		break;
	case OPT_ATTACH:
		if (!strcmp(val, "auto"))
			o->attach = EM_ATTACH_AUTO;
		else if (!strcmp(val, "raw_tp"))
			o->attach = EM_ATTACH_RAW_TP;
		else if (!strcmp(val, "tp"))
			o->attach = EM_ATTACH_TP;
		else
			return fail(err, errlen, "invalid --attach '%s' (auto, raw_tp or tp)", val);
		break;
	case OPT_READY:
		o->ready_file = val;
		break;
	case OPT_LISTEN:
		o->listen = val;
		break;
	case OPT_MAX_SERIES:
		if (parse_u32(val, &v) || !v || v > 65536)
			return fail(err, errlen, "invalid --max-series '%s' (1..65536)", val);
		o->max_series = v;
		break;
	case OPT_TEXTFILE:
		o->textfile_dir = val;
		break;
	case OPT_SORT:
		if ((o->sort = em_diff_sort_parse(val)) < 0)
			return fail(err, errlen, "invalid --sort '%s' (delta, count, name, reason, ratio)", val);
		break;
	case OPT_OUTPUT:
		if (!strcmp(val, "table"))
			o->output = EM_OUT_TABLE;
		else if (!strcmp(val, "json"))
			o->output = EM_OUT_JSON;
		else
			return fail(err, errlen, "invalid output '%s' (table or json)", val);
		break;
	case OPT_ISA:
		o->isa = em_isa_from_name(val);
		if (!o->isa)
			return fail(err, errlen, "invalid --isa '%s' (vmx or svm)", val);
		ps->isa_given = true;
		break;
	case OPT_VERBOSE:
		o->verbose++;
		break;
	case OPT_HELP:
		o->cmd = EM_CMD_HELP;
		break;
	case OPT_VERSION:
		o->cmd = EM_CMD_VERSION;
		break;
	case OPT__MAX:
		break;
	}
	return EM_EXIT_OK;
}

/*
 * Index of the command word: the first argument that is neither an
 * option nor an option's value (0 if none).
 */
static int find_command(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		enum em_opt id;

		if (!strcmp(a, "--"))
			return i + 1 < argc ? i + 1 : 0;
		if (a[0] != '-' || !a[1])
			return i;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');

			id = find_opt(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2), 0);
			if (id != OPT__MAX && options[id].value && !eq)
				i++;
			continue;
		}
		for (a++; *a; a++) {
			id = find_opt(NULL, 0, *a);
			if (id != OPT__MAX && options[id].value) {
				if (!a[1])
					i++;
				break;
			}
		}
	}
	return 0;
}

int em_cli_parse(int argc, char **argv, uint32_t host_isa, struct em_opts *o, char *err,
		 size_t errlen)
{
	struct parse_state ps = { .host_isa = host_isa };
	const enum em_opt *allowed;
	unsigned c = 0;
	bool only_files = false;
	int i, cmdi, rc;
	char shown[3] = "-?";

	memset(o, 0, sizeof(*o));
	o->cmd = EM_CMD_RUN;
	o->interval_s = 1.0;
	o->filters.vcpu = -1;
	o->max_keys = 1024;
	o->isa = host_isa;
	o->sort = EM_DIFF_SORT_DELTA;
	if (err && errlen)
		err[0] = '\0';

	cmdi = find_command(argc, argv);
	if (cmdi) {
		for (c = 0; c < NCOMMANDS; c++)
			if (!strcmp(argv[cmdi], commands[c].name))
				break;
		/* "--bogus 2": the unknown option is the error, not the word after it */
		for (i = 1; c == NCOMMANDS && i < cmdi; i++)
			if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] &&
			    find_opt(argv[i] + 2, strcspn(argv[i] + 2, "="), 0) == OPT__MAX)
				return fail(err, errlen, "unknown option '--%.*s'",
					    (int)strcspn(argv[i] + 2, "="), argv[i] + 2);
			else if (argv[i][0] == '-' && argv[i][1] && argv[i][1] != '-' &&
				 find_opt(NULL, 0, argv[i][1]) == OPT__MAX)
				return fail(err, errlen, "unknown option '-%c'", argv[i][1]);
		if (c == NCOMMANDS)
			return fail(err, errlen, "unknown command '%s' (try run, show, diff, reasons, serve)",
				    argv[cmdi]);
		o->cmd = commands[c].cmd;
	}
	allowed = commands[c].opts;

	for (i = 1; i < argc; i++) {
		char *a = argv[i], *val = NULL;
		enum em_opt id;

		if (i == cmdi)
			continue;
		if (only_files || a[0] != '-' || !a[1]) {
			if (o->nfiles >= commands[c].nfiles)
				return fail(err, errlen, "unexpected argument '%s'", a);
			o->files[o->nfiles++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_files = true;
			continue;
		}
		if (a[1] == '-') {
			char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			id = find_opt(a + 2, len, 0);
			if (id == OPT__MAX)
				return fail(err, errlen, "unknown option '--%.*s'", (int)len, a + 2);
			ps.shown = options[id].name;
			if (eq && !options[id].value)
				return fail(err, errlen, "option '--%s' takes no value", ps.shown);
			if (!in_list(global_opts, id) && !in_list(allowed, id))
				return fail(err, errlen, "option '--%s' does not apply to %s", ps.shown,
					    commands[c].name);
			if (options[id].value) {
				if (eq)
					val = eq + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return fail(err, errlen, "option '--%s' needs a value", ps.shown);
			}
			if ((rc = apply(o, id, val, &ps, err, errlen)))
				return rc;
			if (o->cmd == EM_CMD_HELP || o->cmd == EM_CMD_VERSION)
				return EM_EXIT_OK;
			continue;
		}
		/* a cluster of short options: -cf, -i5, -i 5 */
		for (a++; *a; a++) {
			id = find_opt(NULL, 0, *a);
			shown[1] = *a;
			if (id == OPT__MAX)
				return fail(err, errlen, "unknown option '%s'", shown);
			if (!in_list(global_opts, id) && !in_list(allowed, id))
				return fail(err, errlen, "option '%s' (--%s) does not apply to %s", shown,
					    options[id].name, commands[c].name);
			val = NULL;
			if (options[id].value) {
				if (a[1])
					val = a + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return fail(err, errlen, "option '%s' needs a value", shown);
			}
			if ((rc = apply(o, id, val, &ps, err, errlen)))
				return rc;
			if (o->cmd == EM_CMD_HELP || o->cmd == EM_CMD_VERSION)
				return EM_EXIT_OK;
			if (val)
				break;
		}
	}
	if (o->nfiles != commands[c].nfiles)
		return fail(err, errlen, "%s", commands[c].files_msg);

	switch (o->cmd) {
	case EM_CMD_RUN:
		if (ps.isa_given && host_isa && o->isa != host_isa)
			return fail(err, errlen, "--isa %s does not match this CPU (%s): its reasons would never match",
				    em_isa_name(o->isa), em_isa_name(host_isa));
		if (o->filters.per_vcpu || o->nvm_globs)
			o->filters.per_vm = true; /* vCPU ids repeat across VMs; --vm selects VM rows */
		if (o->force && !o->save_path)
			return fail(err, errlen, "--force only goes with --save");
		return em_cli_resolve_reasons(o, o->isa, err, errlen);
	case EM_CMD_SERVE:
		if (ps.isa_given && host_isa && o->isa != host_isa)
			return fail(err, errlen, "--isa %s does not match this CPU (%s): its reasons would never match",
				    em_isa_name(o->isa), em_isa_name(host_isa));
		if (o->nvm_globs)
			o->filters.per_vm = true; /* --vm selects VM rows */
		return em_cli_resolve_reasons(o, o->isa, err, errlen);
	case EM_CMD_REASONS:
		if (!o->isa)
			return fail(err, errlen, "unknown CPU vendor; pass --isa vmx|svm");
		if (o->output == EM_OUT_JSON)
			return fail(err, errlen, "reasons has no JSON output");
		return EM_EXIT_OK;
	case EM_CMD_SHOW:
	case EM_CMD_DIFF:
		/* --isa, if given, overrides the snapshot's for name lookup */
		if (!ps.isa_given)
			o->isa = 0;
		return EM_EXIT_OK;
	default:
		return EM_EXIT_OK;
	}
}

/* ------------------------------------------------------------------ */
/* show and diff on loaded snapshots                                   */

int em_cli_show(struct em_opts *o, struct em_snapshot *s, FILE *out, char *err, size_t errlen)
{
	struct em_view_ctx ctx = { .type = "snapshot" };
	size_t i, n = 0;

	if (em_cli_resolve_reasons(o, o->isa ? o->isa : s->meta.isa, err, errlen))
		return EM_EXIT_USAGE;
	for (i = 0; i < s->nrows; i++)
		if (em_row_matches(&s->rows[i], o->filters.reasons, o->filters.nreasons))
			s->rows[n++] = s->rows[i];
	s->nrows = n;
	ctx.period_s = ctx.elapsed_s = s->meta.duration_ns / 1e9;
	ctx.isa = s->meta.isa;
	if (o->output == EM_OUT_JSON) {
		if (em_render_json(out, s, &ctx))
			return em_errf(err, errlen, EM_EXIT_FAIL, "cannot print the snapshot");
	} else {
		em_render_table(out, s, &ctx);
	}
	return EM_EXIT_OK;
}

int em_cli_diff(struct em_opts *o, const struct em_snapshot *a, const struct em_snapshot *b,
		FILE *out, char *err, size_t errlen)
{
	struct em_diff_opts d = { 0 };

	if (em_cli_resolve_reasons(o, o->isa ? o->isa : a->meta.isa, err, errlen))
		return EM_EXIT_USAGE;
	d.sort = o->sort;
	d.reasons = o->filters.reasons;
	d.nreasons = o->filters.nreasons;
	d.json = o->output == EM_OUT_JSON;
	if (em_diff_print(out, a, o->files[0], b, o->files[1], &d))
		return em_errf(err, errlen, EM_EXIT_FAIL, "cannot print the comparison");
	return EM_EXIT_OK;
}

_Static_assert((int)EM_COLL_ATTACH_AUTO == (int)EM_ATTACH_AUTO &&
	       (int)EM_COLL_ATTACH_TP == (int)EM_ATTACH_TP &&
	       (int)EM_COLL_ATTACH_RAW_TP == (int)EM_ATTACH_RAW_TP, "--attach maps onto em_collector_attach");

struct em_collector_cfg em_cli_collector_cfg(const struct em_opts *o)
{
	return (struct em_collector_cfg){
		.attach = (enum em_collector_attach)o->attach,
		.isa = o->isa,
		.filters = o->filters,
		.max_keys = o->max_keys,
		.verbose = o->verbose,
		.vm_globs = o->vm_globs,
		.nvm_globs = o->nvm_globs,
	};
}
