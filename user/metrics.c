// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Prometheus text 0.0.4 / OpenMetrics 1.0.0 rendering of a snapshot. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hist.h"
#include "metrics.h"
#include "reasons.h"
#include "safefile.h"
#include "render.h"

/* tgid of the vm="other" series; no pid gets this high (pid_max <= 2^22). */
#define VM_OTHER 0xfffffffeu
/* vm of the per-reason totals, printed without a vm label. */
#define VM_NONE 0xffffffffu

void em_metrics_state_free(struct em_metrics_state *st)
{
	free(st->vms);
	st->vms = NULL;
	st->nvms = 0;
}

const char *em_metrics_content_type(enum em_metrics_format fmt)
{
	return fmt == EM_METRICS_OPENMETRICS ? EM_METRICS_CT_OPENMETRICS : EM_METRICS_CT_TEXT;
}

const char *em_metrics_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return out;
	for (; *in; in++) {
		const char *rep = NULL;
		char one[2] = { *in, 0 };
		size_t n;

		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		else
			rep = one;
		n = strlen(rep);
		if (o + n >= outlen)
			break;
		memcpy(out + o, rep, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

const char *em_metrics_le(unsigned i, char *buf, size_t len)
{
	uint64_t ns = 1ULL << (EM_METRICS_LE_MIN_LOG2 + i);
	int n = snprintf(buf, len, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
			 (unsigned long long)(ns % 1000000000ULL));

	/* exact decimal, trailing zeros dropped: 0.000001024, 68.719476736 */
	while (n > 2 && (size_t)n < len && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return buf;
}

/* Index of the first bound above every value of each kernel bucket (NBOUNDS = +Inf only). */
static void fold_index(uint8_t idx[EM_HIST_BUCKETS])
{
	unsigned b, i;

	for (b = 0; b < EM_HIST_BUCKETS; b++) {
		uint64_t up = em_hist_upper(b);

		for (i = 0; i < EM_METRICS_NBOUNDS; i++)
			if (up < (1ULL << (EM_METRICS_LE_MIN_LOG2 + i)))
				break;
		idx[b] = (uint8_t)i;
	}
}

/* Adds st's buckets into cum[] by bound (not yet cumulative): only the non-empty ones. */
static void fold_add(const uint8_t idx[EM_HIST_BUCKETS], const struct em_rstats *st,
		     uint64_t cum[EM_METRICS_NBOUNDS + 1])
{
	uint32_t i;

	for (i = 0; i < st->nb; i++)
		if (st->hb[i].b < EM_HIST_BUCKETS)
			cum[idx[st->hb[i].b]] += st->hb[i].n;
}

static void cumulate(uint64_t cum[EM_METRICS_NBOUNDS + 1])
{
	unsigned i;

	for (i = 1; i <= EM_METRICS_NBOUNDS; i++)
		cum[i] += cum[i - 1];
}

void em_metrics_fold(const struct em_rstats *st, uint64_t cum[EM_METRICS_NBOUNDS + 1])
{
	uint8_t idx[EM_HIST_BUCKETS];

	fold_index(idx);
	memset(cum, 0, sizeof(uint64_t) * (EM_METRICS_NBOUNDS + 1));
	fold_add(idx, st, cum);
	cumulate(cum);
}

/* --- Accept ----------------------------------------------------------- */

/* q and version of one media range "type/sub; a=b; q=0.5". */
static void media_params(const char *p, const char *end, double *q, char *ver, size_t verlen)
{
	*q = 1.0;
	ver[0] = '\0';
	while (p && p < end) {
		const char *semi = memchr(p, ';', end - p), *e = semi ? semi : end, *eq;
		size_t n;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		eq = memchr(p, '=', e - p);
		if (eq) {
			const char *v = eq + 1, *ve = e;

			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			n = ve - v;
			if (eq - p == 1 && (*p == 'q' || *p == 'Q')) {
				char num[16];
				char *stop;

				if (n >= sizeof(num))
					n = sizeof(num) - 1;
				memcpy(num, v, n);
				num[n] = '\0';
				*q = strtod(num, &stop);
				if (stop == num || *stop || !(*q >= 0))
					*q = 0; /* unparsable weight: not acceptable */
				if (*q > 1)
					*q = 1;
			} else if (eq - p == 7 && !strncasecmp(p, "version", 7)) {
				if (n >= verlen)
					n = verlen - 1;
				memcpy(ver, v, n);
				ver[n] = '\0';
			}
		}
		p = semi ? semi + 1 : end;
	}
}

enum em_metrics_format em_metrics_negotiate(const char *accept)
{
	double om_q = 0, text_q = 0;
	const char *p = accept;

	while (p && *p) {
		size_t elen = strcspn(p, ","), tlen, n;
		const char *end = p + elen, *semi;
		char ver[32];
		double q;

		p += strspn(p, " \t");
		if (p > end)
			p = end;
		tlen = strcspn(p, ";,");
		semi = p[tlen] == ';' ? p + tlen : NULL;
		n = tlen;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		media_params(semi ? semi + 1 : NULL, end, &q, ver, sizeof(ver));
		if (n == 28 && !strncasecmp(p, "application/openmetrics-text", n)) {
			if ((!ver[0] || !strcmp(ver, "1.0.0")) && q > om_q)
				om_q = q;
		} else if ((n == 10 && !strncasecmp(p, "text/plain", n)) ||
			   (n == 6 && !strncasecmp(p, "text/*", n)) || (n == 3 && !strncmp(p, "*/*", n))) {
			if ((!ver[0] || !strcmp(ver, "0.0.4")) && q > text_q)
				text_q = q;
		}
		p = *end ? end + 1 : end;
	}
	return om_q > 0 && om_q >= text_q ? EM_METRICS_OPENMETRICS : EM_METRICS_TEXT;
}

/* --- series ----------------------------------------------------------- */

struct item {
	uint32_t isa, reason, vm;
	const struct em_rstats *st;
};

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->isa != y->isa)
		return x->isa < y->isa ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	if (x->vm != y->vm)
		return x->vm < y->vm ? -1 : 1;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_vm(const struct em_metrics_state *st, uint32_t tgid)
{
	return st->nvms && bsearch(&tgid, st->vms, st->nvms, sizeof(*st->vms), cmp_u32);
}

/*
 * Gives VMs not seen before their own label while there is room (lowest
 * pid first within one scrape), then maps every row to its series.
 * Returns the number of distinct VMs folded into vm="other", or -ENOMEM.
 */
static long assign_vms(struct em_metrics_state *st, struct item *it, size_t n)
{
	uint32_t max = st->max_series ? st->max_series : EM_METRICS_DEFAULT_MAX_SERIES;
	uint32_t *tg;
	size_t i, nt = 0;
	long other = 0;

	if (!n)
		return 0;
	tg = malloc(n * sizeof(*tg));
	if (!tg)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		tg[nt++] = it[i].vm;
	qsort(tg, nt, sizeof(*tg), cmp_u32);
	for (i = 0; i < nt; i++) {
		if (i && tg[i] == tg[i - 1])
			continue;
		if (has_vm(st, tg[i]))
			continue;
		if (st->nvms < max) {
			uint32_t *v = realloc(st->vms, (st->nvms + 1) * sizeof(*v));

			if (!v) {
				free(tg);
				return -ENOMEM;
			}
			st->vms = v;
			st->vms[st->nvms++] = tg[i];
			qsort(st->vms, st->nvms, sizeof(*st->vms), cmp_u32);
		} else {
			other++;
		}
	}
	free(tg);
	for (i = 0; i < n; i++)
		if (!has_vm(st, it[i].vm))
			it[i].vm = VM_OTHER;
	return other;
}

static const char *isa_label(uint32_t isa, char *buf, size_t len)
{
	if (isa == EM_ISA_VMX || isa == EM_ISA_SVM)
		return em_isa_name(isa);
	if (!isa)
		return "unknown";
	snprintf(buf, len, "isa%u", isa);
	return buf;
}

/*
 * The vm label of a VM: its name (user/labels.c) when it has one that no
 * other VM of the run has and that cannot be mistaken for a pid or for
 * vm="other"; else its pid.
 */
static const char *vm_label(const struct em_labels *names, uint32_t tgid, char *buf, size_t len)
{
	const char *name = names ? em_labels_vm_name(names, tgid) : NULL;
	size_t i;

	if (name && (!strcmp(name, EM_METRICS_VM_OTHER) || strspn(name, "0123456789") == strlen(name)))
		name = NULL;
	for (i = 0; name && i < names->n; i++)
		if (names->v[i].vcpu == EM_ANY_VCPU && names->v[i].tgid != tgid && !strcmp(names->v[i].name, name))
			name = NULL;
	if (name)
		return em_metrics_escape(name, buf, len);
	snprintf(buf, len, "%u", tgid);
	return buf;
}

/* {isa="svm",reason="0x72",name="CPUID"[,vm="123" or vm="web01"]} without the braces. */
static void series_labels(char *buf, size_t len, uint32_t isa, uint32_t reason, uint32_t vm,
			  const struct em_labels *names)
{
	char ib[16], rb[32], nb[64], vb[2 * EM_NAME_MAX + 8], esc[160];
	const char *num, *name;
	int n;

	if (isa == EM_ISA_VMX || isa == EM_ISA_SVM) {
		num = em_reason_number(isa, reason, rb, sizeof(rb));
		name = em_reason_name(isa, reason, nb, sizeof(nb));
	} else if (!isa && !reason) {
		num = "other";
		name = "OTHER"; /* codes that found the "other" hash full */
	} else {
		snprintf(rb, sizeof(rb), "0x%x", reason);
		snprintf(nb, sizeof(nb), "UNKNOWN_0x%x", reason);
		num = rb;
		name = nb;
	}
	n = snprintf(buf, len, "isa=\"%s\",reason=\"%s\",", isa_label(isa, ib, sizeof(ib)), num);
	if (n < 0 || (size_t)n >= len)
		return;
	n += snprintf(buf + n, len - n, "name=\"%s\"", em_metrics_escape(name, esc, sizeof(esc)));
	if (vm == VM_NONE || n < 0 || (size_t)n >= len)
		return;
	snprintf(buf + n, len - n, ",vm=\"%s\"",
		 vm == VM_OTHER ? EM_METRICS_VM_OTHER : vm_label(names, vm, vb, sizeof(vb)));
}

static bool is_idle(uint32_t isa, uint32_t reason)
{
	return (isa == EM_ISA_VMX || isa == EM_ISA_SVM) && em_reason_is_idle(isa, reason);
}

/*
 * HELP/TYPE (and UNIT) of a family. `base` has no _total / _info: text
 * 0.0.4 names counter and info families by their sample name, OpenMetrics
 * by the base, with the unit as the name's suffix.
 */
static void family(FILE *f, enum em_metrics_format fmt, const char *base, const char *type,
		   const char *unit, const char *help)
{
	bool om = fmt == EM_METRICS_OPENMETRICS;
	const char *suffix = "";

	if (!om && !strcmp(type, "counter"))
		suffix = "_total";
	else if (!om && !strcmp(type, "info"))
		suffix = "_info", type = "gauge";
	fprintf(f, "# HELP %s%s %s\n", base, suffix, help);
	fprintf(f, "# TYPE %s%s %s\n", base, suffix, type);
	if (om && unit)
		fprintf(f, "# UNIT %s %s\n", base, unit);
}

static void seconds_ns(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
		(unsigned long long)(ns % 1000000000ULL));
}

/* Exits of items [i, j) (one series). */
static uint64_t series_count(const struct item *it, size_t i, size_t j)
{
	uint64_t n = 0;

	for (; i < j; i++)
		n += it[i].st->count;
	return n;
}

static size_t series_end(const struct item *it, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && !cmp_item(&it[i], &it[j]))
		j++;
	return j;
}

