// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Rendering of exitmon's per-reason table, as text or JSON lines. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "hist.h"
#include "reasons.h"
#include "render.h"

const char *em_reason_number(uint32_t isa, uint32_t reason, char *buf, size_t len)
{
	if (isa == EM_ISA_SVM)
		snprintf(buf, len, "0x%x", reason);
	else if (isa == EM_ISA_VMX && reason <= EM_VMX_BASIC_MASK)
		snprintf(buf, len, "%u", reason);
	else if (isa == EM_ISA_VMX)
		snprintf(buf, len, "0x%x", reason); /* flag bits read better in hex */
	else
		snprintf(buf, len, "other");
	return buf;
}

const char *em_row_name(uint32_t isa, uint32_t reason, char *buf, size_t len)
{
	if (isa != EM_ISA_VMX && isa != EM_ISA_SVM)
		return "OTHER (table full)";
	return em_reason_name(isa, reason, buf, len);
}

static const char *row_name(const struct em_row *r, char *buf, size_t len)
{
	return em_row_name(r->isa, r->reason, buf, len);
}

static bool row_idle(const struct em_row *r)
{
	return (r->isa == EM_ISA_VMX || r->isa == EM_ISA_SVM) && em_reason_is_idle(r->isa, r->reason);
}

static int cmp_rows(const void *a, const void *b)
{
	const struct em_row *x = *(const struct em_row *const *)a;
	const struct em_row *y = *(const struct em_row *const *)b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->vcpu != y->vcpu)
		return x->vcpu < y->vcpu ? -1 : 1;
	if (x->st.count != y->st.count)
		return x->st.count > y->st.count ? -1 : 1;
	if (x->isa != y->isa)
		return x->isa < y->isa ? -1 : 1;
	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

/* Rows of one kind (totals or breakdown), sorted; caller frees. */
static const struct em_row **sorted_rows(const struct em_snapshot *v, bool totals, size_t *n)
{
	const struct em_row **rows = calloc(v->nrows ? v->nrows : 1, sizeof(*rows));
	size_t i;

	*n = 0;
	if (!rows)
		return NULL;
	for (i = 0; i < v->nrows; i++)
		if (em_row_is_total(&v->rows[i]) == totals && v->rows[i].st.count + v->rows[i].st.lat_count)
			rows[(*n)++] = &v->rows[i];
	qsort(rows, *n, sizeof(*rows), cmp_rows);
	return rows;
}

/*
 * Merges the non-idle total rows: the TOTAL line's latency (and its
 * bounds). Summed dense on the stack, its pairs in buf: nothing to fail.
 */
static void busy_total(const struct em_snapshot *v, struct em_row *t, uint64_t *count,
		       struct em_hb buf[EM_HIST_BUCKETS])
{
	struct em_stats sum;
	size_t i;

	memset(t, 0, sizeof(*t));
	memset(&sum, 0, sizeof(sum));
	*count = 0;
	for (i = 0; i < v->nrows; i++) {
		const struct em_row *r = &v->rows[i];

		if (!em_row_is_total(r))
			continue;
		*count += r->st.count;
		if (!row_idle(r)) {
			em_stats_add_rstats(&sum, &r->st);
			t->approx |= r->approx;
		}
	}
	em_rstats_view(&t->st, &sum, buf);
}

static void fmt_us(char *buf, size_t len, uint64_t ns, bool have)
{
	if (!have)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f", ns / 1000.0);
}

/* MAX: "~" marks an upper bound from the interval's histogram (not exact). */
static void fmt_max(char *buf, size_t len, const struct em_row *r)
{
	if (!r->st.lat_count)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s%.2f", r->approx & EM_APPROX_MAX ? "~" : "", r->st.lat_max / 1000.0);
}

static void print_lat(FILE *f, const struct em_row *r)
{
	const struct em_rstats *st = &r->st;
	char a[32], p50[32], p99[32], mx[32];
	bool have = st->lat_count > 0;

	fmt_us(a, sizeof(a), have ? st->lat_sum / st->lat_count : 0, have);
	fmt_us(p50, sizeof(p50), em_hist_quantile(st, r->approx, EM_PPM_P50), have);
	fmt_us(p99, sizeof(p99), em_hist_quantile(st, r->approx, EM_PPM_P99), have);
	fmt_max(mx, sizeof(mx), r);
	fprintf(f, " %9s %9s %9s %10s", a, p50, p99, mx);
}

