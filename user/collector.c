// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The libbpf side: pre-flight checks, load, attach, read the per-CPU maps. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "collector.h"
#include "kstats.h"
#include "err.h"
#include "sysinfo.h"
#include "labels.h"
#include "names.h"
#include "exitmon.skel.h"

/* the mode in use (AUTO and TP resolved) */
enum em_mode { EM_MODE_RAW_TP, EM_MODE_TP, EM_MODE_TP_FORMAT };

struct em_collector {
	struct exitmon_bpf *skel;
	enum em_mode mode;
	enum em_kvm_layout layout;
	uint64_t evicted; /* pending_full: never goes down (see read_pending_full) */
	int ncpu;
	struct em_kstats *vals; /* ncpu values, the per-CPU lookup buffer */
	__u64 *cnts;
	/* batched reads of the stats array: chunk slots x ncpu values */
	__u32 chunk;
	__u32 *keys;
	struct em_kstats *batch;
	bool no_batch; /* kernel without batch ops on arrays: one lookup per slot */
	uint32_t tpf_exit[3], tpf_entry; /* tp_format: exit_reason, isa, vcpu_id; vcpu_id */
	const volatile __u64 *row_of; /* mmapped: slot -> row (bpf/aggregate.bpf.h) */
	size_t row_of_len;
	struct {
		struct em_key key;
		__u64 row;
	} other[EM_OTHER_KEYS]; /* cache of the "other" hash: code -> row */
	unsigned nother;
	const struct em_bd_row *bd; /* mmapped breakdown rows (--per-vm/--per-vcpu) */
	size_t bd_len;
	uint32_t bd_max;
	struct em_stats tmp; /* one key's exact sum */
	/* hist_carry read before the rows (used) and after (check) */
	struct em_carries carry, carry2;
	uint64_t map_bytes; /* memlock of the maps, fixed once loaded (all preallocated) */
	uint64_t read_bytes; /* map values copied by the last read */
	/* VM/vCPU names of the breakdown rows and --vm, resolved in user space after each read */
	struct em_names *names;
	struct em_vm_select sel;
};

/*
 * Kernel memory the breakdown may take: --max-keys is refused beyond it,
 * naming the option. The rows (an array, rounded to pages) plus the index
 * hash: a preallocated element is a 48-byte header (struct htab_elem), the
 * key and the u32 value rounded to 8 bytes; the hash preallocates one
 * spare element per possible CPU and has a 16-byte bucket per key
 * (rounded up to a power of two).
 */
#define EM_BD_MAX_BYTES (64u << 20)
#define EM_BD_INDEX_ELEM_BYTES (48 + sizeof(struct em_key) + 8)

static uint64_t bd_bytes(uint32_t keys, int ncpu)
{
	uint64_t buckets = 1;

	while (buckets < keys)
		buckets <<= 1;
	return (((uint64_t)keys * sizeof(struct em_bd_row) + 4095) & ~4095ull) +
	       ((uint64_t)keys + (uint64_t)ncpu) * EM_BD_INDEX_ELEM_BYTES + buckets * 16;
}

/* The most keys whose breakdown fits in EM_BD_MAX_BYTES. */
static uint32_t bd_max_keys(int ncpu)
{
	uint32_t lo = 1, hi = 1u << 24, mid;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (bd_bytes(mid, ncpu) <= EM_BD_MAX_BYTES)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Batch buffer bound: keeps RSS flat on hosts with many CPUs. */
#define EM_BATCH_BYTES (1u << 20)

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	em_verrf(err, len, fmt, ap);
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

/* The module's split BTF, or NULL when the kernel has none for it. */
static struct btf *module_btf(struct btf *vmlinux, const char *mod)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/btf/%s", mod);
	if (access(path, R_OK))
		return NULL;
	return btf__parse_split(path, vmlinux);
}

/* Does the kernel (vmlinux or a module) describe `name` in BTF? */
static bool kernel_has_type(struct btf *vmlinux, const char *name, int kind, const char *mod)
{
	struct btf *m;
	bool found;

	if (btf_has(vmlinux, name, kind))
		return true;
	m = module_btf(vmlinux, mod);
	found = btf_has(m, name, kind);
	btf__free(m);
	return found;
}

/* NULL with errno EACCES when the first path was refused to us */
static const char *tracefs_root(void)
{
	int e;

	/* AT_EACCESS: the effective ids and capabilities (CAP_DAC_READ_SEARCH under systemd) */
	if (!faccessat(AT_FDCWD, "/sys/kernel/tracing/events/kvm/kvm_exit", F_OK, AT_EACCESS))
		return "/sys/kernel/tracing";
	e = errno;
	if (!faccessat(AT_FDCWD, "/sys/kernel/debug/tracing/events/kvm/kvm_exit", F_OK, AT_EACCESS))
		return "/sys/kernel/debug/tracing";
	if (e == EACCES)
		errno = EACCES;
	return NULL;
}

