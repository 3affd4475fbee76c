/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The name table of a run: for each VM (tgid) and vCPU (tgid, KVM vcpu_id)
 * that has breakdown rows, its VM name and vCPU index as names.c resolved
 * them while the run was live. Kept in struct em_snapshot, saved in the
 * snapshot file ("vms"), printed next to the pid and vCPU id, and used by
 * diff to match VMs by name. Also: --vm selection of rows by VM name.
 */
#ifndef EXITMON_LABELS_H
#define EXITMON_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "names.h"

#define EM_MAX_VM_GLOBS 16

struct em_label {
	uint32_t tgid;
	uint32_t vcpu;          /* KVM vcpu_id as in em_row.vcpu; EM_ANY_VCPU: the VM itself */
	char name[EM_NAME_MAX]; /* VM labels: the VM name, "" = unresolved (the pid is shown) */
	uint8_t src;            /* VM: enum em_name_src; vCPU: enum em_vcpu_src of index */
	int32_t index;          /* vCPU labels: the VMM's vCPU index, -1 = unknown */
	uint32_t tid;           /* vCPU labels: its thread, 0 = unknown */
};

struct em_labels {
	size_t n, cap;
	struct em_label *v;
};

struct em_snapshot;
struct em_row;
typedef struct json_t json_t;

void em_labels_free(struct em_labels *l);
/* dst = a copy of src (dst's old entries freed); 0 or -ENOMEM. */
int em_labels_copy(struct em_labels *dst, const struct em_labels *src);
const struct em_label *em_labels_find(const struct em_labels *l, uint32_t tgid, uint32_t vcpu);
/* Same labels, in any order. */
bool em_labels_equal(const struct em_labels *a, const struct em_labels *b);
/* The VM name of tgid, or NULL when unknown. */
const char *em_labels_vm_name(const struct em_labels *l, uint32_t tgid);

/*
 * Adds or refreshes the labels of every breakdown row of s from n (VM names
 * every call, through n's cache; vCPU indices until known, and again when
 * the VM's name changed, i.e. its pid now is another process). 0 or -ENOMEM.
 */
int em_labels_fill(struct em_snapshot *s, struct em_names *n);

/* A small set of pids. */
struct em_u32set {
	uint32_t *v;
	size_t n, cap;
};

/* --vm: the VMs whose names match one of the globs. */
struct em_vm_select {
	const char *globs[EM_MAX_VM_GLOBS];
	size_t nglobs;
	struct em_u32set told; /* pids already reported as followed */
};

/*
 * Tells f which running VMs match each glob now (and records them as told).
 * Returns how many pids matched.
 */
size_t em_vm_select_start(struct em_vm_select *sel, struct em_names *n, FILE *f);
/*
 * Keeps only the breakdown rows of the selected VMs in s and rebuilds the
 * per-reason totals from them; the dropped exits count as filtered. A
 * newly matched pid is reported on f. 0 or -ENOMEM.
 */
int em_vm_select_apply(struct em_vm_select *sel, struct em_snapshot *s, struct em_names *n, FILE *f);
void em_vm_select_free(struct em_vm_select *sel);

/*
 * Text for a breakdown row: vm = the VM name or "-"; vcpu = "" for a VM row,
 * else the vCPU index, with KVM's vcpu_id (the APIC ID) when it differs:
 * "1 (apic 2)", or "apic 2" when the index is unknown.
 */
void em_labels_row_text(const struct em_labels *l, const struct em_row *r, char *vm, size_t vmlen,
			char *vcpu, size_t vcpulen);
/* printf width that pads the UTF-8 string s to width columns (counts characters, not bytes). */
int em_labels_pad(const char *s, int width);
/* Adds "vm" (and for vCPU rows "vcpu_index", "vcpu_tid") to a row object; 0 or -ENOMEM. */
int em_labels_row_json(json_t *o, const struct em_labels *l, const struct em_row *r);

/* The "vms" array of a snapshot file, and back (strict: err says what is wrong). */
json_t *em_labels_to_json(const struct em_labels *l);
int em_labels_from_json(const json_t *j, struct em_labels *l, char *err, size_t errlen);

/*
 * Per-VM (and per-vCPU) comparison of two runs, VMs matched by name where
 * both runs name them (each name once per run), else by pid. Printed after
 * diff's per-reason table when either run has breakdown rows.
 */
struct em_vmdiff_row {
	char vm[EM_NAME_MAX];   /* name, "" = matched by pid */
	uint32_t pid_a, pid_b;  /* 0 = absent from that run */
	uint32_t vcpu;          /* KVM vcpu_id, EM_ANY_VCPU for the VM row */
	int32_t index;          /* vCPU index, -1 unknown */
	uint64_t count_a, count_b;
};
int em_vmdiff_compute(const struct em_snapshot *a, const struct em_snapshot *b, const uint32_t *reasons,
		      size_t nreasons, struct em_vmdiff_row **rows, size_t *n);
void em_vmdiff_print(FILE *f, const struct em_snapshot *a, const struct em_snapshot *b,
		     const uint32_t *reasons, size_t nreasons);
/* The same rows as a JSON array (NULL on ENOMEM). */
json_t *em_vmdiff_json(const struct em_snapshot *a, const struct em_snapshot *b, const uint32_t *reasons,
		       size_t nreasons);

#endif
