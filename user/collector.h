/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Loads and attaches the BPF programs, reads the maps into a snapshot. */
#ifndef EXITMON_COLLECTOR_H
#define EXITMON_COLLECTOR_H

#include <stddef.h>
#include "model.h"

struct btf;
struct em_collector;

/* How to attach (the first three are --attach; TP_FORMAT is for tests). */
enum em_collector_attach {
	EM_COLL_ATTACH_AUTO,
	EM_COLL_ATTACH_RAW_TP,
	EM_COLL_ATTACH_TP,        /* classic tp: CO-RE if kvm has BTF, else tp_format */
	EM_COLL_ATTACH_TP_FORMAT, /* classic tp with tracefs field offsets, even with BTF */
};

/* What the collector needs to know; main.c fills it from the command line. */
struct em_collector_cfg {
	enum em_collector_attach attach;
	uint32_t isa;               /* of the host: resolves --reason codes to slots */
	struct em_filters filters;
	uint32_t max_keys;          /* breakdown hash size */
	int verbose;                /* libbpf's log on stderr */
	const char *const *vm_globs; /* --vm: keep only VMs with these names (user/labels.c) */
	size_t nvm_globs;
};

/*
 * Checks privileges, the kernel version, BTF and the kvm tracepoints,
 * picks the attach mode, sets the filters in read-only data, loads and
 * attaches. On failure returns NULL with one line in err.
 */
struct em_collector *em_collector_open(const struct em_collector_cfg *cfg, char *err,
				       size_t errlen);
/* Replaces s's rows and counters with the cumulative values in the maps. */
int em_collector_read(struct em_collector *c, struct em_snapshot *s);
/* "raw_tp", "tp" or "tp_format" */
const char *em_collector_attach_name(const struct em_collector *c);
/* fd of one of the maps ("stats", "row_of", "other_row", "counters", ...), for tests. */
int em_collector_map_fd(const struct em_collector *c, const char *name);
/* Kernel memory the maps hold (memlock in fdinfo); also printed at open with -v. */
uint64_t em_collector_map_bytes(const struct em_collector *c);
struct em_carries;
/* A hist_carry map (fd) as it is now, sorted (user/kstats.h); 0 or -ENOMEM. */
int em_carries_load(int fd, struct em_carries *out);
/*
 * Bytes of map values the last em_collector_read() read (benchmarks): the
 * stats rows copied by syscalls plus the breakdown rows read in place.
 */
uint64_t em_collector_read_bytes(const struct em_collector *c);
void em_collector_close(struct em_collector *c);

/* --- exposed for tests ------------------------------------------------ */

/* Argument layout of the kvm_exit tracepoint's prototype. */
enum em_kvm_layout {
	EM_KVM_LAYOUT_UNKNOWN,
	EM_KVM_LAYOUT_OLD, /* (unsigned int exit_reason, struct kvm_vcpu *, u32 isa): before 5.16 */
	EM_KVM_LAYOUT_NEW, /* (struct kvm_vcpu *, u32 isa): 5.16+ */
};

/*
 * Layout from the FUNC_PROTOs behind btf_trace_kvm_exit/btf_trace_kvm_entry
 * in btf. UNKNOWN (with the reason in err) when either is missing or not
 * one exitmon knows; kvm_entry must take the struct kvm_vcpu * first.
 */
enum em_kvm_layout em_kvm_tp_layout(const struct btf *btf, char *err, size_t errlen);

/*
 * Offset of a u32 field in a tracefs events/.../format text. 0 on
 * success; -1 with one line in err (missing field, wrong size).
 */
int em_tp_format_offset(const char *text, const char *field, uint32_t *off, char *err,
			size_t errlen);

#endif
