// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Argument parsing (user/cli.c): commands, options, reason resolution, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "cli.h"
#include "diff.h"

static char err[512];

/* Parses a NULL-terminated list of words after "exitmon". */
static int parse(struct em_opts *o, uint32_t isa, ...)
{
	static char words[32][64];
	char *argv[33];
	va_list ap;
	int argc = 0;
	const char *w;

	argv[argc] = strcpy(words[argc], "exitmon");
	argc++;
	va_start(ap, isa);
	while ((w = va_arg(ap, const char *)))
		argv[argc] = strcpy(words[argc], w), argc++;
	va_end(ap);
	argv[argc] = NULL;
	return em_cli_parse(argc, argv, isa, o, err, sizeof(err));
}

static void test_defaults(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_RUN);
	assert_true(o.interval_s == 1.0);
	assert_true(o.duration_s == 0);
	assert_int_equal(o.output, EM_OUT_TABLE);
	assert_int_equal(o.filters.vcpu, -1);
	assert_int_equal(o.filters.pid, 0);
	assert_int_equal(o.filters.nreasons, 0);
	assert_int_equal(o.isa, EM_ISA_SVM);
}

static void test_run_options(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_VMX, "run", "-i", "0.5", "-d", "10", "-p", "1234",
			       "--vcpu", "3", "--per-vcpu", "-o", "json", "-s", "x.json", "-f",
			       "--attach", "tp", "-c", "-v", NULL), EM_EXIT_OK);
	assert_true(o.interval_s == 0.5 && o.interval_set);
	assert_true(o.duration_s == 10);
	assert_int_equal(o.filters.pid, 1234);
	assert_int_equal(o.filters.vcpu, 3);
	assert_true(o.filters.per_vcpu && o.filters.per_vm);
	assert_int_equal(o.output, EM_OUT_JSON);
	assert_string_equal(o.save_path, "x.json");
	assert_true(o.force && o.cumulative);
	assert_int_equal(o.attach, EM_ATTACH_TP);
	assert_int_equal(o.verbose, 1);
}

static void test_reasons_numbers_and_names(void **state)
{
	struct em_opts o;

	(void)state;
	/* the seed's reasons on Intel: 14 INVLPG, 33 INVALID_STATE, 58 INVPCID */
	assert_int_equal(parse(&o, EM_ISA_VMX, "--reason", "14", "--reason", "invalid_state",
			       "-r", "0x3a", "-r", "14", NULL), EM_EXIT_OK);
	assert_int_equal(o.filters.nreasons, 3); /* duplicate 14 folded */
	assert_int_equal(o.filters.reasons[0], 14);
	assert_int_equal(o.filters.reasons[1], 33);
	assert_int_equal(o.filters.reasons[2], 58);
	/* comma lists; SVM names resolved against --isa (host unknown) */
	assert_int_equal(parse(&o, 0, "--isa", "svm", "--reason", "npf,INVLPG,0x7b", NULL),
			 EM_EXIT_OK);
	assert_int_equal(o.filters.nreasons, 3);
	assert_int_equal(o.filters.reasons[0], 0x400);
	assert_int_equal(o.filters.reasons[1], 0x79);
	assert_int_equal(o.filters.reasons[2], 0x7b);
}

static void test_usage_errors(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "--reason", "invlgp", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "INVLPG"));
	assert_int_equal(parse(&o, 0, "--reason", "hlt", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "--isa"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", "0", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", "-1", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-d", "1x", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "0", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "12ab", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--vcpu", "-1", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-o", "xml", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--attach", "kprobe", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--bogus", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-Z", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "--force", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "run", "extra", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "nope", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "unknown command"));
	/* every message is one line */
	assert_null(strchr(err, '\n'));
}

static void test_show_diff_reasons(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_VMX, "show", "a.json", "-o", "json", "--reason", "npf", NULL),
			 EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_SHOW);
	assert_int_equal(o.nfiles, 1);
	assert_string_equal(o.files[0], "a.json");
	/* resolved later against the snapshot's isa, not the host's */
	assert_int_equal(o.nreason_args, 1);
	assert_int_equal(o.isa, 0);
	assert_int_equal(em_cli_resolve_reasons(&o, EM_ISA_SVM, err, sizeof(err)), EM_EXIT_OK);
	assert_int_equal(o.filters.reasons[0], 0x400);

	assert_int_equal(parse(&o, EM_ISA_VMX, "diff", "a", "b", "--sort", "name", NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_DIFF);
	assert_int_equal(o.nfiles, 2);
	assert_int_equal(o.sort, EM_DIFF_SORT_NAME);
	assert_int_equal(parse(&o, EM_ISA_VMX, "diff", "a", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_VMX, "diff", "a", "b", "c", NULL), EM_EXIT_USAGE);

	assert_int_equal(parse(&o, 0, "reasons", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, 0, "reasons", "--isa", "amd", NULL), EM_EXIT_OK);
	assert_int_equal(o.isa, EM_ISA_SVM);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-h", NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_HELP);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--version", NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_VERSION);
}

/* Numbers are decimal with a digit first (issue 13). */
static void test_decimal_only(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "--vcpu", "010", NULL), EM_EXIT_OK);
	assert_int_equal(o.filters.vcpu, 10);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", " -18446744073709551615", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", " 5", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "+5", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "0x10", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--max-keys", "0x10", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "4194305", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-p", "4194304", NULL), EM_EXIT_OK);
}

