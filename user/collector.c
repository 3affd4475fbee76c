// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The libbpf side: pre-flight checks, load, attach, read the per-CPU maps. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "collector.h"
#include "labels.h"
#include "names.h"
#include "exitmon.skel.h"

struct em_collector {
	struct exitmon_bpf *skel;
	enum em_attach mode;
	int ncpu;
	struct em_stats *vals; /* ncpu values, the per-CPU lookup buffer */
	__u64 *cnts;
	/* batched reads of the stats array: chunk slots x ncpu values */
	__u32 chunk;
	__u32 *keys;
	struct em_stats *batch;
	bool no_batch; /* kernel without batch ops on arrays: one lookup per slot */
	/* VM/vCPU names of the breakdown rows and --vm, resolved in user space after each read */
	struct em_names *names;
	struct em_vm_select sel;
};

/* Batch buffer bound: keeps RSS flat on hosts with many CPUs. */
#define EM_BATCH_BYTES (1u << 20)

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* CapEff bit test from /proc/self/status: no libcap dependency for one check. */
static bool has_cap(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ULL << cap);
}

#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

/* Does the kernel (vmlinux or a module) describe `name` in BTF? */
static bool kernel_has_type(struct btf *vmlinux, const char *name, int kind, const char *const *mods)
{
	char path[128];

	if (btf_has(vmlinux, name, kind))
		return true;
	for (; *mods; mods++) {
		struct btf *m;
		bool found;

		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", *mods);
		if (access(path, R_OK))
			continue;
		m = btf__parse_split(path, vmlinux);
		if (!m)
			continue;
		found = btf_has(m, name, kind);
		btf__free(m);
		if (found)
			return true;
	}
	return false;
}

