// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The name table of a run, --vm selection and the per-VM diff (see labels.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
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

/*
 * Labels are kept sorted by (tgid, vcpu), a VM's own label (EM_ANY_VCPU)
 * after its vCPUs': every lookup is a binary search, and a VM's vCPUs are
 * the run just before it.
 */
static int cmp_key(uint32_t t1, uint32_t v1, uint32_t t2, uint32_t v2)
{
	if (t1 != t2)
		return t1 < t2 ? -1 : 1;
	return v1 < v2 ? -1 : v1 > v2;
}

static int cmp_label(const void *pa, const void *pb)
{
	const struct em_label *a = pa, *b = pb;

	return cmp_key(a->tgid, a->vcpu, b->tgid, b->vcpu);
}

/* Index of the first label not below (tgid, vcpu). */
static size_t lower_bound(const struct em_labels *l, uint32_t tgid, uint32_t vcpu)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(l->v[mid].tgid, l->v[mid].vcpu, tgid, vcpu) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct em_label *em_labels_find(const struct em_labels *l, uint32_t tgid, uint32_t vcpu)
{
	size_t i = lower_bound(l, tgid, vcpu);

	return i < l->n && l->v[i].tgid == tgid && l->v[i].vcpu == vcpu ? &l->v[i] : NULL;
}

bool em_labels_equal(const struct em_labels *a, const struct em_labels *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct em_label *x = &a->v[i], *y = &b->v[i];

		if (x->tgid != y->tgid || x->vcpu != y->vcpu || strcmp(x->name, y->name) || x->src != y->src ||
		    x->index != y->index || x->tid != y->tid)
			return false;
	}
	return true;
}

const char *em_labels_vm_name(const struct em_labels *l, uint32_t tgid)
{
	const struct em_label *e = em_labels_find(l, tgid, EM_ANY_VCPU);

	return e && e->name[0] ? e->name : NULL;
}

/* Room for one more of n elements of size bytes in *v (capacity *cap, doubled); 0 or -ENOMEM. */
static int grow(void *v, size_t *cap, size_t n, size_t size)
{
	void **p = v, *nv;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	if (nc > SIZE_MAX / 2 / size || !(nv = realloc(*p, nc * size)))
		return -ENOMEM;
	*p = nv;
	*cap = nc;
	return 0;
}

/* Appends a blank label, leaving the order to the caller (sort_labels). */
static struct em_label *label_append(struct em_labels *l, uint32_t tgid, uint32_t vcpu)
{
	if (grow(&l->v, &l->cap, l->n, sizeof(*l->v)))
		return NULL;
	l->v[l->n] = (struct em_label){ .tgid = tgid, .vcpu = vcpu, .index = -1 };
	return &l->v[l->n++];
}

static void sort_labels(struct em_labels *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_label);
}

static bool is_breakdown(const struct em_row *r)
{
	return r->tgid != EM_ANY_PID;
}

