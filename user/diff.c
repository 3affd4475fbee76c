// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* `exitmon diff`: two runs compared reason by reason. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "diff.h"
#include "hist.h"
#include "reasons.h"

static const char *const sort_names[] = {
	[EM_DIFF_SORT_DELTA] = "delta",
	[EM_DIFF_SORT_COUNT] = "count",
	[EM_DIFF_SORT_NAME] = "name",
	[EM_DIFF_SORT_REASON] = "reason",
	[EM_DIFF_SORT_RATIO] = "ratio",
};

int em_diff_sort_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
		if (!strcasecmp(s, sort_names[i]))
			return (int)i;
	return -1;
}

/* "0x7b" for SVM, "30" for VMX, "other" otherwise (as in the live table). */
static const char *reason_number(uint32_t isa, uint32_t reason, char *buf, size_t len)
{
	if (isa == EM_ISA_SVM)
		snprintf(buf, len, "0x%" PRIx32, reason);
	else if (isa == EM_ISA_VMX)
		snprintf(buf, len, "%" PRIu32, reason);
	else
		snprintf(buf, len, "other");
	return buf;
}

static void reason_label(uint32_t isa, uint32_t reason, char *buf, size_t len)
{
	if (em_isa_name(isa))
		em_reason_name(isa, reason, buf, len);
	else
		snprintf(buf, len, "OTHER (table full)");
}

/* ------------------------------------------------------------------ */
/* Arithmetic                                                          */

static int cmp_key(const void *pa, const void *pb)
{
	const struct em_row *a = *(const struct em_row *const *)pa;
	const struct em_row *b = *(const struct em_row *const *)pb;

	if (a->isa != b->isa)
		return a->isa < b->isa ? -1 : 1;
	return a->reason < b->reason ? -1 : a->reason > b->reason;
}

static bool wanted(const struct em_row *r, const struct em_diff_opts *o)
{
	if (!em_row_is_total(r))
		return false;
	return !o || !o->reasons || em_row_matches(r, o->reasons, o->nreasons);
}

/* The wanted total rows of s, sorted by (isa, reason). */
static const struct em_row **totals(const struct em_snapshot *s, const struct em_diff_opts *o, size_t *n)
{
	const struct em_row **v = malloc((s->nrows ? s->nrows : 1) * sizeof(*v));
	size_t i;

	*n = 0;
	if (!v)
		return NULL;
	for (i = 0; i < s->nrows; i++)
		if (wanted(&s->rows[i], o))
			v[(*n)++] = &s->rows[i];
	qsort(v, *n, sizeof(*v), cmp_key);
	return v;
}

static double rate(uint64_t count, uint64_t duration_ns)
{
	return duration_ns ? (double)count / ((double)duration_ns / 1e9) : NAN;
}

static void fill_side(const struct em_row *r, uint64_t duration_ns, uint64_t *count, double *rt,
		      double *avg, double *p99)
{
	*count = r ? r->st.count : 0;
	*rt = rate(*count, duration_ns);
	if (r && r->st.lat_count) {
		*avg = (double)r->st.lat_sum / (double)r->st.lat_count / 1000.0;
		*p99 = (double)em_hist_percentile(&r->st, 99) / 1000.0;
	} else {
		*avg = *p99 = NAN;
	}
}

static void fill_row(struct em_diff_row *d, const struct em_row *ra, const struct em_row *rb,
		     const struct em_snapshot *a, const struct em_snapshot *b)
{
	const struct em_row *r = ra ? ra : rb;

	memset(d, 0, sizeof(*d));
	d->isa = r->isa;
	d->reason = r->reason;
	reason_label(r->isa, r->reason, d->name, sizeof(d->name));
	d->in_a = ra != NULL;
	d->in_b = rb != NULL;
	fill_side(ra, a->meta.duration_ns, &d->count_a, &d->rate_a, &d->avg_us_a, &d->p99_us_a);
	fill_side(rb, b->meta.duration_ns, &d->count_b, &d->rate_b, &d->avg_us_b, &d->p99_us_b);
	d->delta = (int64_t)(d->count_b - d->count_a); /* two's complement: exact below 2^63 */
	d->abs_delta = d->count_b >= d->count_a ? d->count_b - d->count_a : d->count_a - d->count_b;
	if (d->count_a)
		d->ratio = (double)d->count_b / (double)d->count_a;
	else
		d->ratio = d->count_b ? INFINITY : NAN;
}