/* tracefs with the kvm events, mounting it if we may; NULL if none. */
static const char *tracefs_kvm(void)
{
	if (!tracefs_root()) {
		mkdir("/sys/kernel/tracing", 0755);
		mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	}
	return tracefs_root();
}

/*
 * The map libbpf last failed to create, from its warning: a failed load
 * closes every map fd, so the fds cannot tell which one the kernel refused.
 */
static char failed_map[BPF_OBJ_NAME_LEN];

static void note_failed_map(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[256];

	if (level != LIBBPF_WARN)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	sscanf(line, "libbpf: map '%15[^']': failed to create", failed_map);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	note_failed_map(level, fmt, ap);
	return 0;
}

static int libbpf_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	note_failed_map(level, fmt, aq);
	va_end(aq);
	return vfprintf(stderr, fmt, ap);
}

/* --- kvm_exit/kvm_entry prototypes ---------------------------------- */

static const struct btf_type *resolved(const struct btf *btf, __u32 id)
{
	int r = btf__resolve_type(btf, id); /* through typedefs and modifiers */

	return r < 0 ? NULL : btf__type_by_id(btf, r);
}

static bool is_u32(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = resolved(btf, id);

	return t && btf_is_int(t) && t->size == 4;
}

static bool is_vcpu_ptr(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = resolved(btf, id);

	if (!t || !btf_is_ptr(t))
		return false;
	t = resolved(btf, t->type);
	return t && btf_is_struct(t) && !strcmp(btf__name_by_offset(btf, t->name_off), "kvm_vcpu");
}

/*
 * Parameters of btf_trace_<name> (typedef -> pointer -> FUNC_PROTO), after
 * the leading `void *__data`; NULL with err set if it is not that shape.
 */
static const struct btf_param *tp_params(const struct btf *btf, const char *name, int *n,
					 char *err, size_t errlen)
{
	char tname[64];
	const struct btf_type *t;
	int id;

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	id = btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF);
	if (id <= 0) {
		set_err(err, errlen, "%s not in kernel BTF", tname);
		return NULL;
	}
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1) {
		set_err(err, errlen, "%s is not a pointer to a function prototype", tname);
		return NULL;
	}
	*n = btf_vlen(t) - 1;
	return btf_params(t) + 1;
}

enum em_kvm_layout em_kvm_tp_layout(const struct btf *btf, char *err, size_t errlen)
{
	const struct btf_param *p;
	enum em_kvm_layout l = EM_KVM_LAYOUT_UNKNOWN;
	int n;

	p = tp_params(btf, "kvm_exit", &n, err, errlen);
	if (!p)
		return EM_KVM_LAYOUT_UNKNOWN;
	if (n == 2 && is_vcpu_ptr(btf, p[0].type) && is_u32(btf, p[1].type))
		l = EM_KVM_LAYOUT_NEW;
	else if (n == 3 && is_u32(btf, p[0].type) && is_vcpu_ptr(btf, p[1].type) &&
		 is_u32(btf, p[2].type))
		l = EM_KVM_LAYOUT_OLD;
	if (l == EM_KVM_LAYOUT_UNKNOWN) {
		set_err(err, errlen, "kvm_exit tracepoint has an unknown prototype (%d arguments): exitmon knows (struct kvm_vcpu *, u32 isa) [5.16+] and (u32 exit_reason, struct kvm_vcpu *, u32 isa) [5.12-5.15]",
			n);
		return l;
	}
	/* kvm_entry(vcpu) since 5.10, (vcpu, bool force_immediate_exit) since 6.9 */
	p = tp_params(btf, "kvm_entry", &n, err, errlen);
	if (!p)
		return EM_KVM_LAYOUT_UNKNOWN;
	if (n < 1 || n > 2 || !is_vcpu_ptr(btf, p[0].type)) {
		set_err(err, errlen, "kvm_entry tracepoint has an unknown prototype (%d arguments): exitmon needs struct kvm_vcpu * first",
			n);
		return EM_KVM_LAYOUT_UNKNOWN;
	}
	return l;
}

/* --- tracefs format files -------------------------------------------- */