static bool tracefs_has_kvm(void)
{
	return !access("/sys/kernel/tracing/events/kvm/kvm_exit", F_OK) ||
	       !access("/sys/kernel/debug/tracing/events/kvm/kvm_exit", F_OK);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int libbpf_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

/* Picks raw_tp when the vendor vCPU struct is in BTF, else classic tp. */
static int choose_mode(const struct em_opts *o, enum em_attach *mode, char *err, size_t errlen)
{
	static const char *const kvm_mods[] = { "kvm", NULL };
	static const char *const svm_mods[] = { "kvm_amd", NULL };
	static const char *const vmx_mods[] = { "kvm_intel", NULL };
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool have_tp, vendor;

	if (!vmlinux) {
		set_err(err, errlen, "kernel BTF not available (/sys/kernel/btf/vmlinux): exitmon needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -1;
	}
	have_tp = kernel_has_type(vmlinux, "btf_trace_kvm_exit", BTF_KIND_TYPEDEF, kvm_mods) &&
		  kernel_has_type(vmlinux, "btf_trace_kvm_entry", BTF_KIND_TYPEDEF, kvm_mods);
	if (!have_tp) {
		btf__free(vmlinux);
		set_err(err, errlen, "kvm tracepoints not found: is the kvm module loaded? (modprobe kvm_intel or kvm_amd)");
		return -1;
	}
	vendor = kernel_has_type(vmlinux, "vcpu_svm", BTF_KIND_STRUCT, svm_mods) ||
		 kernel_has_type(vmlinux, "vcpu_vmx", BTF_KIND_STRUCT, vmx_mods);
	btf__free(vmlinux);

	*mode = o->attach;
	if (*mode == EM_ATTACH_AUTO)
		*mode = vendor ? EM_ATTACH_RAW_TP : EM_ATTACH_TP;
	if (*mode == EM_ATTACH_RAW_TP && !vendor) {
		set_err(err, errlen, "--attach raw_tp needs vcpu_svm or vcpu_vmx in kernel BTF (kvm_amd/kvm_intel not loaded?); use --attach tp");
		return -1;
	}
	if (*mode == EM_ATTACH_TP && !tracefs_has_kvm()) {
		/* classic tracepoints are found through tracefs; mount it if we may */
		mkdir("/sys/kernel/tracing", 0755);
		mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
		if (!tracefs_has_kvm()) {
			set_err(err, errlen, "tracefs not mounted and could not be mounted: mount -t tracefs nodev /sys/kernel/tracing");
			return -1;
		}
	}
	return 0;
}

const char *em_collector_attach_name(const struct em_collector *c)
{
	return c->mode == EM_ATTACH_RAW_TP ? "raw_tp" : "tp";
}

int em_collector_map_fd(const struct em_collector *c, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(c->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

struct em_collector *em_collector_open(const struct em_opts *o, char *err, size_t errlen)
{
	struct em_collector *c;
	struct exitmon_bpf *skel;
	bool raw;
	unsigned i;
	int rc;

	libbpf_set_print(o->verbose ? libbpf_verbose : libbpf_quiet);
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		set_err(err, errlen, "kernel BTF not available (/sys/kernel/btf/vmlinux): exitmon needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return NULL;
	}
	if (geteuid() != 0 && !(has_cap(CAP_SYS_ADMIN_BIT) ||
				(has_cap(CAP_BPF_BIT) && has_cap(CAP_PERFMON_BIT)))) {
		set_err(err, errlen, "permission denied: run as root (or with CAP_BPF and CAP_PERFMON), e.g. sudo exitmon");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	if (choose_mode(o, &c->mode, err, errlen))
		goto fail;
	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		set_err(err, errlen, "cannot count CPUs: %s", strerror(-c->ncpu));
		goto fail;
	}
	c->vals = calloc(c->ncpu, sizeof(*c->vals));
	c->cnts = calloc(c->ncpu, sizeof(*c->cnts));
	c->chunk = EM_BATCH_BYTES / (c->ncpu * sizeof(struct em_stats));
	if (c->chunk < 1)
		c->chunk = 1;
	if (c->chunk > EM_NSLOTS)
		c->chunk = EM_NSLOTS;
	c->keys = calloc(c->chunk, sizeof(*c->keys));
	c->batch = calloc((size_t)c->chunk * c->ncpu, sizeof(*c->batch));
	if (!c->vals || !c->cnts || !c->keys || !c->batch) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}

	skel = exitmon_bpf__open();
	if (!skel) {
		set_err(err, errlen, "cannot open BPF object: %s", strerror(errno));
		goto fail;
	}
	c->skel = skel;
	skel->rodata->filter_tgid = o->filters.pid;
	skel->rodata->filter_vcpu = o->filters.vcpu < 0 ? EM_ANY_VCPU : (__u32)o->filters.vcpu;
	skel->rodata->breakdown_vm = o->filters.per_vm;
	skel->rodata->breakdown_vcpu = o->filters.per_vcpu;
	if (o->filters.nreasons) {
		skel->rodata->filter_reasons_on = true;
		for (i = 0; i < o->filters.nreasons; i++) {
			__u32 slot = em_slot(o->isa, o->filters.reasons[i]);

			if (slot < EM_NSLOTS)
				skel->rodata->filter_reasons[slot / 64] |= 1ULL << (slot % 64);
		}
	}
	if (o->filters.per_vm || o->filters.per_vcpu) {
		rc = bpf_map__set_max_entries(skel->maps.breakdown, o->max_keys);
		if (rc) {
			set_err(err, errlen, "cannot size the breakdown map: %s", strerror(-rc));
			goto fail;
		}
	}
	raw = c->mode == EM_ATTACH_RAW_TP;
	bpf_program__set_autoload(skel->progs.handle_exit_raw, raw);
	bpf_program__set_autoload(skel->progs.handle_entry_raw, raw);
	bpf_program__set_autoload(skel->progs.handle_exit_tp, !raw);
	bpf_program__set_autoload(skel->progs.handle_entry_tp, !raw);

	rc = exitmon_bpf__load(skel);
	if (rc) {
		if (rc == -EPERM || rc == -EACCES)
			set_err(err, errlen, "permission denied loading BPF programs: run as root (or with CAP_BPF and CAP_PERFMON)");
		else
			set_err(err, errlen, "cannot load BPF programs: %s (run with -v for libbpf's log)",
				strerror(-rc));
		goto fail;
	}
	rc = exitmon_bpf__attach(skel);
	if (rc) {
		set_err(err, errlen, "cannot attach to kvm:kvm_exit/kvm_entry (%s): %s",
			em_collector_attach_name(c), strerror(-rc));
		goto fail;
	}
	if (o->filters.per_vm || o->filters.per_vcpu) {
		if (!(c->names = em_names_new("/"))) {
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		for (i = 0; i < o->nvm_globs && i < EM_MAX_VM_GLOBS; i++)
			c->sel.globs[c->sel.nglobs++] = o->vm_globs[i];
		em_vm_select_start(&c->sel, c->names, stderr);
	}
	return c;
fail:
	em_collector_close(c);
	return NULL;
}

/* Sums ncpu per-CPU values into one. */
static void sum_cpus(const struct em_collector *c, const struct em_stats *vals,
		     struct em_stats *out)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for (cpu = 0; cpu < c->ncpu; cpu++)
		em_stats_add(out, &vals[cpu]);
}

static int add_row(struct em_snapshot *s, uint32_t isa, uint32_t reason, uint32_t tgid,
		   uint32_t vcpu, const struct em_stats *st)
{
	struct em_row *r;

	if (!st->count && !st->lat_count)
		return 0;
	r = em_snapshot_row(s, isa, reason, tgid, vcpu);
	if (!r)
		return -ENOMEM;
	em_stats_add(&r->st, st);
	return 0;
}

/* Inverse of em_slot(). */
static void slot_code(__u32 slot, uint32_t *isa, uint32_t *reason)
{
	if (slot < EM_SVM_BASE) {
		*isa = EM_ISA_VMX;
		*reason = slot;
	} else if (slot < EM_SVM_BASE + 0x100) {
		*isa = EM_ISA_SVM;
		*reason = slot - EM_SVM_BASE;
	} else if (slot < EM_SVM_BASE + 0x104) {
		*isa = EM_ISA_SVM;
		*reason = EM_SVM_EXIT_NPF + (slot - EM_SVM_BASE - 0x100);
	} else if (slot == EM_SVM_BASE + 0x104) {
		*isa = EM_ISA_SVM;
		*reason = EM_SVM_EXIT_INVALID;
	} else {
		*isa = 0; /* the overflow row of codes outside any table */
		*reason = 0;
	}
}

static int read_hash(struct em_collector *c, int fd, struct em_snapshot *s)
{
	struct em_key key, next;
	struct em_key *prev = NULL;
	struct em_stats sum;
	int rc;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, c->vals))
			continue; /* deleted meanwhile */
		sum_cpus(c, c->vals, &sum);
		rc = add_row(s, key.isa, key.reason, key.tgid, key.vcpu, &sum);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_slot(struct em_collector *c, struct em_snapshot *s, __u32 slot,
		    const struct em_stats *vals)
{
	struct em_stats sum;
	uint32_t isa, reason;

	sum_cpus(c, vals, &sum);
	slot_code(slot, &isa, &reason);
	return add_row(s, isa, reason, EM_ANY_PID, EM_ANY_VCPU, &sum);
}

/*
 * The stats array, in chunks of c->chunk slots per syscall (2 calls on a
 * 2-CPU host instead of 358); one lookup per slot where the kernel lacks
 * batch operations on arrays.
 */
static int read_stats(struct em_collector *c, int fd, struct em_snapshot *s)
{
	__u32 in = 0, out = 0, count, i, slot;
	bool first = true, done = false;
	int rc;

	while (!c->no_batch && !done) {
		count = c->chunk;
		rc = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, c->keys, c->batch,
					  &count, NULL);
		if (rc == -ENOENT)
			done = true; /* last chunk; count says how many came */
		else if (rc && first && (rc == -EINVAL || rc == -ENOTSUP || rc == -EOPNOTSUPP)) {
			c->no_batch = true;
			break;
		} else if (rc)
			return rc;
		for (i = 0; i < count; i++) {
			rc = add_slot(c, s, c->keys[i], &c->batch[(size_t)i * c->ncpu]);
			if (rc)
				return rc;
		}
		in = out;
		first = false;
	}
	if (!c->no_batch)
		return 0;
	for (slot = 0; slot < EM_NSLOTS; slot++) {
		if (bpf_map_lookup_elem(fd, &slot, c->vals))
			return -errno;
		rc = add_slot(c, s, slot, c->vals);
		if (rc)
			return rc;
	}
	return 0;
}

int em_collector_read(struct em_collector *c, struct em_snapshot *s)
{
	struct exitmon_bpf *skel = c->skel;
	int fd = bpf_map__fd(skel->maps.stats);
	__u32 i;
	int cpu, rc;

	s->nrows = 0;
	rc = read_stats(c, fd, s);
	if (rc)
		return rc;
	rc = read_hash(c, bpf_map__fd(skel->maps.other_stats), s);
	if (!rc && (s->meta.filters.per_vm || s->meta.filters.per_vcpu))
		rc = read_hash(c, bpf_map__fd(skel->maps.breakdown), s);
	if (rc)
		return rc;
	fd = bpf_map__fd(skel->maps.counters);
	for (i = 0; i < EM_CNT__MAX; i++) {
		s->counters[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, c->cnts))
			return -errno;
		for (cpu = 0; cpu < c->ncpu; cpu++)
			s->counters[i] += c->cnts[cpu];
	}
	/* derived, not counted in the handlers (see enum em_counter) */
	s->counters[EM_CNT_EXITS] = s->counters[EM_CNT_FILTERED];
	s->counters[EM_CNT_ENTRIES] = s->counters[EM_CNT_UNPAIRED_ENTRY];
	for (i = 0; i < s->nrows; i++) {
		if (!em_row_is_total(&s->rows[i]))
			continue;
		s->counters[EM_CNT_EXITS] += s->rows[i].st.count;
		s->counters[EM_CNT_ENTRIES] += s->rows[i].st.lat_count;
	}
	if (c->names && !(rc = em_vm_select_apply(&c->sel, s, c->names, stderr)))
		rc = em_labels_fill(s, c->names);
	return rc;
}

void em_collector_close(struct em_collector *c)
{
	if (!c)
		return;
	exitmon_bpf__destroy(c->skel);
	em_names_free(c->names);
	em_vm_select_free(&c->sel);
	free(c->vals);
	free(c->cnts);
	free(c->keys);
	free(c->batch);
	free(c);
}