static void print_counters(FILE *f, const uint64_t *c)
{
	if (c[EM_CNT_OTHER_OVERFLOW])
		fprintf(f, "warning: %llu exits counted in row OTHER (no free row, or the 'other' table full)\n",
			(unsigned long long)c[EM_CNT_OTHER_OVERFLOW]);
	if (c[EM_CNT_BREAKDOWN_OVERFLOW])
		fprintf(f, "warning: %llu exits missing from the breakdown (table full; raise --max-keys)\n",
			(unsigned long long)c[EM_CNT_BREAKDOWN_OVERFLOW]);
	if (c[EM_CNT_PENDING_FULL])
		fprintf(f, "warning: %llu pending exits lost their latency (pending table full, evicted)\n",
			(unsigned long long)c[EM_CNT_PENDING_FULL]);
	if (c[EM_CNT_RECURSION_MISSES])
		fprintf(f, "warning: %llu kvm events not seen (the kernel skipped the programs: recursion_misses)\n",
			(unsigned long long)c[EM_CNT_RECURSION_MISSES]);
	if (c[EM_CNT_HIST_CARRY_LOST])
		fprintf(f, "warning: %llu latency buckets are 2^32 samples low (a u32 bucket wrapped with the carry table full)\n",
			(unsigned long long)c[EM_CNT_HIST_CARRY_LOST]);
}

void em_render_table(FILE *f, const struct em_snapshot *v, const struct em_view_ctx *ctx)
{
	size_t n, nb, i;
	const struct em_row **rows = sorted_rows(v, true, &n);
	const struct em_row **brows = sorted_rows(v, false, &nb);
	struct em_hb busy_hb[EM_HIST_BUCKETS];
	struct em_row busy;
	uint64_t total;
	bool any_idle = false, any_approx = false;
	char num[32], name[96];
	double period = ctx->period_s > 0 ? ctx->period_s : 0;

	busy_total(v, &busy, &total, busy_hb);
	fprintf(f, "exitmon %s: %s", ctx->type, em_isa_name(v->meta.isa ? v->meta.isa : ctx->isa) ?: "unknown isa");
	if (ctx->attach)
		fprintf(f, ", %s", ctx->attach);
	fprintf(f, ", %.1f s", period);
	if (ctx->elapsed_s > 0 && strcmp(ctx->type, "interval") == 0)
		fprintf(f, " (run %.1f s)", ctx->elapsed_s);
	fprintf(f, ", %llu exits\n", (unsigned long long)total);

	if (!rows || !n) {
		if (strcmp(ctx->type, "snapshot") == 0)
			fprintf(f, "no VM exits in this snapshot\n");
		else
			fprintf(f, "no VM exits seen in the last %.0f s: is a VM running on this host?\n",
				ctx->quiet_s > period ? ctx->quiet_s : period);
		print_counters(f, v->counters);
		free(rows);
		free(brows);
		return;
	}
	fprintf(f, "%8s %-28s %12s %11s %6s %9s %9s %9s %10s\n", "REASON", "NAME", "COUNT",
		"RATE/s", "%", "AVG us", "P50 us", "P99 us", "MAX us");
	for (i = 0; i < n; i++) {
		const struct em_row *r = rows[i];
		bool idle = row_idle(r);

		any_idle |= idle;
		snprintf(name, sizeof(name), "%s%s", row_name(r, num, sizeof(num)), idle ? " *" : "");
		fprintf(f, "%8s %-28s %12llu %11.1f %6.2f",
			em_reason_number(r->isa, r->reason, num, sizeof(num)), name,
			(unsigned long long)r->st.count, period ? r->st.count / period : 0.0,
			total ? 100.0 * r->st.count / total : 0.0);
		print_lat(f, r);
		fputc('\n', f);
	}
	fprintf(f, "%8s %-28s %12llu %11.1f %6.2f", "", any_idle ? "TOTAL (latency excl. *)" : "TOTAL",
		(unsigned long long)total, period ? total / period : 0.0, 100.0);
	print_lat(f, &busy);
	fputc('\n', f);
	if (any_idle)
		fprintf(f, "* exit-to-entry time is mostly the vCPU idling (halt polling, sleep)\n");

	if (nb) {
		const bool vcpu = v->meta.filters.per_vcpu;
		uint64_t vm_total[2] = { 0, 0 }; /* this VM's per-vCPU rows, its per-VM rows */

		fprintf(f, "\n%-16s %8s %-12s %8s %-28s %12s %7s %9s %10s\n", "VM", "PID",
			vcpu ? "VCPU" : "", "REASON", "NAME", "COUNT", "% PID", "AVG us", "MAX us");

		for (i = 0; i < nb; i++) {
			const struct em_row *r = brows[i];
			char a[32], mx[32], vc[48], vm[EM_NAME_MAX];
			size_t j;

			/* rows are sorted by tgid: sum each VM's group once, at its first row */
			if (!i || brows[i - 1]->tgid != r->tgid) {
				vm_total[0] = vm_total[1] = 0;
				for (j = i; j < nb && brows[j]->tgid == r->tgid; j++)
					vm_total[brows[j]->vcpu == EM_ANY_VCPU] += brows[j]->st.count;
			}
			/* names (user/labels.c): the VM, and the vCPU index with its APIC ID */
			em_labels_row_text(&v->labels, r, vm, sizeof(vm), vc, sizeof(vc));
			fmt_us(a, sizeof(a), r->st.lat_count ? r->st.lat_sum / r->st.lat_count : 0,
			       r->st.lat_count);
			fmt_max(mx, sizeof(mx), r);
			fprintf(f, "%-*s %8u %-12s %8s %-28s %12llu %7.2f %9s %10s\n", em_labels_pad(vm, 16), vm,
				r->tgid, vc,
				em_reason_number(r->isa, r->reason, num, sizeof(num)),
				row_name(r, name, sizeof(name)), (unsigned long long)r->st.count,
				vm_total[r->vcpu == EM_ANY_VCPU] ?
					100.0 * r->st.count / vm_total[r->vcpu == EM_ANY_VCPU] : 0.0, a, mx);
		}
	}
	for (i = 0; i < v->nrows; i++)
		any_approx |= v->rows[i].st.lat_count && (v->rows[i].approx & EM_APPROX_MAX);
	if (any_approx)
		fprintf(f, "~ upper bound from this interval's histogram (the exact maximum is not known)\n");
	print_counters(f, v->counters);
	free(rows);
	free(brows);
}