static int cmp_u64_desc(uint64_t x, uint64_t y)
{
	return x > y ? -1 : x < y;
}

static int cmp_reason(const struct em_diff_row *x, const struct em_diff_row *y)
{
	if (x->isa != y->isa)
		return x->isa < y->isa ? -1 : 1;
	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

static int cmp_diff(const void *pa, const void *pb, void *arg)
{
	const struct em_diff_row *x = pa, *y = pb;
	int c = 0;

	switch (*(const int *)arg) {
	case EM_DIFF_SORT_DELTA:
		c = cmp_u64_desc(x->abs_delta, y->abs_delta);
		break;
	case EM_DIFF_SORT_COUNT:
		c = cmp_u64_desc(x->count_a > x->count_b ? x->count_a : x->count_b,
				 y->count_a > y->count_b ? y->count_a : y->count_b);
		break;
	case EM_DIFF_SORT_NAME:
		c = strcasecmp(x->name, y->name);
		break;
	case EM_DIFF_SORT_RATIO:
		/* NAN (nothing in either run) sorts last */
		if (isnan(x->ratio) != isnan(y->ratio))
			c = isnan(x->ratio) ? 1 : -1;
		else if (!isnan(x->ratio) && x->ratio != y->ratio)
			c = x->ratio > y->ratio ? -1 : 1;
		break;
	}
	return c ? c : cmp_reason(x, y);
}

int em_diff_compute(const struct em_snapshot *a, const struct em_snapshot *b, const struct em_diff_opts *o,
		    struct em_diff_row **rows, size_t *nrows)
{
	const struct em_row **ta, **tb;
	struct em_diff_row *out = NULL;
	size_t na, nb, i = 0, j = 0, n = 0;
	int rc = 0, sort;

	*rows = NULL;
	*nrows = 0;
	ta = totals(a, o, &na);
	tb = totals(b, o, &nb);
	if (!ta || !tb) {
		rc = -ENOMEM;
		goto out;
	}
	if (na + nb) {
		out = malloc((na + nb) * sizeof(*out));
		if (!out) {
			rc = -ENOMEM;
			goto out;
		}
	}
	/* merge of the two sorted lists */
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : cmp_key(&ta[i], &tb[j]);

		if (c < 0)
			fill_row(&out[n++], ta[i++], NULL, a, b);
		else if (c > 0)
			fill_row(&out[n++], NULL, tb[j++], a, b);
		else
			fill_row(&out[n++], ta[i++], tb[j++], a, b);
	}
	sort = o ? o->sort : EM_DIFF_SORT_DELTA;
	if (sort < EM_DIFF_SORT_DELTA || sort > EM_DIFF_SORT_RATIO)
		sort = EM_DIFF_SORT_DELTA;
	if (n)
		qsort_r(out, n, sizeof(*out), cmp_diff, &sort);
	if (!n) {
		free(out);
		out = NULL;
	}
	*rows = out;
	*nrows = n;
out:
	free(ta);
	free(tb);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Header facts shared by the table and JSON                           */

struct param_change {
	const char *name;
	const char *a, *b; /* NULL when the run does not have the parameter */
};

static const char *param_value(const struct em_meta *m, const char *name)
{
	uint32_t i;

	for (i = 0; i < m->nparams && i < EM_MAX_PARAMS; i++)
		if (!strncmp(m->params[i].name, name, sizeof(m->params[i].name)))
			return m->params[i].value;
	return NULL;
}

/* Parameters whose values differ, in A's order then B-only ones. */
static size_t param_changes(const struct em_meta *a, const struct em_meta *b,
			    struct param_change out[2 * EM_MAX_PARAMS])
{
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < a->nparams && i < EM_MAX_PARAMS; i++) {
		const char *name = a->params[i].name, *vb = param_value(b, name);

		if (param_value(a, name) != a->params[i].value)
			continue; /* duplicate name: first one counts */
		if (!vb || strncmp(a->params[i].value, vb, sizeof(a->params[i].value)))
			out[n++] = (struct param_change){ name, a->params[i].value, vb };
	}
	for (i = 0; i < b->nparams && i < EM_MAX_PARAMS; i++) {
		const char *name = b->params[i].name;

		if (!param_value(a, name) && param_value(b, name) == b->params[i].value)
			out[n++] = (struct param_change){ name, NULL, b->params[i].value };
	}
	return n;
}

