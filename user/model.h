/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * exitmon's in-memory picture of one run: metadata plus rows of stats.
 * The collector fills it from the maps, render prints it, snapshot
 * saves/loads it, diff compares two of them. Pure data, no libbpf.
 */
#ifndef EXITMON_MODEL_H
#define EXITMON_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/exitmon.h"
#include "labels.h"

#define EM_FORMAT_VERSION 1
#define EM_MAX_FILTER_REASONS 64
#define EM_MAX_PARAMS 16

/*
 * Rows with tgid == EM_ANY_PID and vcpu == EM_ANY_VCPU are the per-reason
 * totals and are always present for every reason seen. With --per-vm the
 * snapshot also has rows (tgid, EM_ANY_VCPU); with --per-vcpu rows
 * (tgid, vcpu) (a vCPU id alone is ambiguous across VMs).
 */
struct em_row {
	uint32_t isa;
	uint32_t reason; /* raw exit code */
	uint32_t tgid;   /* EM_ANY_PID unless --per-vm */
	uint32_t vcpu;   /* EM_ANY_VCPU unless --per-vcpu */
	struct em_stats st; /* summed over CPUs */
};

struct em_param {
	char name[48];
	char value[48];
};

struct em_filters {
	uint32_t nreasons;
	uint32_t reasons[EM_MAX_FILTER_REASONS]; /* raw codes of em_meta.isa */
	uint32_t pid;  /* 0 = any */
	int64_t vcpu;  /* -1 = any */
	bool per_vm;
	bool per_vcpu;
};

struct em_meta {
	char exitmon_version[32];
	char hostname[256];
	char kernel[128];
	char cpu_vendor[32];
	char cpu_model[128];
	uint32_t isa;         /* EM_ISA_VMX / EM_ISA_SVM, 0 = unknown */
	uint32_t nparams;
	struct em_param params[EM_MAX_PARAMS]; /* KVM module parameters, e.g. npt=1 */
	int64_t start_ns;     /* wall clock (CLOCK_REALTIME) of the start, ns */
	uint64_t duration_ns; /* length of the run */
	struct em_filters filters;
};

struct em_snapshot {
	struct em_meta meta;
	uint64_t counters[EM_CNT__MAX];
	size_t nrows;
	size_t cap;
	struct em_row *rows;
	struct em_labels labels; /* VM and vCPU names of the breakdown rows */
};

/* Names of enum em_counter, as in JSON output and snapshots. */
extern const char *const em_counter_names[EM_CNT__MAX];

void em_snapshot_init(struct em_snapshot *s);
void em_snapshot_free(struct em_snapshot *s);
/* Row with this identity, created zeroed if absent; NULL on ENOMEM. */
struct em_row *em_snapshot_row(struct em_snapshot *s, uint32_t isa, uint32_t reason,
			       uint32_t tgid, uint32_t vcpu);
/* Adds b's stats into a (count, sums, min, max, histogram). */
void em_stats_add(struct em_stats *a, const struct em_stats *b);
/* out = cur - prev for counts/sums/histogram; min/max taken from cur. */
void em_stats_sub(struct em_stats *out, const struct em_stats *cur, const struct em_stats *prev);
/* out = cur - prev row by row (rows absent in prev count from zero). */
int em_snapshot_delta(struct em_snapshot *out, const struct em_snapshot *cur,
		      const struct em_snapshot *prev);
static inline bool em_row_is_total(const struct em_row *r)
{
	return r->tgid == EM_ANY_PID && r->vcpu == EM_ANY_VCPU;
}

/*
 * True when reasons is empty or holds r's code; VMX flag bits (e.g.
 * FAILED_VMENTRY) do not hide the basic reason, as in the BPF filter.
 */
bool em_row_matches(const struct em_row *r, const uint32_t *reasons, size_t n);

/* Sum of counts over the per-reason total rows. */
uint64_t em_snapshot_total(const struct em_snapshot *s);

#endif