int em_tp_format_offset(const char *text, const char *field, uint32_t *off, char *err,
			size_t errlen)
{
	size_t flen = strlen(field);
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *decl = strstr(line, "field:");
		const char *semi, *name;
		unsigned o, sz;

		if (!end)
			end = line + strlen(line);
		if (decl && decl < end && (semi = memchr(decl, ';', end - decl))) {
			/* the name is the identifier right before ';' */
			name = semi;
			while (name > decl && (name[-1] == '_' || (name[-1] >= 'a' && name[-1] <= 'z') ||
					       (name[-1] >= 'A' && name[-1] <= 'Z') ||
					       (name[-1] >= '0' && name[-1] <= '9')))
				name--;
			if ((size_t)(semi - name) == flen && !memcmp(name, field, flen)) {
				const char *os = strstr(semi, "offset:"), *ss = strstr(semi, "size:");

				if (!os || !ss || os > end || ss > end ||
				    sscanf(os, "offset:%u;", &o) != 1 || sscanf(ss, "size:%u;", &sz) != 1) {
					set_err(err, errlen, "field '%s': no offset/size", field);
					return -1;
				}
				if (sz != 4 || o > 4096 - 4) {
					set_err(err, errlen, "field '%s': size %u at offset %u, expected a u32 in the first page",
						field, sz, o);
					return -1;
				}
				*off = o;
				return 0;
			}
		}
		line = *end ? end + 1 : NULL;
	}
	set_err(err, errlen, "no field '%s'", field);
	return -1;
}

/* Reads root/events/kvm/<event>/format and finds each field's offset. */
static int tp_format_offsets(const char *root, const char *event, const char *const *fields,
			     uint32_t *offs, char *err, size_t errlen)
{
	char path[256], buf[16384], why[160];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/events/kvm/%s/format", root, event);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	for (; *fields; fields++, offs++)
		if (em_tp_format_offset(buf, *fields, offs, why, sizeof(why))) {
			set_err(err, errlen, "%s: %s", path, why);
			return -1;
		}
	return 0;
}

/* Oldest kernel exitmon runs on (README "Supported kernels"). */
#define EM_KERNEL_MIN_MAJOR 5
#define EM_KERNEL_MIN_MINOR 12

/*
 * Picks the attach mode (docs/design.md, "Attach modes"):
 *  auto: raw_tp when the kvm prototypes are known and the exit reason can
 *        be had (old layout: an argument; new: vcpu_svm/vcpu_vmx in BTF);
 *        else classic tp (CO-RE when kvm has BTF), else tp_format.
 */
static int choose_mode(const struct em_collector_cfg *cfg, struct em_collector *c, char *err,
		       size_t errlen)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm = NULL;
	const struct btf *kb = NULL;
	char why[256] = "";
	bool vendor = false, tp_btf = false, module_loaded = !access("/sys/module/kvm", F_OK);
	const char *tfs;

	if (!vmlinux) {
		set_err(err, errlen, "kernel BTF not available (/sys/kernel/btf/vmlinux): exitmon needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -1;
	}
	if (btf_has(vmlinux, "btf_trace_kvm_exit", BTF_KIND_TYPEDEF))
		kb = vmlinux; /* kvm built in */
	else if ((kvm = module_btf(vmlinux, "kvm")) && btf_has(kvm, "btf_trace_kvm_exit", BTF_KIND_TYPEDEF))
		kb = kvm;
	c->layout = EM_KVM_LAYOUT_UNKNOWN;
	if (kb) {
		c->layout = em_kvm_tp_layout(kb, why, sizeof(why));
		vendor = kernel_has_type(vmlinux, "vcpu_svm", BTF_KIND_STRUCT, "kvm_amd") ||
			 kernel_has_type(vmlinux, "vcpu_vmx", BTF_KIND_STRUCT, "kvm_intel");
		tp_btf = btf_has(kb, "trace_event_raw_kvm_exit", BTF_KIND_STRUCT) &&
			 btf_has(kb, "trace_event_raw_kvm_entry", BTF_KIND_STRUCT);
	}
	btf__free(kvm);
	btf__free(vmlinux);

	if (cfg->attach == EM_COLL_ATTACH_RAW_TP || (cfg->attach == EM_COLL_ATTACH_AUTO && kb &&
						     c->layout != EM_KVM_LAYOUT_UNKNOWN &&
						     (c->layout == EM_KVM_LAYOUT_OLD || vendor))) {
		if (!kb) {
			set_err(err, errlen, module_loaded ?
				"--attach raw_tp needs BTF of the kvm module (no /sys/kernel/btf/kvm: kernel without CONFIG_DEBUG_INFO_BTF_MODULES or kvm built without BTF); use --attach tp" :
				"kvm tracepoints not found: the kvm module is not loaded (modprobe kvm_intel or kvm_amd)");
			return -1;
		}
		if (c->layout == EM_KVM_LAYOUT_UNKNOWN) {
			set_err(err, errlen, "%s; use --attach tp", why);
			return -1;
		}
		if (c->layout == EM_KVM_LAYOUT_NEW && !vendor) {
			set_err(err, errlen, "--attach raw_tp needs vcpu_svm or vcpu_vmx in kernel BTF (kvm_amd/kvm_intel not loaded?); use --attach tp");
			return -1;
		}
		c->mode = EM_MODE_RAW_TP;
		return 0;
	}
	if (cfg->verbose && kb && c->layout == EM_KVM_LAYOUT_UNKNOWN)
		fprintf(stderr, "exitmon: %s; using the classic tracepoints\n", why);
	tfs = tracefs_kvm();
	if (!tfs) {
		/* mounted but closed to us (CAP_BPF+CAP_PERFMON without root) is not "not mounted" */
		if (errno == EACCES)
			set_err(err, errlen, "tracefs is mounted but not readable (permission denied): classic tracepoints need access to /sys/kernel/tracing; run as root (or add CAP_DAC_READ_SEARCH)");
		else if (!kb && !module_loaded)
			set_err(err, errlen, "kvm tracepoints not found: the kvm module is not loaded (modprobe kvm_intel or kvm_amd)");
		else
			set_err(err, errlen, "kvm tracepoints not found in tracefs (no events/kvm/kvm_exit; tracefs not mounted and could not be mounted: mount -t tracefs nodev /sys/kernel/tracing)");
		return -1;
	}
	c->mode = tp_btf && cfg->attach != EM_COLL_ATTACH_TP_FORMAT ? EM_MODE_TP : EM_MODE_TP_FORMAT;
	if (c->mode == EM_MODE_TP_FORMAT) {
		static const char *const exit_f[] = { "exit_reason", "isa", "vcpu_id", NULL };
		static const char *const entry_f[] = { "vcpu_id", NULL };

		if (tp_format_offsets(tfs, "kvm_exit", exit_f, c->tpf_exit, err, errlen) ||
		    tp_format_offsets(tfs, "kvm_entry", entry_f, &c->tpf_entry, err, errlen))
			return -1;
	}
	return 0;
}