/* em_u32set: sorted, so membership is a binary search. */
static size_t set_pos(const struct em_u32set *s, uint32_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool set_has(const struct em_u32set *s, uint32_t x)
{
	size_t i = set_pos(s, x);

	return i < s->n && s->v[i] == x;
}

static int set_add(struct em_u32set *s, uint32_t x)
{
	size_t i = set_pos(s, x);

	if (i < s->n && s->v[i] == x)
		return 0;
	if (grow(&s->v, &s->cap, s->n, sizeof(*s->v)))
		return -ENOMEM;
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = x;
	s->n++;
	return 0;
}

/* The VM's name, again; a changed name (a reused pid) sends its vCPUs to be looked up again. */
static void refresh_vm(struct em_labels *l, size_t at, struct em_names *n)
{
	struct em_label *e = &l->v[at];
	enum em_name_src src;
	const char *name = em_names_vm(n, e->tgid, &src);
	size_t i;

	if (!strcmp(e->name, name ? name : "") && e->src == src)
		return;
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	e->src = (uint8_t)src;
	for (i = lower_bound(l, e->tgid, 0); i < at; i++) {
		l->v[i].index = -1;
		l->v[i].tid = 0;
		l->v[i].src = EM_VCPU_NONE;
	}
}

struct key {
	uint32_t tgid, vcpu;
};

static int cmp_keys(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;

	return cmp_key(a->tgid, a->vcpu, b->tgid, b->vcpu);
}

int em_labels_fill(struct em_snapshot *s, struct em_names *n)
{
	struct em_labels *l = &s->labels;
	struct em_u32set vms = { 0 };
	struct key *keys = malloc((2 * s->nrows + 1) * sizeof(*keys));
	size_t i, nk = 0, old = l->n;
	int rc = 0;

	if (!keys)
		return -ENOMEM;
	/* the keys of this read, once each; the new ones get labels (one sort) */
	for (i = 0; i < s->nrows; i++) {
		const struct em_row *r = &s->rows[i];

		if (!is_breakdown(r))
			continue;
		keys[nk++] = (struct key){ r->tgid, EM_ANY_VCPU };
		if (r->vcpu != EM_ANY_VCPU)
			keys[nk++] = (struct key){ r->tgid, r->vcpu };
	}
	if (nk)
		qsort(keys, nk, sizeof(*keys), cmp_keys);
	for (i = 0; i < nk && !rc; i++) {
		if (i && !cmp_keys(&keys[i - 1], &keys[i]))
			continue;
		if (keys[i].vcpu == EM_ANY_VCPU)
			rc = set_add(&vms, keys[i].tgid); /* in order: appends, no moves */
		if (!rc && !em_labels_find(&(struct em_labels){ .n = old, .v = l->v }, keys[i].tgid, keys[i].vcpu) &&
		    !label_append(l, keys[i].tgid, keys[i].vcpu))
			rc = -ENOMEM;
	}
	free(keys);
	if (l->n != old)
		sort_labels(l);
	for (i = 0; !rc && i < l->n; i++) {
		struct em_label *e = &l->v[i];
		struct em_vcpu_info v;

		if (!set_has(&vms, e->tgid))
			continue; /* no rows in this read: keep what we had */
		if (e->vcpu == EM_ANY_VCPU) {
			/* its vCPUs come before it: name first, then the vCPUs it left blank */
			size_t j, first = lower_bound(l, e->tgid, 0);

			refresh_vm(l, i, n);
			for (j = first; j < i; j++) {
				if (l->v[j].index >= 0)
					continue;
				em_names_vcpu_by_id(n, e->tgid, l->v[j].vcpu, &v);
				l->v[j].index = v.index;
				l->v[j].tid = v.tid;
				l->v[j].src = (uint8_t)v.index_src;
			}
		}
	}
	free(vms.v);
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
		if ((rc = em_rstats_add(&s->hist, &t->st, &r.st)))
			goto out;
	}
out:
	free(keep.v);
	free(drop.v);
	return rc;
}

/* ---- display -------------------------------------------------------------- */

/* "1", "1 (apic 2)" or "apic 2": the vCPU index, with KVM's vcpu_id when it differs */
static void vcpu_text(char *buf, size_t len, uint32_t vcpu, int32_t index)
{
	if (vcpu == EM_ANY_VCPU)
		snprintf(buf, len, "%s", "");
	else if (index < 0)
		snprintf(buf, len, "apic %" PRIu32, vcpu);
	else if ((uint32_t)index == vcpu)
		snprintf(buf, len, "%" PRId32, index);
	else
		snprintf(buf, len, "%" PRId32 " (apic %" PRIu32 ")", index, vcpu);
}

int em_labels_pad(const char *s, int width)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) == 0x80)
			width++; /* a continuation byte takes no column */
	return width;
}