/* ------------------------------------------------------------------ */
/* JSON (docs/json.md; the schemas are docs/<document>.schema.json)     */

json_t *em_json_isa(uint32_t isa)
{
	const char *name = em_isa_name(isa);

	return name ? json_string(name) : json_integer(isa);
}

json_t *em_json_str(const char *buf, size_t size)
{
	size_t n = strnlen(buf, size), i;
	json_t *j = json_stringn(buf, n);
	char *copy;

	if (j)
		return j;
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (i = 0; i < n; i++)
		copy[i] = (unsigned char)buf[i] < 0x80 ? buf[i] : '?';
	copy[n] = '\0';
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

json_t *em_json_u64(uint64_t v)
{
	return v > INT64_MAX ? NULL : json_integer((json_int_t)v);
}

json_t *em_json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

__attribute__((format(printf, 3, 4)))
static json_t *jfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

/* Members in order; a NULL value (ENOMEM, a number too large) names its key in err. */
struct jmember {
	const char *key;
	json_t *v;
};

static json_t *jset_all(json_t *o, struct jmember *m, size_t n, char *err, size_t errlen)
{
	const char *bad = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!m[i].v && !bad)
			bad = m[i].key;
		else if (o && !bad && json_object_set_new(o, m[i].key, m[i].v))
			bad = m[i].key, m[i].v = NULL; /* set_new stole it */
		else if (bad)
			json_decref(m[i].v);
	}
	if (!o)
		return jfail(err, errlen, "out of memory");
	if (bad) {
		json_decref(o);
		return jfail(err, errlen, "%s: value too large for JSON (max 2^63-1) or out of memory", bad);
	}
	return o;
}

static json_t *hist_json(const struct em_rstats *st)
{
	json_t *hist = json_array();
	uint32_t i;

	for (i = 0; hist && i < st->nb; i++) {
		json_t *n;

		if (!st->hb[i].n) /* a sum that wrapped to 0: empty, as the dense form showed it */
			continue;
		n = em_json_u64(st->hb[i].n);
		if (!n || json_array_append_new(hist, json_pack("[Io]", (json_int_t)st->hb[i].b, n))) {
			json_decref(hist);
			return NULL;
		}
	}
	return hist;
}