/* Refuses kernels older than the supported minimum, saying why. */
static int check_kernel(char *err, size_t errlen)
{
	struct utsname u;
	unsigned maj, min;

	if (uname(&u) || em_kernel_version(u.release, &maj, &min))
		return 0; /* unparsable: let the load say what is missing */
	if (maj < EM_KERNEL_MIN_MAJOR || (maj == EM_KERNEL_MIN_MAJOR && min < EM_KERNEL_MIN_MINOR)) {
		set_err(err, errlen, "kernel %s is older than %d.%d, the oldest exitmon supports (BPF atomics, module BTF, recursion_misses)",
			u.release, EM_KERNEL_MIN_MAJOR, EM_KERNEL_MIN_MINOR);
		return -1;
	}
	return 0;
}

const char *em_collector_attach_name(const struct em_collector *c)
{
	static const char *const names[] = { [EM_MODE_RAW_TP] = "raw_tp", [EM_MODE_TP] = "tp",
					     [EM_MODE_TP_FORMAT] = "tp_format" };

	return names[c->mode];
}

int em_collector_map_fd(const struct em_collector *c, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(c->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

/* "memlock:" of a BPF object's fd in /proc/self/fdinfo: the kernel memory it charges. */
static uint64_t fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

uint64_t em_collector_read_bytes(const struct em_collector *c)
{
	return c->read_bytes;
}

uint64_t em_collector_map_bytes(const struct em_collector *c)
{
	struct bpf_map *m;
	uint64_t sum = 0;

	bpf_object__for_each_map(m, c->skel->obj)
		if (bpf_map__fd(m) >= 0)
			sum += fd_memlock(bpf_map__fd(m));
	return sum;
}

/* -v: what each map holds, so the cost on a many-CPU host is visible. */
static void print_map_bytes(const struct em_collector *c)
{
	struct bpf_map *m;

	fprintf(stderr, "exitmon: BPF maps hold %.1f MiB of kernel memory (%d possible CPUs):",
		em_collector_map_bytes(c) / 1048576.0, c->ncpu);
	bpf_object__for_each_map(m, c->skel->obj)
		if (bpf_map__fd(m) >= 0)
			fprintf(stderr, " %s %.1f KiB", bpf_map__name(m), fd_memlock(bpf_map__fd(m)) / 1024.0);
	fputc('\n', stderr);
}

/* The kernel refused a map (named by libbpf's warning): name it and what to change. */
static void refused_map(const struct em_collector *c, const struct em_collector_cfg *cfg, int rc,
			char *err, size_t errlen)
{
	struct bpf_map *bad = failed_map[0] ? bpf_object__find_map_by_name(c->skel->obj, failed_map)
					    : NULL;
	if (bad && (bad == c->skel->maps.breakdown || bad == c->skel->maps.breakdown_index))
		set_err(err, errlen, "the kernel refused memory for the BPF map '%s' (%s; --max-keys %u keys, %.1f MiB for the breakdown): lower --max-keys",
			bpf_map__name(bad), strerror(-rc), cfg->max_keys,
			bd_bytes(cfg->max_keys, c->ncpu) / 1048576.0);
	else if (bad)
		set_err(err, errlen, "the kernel refused memory for the BPF map '%s' (%s; %u entries of %u bytes, %d possible CPUs): free memory or raise the memlock limit (ulimit -l)",
			bpf_map__name(bad), strerror(-rc), bpf_map__max_entries(bad),
			bpf_map__value_size(bad), c->ncpu);
	else
		set_err(err, errlen, "cannot load BPF programs (%s): %s (run with -v for libbpf's log)",
			em_collector_attach_name(c), strerror(-rc));
}

/* Reason filter bitmap; a code with no slot cannot be filtered, so it is refused. */
static int set_reason_filter(struct exitmon_bpf *skel, const struct em_collector_cfg *cfg,
			     char *err, size_t errlen)
{
	unsigned i;

	skel->rodata->filter_reasons_on = cfg->filters.nreasons > 0;
	for (i = 0; i < cfg->filters.nreasons; i++) {
		__u32 code = cfg->filters.reasons[i];
		/* as em_reason_ok(): VMX flag bits do not change the slot */
		__u32 slot = em_slot(cfg->isa, cfg->isa == EM_ISA_VMX ? code & EM_VMX_BASIC_MASK : code);

		if (slot >= EM_NSLOTS) {
			set_err(err, errlen, "--reason 0x%x: exitmon has no slot for this code, so it cannot filter on it",
				code);
			return -1;
		}
		skel->rodata->filter_reasons[slot / 64] |= 1ULL << (slot % 64);
	}
	return 0;
}

struct em_collector *em_collector_open(const struct em_collector_cfg *cfg, char *err,
				       size_t errlen)
{
	struct em_collector *c;
	struct exitmon_bpf *skel;
	int rc;

	libbpf_set_print(cfg->verbose ? libbpf_verbose : libbpf_quiet);
	if (check_kernel(err, errlen))
		return NULL;
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
	if (choose_mode(cfg, c, err, errlen))
		goto fail;
	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		set_err(err, errlen, "cannot count CPUs: %s", strerror(-c->ncpu));
		goto fail;
	}
	c->vals = calloc(c->ncpu, sizeof(*c->vals));
	c->cnts = calloc(c->ncpu, sizeof(*c->cnts));
	c->chunk = EM_BATCH_BYTES / (c->ncpu * sizeof(struct em_kstats));
	if (c->chunk < 1)
		c->chunk = 1;
	if (c->chunk > EM_ROWS)
		c->chunk = EM_ROWS;
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
	skel->rodata->filter_tgid = cfg->filters.pid;
	skel->rodata->filter_vcpu = cfg->filters.vcpu < 0 ? EM_ANY_VCPU : (__u32)cfg->filters.vcpu;
	skel->rodata->breakdown_vm = cfg->filters.per_vm;
	skel->rodata->breakdown_vcpu = cfg->filters.per_vcpu;
	skel->rodata->kvm_exit_old_layout = c->layout == EM_KVM_LAYOUT_OLD;
	skel->rodata->tpf_exit_reason_off = c->tpf_exit[0];
	skel->rodata->tpf_exit_isa_off = c->tpf_exit[1];
	skel->rodata->tpf_exit_vcpu_off = c->tpf_exit[2];
	skel->rodata->tpf_entry_vcpu_off = c->tpf_entry;
	if (set_reason_filter(skel, cfg, err, errlen))
		goto fail;
	if (cfg->filters.per_vm || cfg->filters.per_vcpu) {
		if (bd_bytes(cfg->max_keys, c->ncpu) > EM_BD_MAX_BYTES) {
			set_err(err, errlen, "--max-keys %u needs %.1f MiB of kernel memory for the breakdown (%zu bytes a key, %d possible CPUs); the limit is %u MiB: use --max-keys %u or less",
				cfg->max_keys, bd_bytes(cfg->max_keys, c->ncpu) / 1048576.0,
				sizeof(struct em_bd_row) + EM_BD_INDEX_ELEM_BYTES + 16, c->ncpu,
				EM_BD_MAX_BYTES >> 20, bd_max_keys(c->ncpu));
			goto fail;
		}
		rc = bpf_map__set_max_entries(skel->maps.breakdown, cfg->max_keys);
		if (!rc)
			rc = bpf_map__set_max_entries(skel->maps.breakdown_index, cfg->max_keys);
		skel->rodata->breakdown_rows = cfg->max_keys;
		c->bd_max = cfg->max_keys;
		if (rc) {
			set_err(err, errlen, "cannot size the breakdown map: %s", strerror(-rc));
			goto fail;
		}
	}
	bpf_program__set_autoload(skel->progs.handle_exit_raw, c->mode == EM_MODE_RAW_TP);
	bpf_program__set_autoload(skel->progs.handle_entry_raw, c->mode == EM_MODE_RAW_TP);
	bpf_program__set_autoload(skel->progs.handle_exit_tp, c->mode == EM_MODE_TP);
	bpf_program__set_autoload(skel->progs.handle_entry_tp, c->mode == EM_MODE_TP);
	bpf_program__set_autoload(skel->progs.handle_exit_tpf, c->mode == EM_MODE_TP_FORMAT);
	bpf_program__set_autoload(skel->progs.handle_entry_tpf, c->mode == EM_MODE_TP_FORMAT);

	failed_map[0] = '\0';
	rc = exitmon_bpf__load(skel);
	if (rc) {
		if (rc == -EPERM || rc == -EACCES)
			set_err(err, errlen, "permission denied loading BPF programs: run as root (or with CAP_BPF and CAP_PERFMON)");
		else if (rc == -ENOMEM || rc == -E2BIG)
			refused_map(c, cfg, rc, err, errlen);
		else
			set_err(err, errlen, "cannot load BPF programs (%s): %s (run with -v for libbpf's log)",
				em_collector_attach_name(c), strerror(-rc));
		goto fail;
	}
	rc = exitmon_bpf__attach(skel);
	if (rc) {
		set_err(err, errlen, "cannot attach to kvm:kvm_exit/kvm_entry (%s): %s",
			em_collector_attach_name(c), strerror(-rc));
		goto fail;
	}
	c->row_of_len = (EM_ROW_OF_LEN * sizeof(__u64) + 4095) & ~(size_t)4095;
	c->row_of = mmap(NULL, c->row_of_len, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.row_of), 0);
	if (c->row_of == MAP_FAILED) {
		c->row_of = NULL;
		set_err(err, errlen, "cannot map the row_of BPF map: %s", strerror(errno));
		goto fail;
	}
	if (c->bd_max) {
		c->bd_len = ((size_t)c->bd_max * sizeof(struct em_bd_row) + 4095) & ~(size_t)4095;
		c->bd = mmap(NULL, c->bd_len, PROT_READ, MAP_SHARED,
			     bpf_map__fd(skel->maps.breakdown), 0);
		if (c->bd == MAP_FAILED) {
			c->bd = NULL;
			set_err(err, errlen, "cannot map the breakdown BPF map: %s", strerror(errno));
			goto fail;
		}
	}
	c->map_bytes = em_collector_map_bytes(c);
	if (cfg->verbose)
		print_map_bytes(c);
	if (cfg->filters.per_vm || cfg->filters.per_vcpu) {
		if (!(c->names = em_names_new("/"))) {
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < cfg->nvm_globs && i < EM_MAX_VM_GLOBS; i++)
			c->sel.globs[c->sel.nglobs++] = cfg->vm_globs[i];
		em_vm_select_start(&c->sel, c->names, stderr);
	}
	return c;
fail:
	em_collector_close(c);
	return NULL;
}

