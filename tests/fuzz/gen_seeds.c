// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Writes the seed corpus of fuzz_snapshot with the real save code:
 *   gen_seeds DIR   (make -f tests/fuzz/fuzz.mk fuzz-seeds)
 * Small, real-shaped runs: a VMX host, an SVM host with per-VM/per-vCPU
 * rows and filters, one with VM/vCPU names, an empty run, one with the
 * overflow row and extreme values, one interval with approximate bounds;
 * and, rewritten from the
 * first, a version 1 file and one recorded with a finer histogram layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <jansson.h>
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

/* n samples of v ns in r (the collector's em_stats_add_latency, on a row) */
static void lat(struct em_snapshot *s, struct em_row *r, uint64_t v, uint64_t n)
{
	if (em_rstats_add_latency(&s->hist, &r->st, v, n))
		abort();
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

/* The saved document of s, edited by fn, written as name (s is freed). */
static void save_edited(const char *dir, const char *name, struct em_snapshot *s, void (*fn)(json_t *))
{
	char path[4096], err[256];
	json_t *j = em_snapshot_to_json(s, err, sizeof(err));

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!j) {
		fprintf(stderr, "%s: %s\n", path, err);
		exit(1);
	}
	fn(j);
	if (json_dump_file(j, path, JSON_INDENT(2))) {
		fprintf(stderr, "%s: cannot write\n", path);
		exit(1);
	}
	json_decref(j);
	em_snapshot_free(s);
}

/* A version 1 file: no attach, view, hist_layout. */
static void to_v1(json_t *j)
{
	json_object_set_new(j, "version", json_integer(1));
	json_object_del(j, "attach");
	json_object_del(j, "view");
	json_object_del(j, "hist_layout");
}

/* The same data as recorded with sub_bucket_bits 4: bucket b of the native layout -> 2b (its lower half). */
static void to_finer(json_t *j)
{
	json_t *rows = json_object_get(j, "rows"), *r, *pair;
	const struct em_hist_layout fine = { 4, EM_HIST_MAX_LOG2 };
	size_t i, k;

	json_object_set_new(j, "hist_layout", json_pack("{s:s, s:i, s:i, s:i, s:s}", "scheme", "hdr-log2",
							"sub_bucket_bits", 4, "max_log2", EM_HIST_MAX_LOG2,
							"buckets", (int)em_layout_buckets(&fine), "unit", "ns"));
	json_array_foreach(rows, i, r)
		json_array_foreach(json_object_get(r, "hist"), k, pair) {
			uint64_t lo = em_hist_lower((uint32_t)json_integer_value(json_array_get(pair, 0)));
			uint32_t b = 0;

			while (b + 1 < em_layout_buckets(&fine) && em_layout_upper(&fine, b) < lo)
				b++;
			json_array_set_new(pair, 0, json_integer(b));
		}
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
	lat(&s, r, 2100, 110000);
	lat(&s, r, 9000, 9990);
	r = row(&s, EM_ISA_VMX, 48, EM_ANY_PID, EM_ANY_VCPU, 50000); /* EPT_VIOLATION */
	lat(&s, r, 3500, 50000);
	r = row(&s, EM_ISA_VMX, 12, EM_ANY_PID, EM_ANY_VCPU, 14467); /* HLT */
	lat(&s, r, 900000, 14460);
	row(&s, EM_ISA_VMX, 1, EM_ANY_PID, EM_ANY_VCPU, 0);
	strcpy(s.meta.attach, "raw_tp");
	{
		struct em_snapshot c1, c2;

		em_snapshot_init(&c1);
		em_snapshot_init(&c2);
		em_snapshot_copy(&c1, &s);
		em_snapshot_copy(&c2, &s);
		save_edited(argv[1], "v1-vmx-small.json", &c1, to_v1);
		save_edited(argv[1], "finer-layout.json", &c2, to_finer);
	}
	save(argv[1], "vmx-small.json", &s);

	/* one interval: bounds instead of exact extremes */
	host(&s, EM_ISA_SVM);
	strcpy(s.meta.attach, "tp");
	s.meta.interval = true;
	r = row(&s, EM_ISA_SVM, 0x7b, EM_ANY_PID, EM_ANY_VCPU, 400);
	lat(&s, r, 30000, 400);
	r->st.lat_min = em_hist_lower(em_hist_bucket(30000));
	r->st.lat_max = em_hist_upper(em_hist_bucket(30000));
	r->approx = EM_APPROX_MIN | EM_APPROX_MAX;
	save(argv[1], "svm-interval.json", &s);

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
		lat(&s, r, 1500 + 1000 * i, 1000 + i);
		r = row(&s, EM_ISA_SVM, code, 4242, EM_ANY_VCPU, 1000 + i);
		lat(&s, r, 1500 + 1000 * i, 1000 + i);
		r = row(&s, EM_ISA_SVM, code, 4242, 0, 600);
		lat(&s, r, 1500 + 1000 * i, 600);
		r = row(&s, EM_ISA_SVM, code, 4242, 1, 400 + i);
		lat(&s, r, 1500 + 1000 * i, 400 + i);
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
	if (em_rstats_add_bucket(&s.hist, &r->st, EM_HIST_BUCKETS - 1, INT64_MAX))
		abort();
	r->st.lat_sum = INT64_MAX;
	r->st.lat_min = 1ULL << 40;
	r->st.lat_max = INT64_MAX;
	r = row(&s, EM_ISA_VMX, 0, EM_ANY_PID, EM_ANY_VCPU, 3);
	lat(&s, r, 0, 1);
	lat(&s, r, 7, 1);
	lat(&s, r, 8, 1);
	save(argv[1], "extremes.json", &s);
	return 0;
}
