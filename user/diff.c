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
#include "render.h"

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
		      bool *lat, uint64_t *avg, uint64_t *p99)
{
	*count = r ? r->st.count : 0;
	*rt = rate(*count, duration_ns);
	*lat = r && r->st.lat_count;
	*avg = *lat ? r->st.lat_sum / r->st.lat_count : 0;
	*p99 = *lat ? em_hist_quantile(&r->st, r->approx, EM_PPM_P99) : 0;
}

static void fill_row(struct em_diff_row *d, const struct em_row *ra, const struct em_row *rb,
		     const struct em_snapshot *a, const struct em_snapshot *b)
{
	const struct em_row *r = ra ? ra : rb;

	memset(d, 0, sizeof(*d));
	d->isa = r->isa;
	d->reason = r->reason;
	em_row_name(r->isa, r->reason, d->name, sizeof(d->name));
	d->in_a = ra != NULL;
	d->in_b = rb != NULL;
	fill_side(ra, a->meta.duration_ns, &d->count_a, &d->rate_a, &d->lat_a, &d->lat_avg_ns_a, &d->lat_p99_ns_a);
	fill_side(rb, b->meta.duration_ns, &d->count_b, &d->rate_b, &d->lat_b, &d->lat_avg_ns_b, &d->lat_p99_ns_b);
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

#define EM_DIFF_MAX_WARNINGS 8

/* A file recorded with another histogram layout was re-bucketed on load. */
static void layout_warning(char *w, size_t len, const char *which, const struct em_hist_layout *l)
{
	snprintf(w, len,
		 "%s was recorded with histogram layout sub_bucket_bits %u, max_log2 %u and re-bucketed "
		 "exactly into this exitmon's (%u, %u): its percentiles have this exitmon's resolution",
		 which, l->sub_bits, l->max_log2, em_hist_native.sub_bits, em_hist_native.max_log2);
}

static bool native_layout(const struct em_hist_layout *l)
{
	return l->sub_bits == em_hist_native.sub_bits && l->max_log2 == em_hist_native.max_log2;
}

/* Warning lines (without "warning: "), at most EM_DIFF_MAX_WARNINGS. */
static size_t warnings(const struct em_meta *a, const struct em_meta *b, char w[EM_DIFF_MAX_WARNINGS][1024])
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
	if (a->attach[0] && b->attach[0] && strncmp(a->attach, b->attach, sizeof(a->attach)))
		snprintf(w[n++], sizeof(w[0]), "attach modes differ (%.*s vs %.*s): latencies include different overheads",
			 STR(a, attach), STR(b, attach));
	if (a->interval != b->interval)
		snprintf(w[n++], sizeof(w[0]), "A holds %s counts, B %s ones",
			 a->interval ? "one interval's" : "cumulative", b->interval ? "one interval's" : "cumulative");
	if (!native_layout(&a->hist_layout))
		layout_warning(w[n++], sizeof(w[0]), "A", &a->hist_layout);
	if (!native_layout(&b->hist_layout))
		layout_warning(w[n++], sizeof(w[0]), "B", &b->hist_layout);
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
	char w[EM_DIFF_MAX_WARNINGS][1024];
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
		fmt_double(aa, sizeof(aa), d->lat_a ? d->lat_avg_ns_a / 1000.0 : NAN, "%.2f");
		fmt_double(ab, sizeof(ab), d->lat_b ? d->lat_avg_ns_b / 1000.0 : NAN, "%.2f");
		fmt_double(pa, sizeof(pa), d->lat_a ? d->lat_p99_ns_a / 1000.0 : NAN, "%.2f");
		fmt_double(pb, sizeof(pb), d->lat_b ? d->lat_p99_ns_b / 1000.0 : NAN, "%.2f");
		fprintf(f, "%8s %-30s %12" PRIu64 " %12" PRIu64 " %+13" PRId64 " %8s %12s %12s %9s %9s %9s %9s%s\n",
			em_reason_number(d->isa, d->reason, num, sizeof(num)), name, d->count_a, d->count_b, d->delta,
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

/* A count; a sum of counts beyond 2^63-1 (only a crafted file) as a number with an exponent. */
static json_t *jcount(uint64_t v)
{
	return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

/* One side of a row: its count, rate and latency (null without samples). */
static json_t *side_json(uint64_t count, double rate_per_s, bool lat, uint64_t avg, uint64_t p99)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "count", jcount(count), "rate_per_s", em_json_num(rate_per_s),
			 "lat_avg_ns", lat ? jcount(avg) : json_null(), "lat_p99_ns", lat ? jcount(p99) : json_null());
}

static json_t *run_json(const char *name, const struct em_snapshot *s)
{
	const struct em_meta *m = &s->meta;

	return json_pack("{s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "file", name,
			 "hostname", em_json_str(m->hostname, sizeof(m->hostname)),
			 "kernel", em_json_str(m->kernel, sizeof(m->kernel)),
			 "isa", em_json_isa(m->isa),
			 "cpu_vendor", em_json_str(m->cpu_vendor, sizeof(m->cpu_vendor)),
			 "cpu_model", em_json_str(m->cpu_model, sizeof(m->cpu_model)),
			 "attach", m->attach[0] ? em_json_str(m->attach, sizeof(m->attach)) : json_null(),
			 "duration_ns", jcount(m->duration_ns),
			 "count", jcount(em_snapshot_total(s)));
}

static json_t *opt_str(const char *s)
{
	return s ? em_json_str(s, sizeof(((struct em_param *)0)->name)) : json_null();
}

static int print_json(FILE *f, const struct em_snapshot *a, const char *name_a, const struct em_snapshot *b,
		      const char *name_b, const struct em_diff_row *rows, size_t n)
{
	struct param_change pc[2 * EM_MAX_PARAMS];
	json_t *root, *jw, *jp, *jr;
	char w[EM_DIFF_MAX_WARNINGS][1024];
	size_t i, nw, np;
	uint64_t ta = total(rows, n, false), tb = total(rows, n, true);
	int rc = -ENOMEM;

	root = json_pack("{s:s, s:i, s:o, s:o, s:[], s:[], s:[], s:{s:o, s:o, s:I, s:o, s:s}}",
			 "format", EM_JSON_DIFF, "version", EM_JSON_VERSION,
			 "a", run_json(name_a, a), "b", run_json(name_b, b), "warnings", "kvm_params",
			 "rows", "total",
			 "a", json_pack("{s:o, s:o}", "count", jcount(ta), "rate_per_s",
					em_json_num(rate(ta, a->meta.duration_ns))),
			 "b", json_pack("{s:o, s:o}", "count", jcount(tb), "rate_per_s",
					em_json_num(rate(tb, b->meta.duration_ns))),
			 "delta", (json_int_t)(int64_t)(tb - ta), "ratio", em_json_num(ta ? (double)tb / (double)ta : NAN),
			 "change", change(ta, tb));
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
		json_t *o = json_pack("{s:o, s:I, s:s, s:b, s:b, s:o, s:o, s:I, s:o, s:s}",
				      "isa", em_json_isa(d->isa), "reason", (json_int_t)d->reason, "name", d->name,
				      "in_a", d->in_a, "in_b", d->in_b,
				      "a", side_json(d->count_a, d->rate_a, d->lat_a, d->lat_avg_ns_a, d->lat_p99_ns_a),
				      "b", side_json(d->count_b, d->rate_b, d->lat_b, d->lat_avg_ns_b, d->lat_p99_ns_b),
				      "delta", (json_int_t)d->delta, "ratio", em_json_num(d->ratio),
				      "change", change(d->count_a, d->count_b));

		if (json_array_append_new(jr, o))
			goto out;
	}
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
	if (o && o->json)
		rc = print_json(out, a, name_a, b, name_b, rows, n);
	else
		print_table(out, a, name_a, b, name_b, rows, n);
	free(rows);
	if (!rc && (fflush(out) || ferror(out)))
		rc = -EIO;
	return rc;
}