/* n kernel values (per CPU, or one) of key into one exact sum, with the carries. */
static void sum_kstats(const struct em_collector *c, const struct em_kstats *vals, int n,
		       const struct em_key *key, struct em_stats *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++)
		em_kstats_add(out, &vals[i]);
	em_carries_apply(&c->carry, key, out);
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
	return em_snapshot_add_stats(s, r, st);
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
	} else if (slot < EM_SVM_BASE + EM_SVM_SLOTS) {
		*isa = EM_ISA_SVM;
		*reason = EM_SVM_EXIT_VMRUN_FAIL_FIRST + (slot - EM_SVM_BASE - 0x104);
	} else {
		*isa = 0; /* the overflow row of codes outside any table */
		*reason = 0;
	}
}

/* --per-vm without --per-vcpu: a VM's row is the sum of its vCPUs' keys. */
static int add_breakdown(struct em_collector *c, struct em_snapshot *s, const struct em_key *k,
			 const struct em_kstats *val)
{
	sum_kstats(c, val, 1, k, &c->tmp);
	return add_row(s, k->isa, k->reason, k->tgid,
		       s->meta.filters.per_vcpu ? k->vcpu : EM_ANY_VCPU, &c->tmp);
}

/*
 * The breakdown rows handed out, read in place from the mmapped array (no
 * copy, no syscall). A row's key is written before its index entry, so a
 * row that counts has its key; a row that lost a claim race stays empty
 * and is skipped.
 */
