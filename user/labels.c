// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The name table of a run, --vm selection and the per-VM diff (see labels.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "labels.h"
#include "model.h"

void em_labels_free(struct em_labels *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int em_labels_copy(struct em_labels *dst, const struct em_labels *src)
{
	struct em_label *v = NULL;

	if (src->n && !(v = malloc(src->n * sizeof(*v))))
		return -ENOMEM;
	if (src->n)
		memcpy(v, src->v, src->n * sizeof(*v));
	free(dst->v);
	dst->v = v;
	dst->n = dst->cap = src->n;
	return 0;
}

const struct em_label *em_labels_find(const struct em_labels *l, uint32_t tgid, uint32_t vcpu)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].tgid == tgid && l->v[i].vcpu == vcpu)
			return &l->v[i];
	return NULL;
}

bool em_labels_equal(const struct em_labels *a, const struct em_labels *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct em_label *x = &a->v[i], *y = em_labels_find(b, x->tgid, x->vcpu);

		if (!y || strcmp(x->name, y->name) || x->src != y->src || x->index != y->index || x->tid != y->tid)
			return false;
	}
	return true;
}

const char *em_labels_vm_name(const struct em_labels *l, uint32_t tgid)
{
	const struct em_label *e = em_labels_find(l, tgid, EM_ANY_VCPU);

	return e && e->name[0] ? e->name : NULL;
}

/* Index of the label (tgid, vcpu), created blank if absent; -1 on ENOMEM. */
static ssize_t label_get(struct em_labels *l, uint32_t tgid, uint32_t vcpu)
{
	const struct em_label *e = em_labels_find(l, tgid, vcpu);

	if (e)
		return e - l->v;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct em_label *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = (struct em_label){ .tgid = tgid, .vcpu = vcpu, .index = -1 };
	return (ssize_t)l->n++;
}

static bool is_breakdown(const struct em_row *r)
{
	return r->tgid != EM_ANY_PID;
}

static bool set_has(const struct em_u32set *s, uint32_t x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == x)
			return true;
	return false;
}