static void fmt_filters(const struct em_filters *f, char *buf, size_t len)
{
	size_t off = 0;
	uint32_t i;

#define APPEND(...)                                                                  \
	do {                                                                         \
		if (off < len)                                                       \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); \
	} while (0)
	buf[0] = '\0';
	if (f->nreasons) {
		APPEND("reasons ");
		for (i = 0; i < f->nreasons && i < EM_MAX_FILTER_REASONS; i++)
			APPEND("%s%" PRIu32, i ? "," : "", f->reasons[i]);
	}
	if (f->pid)
		APPEND("%spid %" PRIu32, off ? ", " : "", f->pid);
	if (f->vcpu >= 0)
		APPEND("%svcpu %" PRId64, off ? ", " : "", f->vcpu);
	if (!off)
		APPEND("none");
#undef APPEND
}

static bool same_filters(const struct em_filters *x, const struct em_filters *y)
{
	uint32_t i, j;

	if (x->pid != y->pid || x->vcpu != y->vcpu || x->nreasons != y->nreasons)
		return false;
	/* same set, any order */
	for (i = 0; i < x->nreasons && i < EM_MAX_FILTER_REASONS; i++) {
		for (j = 0; j < y->nreasons && j < EM_MAX_FILTER_REASONS; j++)
			if (x->reasons[i] == y->reasons[j])
				break;
		if (j == y->nreasons || j == EM_MAX_FILTER_REASONS)
			return false;
	}
	return true;
}

/* More than 1 % apart. */
static bool durations_differ(uint64_t a, uint64_t b)
{
	uint64_t hi = a > b ? a : b, lo = a > b ? b : a;

	return (double)(hi - lo) > 0.01 * (double)hi;
}

#define STR(m, f) (int)strnlen((m)->f, sizeof((m)->f)), (m)->f
/* a parameter name or value (char[48], maybe not NUL-terminated) */
#define P(s) (int)strnlen((s), sizeof(((struct em_param *)0)->name)), (s)

/* Warning lines (without "warning: "), at most 4. */
static size_t warnings(const struct em_meta *a, const struct em_meta *b, char w[4][1024])
{
	size_t n = 0;
	char fa[384], fb[384];

	if (a->isa != b->isa || strncmp(a->cpu_vendor, b->cpu_vendor, sizeof(a->cpu_vendor)))
		snprintf(w[n++], sizeof(w[0]),
			 "CPU vendor/isa differ (%.*s %s vs %.*s %s): the same reason number means different exits",
			 STR(a, cpu_vendor), em_isa_name(a->isa) ?: "?", STR(b, cpu_vendor),
			 em_isa_name(b->isa) ?: "?");
	if (strncmp(a->kernel, b->kernel, sizeof(a->kernel)))
		snprintf(w[n++], sizeof(w[0]), "kernels differ (%.*s vs %.*s)", STR(a, kernel), STR(b, kernel));
	if (durations_differ(a->duration_ns, b->duration_ns))
		snprintf(w[n++], sizeof(w[0]), "durations differ (%.3f s vs %.3f s): compare rates, not counts",
			 (double)a->duration_ns / 1e9, (double)b->duration_ns / 1e9);
	if (!same_filters(&a->filters, &b->filters)) {
		fmt_filters(&a->filters, fa, sizeof(fa));
		fmt_filters(&b->filters, fb, sizeof(fb));
		snprintf(w[n++], sizeof(w[0]), "the runs used different filters (A: %s; B: %s): counts are not comparable",
			 fa, fb);
	}
	return n;
}