static int read_breakdown(struct em_collector *c, struct em_snapshot *s)
{
	__u64 next = c->row_of[EM_ROW_OF_BD_NEXT];
	uint32_t n = next < c->bd_max ? (uint32_t)next : c->bd_max, i;
	struct em_key key;
	int rc;

	c->read_bytes += (uint64_t)n * sizeof(struct em_bd_row);
	for (i = 0; i < n; i++) {
		const struct em_bd_row *r = &c->bd[i];

		if (!r->st.count && !r->st.lat_count)
			continue;
		key = r->key;
		if ((rc = add_breakdown(c, s, &key, &r->st)))
			return rc;
	}
	return 0;
}

/* Reloads the "other" hash's code -> row pairs (rows never change once set). */
static void load_other(struct em_collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.other_row);
	struct em_key key, next, *prev = NULL;
	__u64 row;

	c->nother = 0;
	while (c->nother < EM_OTHER_KEYS && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &row) && row) {
			c->other[c->nother].key = key;
			c->other[c->nother].row = row;
			c->nother++;
		}
	}
}

/*
 * The code a row counts: a slot from the mmapped row_of, else a code of
 * the "other" hash. Called after the row's values were read: the claim
 * set the owner before the first count, so a row with data has one.
 * Row 0 (and, defensively, a row with no owner) is OTHER.
 */