json_t *em_json_row(const struct em_row *r, const struct em_json_row_opts *o, char *err, size_t errlen)
{
	const struct em_rstats *st = &r->st;
	bool have = st->lat_count > 0, derived = o && o->derived;
	char name[96];
	struct jmember m[24] = {
		{ "isa", em_json_isa(r->isa) },
		{ "reason", json_integer(r->reason) },
		{ "name", json_string(row_name(r, name, sizeof(name))) },
		{ "tgid", json_integer(r->tgid) },
		{ "vcpu", json_integer(r->vcpu == EM_ANY_VCPU ? -1 : (json_int_t)r->vcpu) },
		{ "count", em_json_u64(st->count) },
		{ "lat_count", em_json_u64(st->lat_count) },
		{ "lat_sum_ns", em_json_u64(st->lat_sum) },
		{ "lat_min_ns", em_json_u64(st->lat_min) }, /* 0 without samples, as the kernel leaves them */
		{ "lat_max_ns", em_json_u64(st->lat_max) },
		{ "hist", hist_json(st) },
	};
	size_t n = 11;
	json_t *obj;

	if (derived) {
		m[n++] = (struct jmember){ "lat_avg_ns", em_json_u64(have ? st->lat_sum / st->lat_count : 0) };
		m[n++] = (struct jmember){ "lat_p50_ns", em_json_u64(em_hist_quantile(st, r->approx, EM_PPM_P50)) };
		m[n++] = (struct jmember){ "lat_p99_ns", em_json_u64(em_hist_quantile(st, r->approx, EM_PPM_P99)) };
	}
	if (derived || (r->approx & EM_APPROX_MIN && have))
		m[n++] = (struct jmember){ "lat_min_approx", json_boolean(have && (r->approx & EM_APPROX_MIN)) };
	if (derived || (r->approx & EM_APPROX_MAX && have))
		m[n++] = (struct jmember){ "lat_max_approx", json_boolean(have && (r->approx & EM_APPROX_MAX)) };
	if (derived) {
		double period = o->period_s > 0 ? o->period_s : 0;

		m[n++] = (struct jmember){ "rate_per_s", json_real(period ? st->count / period : 0.0) };
		m[n++] = (struct jmember){ "pct", json_real(o->total && em_row_is_total(r) ?
								   100.0 * st->count / o->total : 0.0) };
		m[n++] = (struct jmember){ "idle", json_boolean(row_idle(r)) };
	}
	obj = jset_all(json_object(), m, n, err, errlen);
	/* names of a breakdown row (user/labels.c): vm, and vcpu_index / vcpu_tid */
	if (obj && o && o->labels && em_labels_row_json(obj, o->labels, r)) {
		json_decref(obj);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return obj;
}

json_t *em_json_counters(const uint64_t *counters, char *err, size_t errlen)
{
	struct jmember m[EM_CNT__MAX];
	size_t i;

	for (i = 0; i < EM_CNT__MAX; i++)
		m[i] = (struct jmember){ em_counter_names[i], em_json_u64(counters[i]) };
	return jset_all(json_object(), m, EM_CNT__MAX, err, errlen);
}

static json_t *ns_json(double s)
{
	return json_integer(s > 0 ? (json_int_t)(s * 1e9 + 0.5) : 0);
}

/* A compact dump of a one-object document: its members without the braces. */
static char *members(json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t n;

	json_decref(o);
	if (!t)
		return NULL;
	n = strlen(t); /* "{...}" */
	memmove(t, t + 1, n - 2);
	t[n - 2] = '\0';
	return t;
}

/* The text of a JSON line, grown by doubling. */
struct line {
	char *p;
	size_t len, cap;
};

/* Room for n more bytes: 0 or -1. */
static int line_room(struct line *l, size_t n)
{
	size_t cap = l->cap ? l->cap : 4096;
	char *p;

	while (cap - l->len < n)
		cap *= 2;
	if (cap == l->cap)
		return 0;
	if (!(p = realloc(l->p, cap)))
		return -1;
	l->p = p;
	l->cap = cap;
	return 0;
}

static int line_put(struct line *l, const char *s, size_t n)
{
	if (line_room(l, n))
		return -1;
	memcpy(l->p + l->len, s, n);
	l->len += n;
	return 0;
}

/* Appends o's compact dump (consumed). */
static int line_json(struct line *l, json_t *o)
{
	size_t n;

	if (!o || line_room(l, 1024)) {
		json_decref(o);
		return -1;
	}
	n = json_dumpb(o, l->p + l->len, l->cap - l->len, JSON_COMPACT);
	if (n > l->cap - l->len && !line_room(l, n)) /* did not fit: again, with room */
		n = json_dumpb(o, l->p + l->len, l->cap - l->len, JSON_COMPACT);
	json_decref(o);
	if (!n || n > l->cap - l->len)
		return -1;
	l->len += n;
	return 0;
}

/*
 * One line: the head's members, "rows" dumped one row at a time (a
 * refresh with 65,536 breakdown keys never builds their tree, only their
 * text), then total and counters. Written in one piece, or not at all.
 */
int em_render_json(FILE *f, const struct em_snapshot *v, const struct em_view_ctx *ctx)
{
	const char *attach = ctx->attach ? ctx->attach : v->meta.attach[0] ? v->meta.attach : NULL;
	struct em_json_row_opts ro = { .derived = true, .period_s = ctx->period_s, .labels = &v->labels };
	struct em_hb busy_hb[EM_HIST_BUCKETS];
	struct line l = { 0 };
	char *head = NULL, *tail = NULL;
	struct em_row busy;
	json_t *tot;
	char err[128];
	size_t i;
	int rc = -1;

	busy_total(v, &busy, &ro.total, busy_hb);
	/* count is all exits; the latency fields leave the idle reasons out */
	tot = em_json_row(&busy, &ro, err, sizeof(err));
	if (tot) {
		json_object_set_new(tot, "count", json_integer((json_int_t)ro.total));
		json_object_set_new(tot, "rate_per_s", json_real(ro.period_s > 0 ? ro.total / ro.period_s : 0.0));
		/* the identity and histogram of a merged row mean nothing */
		json_object_del(tot, "isa");
		json_object_del(tot, "reason");
		json_object_del(tot, "name");
		json_object_del(tot, "tgid");
		json_object_del(tot, "vcpu");
		json_object_del(tot, "hist");
		json_object_del(tot, "pct");
		json_object_del(tot, "idle");
	}
	{
		struct jmember h[] = {
			{ "format", json_string(EM_JSON_REPORT) },
			{ "version", json_integer(EM_JSON_VERSION) },
			{ "type", json_string(ctx->type) },
			{ "isa", json_string(em_isa_name(v->meta.isa ? v->meta.isa : ctx->isa) ?: "unknown") },
			{ "attach", attach ? json_string(attach) : json_null() },
			{ "period_ns", ns_json(ctx->period_s) },
			{ "elapsed_ns", ns_json(ctx->elapsed_s) },
			{ "duration_ns", em_json_u64(v->meta.duration_ns) },
		};
		struct jmember t[] = {
			{ "total", tot },
			{ "counters", em_json_counters(v->counters, err, sizeof(err)) },
		};

		head = members(jset_all(json_object(), h, sizeof(h) / sizeof(h[0]), err, sizeof(err)));
		tail = members(jset_all(json_object(), t, sizeof(t) / sizeof(t[0]), err, sizeof(err)));
	}
	/* ~500 bytes a row: one allocation in the usual case */
	if (!head || !tail || line_room(&l, strlen(head) + strlen(tail) + 64 + v->nrows * 512) ||
	    line_put(&l, "{", 1) || line_put(&l, head, strlen(head)) || line_put(&l, ",\"rows\":[", 9))
		goto out;
	for (i = 0; i < v->nrows; i++)
		if ((i && line_put(&l, ",", 1)) || line_json(&l, em_json_row(&v->rows[i], &ro, err, sizeof(err))))
			goto out;
	if (line_put(&l, "],", 2) || line_put(&l, tail, strlen(tail)) || line_put(&l, "}\n", 2))
		goto out;
	if (fwrite(l.p, 1, l.len, f) == l.len && !fflush(f))
		rc = 0;
out:
	free(head);
	free(tail);
	free(l.p);
	return rc;
}
