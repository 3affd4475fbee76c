// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exitmon-query: run inside a KVM guest, read the host's VM-exit statistics
 * through the CPUID leaves of kernel-patch/ (the CMPE283 interface):
 *   0x4ffffffc  EAX = exits, all reasons
 *   0x4ffffffd  EBX:ECX = TSC cycles handling them (exit -> next entry)
 *   0x4ffffffe  EAX = exits for the reason in ECX
 *   0x4fffffff  EBX:ECX = cycles for the reason in ECX
 *   undefined reason: EAX=EBX=ECX=0, EDX=0xffffffff
 *
 * Stock KVM (or the interface turned off, or another hypervisor) answers
 * those leaves like any unknown leaf.  The interface is taken as present
 * only if (1) an undefined reason (0xffff, undefined on VMX and SVM) gives
 * exactly 0/0/0/0xffffffff and (2) two back-to-back 0x4ffffffc reads grow
 * (the first read is itself an exit).  The exit reasons are SVM's if
 * reason 0x400 (NPF) is defined, VMX's otherwise.
 *
 * Every query is a CPUID exit: the counts include this tool's own queries.
 * Exit status: 0 ok, 1 interface absent, 2 usage error.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "../bpf/exitmon.h"
#include "../user/reasons.h"

#define LEAF_TOTAL 0x4ffffffcu
#define LEAF_TOTAL_TIME 0x4ffffffdu
#define LEAF_REASON 0x4ffffffeu
#define LEAF_REASON_TIME 0x4fffffffu
#define PROBE_UNDEFINED 0xffffu
#define MAX_REASONS 64

struct regs {
	uint32_t a, b, c, d;
};

#ifndef EXITMON_QUERY_FAKE
static struct regs cpuid(uint32_t leaf, uint32_t sub)
{
	struct regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d)
			 : "a"(leaf), "c"(sub));
	return r;
}
#else
/*
 * Test build: a model of the host selected by $EXITMON_FAKE:
 *   svm, vmx     patched KVM, interface on (every call is a CPUID exit)
 *   absent       the leaves return zeroes (stock KVM, AMD guest vendor)
 *   stock-intel  stock KVM with an Intel guest vendor: unknown leaves
 *                answer as the last basic leaf (here 0xd, subleaf = ECX)
 *   static       the leaves always answer 0/0/0/0xffffffff (passes the
 *                undefined-reason probe, fails the growth probe)
 */
static struct regs cpuid(uint32_t leaf, uint32_t sub)
{
	static uint64_t total = 5000, cpuid_exits = 3000, io_exits = 2000;
	const char *m = getenv("EXITMON_FAKE");
	bool svm = m && !strcmp(m, "svm"), vmx = m && !strcmp(m, "vmx");
	struct regs r = { 0, 0, 0, 0 };
	uint32_t cpuid_code = svm ? 0x72 : 10, io_code = svm ? 0x7b : 30;

	if (svm || vmx) {
		total++;
		cpuid_exits++;
	}
	if (leaf == 1) {
		r.c = 1u << 31;
		return r;
	}
	if (leaf == 0x40000000) {
		memcpy(&r.b, "KVMK", 4);
		memcpy(&r.c, "VMKV", 4);
		memcpy(&r.d, "M\0\0\0", 4);
		return r;
	}
	if (leaf < LEAF_TOTAL || !m)
		return r;
	if (!strcmp(m, "stock-intel")) {
		r.a = 0x240 + (sub & 7);
		r.b = 0x340;
		r.c = sub ? 0 : 0xa88;
		return r;
	}
	if (!strcmp(m, "static")) {
		r.d = 0xffffffff;
		return r;
	}
	if (!svm && !vmx)
		return r;
	if (leaf == LEAF_TOTAL) {
		r.a = (uint32_t)total;
	} else if (leaf == LEAF_TOTAL_TIME) {
		r.b = (uint32_t)((total * 3000) >> 32);
		r.c = (uint32_t)(total * 3000);
	} else {
		bool defined = svm ? (sub <= 0xa6 || (sub >= 0x400 && sub <= 0x403) || sub >= 0xfffffffc)
				   : (sub <= 85 && sub != 35 && sub != 38 && sub != 42 && sub != 71 && sub != 82 && sub != 83);
		uint64_t n = sub == cpuid_code ? cpuid_exits : sub == io_code ? io_exits : 0;

		if (!defined) {
			r.d = 0xffffffff;
		} else if (leaf == LEAF_REASON) {
			r.a = (uint32_t)n;
		} else {
			/* 2^32 + 7 cycles per IO exit: exercises the high word */
			uint64_t c = sub == io_code ? n * ((1ull << 32) + 7) : n * 2500;

			r.b = (uint32_t)(c >> 32);
			r.c = (uint32_t)c;
		}
	}
	return r;
}
#endif