static void row_code(struct em_collector *c, __u32 row, uint32_t *isa, uint32_t *reason)
{
	unsigned slot, i, pass;

	*isa = 0;
	*reason = 0;
	if (row == EM_ROW_OTHER)
		return;
	for (slot = 0; slot < EM_NSLOTS; slot++)
		if (c->row_of[slot] == row) {
			slot_code(slot, isa, reason);
			return;
		}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < c->nother; i++)
			if (c->other[i].row == row) {
				*isa = c->other[i].key.isa;
				*reason = c->other[i].key.reason;
				return;
			}
		if (!pass)
			load_other(c); /* claimed since the last load */
	}
}

static int add_slot(struct em_collector *c, struct em_snapshot *s, __u32 row,
		    const struct em_kstats *vals)
{
	struct em_key key = em_carry_row_key(row);
	uint32_t isa, reason;

	sum_kstats(c, vals, c->ncpu, &key, &c->tmp);
	if (!c->tmp.count && !c->tmp.lat_count)
		return 0;
	row_code(c, row, &isa, &reason);
	return add_row(s, isa, reason, EM_ANY_PID, EM_ANY_VCPU, &c->tmp);
}

/*
 * Rows of stats in use: OTHER plus those handed out (row_of[EM_NSLOTS],
 * mmapped). A row claimed after this is read on the next refresh; the
 * rest are zero and not copied (at 256 possible CPUs a row is 284 KiB).
 */
static __u32 rows_used(const struct em_collector *c)
{
	__u64 next = c->row_of[EM_ROW_OF_NEXT];

	return next < EM_ROWS - 1 ? (__u32)next + 1 : EM_ROWS;
}

/*
 * The stats rows in use, in chunks of c->chunk rows per syscall; one
 * lookup per row where the kernel lacks batch operations on arrays.
 */
static int read_stats(struct em_collector *c, int fd, struct em_snapshot *s)
{
	__u32 used = rows_used(c), in = 0, out = 0, count, i, row, done = 0;
	int rc;

	while (!c->no_batch && done < used) {
		count = used - done < c->chunk ? used - done : c->chunk;
		rc = bpf_map_lookup_batch(fd, done ? &in : NULL, &out, c->keys, c->batch,
					  &count, NULL);
		if (rc && !done && (rc == -EINVAL || rc == -ENOTSUP || rc == -EOPNOTSUPP)) {
			c->no_batch = true;
			break;
		} else if (rc && rc != -ENOENT)
			return rc;
		c->read_bytes += (uint64_t)count * c->ncpu * sizeof(struct em_kstats);
		for (i = 0; i < count; i++) {
			rc = add_slot(c, s, c->keys[i], &c->batch[(size_t)i * c->ncpu]);
			if (rc)
				return rc;
		}
		if (!count || rc == -ENOENT)
			break; /* the array's end */
		done += count;
		in = out;
	}
	if (!c->no_batch)
		return 0;
	for (row = 0; row < used; row++) {
		if (bpf_map_lookup_elem(fd, &row, c->vals))
			return -errno;
		c->read_bytes += (uint64_t)c->ncpu * sizeof(struct em_kstats);
		rc = add_slot(c, s, row, c->vals);
		if (rc)
			return rc;
	}
	return 0;
}