void em_labels_row_text(const struct em_labels *l, const struct em_row *r, char *vm, size_t vmlen,
			char *vcpu, size_t vcpulen)
{
	const char *name = em_labels_vm_name(l, r->tgid);
	const struct em_label *e;

	snprintf(vm, vmlen, "%s", name ? name : "-");
	e = r->vcpu == EM_ANY_VCPU ? NULL : em_labels_find(l, r->tgid, r->vcpu);
	vcpu_text(vcpu, vcpulen, r->vcpu, e ? e->index : -1);
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
		for (j = lower_bound(l, e->tgid, 0); j < i; j++) {
			const struct em_label *c = &l->v[j];

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
	struct em_label *e;

	em_labels_free(l);
	if (!json_is_array(j)) {
		snprintf(err, errlen, "vms: not an array");
		return -EINVAL;
	}
	json_array_foreach(j, i, vm) {
		const json_t *name = json_object_get(vm, "name"), *vcpus = json_object_get(vm, "vcpus");
		int64_t tgid;
		int src = src_parse(json_object_get(vm, "source"), name_src, EM_NAME_CROSVM);

		if (!json_is_object(vm) || !get_num(vm, "tgid", 1, UINT32_MAX, false, 0, &tgid))
			return bad(err, errlen, "tgid: not an integer 1..2^32-1", i);
		if (!json_is_null(name) && (!json_is_string(name) || !json_string_length(name) ||
					    json_string_length(name) >= EM_NAME_MAX))
			return bad(err, errlen, "name: not null or a string of 1..127 bytes", i);
		if (src < 0 || (src == EM_NAME_NONE) != json_is_null(name))
			return bad(err, errlen, "source: unknown, or does not fit the name", i);
		if (!json_is_array(vcpus))
			return bad(err, errlen, "vcpus: not an array", i);
		if (!(e = label_append(l, (uint32_t)tgid, EM_ANY_VCPU)))
			return -ENOMEM;
		/* a crafted file may carry terminal escapes: clean as when resolved */
		if (json_is_string(name))
			em_names_sanitize(e->name, sizeof(e->name), json_string_value(name), json_string_length(name));
		e->src = (uint8_t)src;
		json_array_foreach(vcpus, k, c) {
			int64_t vcpu, index, tid;
			int vs = src_parse(json_object_get(c, "source"), vcpu_src, EM_VCPU_DEBUGFS);

			if (!json_is_object(c) || !get_num(c, "vcpu", 0, (int64_t)EM_ANY_VCPU - 1, false, 0, &vcpu) ||
			    !get_num(c, "index", 0, INT32_MAX, true, -1, &index) ||
			    !get_num(c, "tid", 1, UINT32_MAX, true, 0, &tid) || vs < 0 ||
			    (vs == EM_VCPU_NONE) != (index < 0))
				return bad(err, errlen, "vcpus: an entry is not {vcpu, index, tid, source}", i);
			if (!(e = label_append(l, (uint32_t)tgid, (uint32_t)vcpu)))
				return -ENOMEM;
			e->index = (int32_t)index;
			e->tid = (uint32_t)tid;
			e->src = (uint8_t)vs;
		}
	}
	sort_labels(l);
	for (i = 1; i < l->n; i++)
		if (!cmp_label(&l->v[i - 1], &l->v[i])) {
			snprintf(err, errlen, "vms: tgid %" PRIu32 " or one of its vcpus listed twice", l->v[i].tgid);
			return -EINVAL;
		}
	return 0;
}

/* ---- per-VM diff ------------------------------------------------------------ */

/* One side's (VM, vCPU) sum before matching; key = the name it is matched by, or NULL. */
struct vmd_ent {
	const char *key;
	uint32_t pid, vcpu;
	int32_t index;
	uint64_t count;
	int side;
};

struct vmd_list {
	struct vmd_ent *v;
	size_t n, cap;
};

static struct vmd_ent *vmd_add(struct vmd_list *l)
{
	if (grow(&l->v, &l->cap, l->n, sizeof(*l->v)))
		return NULL;
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* A VM row before its vCPU rows */
static uint32_t vcpu_order(uint32_t vcpu)
{
	return vcpu == EM_ANY_VCPU ? 0 : vcpu + 1;
}

static int cmp_pidvcpu(const void *pa, const void *pb)
{
	const struct vmd_ent *a = pa, *b = pb;

	return cmp_key(a->pid, vcpu_order(a->vcpu), b->pid, vcpu_order(b->vcpu));
}

/* Matching order: named first, by name; then by pid; the VM before its vCPUs; A before B. */
static int cmp_match(const void *pa, const void *pb)
{
	const struct vmd_ent *a = pa, *b = pb;
	int c;

	if (!a->key != !b->key)
		return a->key ? -1 : 1;
	if (a->key && (c = strcmp(a->key, b->key)))
		return c;
	if (!a->key && a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->vcpu != b->vcpu)
		return vcpu_order(a->vcpu) < vcpu_order(b->vcpu) ? -1 : 1;
	return a->side - b->side;
}

static bool same_key(const struct vmd_ent *a, const struct vmd_ent *b)
{
	return !a->key == !b->key && (a->key ? !strcmp(a->key, b->key) : a->pid == b->pid) && a->vcpu == b->vcpu;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The name VM tgid is matched by: its name if no other VM of the run has it. */
static const char *match_name(const struct em_snapshot *s, const char **names, size_t nnames, uint32_t tgid)
{
	const char *name = em_labels_vm_name(&s->labels, tgid);
	const char **at;

	if (!name)
		return NULL;
	at = bsearch(&name, names, nnames, sizeof(*names), cmp_str);
	/* sorted: a twin is next to it */
	while (at && at > names && !strcmp(at[-1], name))
		at--;
	return at && !(at + 1 < names + nnames && !strcmp(at[1], name)) ? name : NULL;
}

/* One run's (VM, vCPU) sums, appended to out: per-vCPU rows also add up into a VM row. */
static int vmd_side(const struct em_snapshot *s, int side, const uint32_t *reasons, size_t nreasons,
		    struct vmd_list *out)
{
	struct vmd_list l = { 0 };
	const char **names = NULL;
	size_t i, j, nnames = 0;
	int rc = -ENOMEM;

	for (i = 0; i < s->nrows; i++) {
		const struct em_row *r = &s->rows[i];
		struct vmd_ent *e;

		if (!is_breakdown(r) || !em_row_matches(r, reasons, nreasons))
			continue;
		if (!(e = vmd_add(&l)))
			goto out;
		*e = (struct vmd_ent){ .pid = r->tgid, .vcpu = r->vcpu, .count = r->st.count, .side = side };
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_pidvcpu);
	if (s->labels.n && !(names = malloc(s->labels.n * sizeof(*names))))
		goto out;
	for (i = 0; i < s->labels.n; i++)
		if (s->labels.v[i].vcpu == EM_ANY_VCPU && s->labels.v[i].name[0])
			names[nnames++] = s->labels.v[i].name;
	if (nnames)
		qsort(names, nnames, sizeof(*names), cmp_str);
	/* one entry per (pid, vcpu) (rows of several reasons merge), VM rows made up where missing */
	for (i = 0; i < l.n; i = j) {
		const char *key = match_name(s, names, nnames, l.v[i].pid);
		struct vmd_ent *vm = NULL, *e;

		for (j = i; j < l.n && l.v[j].pid == l.v[i].pid; j++) {
			if (j > i && l.v[j].vcpu == l.v[j - 1].vcpu) {
				out->v[out->n - 1].count += l.v[j].count;
				continue;
			}
			if (!(e = vmd_add(out)))
				goto out;
			*e = l.v[j];
			e->key = key;
			e->index = -1;
			if (e->vcpu == EM_ANY_VCPU) {
				vm = e;
			} else {
				const struct em_label *lb = em_labels_find(&s->labels, e->pid, e->vcpu);

				e->index = lb ? lb->index : -1;
			}
		}
		if (vm)
			continue; /* the run has per-VM rows of its own (first when sorted) */
		if (!(vm = vmd_add(out)))
			goto out;
		*vm = (struct vmd_ent){ .key = key, .pid = l.v[i].pid, .vcpu = EM_ANY_VCPU, .index = -1, .side = side };
		for (e = out->v + out->n - 2; e >= out->v && e->pid == vm->pid && e->side == side; e--)
			vm->count += e->count;
	}
	rc = 0;
out:
	free(l.v);
	free(names);
	return rc;
}

int em_vmdiff_compute(const struct em_snapshot *a, const struct em_snapshot *b, const uint32_t *reasons,
		      size_t nreasons, struct em_vmdiff_row **rows, size_t *n)
{
	struct vmd_list l = { 0 };
	size_t i, k = 0;

	*rows = NULL;
	*n = 0;
	if (vmd_side(a, 0, reasons, nreasons, &l) || vmd_side(b, 1, reasons, nreasons, &l))
		goto nomem;
	if (!l.n)
		return 0;
	qsort(l.v, l.n, sizeof(*l.v), cmp_match);
	if (!(*rows = calloc(l.n, sizeof(**rows))))
		goto nomem;
	/* equal keys are adjacent, A then B: one row each */
	for (i = 0; i < l.n; i++) {
		const struct vmd_ent *e = &l.v[i];
		struct em_vmdiff_row *d;
		bool same = i && same_key(e, &l.v[i - 1]) && l.v[i - 1].side == 0 && e->side == 1;

		d = same ? &(*rows)[k - 1] : &(*rows)[k++];
		if (!same) {
			snprintf(d->vm, sizeof(d->vm), "%s", e->key ? e->key : "");
			d->vcpu = e->vcpu;
			d->index = -1;
		}
		*(e->side ? &d->pid_b : &d->pid_a) = e->pid;
		*(e->side ? &d->count_b : &d->count_a) = e->count;
		if (e->index >= 0)
			d->index = e->index;
	}
	*n = k;
	free(l.v);
	return 0;
nomem:
	free(l.v);
	free(*rows);
	*rows = NULL;
	return -ENOMEM;
}

/* pa, pb, vc: len bytes each */
static void vmdiff_cols(const struct em_vmdiff_row *d, char *vm, size_t vmlen, char *pa, char *pb,
			char *vc, size_t len)
{
	snprintf(vm, vmlen, "%s", d->vm[0] ? d->vm : "-");
	snprintf(pa, len, d->pid_a ? "%" PRIu32 : "-", d->pid_a);
	snprintf(pb, len, d->pid_b ? "%" PRIu32 : "-", d->pid_b);
	vcpu_text(vc, len, d->vcpu, d->index);
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
		fprintf(f, "%-*s %8s %8s %-12s %12" PRIu64 " %12" PRIu64 " %+13" PRId64 "%s\n",
			em_labels_pad(vm, 20), vm, pa, pb, vc,
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
