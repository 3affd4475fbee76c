// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Rendering of exitmon's per-reason table, as text or JSON lines. */
#include <jansson.h>
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

static const char *row_name(const struct em_row *r, char *buf, size_t len)
{
	if (r->isa != EM_ISA_VMX && r->isa != EM_ISA_SVM)
		return "OTHER (table full)";
	return em_reason_name(r->isa, r->reason, buf, len);
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

/* Merges the non-idle total rows: the TOTAL line's latency. */
static void busy_total(const struct em_snapshot *v, struct em_stats *t, uint64_t *count)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	*count = 0;
	for (i = 0; i < v->nrows; i++) {
		const struct em_row *r = &v->rows[i];

		if (!em_row_is_total(r))
			continue;
		*count += r->st.count;
		if (!row_idle(r))
			em_stats_add(t, &r->st);
	}
}

static void fmt_us(char *buf, size_t len, uint64_t ns, bool have)
{
	if (!have)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f", ns / 1000.0);
}

static void print_lat(FILE *f, const struct em_stats *st)
{
	char a[32], p50[32], p99[32], mx[32];
	bool have = st->lat_count > 0;

	fmt_us(a, sizeof(a), have ? st->lat_sum / st->lat_count : 0, have);
	fmt_us(p50, sizeof(p50), em_hist_percentile(st, 50), have);
	fmt_us(p99, sizeof(p99), em_hist_percentile(st, 99), have);
	fmt_us(mx, sizeof(mx), st->lat_max, have);
	fprintf(f, " %9s %9s %9s %10s", a, p50, p99, mx);
}

static void print_counters(FILE *f, const uint64_t *c)
{
	if (c[EM_CNT_OTHER_OVERFLOW])
		fprintf(f, "warning: %llu exits with codes outside the reason table found the 'other' table full (row OTHER)\n",
			(unsigned long long)c[EM_CNT_OTHER_OVERFLOW]);
	if (c[EM_CNT_BREAKDOWN_OVERFLOW])
		fprintf(f, "warning: %llu exits missing from the breakdown (table full; raise --max-keys)\n",
			(unsigned long long)c[EM_CNT_BREAKDOWN_OVERFLOW]);
	if (c[EM_CNT_PENDING_FULL])
		fprintf(f, "warning: %llu exits without latency (per-thread table full)\n",
			(unsigned long long)c[EM_CNT_PENDING_FULL]);
}

void em_render_table(FILE *f, const struct em_snapshot *v, const struct em_view_ctx *ctx)
{
	size_t n, nb, i;
	const struct em_row **rows = sorted_rows(v, true, &n);
	const struct em_row **brows = sorted_rows(v, false, &nb);
	struct em_stats busy;
	uint64_t total;
	bool any_idle = false;
	char num[32], name[96];
	double period = ctx->period_s > 0 ? ctx->period_s : 0;

	busy_total(v, &busy, &total);
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
		print_lat(f, &r->st);
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

		fprintf(f, "\n%-16s %8s %-12s %8s %-28s %12s %7s %9s %10s\n", "VM", "PID",
			vcpu ? "VCPU" : "", "REASON", "NAME", "COUNT", "% PID", "AVG us", "MAX us");
		for (i = 0; i < nb; i++) {
			const struct em_row *r = brows[i];
			uint64_t vm_total = 0;
			char a[32], mx[32], vc[48], vm[EM_NAME_MAX];
			size_t j;

			/* rows of the same VM and the same kind (per VM or per vCPU) */
			for (j = 0; j < nb; j++)
				if (brows[j]->tgid == r->tgid &&
				    (brows[j]->vcpu == EM_ANY_VCPU) == (r->vcpu == EM_ANY_VCPU))
					vm_total += brows[j]->st.count;
			/* names (user/labels.c): the VM, and the vCPU index with its APIC ID */
			em_labels_row_text(&v->labels, r, vm, sizeof(vm), vc, sizeof(vc));
			fmt_us(a, sizeof(a), r->st.lat_count ? r->st.lat_sum / r->st.lat_count : 0,
			       r->st.lat_count);
			fmt_us(mx, sizeof(mx), r->st.lat_max, r->st.lat_count);
			fprintf(f, "%-16s %8u %-12s %8s %-28s %12llu %7.2f %9s %10s\n", vm, r->tgid, vc,
				em_reason_number(r->isa, r->reason, num, sizeof(num)),
				row_name(r, name, sizeof(name)), (unsigned long long)r->st.count,
				vm_total ? 100.0 * r->st.count / vm_total : 0.0, a, mx);
		}
	}
	print_counters(f, v->counters);
	free(rows);
	free(brows);
}