int em_carries_load(int fd, struct em_carries *out)
{
	struct em_carry_key key, next, *prev = NULL;
	__u64 n;

	out->n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &n) && em_carries_push(out, &key, n))
			return -ENOMEM;
	}
	em_carries_sort(out);
	return 0;
}

/*
 * The rows, exact: u32 buckets plus their carries. A bucket wraps before
 * its carry is added, so carries read before the rows can miss a wrap the
 * rows show (2^32 low); carries that did not move while the rows were
 * read cannot. They move once per 2^32 samples of a bucket: a retry is
 * all but never needed, and a few suffice.
 */
static int read_rows(struct em_collector *c, struct em_snapshot *s)
{
	struct em_carries t;
	int tries, rc;

	if ((rc = em_carries_load(bpf_map__fd(c->skel->maps.hist_carry), &c->carry)))
		return rc;
	for (tries = 0; tries < 4; tries++) {
		s->nrows = 0;
		c->read_bytes = 0;
		if ((rc = read_stats(c, bpf_map__fd(c->skel->maps.stats), s)))
			return rc;
		if ((s->meta.filters.per_vm || s->meta.filters.per_vcpu) &&
		    (rc = read_breakdown(c, s)))
			return rc;
		if ((rc = em_carries_load(bpf_map__fd(c->skel->maps.hist_carry), &c->carry2)))
			return rc;
		if (em_carries_equal(&c->carry, &c->carry2))
			return 0;
		t = c->carry; /* read again with the newer carries */
		c->carry = c->carry2;
		c->carry2 = t;
	}
	return 0; /* carries kept moving: a bucket may read 2^32 low until the next read */
}

/*
 * Pending records the LRU evicted: each record is inserted once and
 * deleted once consumed, so evicted = inserted - deleted - keys left,
 * plus inserts the kernel refused. Counters are read before the keys, so
 * a record inserted meanwhile can make it low for one read: it is kept
 * monotonic.
 */
static uint64_t pending_full(struct em_collector *c, const uint64_t *bcnt)
{
	uint64_t in = bcnt[EM_BCNT_PENDING_INSERT], del = bcnt[EM_BCNT_PENDING_DELETE], keys = 0;
	int fd = bpf_map__fd(c->skel->maps.pending);
	__u64 key, next, *prev = NULL;

	if (in > del) /* else nothing can be left, nor evicted: skip the walk */
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			keys++;
		}
	if (in > del + keys && in - del - keys > c->evicted)
		c->evicted = in - del - keys;
	return c->evicted + bcnt[EM_BCNT_PENDING_INSERT_FAIL];
}

/* Events the kernel skipped because a BPF program was already running on that CPU. */
static uint64_t recursion_misses(const struct em_collector *c)
{
	struct bpf_program *p;
	uint64_t sum = 0;

	bpf_object__for_each_program(p, c->skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

int em_collector_read(struct em_collector *c, struct em_snapshot *s)
{
	struct exitmon_bpf *skel = c->skel;
	uint64_t bcnt[EM_BCNT__MAX];
	__u32 i;
	int cpu, fd, rc;

	if ((rc = read_rows(c, s)))
		return rc;
	fd = bpf_map__fd(skel->maps.counters);
	for (i = 0; i < EM_BCNT__MAX; i++) {
		bcnt[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, c->cnts))
			return -errno;
		for (cpu = 0; cpu < c->ncpu; cpu++)
			bcnt[i] += c->cnts[cpu];
	}
	memcpy(s->counters, bcnt, sizeof(s->counters));
	s->counters[EM_CNT_PENDING_FULL] = pending_full(c, bcnt);
	s->counters[EM_CNT_RECURSION_MISSES] = recursion_misses(c);
	s->counters[EM_CNT_MAP_BYTES] = c->map_bytes;
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
	if (c->row_of)
		munmap((void *)c->row_of, c->row_of_len);
	if (c->bd)
		munmap((void *)c->bd, c->bd_len);
	exitmon_bpf__destroy(c->skel);
	em_names_free(c->names);
	em_vm_select_free(&c->sel);
	free(c->vals);
	free(c->cnts);
	free(c->keys);
	free(c->batch);
	em_carries_free(&c->carry);
	em_carries_free(&c->carry2);
	free(c);
}