static int set_add(struct em_u32set *s, uint32_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static int refresh_vm(struct em_labels *l, uint32_t tgid, struct em_names *n)
{
	enum em_name_src src;
	const char *name = em_names_vm(n, tgid, &src);
	ssize_t k = label_get(l, tgid, EM_ANY_VCPU);
	struct em_label *e;
	size_t i;

	if (k < 0)
		return -ENOMEM;
	e = &l->v[k];
	if (!strcmp(e->name, name ? name : "") && e->src == src)
		return 0;
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	e->src = (uint8_t)src;
	/* another process (or newly named): its vCPUs are looked up again */
	for (i = 0; i < l->n; i++)
		if (l->v[i].tgid == tgid && l->v[i].vcpu != EM_ANY_VCPU) {
			l->v[i].index = -1;
			l->v[i].tid = 0;
			l->v[i].src = EM_VCPU_NONE;
		}
	return 0;
}

int em_labels_fill(struct em_snapshot *s, struct em_names *n)
{
	struct em_u32set done = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < s->nrows && !rc; i++) {
		const struct em_row *r = &s->rows[i];
		struct em_vcpu_info v;
		ssize_t k;

		if (!is_breakdown(r))
			continue;
		if (!set_has(&done, r->tgid) && !(rc = set_add(&done, r->tgid)))
			rc = refresh_vm(&s->labels, r->tgid, n);
		if (rc || r->vcpu == EM_ANY_VCPU)
			continue;
		if ((k = label_get(&s->labels, r->tgid, r->vcpu)) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (s->labels.v[k].index >= 0)
			continue;
		em_names_vcpu_by_id(n, r->tgid, r->vcpu, &v);
		s->labels.v[k].index = v.index;
		s->labels.v[k].tid = v.tid;
		s->labels.v[k].src = (uint8_t)v.index_src;
	}
	free(done.v);
	return rc;
}

/* ---- --vm --------------------------------------------------------------- */

static void tell(struct em_vm_select *sel, FILE *f, uint32_t pid, const char *name, const char *how)
{
	set_add(&sel->told, pid); /* on ENOMEM it may be said twice: harmless */
	if (f)
		fprintf(f, "exitmon: --vm: %s pid %" PRIu32 " (%s)\n", how, pid, name ? name : "?");
}

static bool told(const struct em_vm_select *sel, uint32_t pid)
{
	return set_has(&sel->told, pid);
}

size_t em_vm_select_start(struct em_vm_select *sel, struct em_names *n, FILE *f)
{
	size_t nvms, g, i, total = 0;
	uint32_t *vms = em_names_vmms(n, &nvms);

	for (g = 0; g < sel->nglobs; g++) {
		size_t k = 0;

		for (i = 0; i < nvms; i++) {
			const char *name = em_names_vm(n, vms[i], NULL);

			if (!em_names_glob_any(&sel->globs[g], 1, name))
				continue;
			k++;
			if (!told(sel, vms[i]))
				tell(sel, f, vms[i], name, "matched");
		}
		if (!k && f)
			fprintf(f, "exitmon: --vm %s: no running VM matches yet; VMs that start later are followed\n",
				sel->globs[g]);
		total += k;
	}
	free(vms);
	return total;
}

void em_vm_select_free(struct em_vm_select *sel)
{
	free(sel->told.v);
	sel->told = (struct em_u32set){ 0 };
}

int em_vm_select_apply(struct em_vm_select *sel, struct em_snapshot *s, struct em_names *n, FILE *f)
{
	struct em_u32set keep = { 0 }, drop = { 0 };
	size_t i, out = 0, kept;
	int rc = 0;

	if (!sel->nglobs)
		return 0;
	/* decide once per VM, drop the others' rows and every total row */
	for (i = 0; i < s->nrows; i++) {
		struct em_row *r = &s->rows[i];
		bool k;

		if (!is_breakdown(r))
			continue;
		if (set_has(&keep, r->tgid))
			k = true;
		else if (set_has(&drop, r->tgid))
			k = false;
		else {
			const char *name = em_names_vm(n, r->tgid, NULL);

			k = em_names_glob_any(sel->globs, sel->nglobs, name);
			if ((rc = set_add(k ? &keep : &drop, r->tgid)))
				goto out;
			if (k && !told(sel, r->tgid))
				tell(sel, f, r->tgid, name, "now following");
		}
		if (k) {
			s->rows[out++] = *r;
		} else {
			s->counters[EM_CNT_FILTERED] += r->st.count;
			s->counters[EM_CNT_ENTRIES] -= r->st.lat_count <= s->counters[EM_CNT_ENTRIES] ?
							       r->st.lat_count : s->counters[EM_CNT_ENTRIES];
		}
	}
	s->nrows = kept = out;
	/* totals = the sum of the kept breakdown rows (per-VM or per-vCPU, never both) */
	for (i = 0; i < kept; i++) {
		struct em_row r = s->rows[i];
		struct em_row *t = em_snapshot_row(s, r.isa, r.reason, EM_ANY_PID, EM_ANY_VCPU);

		if (!t) {
			rc = -ENOMEM;
			goto out;
		}
		em_stats_add(&t->st, &r.st);
	}
out:
	free(keep.v);
	free(drop.v);
	return rc;
}

/* ---- display -------------------------------------------------------------- */

void em_labels_row_text(const struct em_labels *l, const struct em_row *r, char *vm, size_t vmlen,
			char *vcpu, size_t vcpulen)
{
	const char *name = em_labels_vm_name(l, r->tgid);
	const struct em_label *e;

	snprintf(vm, vmlen, "%s", name ? name : "-");
	if (r->vcpu == EM_ANY_VCPU) {
		snprintf(vcpu, vcpulen, "%s", "");
		return;
	}
	e = em_labels_find(l, r->tgid, r->vcpu);
	if (!e || e->index < 0)
		snprintf(vcpu, vcpulen, "apic %" PRIu32, r->vcpu);
	else if ((uint32_t)e->index == r->vcpu)
		snprintf(vcpu, vcpulen, "%" PRId32, e->index);
	else
		snprintf(vcpu, vcpulen, "%" PRId32 " (apic %" PRIu32 ")", e->index, r->vcpu);
}

int em_labels_row_json(json_t *o, const struct em_labels *l, const struct em_row *r)
{
	const char *name;
	const struct em_label *e;

	if (!is_breakdown(r))
		return 0;
	name = em_labels_vm_name(l, r->tgid);
	if (json_object_set_new(o, "vm", name ? json_string(name) : json_null()))
		return -ENOMEM;
	if (r->vcpu == EM_ANY_VCPU)
		return 0;
	e = em_labels_find(l, r->tgid, r->vcpu);
	if (json_object_set_new(o, "vcpu_index", e && e->index >= 0 ? json_integer(e->index) : json_null()) ||
	    json_object_set_new(o, "vcpu_tid", e && e->tid ? json_integer(e->tid) : json_null()))
		return -ENOMEM;
	return 0;
}

/* ---- snapshot file ---------------------------------------------------------- */

json_t *em_labels_to_json(const struct em_labels *l)
{
	json_t *vms = json_array();
	size_t i, j;

	if (!vms)
		return NULL;
	for (i = 0; i < l->n; i++) {
		const struct em_label *e = &l->v[i];
		json_t *vm, *vcpus;

		if (e->vcpu != EM_ANY_VCPU)
			continue;
		vm = json_pack("{s:I, s:o, s:s, s:[]}", "tgid", (json_int_t)e->tgid, "name",
			       e->name[0] ? json_string(e->name) : json_null(), "source",
			       em_name_src_str(e->src), "vcpus");
		if (!vm || json_array_append_new(vms, vm))
			goto fail;
		vcpus = json_object_get(vm, "vcpus");
		for (j = 0; j < l->n; j++) {
			const struct em_label *c = &l->v[j];

			if (c->tgid != e->tgid || c->vcpu == EM_ANY_VCPU)
				continue;
			if (json_array_append_new(vcpus, json_pack("{s:I, s:o, s:o, s:s}", "vcpu",
								   (json_int_t)c->vcpu, "index",
								   c->index >= 0 ? json_integer(c->index) : json_null(),
								   "tid", c->tid ? json_integer(c->tid) : json_null(),
								   "source", em_vcpu_src_str(c->src))))
				goto fail;
		}
	}
	return vms;
fail:
	json_decref(vms);
	return NULL;
}

static int bad(char *err, size_t errlen, const char *what, size_t i)
{
	snprintf(err, errlen, "vms[%zu]: %s", i, what);
	return -EINVAL;
}

/* Integer in [lo, hi] or, when null_ok, null (-> null_val). */
static bool get_num(const json_t *o, const char *key, int64_t lo, int64_t hi, bool null_ok,
		    int64_t null_val, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (null_ok && json_is_null(v)) {
		*out = null_val;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = json_integer_value(v);
	return true;
}

static int src_parse(const json_t *v, const char *(*str)(int), int max)
{
	int i;

	for (i = 0; json_is_string(v) && i <= max; i++)
		if (!strcmp(json_string_value(v), str(i)))
			return i;
	return -1;
}

static const char *name_src(int i)
{
	return em_name_src_str((enum em_name_src)i);
}

static const char *vcpu_src(int i)
{
	return em_vcpu_src_str((enum em_vcpu_src)i);
}

int em_labels_from_json(const json_t *j, struct em_labels *l, char *err, size_t errlen)
{
	size_t i, k;
	const json_t *vm, *c;

	em_labels_free(l);
	if (!json_is_array(j)) {
		snprintf(err, errlen, "vms: not an array");
		return -EINVAL;
	}
	json_array_foreach(j, i, vm) {
		const json_t *name = json_object_get(vm, "name"), *vcpus = json_object_get(vm, "vcpus");
		int64_t tgid;
		int src = src_parse(json_object_get(vm, "source"), name_src, EM_NAME_CROSVM);
		ssize_t at;

		if (!json_is_object(vm) || !get_num(vm, "tgid", 1, UINT32_MAX, false, 0, &tgid))
			return bad(err, errlen, "tgid: not an integer 1..2^32-1", i);
		if (!json_is_null(name) && (!json_is_string(name) || !json_string_length(name) ||
					    json_string_length(name) >= EM_NAME_MAX))
			return bad(err, errlen, "name: not null or a string of 1..127 bytes", i);
		if (src < 0 || (src == EM_NAME_NONE) != json_is_null(name))
			return bad(err, errlen, "source: unknown, or does not fit the name", i);
		if (!json_is_array(vcpus))
			return bad(err, errlen, "vcpus: not an array", i);
		if (em_labels_find(l, (uint32_t)tgid, EM_ANY_VCPU))
			return bad(err, errlen, "tgid: listed twice", i);
		if ((at = label_get(l, (uint32_t)tgid, EM_ANY_VCPU)) < 0)
			return -ENOMEM;
		/* a crafted file may carry terminal escapes: clean as when resolved */
		if (json_is_string(name))
			em_names_sanitize(l->v[at].name, sizeof(l->v[at].name), json_string_value(name),
					  json_string_length(name));
		l->v[at].src = (uint8_t)src;
		json_array_foreach(vcpus, k, c) {
			int64_t vcpu, index, tid;
			int vs = src_parse(json_object_get(c, "source"), vcpu_src, EM_VCPU_DEBUGFS);

			if (!json_is_object(c) || !get_num(c, "vcpu", 0, (int64_t)EM_ANY_VCPU - 1, false, 0, &vcpu) ||
			    !get_num(c, "index", 0, INT32_MAX, true, -1, &index) ||
			    !get_num(c, "tid", 1, UINT32_MAX, true, 0, &tid) || vs < 0 ||
			    (vs == EM_VCPU_NONE) != (index < 0))
				return bad(err, errlen, "vcpus: an entry is not {vcpu, index, tid, source}", i);
			if (em_labels_find(l, (uint32_t)tgid, (uint32_t)vcpu))
				return bad(err, errlen, "vcpus: a vcpu listed twice", i);
			if ((at = label_get(l, (uint32_t)tgid, (uint32_t)vcpu)) < 0)
				return -ENOMEM;
			l->v[at].index = (int32_t)index;
			l->v[at].tid = (uint32_t)tid;
			l->v[at].src = (uint8_t)vs;
		}
	}
	return 0;
}

/* ---- per-VM diff ------------------------------------------------------------ */

static bool has_vm_rows(const struct em_snapshot *s, uint32_t tgid)
{
	size_t i;

	for (i = 0; i < s->nrows; i++)
		if (s->rows[i].tgid == tgid && s->rows[i].vcpu == EM_ANY_VCPU)
			return true;
	return false;
}

/* The name a VM is matched by: its name if no other VM of the run has it. */
static const char *match_name(const struct em_snapshot *s, uint32_t tgid)
{
	const char *name = em_labels_vm_name(&s->labels, tgid);
	size_t i;

	for (i = 0; name && i < s->labels.n; i++) {
		const struct em_label *e = &s->labels.v[i];

		if (e->vcpu == EM_ANY_VCPU && e->tgid != tgid && !strcmp(e->name, name))
			return NULL;
	}
	return name;
}

static struct em_vmdiff_row *vmrow(struct em_vmdiff_row **v, size_t *n, size_t *cap, const char *vm,
				   uint32_t pid, bool side_b, uint32_t vcpu)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		struct em_vmdiff_row *d = &(*v)[i];

		if (d->vcpu != vcpu)
			continue;
		if (vm ? !strcmp(d->vm, vm) : !d->vm[0] && (side_b ? d->pid_b : d->pid_a) == pid)
			return d;
		/* an unnamed VM of B meets the same pid of A */
		if (!vm && !d->vm[0] && side_b && !d->pid_b && d->pid_a == pid)
			return d;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct em_vmdiff_row *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n] = (struct em_vmdiff_row){ .vcpu = vcpu, .index = -1 };
	snprintf((*v)[*n].vm, sizeof((*v)[*n].vm), "%s", vm ? vm : "");
	return &(*v)[(*n)++];
}

