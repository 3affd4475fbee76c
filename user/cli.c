// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Command-line parsing for exitmon (getopt_long), kept free of libbpf. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "reasons.h"

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
"  -i, --interval SEC     refresh every SEC seconds (default 1)\n"
"  -d, --duration SEC     stop after SEC seconds and print the final table\n"
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
"  -f, --force            overwrite FILE\n"
"      --attach MODE      auto (default), raw_tp or tp\n"
"      --ready-file PATH  create PATH once tracing has started\n"
"Common options:\n"
"  -o, --output FMT       table (default) or json (one JSON object per line)\n"
"      --isa ISA          vmx or svm reason names (default: this CPU's)\n"
"      --sort KEY         diff order: delta (default), count, name, reason, ratio\n"
"  -v, --verbose          print libbpf messages\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"Latency marked * (HLT, MWAIT, ...) is mostly the vCPU idling; it is shown\n"
"but left out of the total's latency.\n"
"\n"
"Exit status: 0 success, 1 runtime failure (privilege, BTF, kvm missing,\n"
"bad snapshot), 2 usage error.\n", f);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EM_EXIT_USAGE;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > UINT32_MAX)
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

		if (em_reason_parse(isa, o->reason_args[i], &code, err, errlen))
			return EM_EXIT_USAGE;
		for (j = 0; j < o->filters.nreasons; j++)
			dup |= o->filters.reasons[j] == code;
		if (!dup)
			o->filters.reasons[o->filters.nreasons++] = code;
	}
	return EM_EXIT_OK;
}

static int add_reasons(struct em_opts *o, char *arg, char *err, size_t errlen)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!*tok)
			continue;
		if (o->nreason_args >= EM_MAX_FILTER_REASONS)
			return fail(err, errlen, "too many --reason values (at most %d)",
				    EM_MAX_FILTER_REASONS);
		o->reason_args[o->nreason_args++] = tok;
	}
	return EM_EXIT_OK;
}

enum { OPT_VCPU = 256, OPT_PER_VM, OPT_PER_VCPU, OPT_ISA, OPT_ATTACH, OPT_MAX_KEYS,
       OPT_READY, OPT_SORT, OPT_VM };

static const struct option long_opts[] = {
	{ "interval", required_argument, NULL, 'i' },
	{ "duration", required_argument, NULL, 'd' },
	{ "reason", required_argument, NULL, 'r' },
	{ "pid", required_argument, NULL, 'p' },
	{ "vcpu", required_argument, NULL, OPT_VCPU },
	{ "vm", required_argument, NULL, OPT_VM },
	{ "per-vm", no_argument, NULL, OPT_PER_VM },
	{ "per-vcpu", no_argument, NULL, OPT_PER_VCPU },
	{ "max-keys", required_argument, NULL, OPT_MAX_KEYS },
	{ "cumulative", no_argument, NULL, 'c' },
	{ "save", required_argument, NULL, 's' },
	{ "force", no_argument, NULL, 'f' },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "output", required_argument, NULL, 'o' },
	{ "isa", required_argument, NULL, OPT_ISA },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const struct {
	const char *name;
	enum em_cmd cmd;
} commands[] = {
	{ "run", EM_CMD_RUN }, { "show", EM_CMD_SHOW }, { "diff", EM_CMD_DIFF },
	{ "reasons", EM_CMD_REASONS }, { "help", EM_CMD_HELP },
};