static void render_exits(FILE *f, enum em_metrics_format fmt, const struct item *it, size_t n,
			 const struct em_labels *names)
{
	char lab[640];
	size_t i, j;

	family(f, fmt, "exitmon_exits", "counter", NULL,
	       "KVM VM exits by exit reason (every exit, paired with an entry or not).");
	for (i = 0; i < n; i = j) {
		j = series_end(it, n, i);
		series_labels(lab, sizeof(lab), it[i].isa, it[i].reason, it[i].vm, names);
		fprintf(f, "exitmon_exits_total{%s} %llu\n", lab,
			(unsigned long long)series_count(it, i, j));
	}
}

/* Decimal of v into the end of buf[24]; returns its start. */
static const char *u64_str(uint64_t v, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

static void render_hist(FILE *f, enum em_metrics_format fmt, const struct item *it, size_t n,
			const struct em_labels *names)
{
	uint64_t cum[EM_METRICS_NBOUNDS + 1];
	uint8_t idx[EM_HIST_BUCKETS];
	char le[EM_METRICS_NBOUNDS][24], lab[640], prefix[720], num[24];
	size_t i, j;
	unsigned b;

	family(f, fmt, "exitmon_exit_handling_seconds", "histogram", "seconds",
	       "Time from a KVM exit to the next entry of the same vCPU thread, for exits whose "
	       "entry was seen. idle=true marks reasons (HLT, MWAIT) whose time is mostly the "
	       "vCPU idling.");
	/* once per scrape: the bounds' text and the bucket -> bound map */
	fold_index(idx);
	for (b = 0; b < EM_METRICS_NBOUNDS; b++)
		em_metrics_le(b, le[b], sizeof(le[b]));
	for (i = 0; i < n; i = j) {
		uint64_t lat_sum = 0;
		const char *idle;
		size_t k;

		j = series_end(it, n, i);
		/* a series sums its items (VMs past --max-series): folding is additive */
		memset(cum, 0, sizeof(cum));
		for (k = i; k < j; k++) {
			fold_add(idx, it[k].st, cum);
			lat_sum += it[k].st->lat_sum;
		}
		cumulate(cum);
		series_labels(lab, sizeof(lab), it[i].isa, it[i].reason, it[i].vm, names);
		idle = is_idle(it[i].isa, it[i].reason) ? "true" : "false";
		/* ~30 lines per series: built from pieces, not one printf each */
		snprintf(prefix, sizeof(prefix), "exitmon_exit_handling_seconds_bucket{%s,idle=\"%s\",le=\"",
			 lab, idle);
		for (b = 0; b <= EM_METRICS_NBOUNDS; b++) {
			fputs(prefix, f);
			fputs(b < EM_METRICS_NBOUNDS ? le[b] : "+Inf", f);
			fputs("\"} ", f);
			fputs(u64_str(cum[b], num), f);
			fputc('\n', f);
		}
		fprintf(f, "exitmon_exit_handling_seconds_sum{%s,idle=\"%s\"} ", lab, idle);
		seconds_ns(f, lat_sum);
		fprintf(f, "\nexitmon_exit_handling_seconds_count{%s,idle=\"%s\"} %llu\n", lab, idle,
			(unsigned long long)cum[EM_METRICS_NBOUNDS]);
	}
}

static void render_counters(FILE *f, enum em_metrics_format fmt, const struct em_snapshot *s)
{
	static const struct {
		enum em_counter c;
		const char *cause;
	} over[] = {
		{ EM_CNT_PENDING_FULL, "pending_full" },
		{ EM_CNT_OTHER_OVERFLOW, "other_full" },
		{ EM_CNT_BREAKDOWN_OVERFLOW, "breakdown_full" },
		{ EM_CNT_HIST_CARRY_LOST, "hist_carry_full" },
	};
	unsigned i;

	family(f, fmt, "exitmon_seen_exits", "counter", NULL,
	       "KVM exits seen by the probes, before the pid, vCPU and reason filters.");
	fprintf(f, "exitmon_seen_exits_total %llu\n", (unsigned long long)s->counters[EM_CNT_EXITS]);
	family(f, fmt, "exitmon_filtered_exits", "counter", NULL,
	       "KVM exits left out by the pid, vCPU and reason filters.");
	fprintf(f, "exitmon_filtered_exits_total %llu\n",
		(unsigned long long)s->counters[EM_CNT_FILTERED]);
	family(f, fmt, "exitmon_unpaired_entries", "counter", NULL,
	       "KVM entries with no recorded exit before them (a thread's first entry, or a "
	       "filtered exit).");
	fprintf(f, "exitmon_unpaired_entries_total %llu\n",
		(unsigned long long)s->counters[EM_CNT_UNPAIRED_ENTRY]);
	family(f, fmt, "exitmon_overflows", "counter", NULL,
	       "Exits whose latency or breakdown was lost because a BPF map was full, by map: "
	       "pending_full (latency), other_full (codes outside the table, counted as OTHER), "
	       "breakdown_full (not broken down per VM), hist_carry_full (latency samples: "
	       "a bucket wrapped past 2^32 with the carry table full, 2^32 samples each).");
	for (i = 0; i < sizeof(over) / sizeof(over[0]); i++)
		fprintf(f, "exitmon_overflows_total{cause=\"%s\"} %llu\n", over[i].cause,
			(unsigned long long)s->counters[over[i].c]);
}

int em_metrics_render(FILE *f, const struct em_snapshot *s, struct em_metrics_state *st,
		      const struct em_metrics_ctx *ctx, enum em_metrics_format fmt)
{
	bool per_vm = s->meta.filters.per_vm || s->meta.filters.per_vcpu;
	struct item *it = NULL;
	char ib[16], esc[3][160];
	size_t i, n = 0;
	long other = 0;

	if (s->nrows && !(it = calloc(s->nrows, sizeof(*it))))
		return -ENOMEM;
	/* per-reason totals, or per-VM rows (per-vCPU rows sum into their VM) */
	for (i = 0; i < s->nrows; i++) {
		const struct em_row *r = &s->rows[i];

		if (em_row_is_total(r) == per_vm)
			continue;
		it[n] = (struct item){ r->isa, r->reason, per_vm ? r->tgid : VM_NONE, &r->st };
		n++;
	}
	if (per_vm && (other = assign_vms(st, it, n)) < 0) {
		free(it);
		return -ENOMEM;
	}
	if (n)
		qsort(it, n, sizeof(*it), cmp_item);

	render_exits(f, fmt, it, n, &s->labels);
	render_hist(f, fmt, it, n, &s->labels);
	render_counters(f, fmt, s);
	if (per_vm) {
		family(f, fmt, "exitmon_vms_in_other", "gauge", NULL,
		       "VMs past --max-series whose exits are summed into the vm=other series.");
		fprintf(f, "exitmon_vms_in_other %ld\n", other);
	}
	family(f, fmt, "exitmon_build", "info", NULL, "exitmon version, attach mode and CPU isa.");
	fprintf(f, "exitmon_build_info{version=\"%s\",attach=\"%s\",isa=\"%s\"} 1\n",
		em_metrics_escape(ctx->version ? ctx->version : "", esc[0], sizeof(esc[0])),
		em_metrics_escape(ctx->attach ? ctx->attach : "", esc[1], sizeof(esc[1])),
		em_metrics_escape(isa_label(s->meta.isa, ib, sizeof(ib)), esc[2], sizeof(esc[2])));
	if (ctx->collect_seconds >= 0) {
		family(f, fmt, "exitmon_scrape_collect_seconds", "gauge", "seconds",
		       "Time spent reading the BPF maps for this scrape.");
		fprintf(f, "exitmon_scrape_collect_seconds %.9f\n", ctx->collect_seconds);
	}
	if (s->counters[EM_CNT_MAP_BYTES]) { /* the collector's reading; 0 in files without it */
		family(f, fmt, "exitmon_bpf_map_memory_bytes", "gauge", "bytes",
		       "Kernel memory of exitmon's BPF maps (memlock of each map, summed).");
		fprintf(f, "exitmon_bpf_map_memory_bytes %llu\n",
			(unsigned long long)s->counters[EM_CNT_MAP_BYTES]);
	}
	if (fmt == EM_METRICS_OPENMETRICS)
		fputs("# EOF\n", f);
	free(it);
	return ferror(f) ? -EIO : 0;
}

/* --- textfile --------------------------------------------------------- */

int em_metrics_write_textfile(const char *dir, const struct em_snapshot *s,
			      struct em_metrics_state *st, const struct em_metrics_ctx *ctx,
			      char *err, size_t errlen)
{
	/* safefile writes an unnamed temporary (node_exporter never sees a
	 * half-written file) and replaces only a regular file or a symlink
	 * (the link itself): a device, FIFO or directory named exitmon.prom
	 * is refused, never written through or clobbered */
	struct em_safefile sf;
	char path[PATH_MAX], why[256];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc, n;

	n = snprintf(path, sizeof(path), "%s/exitmon.prom", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "textfile directory %s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		snprintf(err, errlen, "textfile %s: %s", path, strerror(errno));
		return -1;
	}
	rc = em_metrics_render(f, s, st, ctx, EM_METRICS_TEXT);
	if (fclose(f) || rc) {
		free(text);
		snprintf(err, errlen, "textfile %s: cannot render the metrics", path);
		return -1;
	}
	rc = em_safefile_open(&sf, path, true, why, sizeof(why));
	if (!rc) {
		rc = em_safefile_write(&sf, text, len, why, sizeof(why));
		em_safefile_close(&sf);
	}
	free(text);
	if (rc) {
		snprintf(err, errlen, "textfile %s: %s", path, why);
		return -1;
	}
	return 0;
}