static int cmp_vmrow(const void *pa, const void *pb)
{
	const struct em_vmdiff_row *a = pa, *b = pb;
	uint32_t pa_ = a->pid_a ? a->pid_a : a->pid_b, pb_ = b->pid_a ? b->pid_a : b->pid_b;
	int c;

	/* named VMs first, by name; then by pid; the VM row before its vCPUs */
	if (!a->vm[0] != !b->vm[0])
		return a->vm[0] ? -1 : 1;
	if ((c = strcmp(a->vm, b->vm)))
		return c;
	if (!a->vm[0] && pa_ != pb_)
		return pa_ < pb_ ? -1 : 1;
	if (a->vcpu != b->vcpu)
		return a->vcpu == EM_ANY_VCPU ? -1 : b->vcpu == EM_ANY_VCPU ? 1 : a->vcpu < b->vcpu ? -1 : 1;
	return 0;
}

int em_vmdiff_compute(const struct em_snapshot *a, const struct em_snapshot *b, const uint32_t *reasons,
		      size_t nreasons, struct em_vmdiff_row **rows, size_t *n)
{
	const struct em_snapshot *side[2] = { a, b };
	size_t cap = 0, i;
	int s;

	*rows = NULL;
	*n = 0;
	for (s = 0; s < 2; s++) {
		for (i = 0; i < side[s]->nrows; i++) {
			const struct em_row *r = &side[s]->rows[i];
			const struct em_label *e;
			struct em_vmdiff_row *d;
			uint32_t vcpus[2] = { EM_ANY_VCPU, r->vcpu };
			int k;

			if (!is_breakdown(r) || !em_row_matches(r, reasons, nreasons))
				continue;
			/* a per-vCPU row also counts for its VM's row */
			for (k = r->vcpu == EM_ANY_VCPU ? 1 : 0; k < 2; k++) {
				if (k == 0 && has_vm_rows(side[s], r->tgid))
					continue; /* the run has per-VM rows of its own */
				d = vmrow(rows, n, &cap, match_name(side[s], r->tgid), r->tgid, s, vcpus[k]);
				if (!d) {
					free(*rows);
					*rows = NULL;
					*n = 0;
					return -ENOMEM;
				}
				*(s ? &d->pid_b : &d->pid_a) = r->tgid;
				*(s ? &d->count_b : &d->count_a) += r->st.count;
				e = vcpus[k] != EM_ANY_VCPU ? em_labels_find(&side[s]->labels, r->tgid, vcpus[k]) : NULL;
				if (e && e->index >= 0)
					d->index = e->index;
			}
		}
	}
	if (*n)
		qsort(*rows, *n, sizeof(**rows), cmp_vmrow);
	return 0;
}