static json_t *stats_json(const struct em_stats *st, json_t *o)
{
	bool have = st->lat_count > 0;

	json_object_set_new(o, "count", json_integer((json_int_t)st->count));
	json_object_set_new(o, "lat_count", json_integer((json_int_t)st->lat_count));
	json_object_set_new(o, "lat_sum_ns", json_integer((json_int_t)st->lat_sum));
	json_object_set_new(o, "min_ns", json_integer(have ? (json_int_t)st->lat_min : 0));
	json_object_set_new(o, "max_ns", json_integer((json_int_t)st->lat_max));
	json_object_set_new(o, "avg_ns", json_integer(have ? (json_int_t)(st->lat_sum / st->lat_count) : 0));
	json_object_set_new(o, "p50_ns", json_integer((json_int_t)em_hist_percentile(st, 50)));
	json_object_set_new(o, "p99_ns", json_integer((json_int_t)em_hist_percentile(st, 99)));
	json_object_set_new(o, "hist_total", json_integer((json_int_t)em_hist_total(st)));
	return o;
}

int em_render_json(FILE *f, const struct em_snapshot *v, const struct em_view_ctx *ctx)
{
	json_t *root = json_object(), *rows = json_array(), *cnt = json_object(), *tot;
	struct em_stats busy;
	uint64_t total;
	double period = ctx->period_s > 0 ? ctx->period_s : 0;
	size_t i;
	int rc;

	if (!root || !rows || !cnt) {
		json_decref(root);
		json_decref(rows);
		json_decref(cnt);
		return -1;
	}
	busy_total(v, &busy, &total);
	json_object_set_new(root, "type", json_string(ctx->type));
	json_object_set_new(root, "isa", json_string(em_isa_name(v->meta.isa) ?: "unknown"));
	if (ctx->attach)
		json_object_set_new(root, "attach", json_string(ctx->attach));
	json_object_set_new(root, "period_s", json_real(period));
	json_object_set_new(root, "elapsed_s", json_real(ctx->elapsed_s));
	json_object_set_new(root, "duration_ns", json_integer((json_int_t)v->meta.duration_ns));
	for (i = 0; i < v->nrows; i++) {
		const struct em_row *r = &v->rows[i];
		json_t *o = json_object();
		char name[96];

		if (!o)
			continue;
		json_object_set_new(o, "isa", json_string(em_isa_name(r->isa) ?: "other"));
		json_object_set_new(o, "reason", json_integer(r->reason));
		json_object_set_new(o, "name", json_string(row_name(r, name, sizeof(name))));
		json_object_set_new(o, "tgid", json_integer(r->tgid));
		json_object_set_new(o, "vcpu", json_integer(r->vcpu == EM_ANY_VCPU ? -1 : (json_int_t)r->vcpu));
		em_labels_row_json(o, &v->labels, r);
		stats_json(&r->st, o);
		json_object_set_new(o, "rate", json_real(period ? r->st.count / period : 0.0));
		json_object_set_new(o, "pct", json_real(total && em_row_is_total(r) ? 100.0 * r->st.count / total : 0.0));
		json_object_set_new(o, "idle", json_boolean(row_idle(r)));
		json_array_append_new(rows, o);
	}
	json_object_set_new(root, "rows", rows);
	tot = stats_json(&busy, json_object());
	/* count is all exits; the latency fields leave the idle reasons out */
	json_object_set_new(tot, "count", json_integer((json_int_t)total));
	json_object_set_new(tot, "rate", json_real(period ? total / period : 0.0));
	json_object_set_new(root, "total", tot);
	for (i = 0; i < EM_CNT__MAX; i++)
		json_object_set_new(cnt, em_counter_names[i], json_integer((json_int_t)v->counters[i]));
	json_object_set_new(root, "counters", cnt);
	rc = json_dumpf(root, f, JSON_COMPACT);
	json_decref(root);
	if (rc || fputc('\n', f) == EOF)
		return -1;
	fflush(f);
	return 0;
}