static void test_interval_limits(void **state)
{
	static const char *const bad[] = { "1e-300", "0.049", "86401", "inf", "nan", "0x1p3",
					   " 1", "-1", "1e", "", "1,5" };
	struct em_opts o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, EM_ISA_SVM, "-i", bad[i], NULL), EM_EXIT_USAGE);
		assert_non_null(strstr(err, "invalid interval"));
	}
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", ".5", NULL), EM_EXIT_OK);
	assert_true(o.interval_s == 0.5);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", "0.05", NULL), EM_EXIT_OK);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i", "86400", NULL), EM_EXIT_OK);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-d", "3600", NULL), EM_EXIT_OK);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-d", "1e9", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-d", "0.01", NULL), EM_EXIT_USAGE);
}

static void test_empty_reason_lists(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "-r", "", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-r", ",", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-r", "npf,", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "f", "--reason=", NULL), EM_EXIT_USAGE);
}

/* The option named in a message is the one the user typed. */
static void test_long_option_values(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "--per-vm=1", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'--per-vm' takes no value"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-s", "x", "--force=1", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'--force' takes no value"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "--interval=2", "--reason=npf", NULL), EM_EXIT_OK);
	assert_true(o.interval_s == 2);
	assert_int_equal(o.filters.reasons[0], 0x400);
	assert_int_equal(parse(&o, EM_ISA_SVM, "--interv", "2", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "unknown option '--interv'"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-cfs", "x", NULL), EM_EXIT_OK);
	assert_true(o.cumulative && o.force);
	assert_string_equal(o.save_path, "x");
	assert_int_equal(parse(&o, EM_ISA_SVM, "-s", "-", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "stdout"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-s", "./-", NULL), EM_EXIT_OK);
	assert_int_equal(parse(&o, EM_ISA_SVM, "-i0.5", NULL), EM_EXIT_OK);
	assert_true(o.interval_s == 0.5);
}

/* Each command takes its own options; -o, --isa, -v go anywhere. */
static void test_per_command_options(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "F", "--per-vm", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'--per-vm' does not apply to show"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "F", "-d", "3", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'-d' (--duration) does not apply to show"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "F", "--attach", "tp", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "--attach"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "run", "--sort", "bogus", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'--sort' does not apply to run"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "diff", "a", "b", "--sort", "bogus", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "invalid --sort 'bogus'"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "reasons", "-r", "npf", NULL), EM_EXIT_USAGE);
	assert_int_equal(parse(&o, EM_ISA_SVM, "diff", "a", "b", "-s", "x", NULL), EM_EXIT_USAGE);
	/* run options before the command word belong to that command too */
	assert_int_equal(parse(&o, EM_ISA_SVM, "-d", "2", "show", "F", NULL), EM_EXIT_USAGE);
	/* global options before or after the command */
	assert_int_equal(parse(&o, EM_ISA_SVM, "-o", "json", "show", "F", NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_SHOW);
	assert_int_equal(o.output, EM_OUT_JSON);
	assert_string_equal(o.files[0], "F");
	assert_int_equal(parse(&o, EM_ISA_SVM, "--isa", "vmx", "-v", "diff", "a", "b", "-ojson", NULL),
			 EM_EXIT_OK);
	assert_int_equal(o.isa, EM_ISA_VMX);
	assert_int_equal(o.verbose, 1);
	assert_int_equal(o.output, EM_OUT_JSON);
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "--", "-odd.json", NULL), EM_EXIT_OK);
	assert_string_equal(o.files[0], "-odd.json");
	assert_int_equal(parse(&o, EM_ISA_SVM, "-v", "run", "-d", "1", NULL), EM_EXIT_OK);
	assert_int_equal(o.cmd, EM_CMD_RUN);
}

static void test_isa_checks(void **state)
{
	struct em_opts o;

	(void)state;
	/* reasons without --isa lists this CPU's */
	assert_int_equal(parse(&o, EM_ISA_SVM, "reasons", NULL), EM_EXIT_OK);
	assert_int_equal(o.isa, EM_ISA_SVM);
	/* a run filter of the other vendor could never match */
	assert_int_equal(parse(&o, EM_ISA_VMX, "run", "--isa", "svm", NULL), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "does not match this CPU"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "run", "--isa", "svm", NULL), EM_EXIT_OK);
	assert_int_equal(parse(&o, 0, "run", "--isa", "vmx", NULL), EM_EXIT_OK);
	/* show may name another vendor's reasons */
	assert_int_equal(parse(&o, EM_ISA_SVM, "show", "F", "--isa", "vmx", NULL), EM_EXIT_OK);
}

/* A control character in an argument never makes a second line. */
static void test_messages_sanitised(void **state)
{
	struct em_opts o;

	(void)state;
	assert_int_equal(parse(&o, EM_ISA_SVM, "no\nsuch\033[2J", NULL), EM_EXIT_USAGE);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\033'));
	assert_non_null(strstr(err, "no?such?[2J"));
	assert_int_equal(parse(&o, EM_ISA_SVM, "-r", "np\nf", NULL), EM_EXIT_USAGE);
	assert_null(strchr(err, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_run_options),
		cmocka_unit_test(test_reasons_numbers_and_names),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_show_diff_reasons),
		cmocka_unit_test(test_decimal_only),
		cmocka_unit_test(test_interval_limits),
		cmocka_unit_test(test_empty_reason_lists),
		cmocka_unit_test(test_long_option_values),
		cmocka_unit_test(test_per_command_options),
		cmocka_unit_test(test_isa_checks),
		cmocka_unit_test(test_messages_sanitised),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