static uint64_t total(const struct em_diff_row *rows, size_t n, bool b)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < n; i++)
		t += b ? rows[i].count_b : rows[i].count_a;
	return t;
}

static const char *change(uint64_t a, uint64_t b)
{
	if (a == b)
		return "same";
	if (!a)
		return "new";
	if (!b)
		return "gone";
	return b > a ? "up" : "down";
}

/* ------------------------------------------------------------------ */
/* Table                                                               */

static void fmt_double(char *buf, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
}

static void fmt_ratio(char *buf, size_t len, uint64_t a, uint64_t b)
{
	if (!a && !b)
		snprintf(buf, len, "-");
	else if (!a)
		snprintf(buf, len, "new");
	else if (!b)
		snprintf(buf, len, "gone");
	else
		snprintf(buf, len, "%.2fx", (double)b / (double)a);
}

/*
 * One header line, with the control characters a crafted snapshot could
 * carry in its strings (newlines, escape sequences, C1 codes) made '?'.
 */
__attribute__((format(printf, 2, 3)))
static void linef(FILE *f, const char *fmt, ...)
{
	unsigned char buf[2048], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf((char *)buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (p = buf; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* U+0080..U+009F */
			p[0] = p[1] = '?';
	}
	fputs((char *)buf, f);
	fputc('\n', f);
}

static void print_run(FILE *f, const char *tag, const char *name, const struct em_snapshot *s)
{
	const struct em_meta *m = &s->meta;

	linef(f, "%s: %s: %.*s, kernel %.*s, %s (%.*s), %.3f s, %" PRIu64 " exits", tag, name,
		STR(m, hostname), STR(m, kernel), em_isa_name(m->isa) ?: "unknown isa", STR(m, cpu_vendor),
		(double)m->duration_ns / 1e9, em_snapshot_total(s));
}

static void print_table(FILE *f, const struct em_snapshot *a, const char *name_a, const struct em_snapshot *b,
			const char *name_b, const struct em_diff_row *rows, size_t n)
{
	struct param_change pc[2 * EM_MAX_PARAMS];
	char w[4][1024];
	size_t i, nw, np;
	uint64_t ta, tb;
	bool any_idle = false;

	print_run(f, "A", name_a, a);
	print_run(f, "B", name_b, b);
	nw = warnings(&a->meta, &b->meta, w);
	for (i = 0; i < nw; i++)
		linef(f, "warning: %s", w[i]);
	np = param_changes(&a->meta, &b->meta, pc);
	if (np) {
		fprintf(f, "KVM parameters that differ:\n");
		for (i = 0; i < np; i++)
			linef(f, "  %.*s: %.*s → %.*s", P(pc[i].name), P(pc[i].a ?: "(not set)"),
			      P(pc[i].b ?: "(not set)"));
	}
	fputc('\n', f);
	if (!n) {
		fprintf(f, "no VM exits in either run\n");
		return;
	}
	fprintf(f, "%8s %-30s %12s %12s %13s %8s %12s %12s %9s %9s %9s %9s\n", "REASON", "NAME", "COUNT A",
		"COUNT B", "DELTA", "RATIO", "RATE A/s", "RATE B/s", "AVG A us", "AVG B us", "P99 A us",
		"P99 B us");
	for (i = 0; i < n; i++) {
		const struct em_diff_row *d = &rows[i];
		char num[16], name[80], ratio[32], ra[32], rb[32], aa[32], ab[32], pa[32], pb[32];
		bool idle = em_isa_name(d->isa) && em_reason_is_idle(d->isa, d->reason);

		any_idle |= idle;
		snprintf(name, sizeof(name), "%s%s", d->name, idle ? " *" : "");
		fmt_ratio(ratio, sizeof(ratio), d->count_a, d->count_b);
		fmt_double(ra, sizeof(ra), d->rate_a, "%.1f");
		fmt_double(rb, sizeof(rb), d->rate_b, "%.1f");
		fmt_double(aa, sizeof(aa), d->avg_us_a, "%.2f");
		fmt_double(ab, sizeof(ab), d->avg_us_b, "%.2f");
		fmt_double(pa, sizeof(pa), d->p99_us_a, "%.2f");
		fmt_double(pb, sizeof(pb), d->p99_us_b, "%.2f");
		fprintf(f, "%8s %-30s %12" PRIu64 " %12" PRIu64 " %+13" PRId64 " %8s %12s %12s %9s %9s %9s %9s%s\n",
			reason_number(d->isa, d->reason, num, sizeof(num)), name, d->count_a, d->count_b, d->delta,
			ratio, ra, rb, aa, ab, pa, pb,
			d->in_a && d->in_b ? "" : d->in_a ? "  only A" : "  only B");
	}
	{
		char ratio[32], ra[32], rb[32];

		ta = total(rows, n, false);
		tb = total(rows, n, true);
		fmt_ratio(ratio, sizeof(ratio), ta, tb);
		fmt_double(ra, sizeof(ra), rate(ta, a->meta.duration_ns), "%.1f");
		fmt_double(rb, sizeof(rb), rate(tb, b->meta.duration_ns), "%.1f");
		fprintf(f, "%8s %-30s %12" PRIu64 " %12" PRIu64 " %+13" PRId64 " %8s %12s %12s\n", "", "TOTAL", ta,
			tb, (int64_t)(tb - ta), ratio, ra, rb);
	}
	if (any_idle)
		fprintf(f, "* exit-to-entry time is mostly the vCPU idling (halt polling, sleep)\n");
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ju64(uint64_t v)
{
	return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *jstrn(const char *s, size_t size)
{
	size_t n = strnlen(s, size), i;
	json_t *j = json_stringn(s, n);
	char buf[512];

	if (j || n >= sizeof(buf))
		return j ? j : json_string("?");
	/* not UTF-8: same replacement as snapshot files */
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	return json_stringn(buf, n);
}

static json_t *jisa(uint32_t isa)
{
	const char *n = em_isa_name(isa);

	return n ? json_string(n) : json_integer(isa);
}

static json_t *run_json(const char *name, const struct em_snapshot *s)
{
	const struct em_meta *m = &s->meta;

	return json_pack("{s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "file", name,
			 "hostname", jstrn(m->hostname, sizeof(m->hostname)),
			 "kernel", jstrn(m->kernel, sizeof(m->kernel)),
			 "isa", jisa(m->isa),
			 "cpu_vendor", jstrn(m->cpu_vendor, sizeof(m->cpu_vendor)),
			 "cpu_model", jstrn(m->cpu_model, sizeof(m->cpu_model)),
			 "duration_ns", ju64(m->duration_ns),
			 "total", ju64(em_snapshot_total(s)));
}

static json_t *opt_str(const char *s)
{
	return s ? jstrn(s, sizeof(((struct em_param *)0)->name)) : json_null();
}

static int print_json(FILE *f, const struct em_snapshot *a, const char *name_a, const struct em_snapshot *b,
		      const char *name_b, const struct em_diff_row *rows, size_t n, const struct em_diff_opts *o)
{
	struct param_change pc[2 * EM_MAX_PARAMS];
	json_t *root, *jw, *jp, *jr;
	char w[4][1024];
	size_t i, nw, np;
	uint64_t ta = total(rows, n, false), tb = total(rows, n, true);
	int rc = -ENOMEM;

	root = json_pack("{s:o, s:o, s:[], s:[], s:[], s:{s:o, s:o, s:I, s:o, s:s, s:o, s:o}}",
			 "a", run_json(name_a, a), "b", run_json(name_b, b), "warnings", "kvm_params",
			 "rows", "total", "count_a", ju64(ta), "count_b", ju64(tb), "delta",
			 (json_int_t)(int64_t)(tb - ta), "ratio", jnum(ta ? (double)tb / (double)ta : NAN),
			 "change", change(ta, tb), "rate_a", jnum(rate(ta, a->meta.duration_ns)), "rate_b",
			 jnum(rate(tb, b->meta.duration_ns)));
	if (!root)
		return -ENOMEM;
	jw = json_object_get(root, "warnings");
	jp = json_object_get(root, "kvm_params");
	jr = json_object_get(root, "rows");
	nw = warnings(&a->meta, &b->meta, w);
	for (i = 0; i < nw; i++)
		if (json_array_append_new(jw, json_string(w[i])))
			goto out;
	np = param_changes(&a->meta, &b->meta, pc);
	for (i = 0; i < np; i++)
		if (json_array_append_new(jp, json_pack("{s:o, s:o, s:o}", "name", opt_str(pc[i].name), "a",
							opt_str(pc[i].a), "b", opt_str(pc[i].b))))
			goto out;
	for (i = 0; i < n; i++) {
		const struct em_diff_row *d = &rows[i];
		json_t *o = json_pack("{s:o, s:I, s:s, s:b, s:b, s:o, s:o, s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
				      "isa", jisa(d->isa), "reason", (json_int_t)d->reason, "name", d->name,
				      "in_a", d->in_a, "in_b", d->in_b, "count_a", ju64(d->count_a),
				      "count_b", ju64(d->count_b), "delta", (json_int_t)d->delta,
				      "ratio", jnum(d->ratio), "change", change(d->count_a, d->count_b),
				      "rate_a", jnum(d->rate_a), "rate_b", jnum(d->rate_b),
				      "avg_us_a", jnum(d->avg_us_a), "avg_us_b", jnum(d->avg_us_b),
				      "p99_us_a", jnum(d->p99_us_a), "p99_us_b", jnum(d->p99_us_b));

		if (json_array_append_new(jr, o))
			goto out;
	}
	/* per VM / vCPU, VMs matched by name (user/labels.c) */
	if (json_object_set_new(root, "vms", em_vmdiff_json(a, b, o ? o->reasons : NULL, o ? o->nreasons : 0)))
		goto out;
	rc = json_dumpf(root, f, JSON_INDENT(2)) || fputc('\n', f) == EOF ? -EIO : 0;
out:
	json_decref(root);
	return rc;
}

int em_diff_print(FILE *out, const struct em_snapshot *a, const char *name_a, const struct em_snapshot *b,
		  const char *name_b, const struct em_diff_opts *o)
{
	struct em_diff_row *rows;
	size_t n;
	int rc = em_diff_compute(a, b, o, &rows, &n);

	if (rc)
		return rc;
	if (!name_a)
		name_a = "A";
	if (!name_b)
		name_b = "B";
	if (o && o->json) {
		rc = print_json(out, a, name_a, b, name_b, rows, n, o);
	} else {
		print_table(out, a, name_a, b, name_b, rows, n);
		em_vmdiff_print(out, a, b, o ? o->reasons : NULL, o ? o->nreasons : 0);
	}
	free(rows);
	if (!rc && (fflush(out) || ferror(out)))
		rc = -EIO;
	return rc;
}