/* pa, pb, vc: len bytes each */
static void vmdiff_cols(const struct em_vmdiff_row *d, char *vm, size_t vmlen, char *pa, char *pb,
			char *vc, size_t len)
{
	snprintf(vm, vmlen, "%s", d->vm[0] ? d->vm : "-");
	snprintf(pa, len, d->pid_a ? "%" PRIu32 : "-", d->pid_a);
	snprintf(pb, len, d->pid_b ? "%" PRIu32 : "-", d->pid_b);
	if (d->vcpu == EM_ANY_VCPU)
		snprintf(vc, len, "%s", "");
	else if (d->index < 0)
		snprintf(vc, len, "apic %" PRIu32, d->vcpu);
	else if ((uint32_t)d->index == d->vcpu)
		snprintf(vc, len, "%" PRId32, d->index);
	else
		snprintf(vc, len, "%" PRId32 " (apic %" PRIu32 ")", d->index, d->vcpu);
}

void em_vmdiff_print(FILE *f, const struct em_snapshot *a, const struct em_snapshot *b,
		     const uint32_t *reasons, size_t nreasons)
{
	struct em_vmdiff_row *rows;
	size_t n, i;

	if (em_vmdiff_compute(a, b, reasons, nreasons, &rows, &n) || !n)
		return;
	fprintf(f, "\nper VM (matched by name where both runs have it, else by pid):\n");
	fprintf(f, "%-20s %8s %8s %-12s %12s %12s %13s\n", "VM", "PID A", "PID B", "VCPU", "COUNT A",
		"COUNT B", "DELTA");
	for (i = 0; i < n; i++) {
		const struct em_vmdiff_row *d = &rows[i];
		char vm[EM_NAME_MAX], pa[32], pb[32], vc[32];

		vmdiff_cols(d, vm, sizeof(vm), pa, pb, vc, sizeof(vc));
		fprintf(f, "%-20s %8s %8s %-12s %12" PRIu64 " %12" PRIu64 " %+13" PRId64 "%s\n", vm, pa, pb, vc,
			d->count_a, d->count_b, (int64_t)(d->count_b - d->count_a),
			d->pid_a && d->pid_b ? "" : d->pid_a ? "  only A" : "  only B");
	}
	free(rows);
}

json_t *em_vmdiff_json(const struct em_snapshot *a, const struct em_snapshot *b, const uint32_t *reasons,
		       size_t nreasons)
{
	struct em_vmdiff_row *rows;
	size_t n, i;
	json_t *arr;

	if (em_vmdiff_compute(a, b, reasons, nreasons, &rows, &n))
		return NULL;
	if (!(arr = json_array())) {
		free(rows);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const struct em_vmdiff_row *d = &rows[i];
		json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:o, s:I, s:I, s:I}",
				      "vm", d->vm[0] ? json_string(d->vm) : json_null(),
				      "pid_a", d->pid_a ? json_integer(d->pid_a) : json_null(),
				      "pid_b", d->pid_b ? json_integer(d->pid_b) : json_null(),
				      "vcpu", (json_int_t)(d->vcpu == EM_ANY_VCPU ? -1 : (json_int_t)d->vcpu),
				      "vcpu_index", d->index >= 0 ? json_integer(d->index) : json_null(),
				      "count_a", (json_int_t)d->count_a, "count_b", (json_int_t)d->count_b,
				      "delta", (json_int_t)(int64_t)(d->count_b - d->count_a));

		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	free(rows);
	return arr;
}