int em_cli_parse(int argc, char **argv, uint32_t host_isa, struct em_opts *o, char *err,
		 size_t errlen)
{
	bool isa_given = false;
	unsigned i;
	int c, first = 1;
	uint32_t v;

	memset(o, 0, sizeof(*o));
	o->cmd = EM_CMD_RUN;
	o->interval_s = 1.0;
	o->filters.vcpu = -1;
	o->max_keys = 1024;
	o->isa = host_isa;
	err[0] = '\0';

	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				break;
		if (i == sizeof(commands) / sizeof(commands[0]))
			return fail(err, errlen, "unknown command '%s' (try run, show, diff, reasons)",
				    argv[1]);
		o->cmd = commands[i].cmd;
		first = 2;
	}

	/* getopt_long on the arguments after the command word */
	optind = 0; /* glibc: 0 also resets getopt's internal state for repeated calls */
	opterr = 0;
	argv += first - 1;
	argc -= first - 1;
	while ((c = getopt_long(argc, argv, ":i:d:r:p:cs:fo:vhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_seconds(optarg, &o->interval_s))
				return fail(err, errlen, "invalid interval '%s' (seconds > 0)", optarg);
			o->interval_set = true;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration_s))
				return fail(err, errlen, "invalid duration '%s' (seconds > 0)", optarg);
			break;
		case 'r':
			if (add_reasons(o, optarg, err, errlen))
				return EM_EXIT_USAGE;
			break;
		case 'p':
			if (parse_u32(optarg, &v) || !v || v > 4194304)
				return fail(err, errlen, "invalid pid '%s'", optarg);
			o->filters.pid = v;
			break;
		case OPT_VCPU:
			if (parse_u32(optarg, &v) || v >= EM_ANY_VCPU)
				return fail(err, errlen, "invalid vCPU id '%s'", optarg);
			o->filters.vcpu = v;
			break;
		case OPT_VM:
			if (!*optarg || strlen(optarg) > 255)
				return fail(err, errlen, "invalid --vm '%.40s' (a VM name or glob, 1..255 bytes)",
					    optarg);
			if (o->nvm_globs >= sizeof(o->vm_globs) / sizeof(o->vm_globs[0]))
				return fail(err, errlen, "too many --vm (at most %zu)",
					    sizeof(o->vm_globs) / sizeof(o->vm_globs[0]));
			o->vm_globs[o->nvm_globs++] = optarg;
			break;
		case OPT_PER_VM:
			o->filters.per_vm = true;
			break;
		case OPT_PER_VCPU:
			o->filters.per_vcpu = true;
			break;
		case OPT_MAX_KEYS:
			if (parse_u32(optarg, &v) || !v || v > 65536)
				return fail(err, errlen, "invalid --max-keys '%s' (1..65536)", optarg);
			o->max_keys = v;
			break;
		case 'c':
			o->cumulative = true;
			break;
		case 's':
			o->save_path = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case OPT_ATTACH:
			if (!strcmp(optarg, "auto"))
				o->attach = EM_ATTACH_AUTO;
			else if (!strcmp(optarg, "raw_tp"))
				o->attach = EM_ATTACH_RAW_TP;
			else if (!strcmp(optarg, "tp"))
				o->attach = EM_ATTACH_TP;
			else
				return fail(err, errlen, "invalid --attach '%s' (auto, raw_tp or tp)", optarg);
			break;
		case OPT_READY:
			o->ready_file = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "table"))
				o->output = EM_OUT_TABLE;
			else if (!strcmp(optarg, "json"))
				o->output = EM_OUT_JSON;
			else
				return fail(err, errlen, "invalid output '%s' (table or json)", optarg);
			break;
		case OPT_ISA:
			o->isa = em_isa_from_name(optarg);
			if (!o->isa)
				return fail(err, errlen, "invalid --isa '%s' (vmx or svm)", optarg);
			isa_given = true;
			break;
		case OPT_SORT:
			o->sort = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->cmd = EM_CMD_HELP;
			return EM_EXIT_OK;
		case 'V':
			o->cmd = EM_CMD_VERSION;
			return EM_EXIT_OK;
		case ':':
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}

	for (; optind < argc; optind++) {
		if (o->nfiles >= 2 || (o->cmd != EM_CMD_SHOW && o->cmd != EM_CMD_DIFF))
			return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
		o->files[o->nfiles++] = argv[optind];
	}
	if (o->cmd == EM_CMD_SHOW && o->nfiles != 1)
		return fail(err, errlen, "show needs one snapshot file");
	if (o->cmd == EM_CMD_DIFF && o->nfiles != 2)
		return fail(err, errlen, "diff needs two snapshot files");
	if (o->cmd == EM_CMD_RUN) {
		if (o->filters.per_vcpu || o->nvm_globs)
			o->filters.per_vm = true; /* vCPU ids repeat across VMs; --vm selects VM rows */
		if (o->force && !o->save_path)
			return fail(err, errlen, "--force only goes with --save");
		return em_cli_resolve_reasons(o, o->isa, err, errlen);
	}
	if (o->nvm_globs)
		return fail(err, errlen, "--vm only goes with run");
	if (o->cmd == EM_CMD_REASONS && !o->isa && !isa_given)
		return fail(err, errlen, "unknown CPU vendor; pass --isa vmx|svm");
	/* show/diff: --isa, if given, overrides the snapshot's for name lookup */
	if (!isa_given)
		o->isa = 0;
	return EM_EXIT_OK;
}