static uint64_t cycles_of(struct regs r)
{
	return ((uint64_t)r.b << 32) | r.c;
}

static void usage(FILE *f)
{
	fputs("Usage: exitmon-query [--reason N|NAME]... [-o table|json] [--isa vmx|svm]\n"
	      "Reads the host's VM-exit statistics from inside a KVM guest through\n"
	      "CPUID 0x4ffffffc-0x4fffffff (needs a host with exitmon's KVM patch and\n"
	      "kvm.exit_stats=1).  Without --reason: every reason with exits.\n"
	      "  -r, --reason R   exit reason: number (10, 0x7b) or name (CPUID, npf);\n"
	      "                   repeatable\n"
	      "  -o, --output F   table (default) or json\n"
	      "      --isa ISA    name reasons as vmx or svm (default: detected)\n"
	      "  -h, --help       this help\n"
	      "The counts include this tool's own CPUID queries.  Exit status: 0 ok,\n"
	      "1 interface absent, 2 usage error.\n", f);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "isa", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason_args[MAX_REASONS];
	int nreason_args = 0, c;
	bool json = false;
	uint32_t isa = 0;
	char hv[13] = "";
	struct regs r;

	while ((c = getopt_long(argc, argv, "r:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			char *s = optarg, *tok;

			/* comma-separated lists too, like exitmon --reason */
			while ((tok = strsep(&s, ",")) != NULL) {
				if (!*tok)
					continue;
				if (nreason_args == MAX_REASONS) {
					fprintf(stderr, "exitmon-query: at most %d reasons\n", MAX_REASONS);
					return 2;
				}
				reason_args[nreason_args++] = tok;
			}
			break;
		}
		case 'o':
			if (!strcmp(optarg, "json"))
				json = true;
			else if (strcmp(optarg, "table")) {
				fprintf(stderr, "exitmon-query: unknown output '%s' (table or json)\n", optarg);
				return 2;
			}
			break;
		case 'I':
			isa = em_isa_from_name(optarg);
			if (!isa) {
				fprintf(stderr, "exitmon-query: unknown isa '%s' (vmx or svm)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "exitmon-query: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/* Who is the hypervisor (informational). */
	r = cpuid(1, 0);
	if (r.c & (1u << 31)) {
		r = cpuid(0x40000000, 0);
		memcpy(hv, &r.b, 4);
		memcpy(hv + 4, &r.c, 4);
		memcpy(hv + 8, &r.d, 4);
		hv[12] = 0;
	}

	/* Probe the interface. */
	struct regs u = cpuid(LEAF_REASON, PROBE_UNDEFINED);
	struct regs t1 = cpuid(LEAF_TOTAL, 0);
	struct regs t2 = cpuid(LEAF_TOTAL, 0);
	uint32_t grew = t2.a - t1.a;
	bool present = u.a == 0 && u.b == 0 && u.c == 0 && u.d == 0xffffffff &&
		       grew >= 1 && grew < 0x80000000u;

	if (!present) {
		const char *why = !(u.a == 0 && u.b == 0 && u.c == 0 && u.d == 0xffffffff)
			? "an undefined exit reason did not answer EDX=0xffffffff"
			: "the total exit count did not grow between two reads";

		if (json) {
			printf("{\"interface\":false,\"hypervisor\":");
			json_str(hv);
			printf(",\"why\":");
			json_str(why);
			printf("}\n");
		} else {
			printf("exit-statistics interface absent: CPUID 0x4ffffffc-0x4fffffff answer as\n"
			       "ordinary leaves (%s).\n"
			       "Hypervisor: %s.  It needs a KVM host with exitmon's kernel patch and\n"
			       "kvm.exit_stats=1 (see kernel-patch/README.md).\n",
			       why, *hv ? hv : "none detected");
		}
		return 1;
	}

	struct regs npf = cpuid(LEAF_REASON, 0x400);
	uint32_t detected = npf.d == 0xffffffff ? EM_ISA_VMX : EM_ISA_SVM;

	if (!isa)
		isa = detected;

	/* The reasons to report. */
	uint32_t codes[MAX_REASONS + 512];
	size_t ncodes = 0;
	bool explicit_reasons = nreason_args > 0;

	for (int i = 0; i < nreason_args; i++) {
		char err[256];
		uint32_t code;

		if (em_reason_parse(isa, reason_args[i], &code, err, sizeof(err))) {
			/* A raw number outside the name table is still a valid query. */
			char *end;
			unsigned long v = strtoul(reason_args[i], &end, 0);

			if (!isdigit((unsigned char)reason_args[i][0]) || *end || v > 0xffffffffUL) {
				fprintf(stderr, "exitmon-query: %s\n", err);
				return 2;
			}
			code = (uint32_t)v;
		}
		codes[ncodes++] = code;
	}
	if (!explicit_reasons) {
		size_t n;
		const struct em_reason *t = em_reasons(isa, &n);

		for (size_t i = 0; i < n && ncodes < sizeof(codes) / sizeof(codes[0]); i++)
			codes[ncodes++] = t[i].code;
	}

	struct regs tot = cpuid(LEAF_TOTAL, 0);
	struct regs tott = cpuid(LEAF_TOTAL_TIME, 0);

	if (json) {
		printf("{\"interface\":true,\"hypervisor\":");
		json_str(hv);
		printf(",\"isa\":\"%s\",\"detected_isa\":\"%s\",\"total\":{\"exits\":%" PRIu32
		       ",\"cycles\":%" PRIu64 "},\"reasons\":[",
		       em_isa_name(isa), em_isa_name(detected), tot.a, cycles_of(tott));
	} else {
		printf("VM-exit statistics from the host (%s exit reasons%s; hypervisor %s)\n",
		       em_isa_name(isa), isa == detected ? "" : ", forced", hv);
		printf("total: %" PRIu32 " exits, %" PRIu64 " cycles\n", tot.a, cycles_of(tott));
		printf("%-24s %10s %12s %18s %12s\n", "REASON", "CODE", "EXITS", "CYCLES", "CYCLES/EXIT");
	}
	int shown = 0;

	for (size_t i = 0; i < ncodes; i++) {
		struct regs n = cpuid(LEAF_REASON, codes[i]);
		struct regs t = cpuid(LEAF_REASON_TIME, codes[i]);
		bool defined = n.d != 0xffffffff;
		uint64_t cyc = cycles_of(t);
		char name[64];

		if (!explicit_reasons && n.a == 0)
			continue;
		em_reason_name(isa, codes[i], name, sizeof(name));
		if (json) {
			printf("%s{\"code\":%" PRIu32 ",\"name\":", shown ? "," : "", codes[i]);
			json_str(name);
			printf(",\"defined\":%s,\"exits\":%" PRIu32 ",\"cycles\":%" PRIu64 "}",
			       defined ? "true" : "false", n.a, cyc);
		} else if (!defined) {
			printf("%-24s %#10" PRIx32 " %12s %18s %12s\n", name, codes[i],
			       "undefined", "-", "-");
		} else {
			printf("%-24s %#10" PRIx32 " %12" PRIu32 " %18" PRIu64, name, codes[i], n.a, cyc);
			if (n.a)
				printf(" %12" PRIu64 "\n", cyc / n.a);
			else
				printf(" %12s\n", "-");
		}
		shown++;
	}
	if (json)
		printf("]}\n");
	else
		printf("(counts include this tool's own %zu CPUID queries)\n",
		       (size_t)(7 + 2 * ncodes + (hv[0] ? 1 : 0)));
	return 0;
}
