// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Writes the seed corpus of fuzz_snapshot with the real save code:
 *   gen_seeds DIR   (make -f tests/fuzz/fuzz.mk fuzz-seeds)
 * Small, real-shaped runs: a VMX host, an SVM host with per-VM/per-vCPU
 * rows and filters, one with VM/vCPU names, an empty run, and one with the
 * overflow row and extreme values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "user/snapshot.h"

static struct em_row *row(struct em_snapshot *s, uint32_t isa, uint32_t reason, uint32_t tgid, uint32_t vcpu,
			  uint64_t count)
{
	struct em_row *r = em_snapshot_row(s, isa, reason, tgid, vcpu);

	if (!r)
		abort();
	r->st.count = count;
	return r;
}

static void host(struct em_snapshot *s, uint32_t isa)
{
	em_snapshot_init(s);
	strcpy(s->meta.exitmon_version, "0.1.0");
	strcpy(s->meta.hostname, isa == EM_ISA_VMX ? "kvm-intel-1" : "kvm-amd-1");
	strcpy(s->meta.kernel, "6.1.0-18-amd64");
	strcpy(s->meta.cpu_vendor, isa == EM_ISA_VMX ? "GenuineIntel" : "AuthenticAMD");
	strcpy(s->meta.cpu_model, isa == EM_ISA_VMX ? "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
						    : "AMD EPYC 7763 64-Core Processor");
	s->meta.isa = isa;
	s->meta.start_ns = 1735787045123456789LL;
	s->meta.duration_ns = 10000000000ULL;
	s->meta.nparams = 2;
	strcpy(s->meta.params[0].name, isa == EM_ISA_VMX ? "ept" : "npt");
	strcpy(s->meta.params[0].value, isa == EM_ISA_VMX ? "Y" : "1");
	strcpy(s->meta.params[1].name, "halt_poll_ns");
	strcpy(s->meta.params[1].value, "200000");
}

static void save(const char *dir, const char *name, struct em_snapshot *s)
{
	char path[4096], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (em_snapshot_save(path, s, true, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", path, err);
		exit(1);
	}
	em_snapshot_free(s);
}

int main(int argc, char **argv)
{
	struct em_snapshot s;
	struct em_row *r;
	unsigned i;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}

	host(&s, EM_ISA_VMX);
	s.counters[EM_CNT_EXITS] = 184467;
	s.counters[EM_CNT_ENTRIES] = 184460;
	s.counters[EM_CNT_UNPAIRED_ENTRY] = 4;
	r = row(&s, EM_ISA_VMX, 30, EM_ANY_PID, EM_ANY_VCPU, 120000); /* IO_INSTRUCTION */
	em_stats_add_latency(&r->st, 2100, 110000);
	em_stats_add_latency(&r->st, 9000, 9990);
	r = row(&s, EM_ISA_VMX, 48, EM_ANY_PID, EM_ANY_VCPU, 50000); /* EPT_VIOLATION */
	em_stats_add_latency(&r->st, 3500, 50000);
	r = row(&s, EM_ISA_VMX, 12, EM_ANY_PID, EM_ANY_VCPU, 14467); /* HLT */
	em_stats_add_latency(&r->st, 900000, 14460);
	row(&s, EM_ISA_VMX, 1, EM_ANY_PID, EM_ANY_VCPU, 0);
	save(argv[1], "vmx-small.json", &s);

	host(&s, EM_ISA_SVM);
	s.meta.filters.nreasons = 3;
	s.meta.filters.reasons[0] = 0x7b;
	s.meta.filters.reasons[1] = 0x400;
	s.meta.filters.reasons[2] = 0x78;
	s.meta.filters.pid = 4242;
	s.meta.filters.per_vm = true;
	s.meta.filters.per_vcpu = true;
	s.counters[EM_CNT_FILTERED] = 77;
	s.counters[EM_CNT_BREAKDOWN_OVERFLOW] = 3;
	for (i = 0; i < 2; i++) {
		uint32_t code = i ? EM_SVM_EXIT_NPF : 0x7b;

		r = row(&s, EM_ISA_SVM, code, EM_ANY_PID, EM_ANY_VCPU, 1000 + i);
		em_stats_add_latency(&r->st, 1500 + 1000 * i, 1000 + i);
		r = row(&s, EM_ISA_SVM, code, 4242, EM_ANY_VCPU, 1000 + i);
		em_stats_add_latency(&r->st, 1500 + 1000 * i, 1000 + i);
		r = row(&s, EM_ISA_SVM, code, 4242, 0, 600);
		em_stats_add_latency(&r->st, 1500 + 1000 * i, 600);
		r = row(&s, EM_ISA_SVM, code, 4242, 1, 400 + i);
		em_stats_add_latency(&r->st, 1500 + 1000 * i, 400 + i);
	}
	save(argv[1], "svm-breakdown.json", &s);

	/* names of the breakdown rows ("vms", user/labels.c) */
	host(&s, EM_ISA_SVM);
	s.meta.filters.per_vm = s.meta.filters.per_vcpu = true;
	row(&s, EM_ISA_SVM, 0x72, EM_ANY_PID, EM_ANY_VCPU, 30);
	row(&s, EM_ISA_SVM, 0x72, 4242, 0, 10);
	row(&s, EM_ISA_SVM, 0x72, 4242, 2, 20);
	{
		static struct em_label names[] = {
			/* sorted by (tgid, vcpu), as em_labels keeps them */
			{ .tgid = 4242, .vcpu = 0, .src = EM_VCPU_THREAD, .index = 0, .tid = 4250 },
			{ .tgid = 4242, .vcpu = 2, .src = EM_VCPU_THREAD, .index = 1, .tid = 4251 },
			{ .tgid = 4242, .vcpu = EM_ANY_VCPU, .name = "web,01 \xc3\xa9", .src = EM_NAME_QEMU, .index = -1 },
			{ .tgid = 4300, .vcpu = EM_ANY_VCPU, .src = EM_NAME_NONE, .index = -1 },
		};

		if (em_labels_copy(&s.labels, &(struct em_labels){ .n = 4, .v = names }))
			abort();
	}
	save(argv[1], "svm-names.json", &s);

	host(&s, EM_ISA_VMX);
	s.meta.nparams = 0;
	s.meta.duration_ns = 0;
	save(argv[1], "empty.json", &s);

	host(&s, EM_ISA_VMX);
	s.meta.start_ns = -1;
	s.counters[EM_CNT_OTHER_OVERFLOW] = 9;
	row(&s, 0, 0, EM_ANY_PID, EM_ANY_VCPU, 9);
	row(&s, EM_ISA_VMX, 0x80000021u, EM_ANY_PID, EM_ANY_VCPU, 1);
	r = row(&s, EM_ISA_VMX, 10, EM_ANY_PID, EM_ANY_VCPU, INT64_MAX); /* CPUID */
	r->st.lat_count = INT64_MAX;
	r->st.hist[EM_HIST_BUCKETS - 1] = INT64_MAX;
	r->st.lat_sum = INT64_MAX;
	r->st.lat_min = 1ULL << 40;
	r->st.lat_max = INT64_MAX;
	r = row(&s, EM_ISA_VMX, 0, EM_ANY_PID, EM_ANY_VCPU, 3);
	em_stats_add_latency(&r->st, 0, 1);
	em_stats_add_latency(&r->st, 7, 1);
	em_stats_add_latency(&r->st, 8, 1);
	save(argv[1], "extremes.json", &s);
	return 0;
}
