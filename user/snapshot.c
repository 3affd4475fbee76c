// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Snapshot files: struct em_snapshot <-> JSON (jansson), atomic save. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "snapshot.h"
#include "err.h"
#include "reasons.h"
#include "render.h"
#include "safefile.h"

int (*em_snapshot_save_hook)(const char *tmp_path, const char *path);
_Thread_local bool em_snapshot_whole_tree;
_Thread_local unsigned long em_snapshot_plain_rows;

_Static_assert(EM_CNT__MAX == 10, "update em_counter_names and docs/snapshots.md");

struct ctx {
	char *err;
	size_t errlen;
};

/*
 * One printable ASCII line (err.c): messages quote the input (and
 * jansson's quote the text near the error), which may hold newlines,
 * escape sequences, or UTF-8 cut by the truncation.
 */
__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	em_verrf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct ctx *c)
{
	return fail(c, -ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* em_snapshot -> JSON                                                 */

static int set(json_t *o, const char *key, json_t *v, struct ctx *c)
{
	/* json_object_set_new() steals v even on failure and fails on NULL. */
	return json_object_set_new(o, key, v) ? nomem(c) : 0;
}

static int set_u64(json_t *o, const char *key, uint64_t v, const char *where, struct ctx *c)
{
	if (v > INT64_MAX)
		return fail(c, -EINVAL, "%s%s%s: value %" PRIu64 " is too large for the format (max 2^63-1)",
			    where, *where ? "." : "", key, v);
	return set(o, key, json_integer((json_int_t)v), c);
}

static int add_rfc3339(json_t *o, int64_t ns, struct ctx *c)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	char buf[64];
	struct tm tm;
	time_t t;
	size_t n;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	/* Informational only: left out when it cannot be an RFC 3339 year. */
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		return 0;
	snprintf(buf + n, sizeof(buf) - n, ".%09" PRId64 "Z", frac);
	return set(o, "start", json_string(buf), c);
}

/* v2's description of the histogram: parameters, from which docs/snapshots.md derives the bounds */
static json_t *layout_json(const struct em_hist_layout *l)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:s}", "scheme", EM_SNAPSHOT_HIST_SCHEME, "sub_bucket_bits",
			 (json_int_t)l->sub_bits, "max_log2", (json_int_t)l->max_log2, "buckets",
			 (json_int_t)em_layout_buckets(l), "unit", "ns");
}

static int row_to_json(json_t *rows, const struct em_row *r, size_t i, struct ctx *c)
{
	char msg[160];
	json_t *o = em_json_row(r, NULL, msg, sizeof(msg));

	if (!o)
		return fail(c, strstr(msg, "too large") ? -EINVAL : -ENOMEM, "rows[%zu].%s", i, msg);
	return json_array_append_new(rows, o) ? nomem(c) : 0;
}

static int to_json(const struct em_snapshot *s, json_t **out, struct ctx *c)
{
	const struct em_meta *m = &s->meta;
	json_t *root, *params, *filters, *reasons, *counters, *rows;
	char msg[160];
	uint32_t i;
	size_t r;
	int rc;

	*out = NULL;
	if (m->nparams > EM_MAX_PARAMS)
		return fail(c, -EINVAL, "kvm_params: %" PRIu32 " parameters (max %d)", m->nparams, EM_MAX_PARAMS);
	if (m->filters.nreasons > EM_MAX_FILTER_REASONS)
		return fail(c, -EINVAL, "filters.reasons: %" PRIu32 " reasons (max %d)", m->filters.nreasons,
			    EM_MAX_FILTER_REASONS);
	if (m->filters.vcpu < -1 || m->filters.vcpu >= (int64_t)EM_ANY_VCPU)
		return fail(c, -EINVAL, "filters.vcpu: %" PRId64 " out of range", m->filters.vcpu);

	/* the one counters writer, as in run's JSON lines */
	counters = em_json_counters(s->counters, msg, sizeof(msg));
	if (!counters)
		return fail(c, strstr(msg, "too large") ? -EINVAL : -ENOMEM, "counters.%s", msg);
	root = json_object();
	if (!root) {
		json_decref(counters);
		return nomem(c);
	}
	if ((rc = set(root, "format", json_string(EM_SNAPSHOT_FORMAT), c)) ||
	    (rc = set(root, "version", json_integer(EM_FORMAT_VERSION), c)) ||
	    (rc = set(root, "exitmon_version", em_json_str(m->exitmon_version, sizeof(m->exitmon_version)), c)) ||
	    (rc = set(root, "hostname", em_json_str(m->hostname, sizeof(m->hostname)), c)) ||
	    (rc = set(root, "kernel", em_json_str(m->kernel, sizeof(m->kernel)), c)) ||
	    (rc = set(root, "cpu_vendor", em_json_str(m->cpu_vendor, sizeof(m->cpu_vendor)), c)) ||
	    (rc = set(root, "cpu_model", em_json_str(m->cpu_model, sizeof(m->cpu_model)), c)) ||
	    (rc = set(root, "isa", em_json_isa(m->isa), c)) ||
	    (rc = set(root, "kvm_params", json_object(), c)) ||
	    (rc = add_rfc3339(root, m->start_ns, c)) ||
	    (rc = set(root, "start_ns", json_integer(m->start_ns), c)) ||
	    (rc = set_u64(root, "duration_ns", m->duration_ns, "", c)) ||
	    (rc = set(root, "filters", json_object(), c)) ||
	    (rc = set(root, "attach", m->attach[0] ? em_json_str(m->attach, sizeof(m->attach)) : json_null(), c)) ||
	    (rc = set(root, "view", json_string(m->interval ? "interval" : "cumulative"), c)) ||
	    (rc = set(root, "hist_layout", layout_json(&em_hist_native), c)) ||
	    (rc = set(root, "counters", counters, c)) ||
	    (rc = set(root, "rows", json_array(), c)))
		goto out;
	params = json_object_get(root, "kvm_params");
	filters = json_object_get(root, "filters");
	rows = json_object_get(root, "rows");

	for (i = 0; i < m->nparams; i++) {
		const struct em_param *p = &m->params[i];
		json_t *name = em_json_str(p->name, sizeof(p->name));

		if (!name) {
			rc = nomem(c);
			goto out;
		}
		if (json_object_get(params, json_string_value(name))) {
			rc = fail(c, -EINVAL, "kvm_params: duplicate parameter \"%s\"", json_string_value(name));
			json_decref(name);
			goto out;
		}
		rc = set(params, json_string_value(name), em_json_str(p->value, sizeof(p->value)), c);
		json_decref(name);
		if (rc)
			goto out;
	}

	if ((rc = set(filters, "reasons", json_array(), c)))
		goto out;
	reasons = json_object_get(filters, "reasons");
	for (i = 0; i < m->filters.nreasons; i++)
		if (json_array_append_new(reasons, json_integer(m->filters.reasons[i]))) {
			rc = nomem(c);
			goto out;
		}
	if ((rc = set(filters, "pid", json_integer(m->filters.pid), c)) ||
	    (rc = set(filters, "vcpu", json_integer(m->filters.vcpu), c)) ||
	    (rc = set(filters, "per_vm", json_boolean(m->filters.per_vm), c)) ||
	    (rc = set(filters, "per_vcpu", json_boolean(m->filters.per_vcpu), c)))
		goto out;

	for (r = 0; r < s->nrows; r++)
		if ((rc = row_to_json(rows, &s->rows[r], r, c)))
			goto out;
	/* VM and vCPU names (user/labels.c); only when the run had any */
	if (s->labels.n && (rc = set(root, "vms", em_labels_to_json(&s->labels), c)))
		goto out;
	*out = root;
	return 0;
out:
	if (json_object_get(root, "counters") != counters)
		json_decref(counters); /* the chain stopped before it took counters */
	json_decref(root);
	return rc;
}

json_t *em_snapshot_to_json(const struct em_snapshot *s, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	json_t *root;

	to_json(s, &root, &c);
	return root;
}

/* ------------------------------------------------------------------ */
/* JSON -> em_snapshot, with validation                                */

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* "where.key", or "key" at the top level. */
#define LOC(where, key) (where), (*(where) ? "." : ""), (key)

static int get(const json_t *o, const char *where, const char *key, json_type type,
	       const char *want, json_t **out, struct ctx *c)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return fail(c, -EINVAL, "%s%smissing field \"%s\"", where, *where ? ": " : "", key);
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return fail(c, -EINVAL, "%s%s%s: expected %s, got %s", LOC(where, key), want, jtype(v));
	*out = v;
	return 0;
}

/* An integer in [lo, hi] (JSON numbers with a fraction or exponent are reals). */
static int int_range(const json_t *v, const char *where, const char *key, int64_t lo, int64_t hi,
		     int64_t *out, struct ctx *c)
{
	json_int_t x;

	if (!json_is_integer(v))
		return fail(c, -EINVAL, "%s%s%s: expected an integer, got %s", LOC(where, key), jtype(v));
	x = json_integer_value(v);
	if (x < 0 && lo >= 0)
		return fail(c, -EINVAL, "%s%s%s: negative value %" PRId64, LOC(where, key), (int64_t)x);
	if (x < lo || x > hi)
		return fail(c, -EINVAL, "%s%s%s: %" PRId64 " out of range (%" PRId64 "..%" PRId64 ")",
			    LOC(where, key), (int64_t)x, lo, hi);
	*out = x;
	return 0;
}

static int get_int(const json_t *o, const char *where, const char *key, int64_t lo, int64_t hi,
		   int64_t *out, struct ctx *c)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return fail(c, -EINVAL, "%s%smissing field \"%s\"", where, *where ? ": " : "", key);
	return int_range(v, where, key, lo, hi, out, c);
}

static int get_u64(const json_t *o, const char *where, const char *key, uint64_t *out, struct ctx *c)
{
	int64_t x;
	int rc = get_int(o, where, key, 0, INT64_MAX, &x, c);

	if (!rc)
		*out = (uint64_t)x;
	return rc;
}

static int get_u32(const json_t *o, const char *where, const char *key, uint32_t *out, struct ctx *c)
{
	int64_t x;
	int rc = get_int(o, where, key, 0, UINT32_MAX, &x, c);

	if (!rc)
		*out = (uint32_t)x;
	return rc;
}

/* -1 -> EM_ANY_VCPU, else a vCPU id. */
static int get_vcpu(const json_t *o, const char *where, int64_t *out, struct ctx *c)
{
	return get_int(o, where, "vcpu", -1, (int64_t)EM_ANY_VCPU - 1, out, c);
}

static int copy_str(const json_t *v, const char *where, const char *key, char *buf, size_t size,
		    struct ctx *c)
{
	size_t n = json_string_length(v);

	if (n >= size)
		return fail(c, -EINVAL, "%s%s%s: string too long (%zu bytes, max %zu)", LOC(where, key), n,
			    size - 1);
	if (memchr(json_string_value(v), '\0', n))
		return fail(c, -EINVAL, "%s%s%s: string contains a NUL character", LOC(where, key));
	memcpy(buf, json_string_value(v), n);
	buf[n] = '\0';
	return 0;
}

static int get_str(const json_t *o, const char *where, const char *key, char *buf, size_t size,
		   struct ctx *c)
{
	json_t *v = NULL;
	int rc = get(o, where, key, JSON_STRING, "a string", &v, c);

	return rc ? rc : copy_str(v, where, key, buf, size, c);
}

/*
 * "vmx" or "svm" exactly (not the CLI's "intel"/"VMX" spellings), or a
 * number for any other value (never 1 or 2: those have a name).
 */
static int get_isa(const json_t *o, const char *where, uint32_t *isa, struct ctx *c)
{
	json_t *v = json_object_get(o, "isa");
	const char *name;
	int64_t x;

	if (!v)
		return fail(c, -EINVAL, "%s%smissing field \"isa\"", where, *where ? ": " : "");
	if (json_is_integer(v)) {
		x = json_integer_value(v);
		if (x < 0 || x > UINT32_MAX || em_isa_name((uint32_t)x))
			return fail(c, -EINVAL, "%s%sisa: %" PRId64 " is not valid here (write \"vmx\" or \"svm\")",
				    where, *where ? "." : "", x);
		*isa = (uint32_t)x;
		return 0;
	}
	if (!json_is_string(v))
		return fail(c, -EINVAL, "%s%sisa: expected \"vmx\" or \"svm\", got %s", where, *where ? "." : "",
			    jtype(v));
	*isa = em_isa_from_name(json_string_value(v));
	name = em_isa_name(*isa);
	if (!name || strcmp(name, json_string_value(v)) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail(c, -EINVAL, "%s%sisa: unknown isa \"%.32s\" (expected vmx or svm)", where,
			    *where ? "." : "", json_string_value(v));
	return 0;
}

static int parse_params(const json_t *root, struct em_meta *m, struct ctx *c)
{
	const char *name;
	json_t *obj = NULL, *v;
	int rc = get(root, "", "kvm_params", JSON_OBJECT, "an object", &obj, c);

	if (rc)
		return rc;
	if (json_object_size(obj) > EM_MAX_PARAMS)
		return fail(c, -EINVAL, "kvm_params: %zu parameters (max %d)", json_object_size(obj),
			    EM_MAX_PARAMS);
	json_object_foreach(obj, name, v) {
		struct em_param *p = &m->params[m->nparams];
		size_t n = strlen(name);

		if (n >= sizeof(p->name))
			return fail(c, -EINVAL, "kvm_params: parameter name \"%.32s...\" too long (max %zu bytes)",
				    name, sizeof(p->name) - 1);
		if (!json_is_string(v))
			return fail(c, -EINVAL, "kvm_params.%s: expected a string, got %s", name, jtype(v));
		memcpy(p->name, name, n + 1);
		if ((rc = copy_str(v, "kvm_params", name, p->value, sizeof(p->value), c)))
			return rc;
		m->nparams++;
	}
	return 0;
}

static int parse_filters(const json_t *root, struct em_filters *f, struct ctx *c)
{
	json_t *obj = NULL, *reasons = NULL, *v = NULL;
	int64_t x;
	size_t i;
	int rc;

	if ((rc = get(root, "", "filters", JSON_OBJECT, "an object", &obj, c)) ||
	    (rc = get(obj, "filters", "reasons", JSON_ARRAY, "an array", &reasons, c)))
		return rc;
	if (json_array_size(reasons) > EM_MAX_FILTER_REASONS)
		return fail(c, -EINVAL, "filters.reasons: %zu reasons (max %d)", json_array_size(reasons),
			    EM_MAX_FILTER_REASONS);
	json_array_foreach(reasons, i, v) {
		char key[32];

		snprintf(key, sizeof(key), "reasons[%zu]", i);
		if ((rc = int_range(v, "filters", key, 0, UINT32_MAX, &x, c)))
			return rc;
		f->reasons[f->nreasons++] = (uint32_t)x;
	}
	if ((rc = get_u32(obj, "filters", "pid", &f->pid, c)) ||
	    (rc = get_vcpu(obj, "filters", &f->vcpu, c)) ||
	    (rc = get(obj, "filters", "per_vm", JSON_TRUE, "a boolean", &v, c)))
		return rc;
	f->per_vm = json_is_true(v);
	if ((rc = get(obj, "filters", "per_vcpu", JSON_TRUE, "a boolean", &v, c)))
		return rc;
	f->per_vcpu = json_is_true(v);
	return 0;
}

/*
 * The [bucket, count] pairs of a row, in the file's layout l, added into
 * the native buckets. A bucket of l that lies inside one native bucket
 * moves exactly (l as fine as the native layout or finer, the open top
 * bucket at or above 2^36); one that spans several cannot be split, and
 * the file is refused saying so.
 */
static int parse_hist(const json_t *row, const char *where, const struct em_hist_layout *l,
		      struct em_arena *ar, struct em_rstats *st, struct ctx *c)
{
	uint64_t sum = 0;
	int64_t prev = -1, nb = em_layout_buckets(l);
	json_t *hist = NULL, *pair;
	size_t i;
	int rc = get(row, where, "hist", JSON_ARRAY, "an array of [bucket, count] pairs", &hist, c);

	if (rc)
		return rc;
	/* the pairs increase, so their native buckets never decrease: room for all, once */
	if (json_array_size(hist)) {
		st->cap = json_array_size(hist) < EM_HIST_BUCKETS ? (uint32_t)json_array_size(hist) : EM_HIST_BUCKETS;
		if (!(st->hb = em_arena_alloc(ar, st->cap)))
			return nomem(c);
	}
	json_array_foreach(hist, i, pair) {
		char key[32];
		int64_t b, n;
		uint32_t to;

		snprintf(key, sizeof(key), "hist[%zu]", i);
		if (!json_is_array(pair) || json_array_size(pair) != 2)
			return fail(c, -EINVAL, "%s.%s: expected a [bucket, count] pair, got %s", where, key,
				    json_is_array(pair) ? "an array of another length" : jtype(pair));
		if (!json_is_integer(json_array_get(pair, 0)))
			return fail(c, -EINVAL, "%s.%s: bucket index is %s, expected an integer", where, key,
				    jtype(json_array_get(pair, 0)));
		b = json_integer_value(json_array_get(pair, 0));
		if (b < 0 || b >= nb)
			return fail(c, -EINVAL, "%s.%s: bucket %" PRId64 " out of range (0..%" PRId64 ")", where, key,
				    b, nb - 1);
		if (b <= prev)
			return fail(c, -EINVAL, "%s.%s: bucket %" PRId64 " %s", where, key, b,
				    b == prev ? "appears twice" : "out of order (buckets must increase)");
		prev = b;
		if ((rc = int_range(json_array_get(pair, 1), where, key, 0, INT64_MAX, &n, c)))
			return rc;
		if (__builtin_add_overflow(sum, (uint64_t)n, &sum))
			return fail(c, -EINVAL, "%s.hist: bucket counts overflow", where);
		to = em_hist_bucket(em_layout_lower(l, (uint32_t)b));
		if (to != em_hist_bucket(em_layout_upper(l, (uint32_t)b))) {
			char hi[24] = "inf";

			if (em_layout_upper(l, (uint32_t)b) != UINT64_MAX)
				snprintf(hi, sizeof(hi), "%" PRIu64, em_layout_upper(l, (uint32_t)b));
			return fail(c, -EINVAL,
				    "%s.%s: bucket %" PRId64 " [%" PRIu64 ", %s] of the file's histogram layout "
				    "(sub_bucket_bits %" PRIu32 ", max_log2 %" PRIu32 ") spans several buckets of this "
				    "exitmon's (%d, %d) and cannot be split: re-bucketing needs a layout as fine or finer",
				    where, key, b, em_layout_lower(l, (uint32_t)b), hi, l->sub_bits, l->max_log2,
				    EM_HIST_SUB_BITS, EM_HIST_MAX_LOG2);
		}
		if (em_rstats_add_bucket(ar, st, to, (uint64_t)n))
			return nomem(c);
	}
	if (sum != st->lat_count)
		return fail(c, -EINVAL, "%s.hist: buckets sum to %" PRIu64 " but lat_count is %" PRIu64, where, sum,
			    (uint64_t)st->lat_count);
	return 0;
}

/* v2's hist_layout: the parameters, checked against the bucket count given. */
static int parse_layout(const json_t *root, struct em_hist_layout *l, struct ctx *c)
{
	json_t *o = NULL, *v = NULL;
	int64_t sub, max, n;
	int rc;

	if ((rc = get(root, "", "hist_layout", JSON_OBJECT, "an object", &o, c)) ||
	    (rc = get(o, "hist_layout", "scheme", JSON_STRING, "a string", &v, c)))
		return rc;
	if (strcmp(json_string_value(v), EM_SNAPSHOT_HIST_SCHEME))
		return fail(c, -EINVAL, "hist_layout.scheme: unknown histogram scheme \"%.32s\" (this exitmon reads \"%s\")",
			    json_string_value(v), EM_SNAPSHOT_HIST_SCHEME);
	if ((rc = get(o, "hist_layout", "unit", JSON_STRING, "a string", &v, c)))
		return rc;
	if (strcmp(json_string_value(v), "ns"))
		return fail(c, -EINVAL, "hist_layout.unit: \"%.32s\" (expected \"ns\")", json_string_value(v));
	if ((rc = get_int(o, "hist_layout", "sub_bucket_bits", 0, EM_HIST_LAYOUT_MAX_SUB_BITS, &sub, c)) ||
	    (rc = get_int(o, "hist_layout", "max_log2", 1, EM_HIST_LAYOUT_MAX_LOG2, &max, c)) ||
	    (rc = get_int(o, "hist_layout", "buckets", 1, INT64_MAX, &n, c)))
		return rc;
	l->sub_bits = (uint32_t)sub;
	l->max_log2 = (uint32_t)max;
	if (!em_layout_valid(l))
		return fail(c, -EINVAL, "hist_layout: max_log2 %" PRId64 " must exceed sub_bucket_bits %" PRId64, max, sub);
	if (n != em_layout_buckets(l))
		return fail(c, -EINVAL, "hist_layout.buckets: %" PRId64 ", but sub_bucket_bits %" PRId64
			    " and max_log2 %" PRId64 " make %" PRIu32, n, sub, max, em_layout_buckets(l));
	return 0;
}

/* v2's description of the run: attach mode and view. */
static int parse_measured(const json_t *root, struct em_meta *m, struct ctx *c)
{
	json_t *v = json_object_get(root, "attach");
	int rc;

	if (!v)
		return fail(c, -EINVAL, "missing field \"attach\"");
	if (!json_is_null(v)) {
		if (!json_is_string(v))
			return fail(c, -EINVAL, "attach: expected a string or null, got %s", jtype(v));
		if ((rc = copy_str(v, "", "attach", m->attach, sizeof(m->attach), c)))
			return rc;
	}
	if ((rc = get(root, "", "view", JSON_STRING, "a string", &v, c)))
		return rc;
	if (!strcmp(json_string_value(v), "interval"))
		m->interval = true;
	else if (strcmp(json_string_value(v), "cumulative"))
		return fail(c, -EINVAL, "view: \"%.32s\" (expected \"cumulative\" or \"interval\")",
			    json_string_value(v));
	return 0;
}

/* An optional boolean: sets bit when true. */
static int get_approx(const json_t *o, const char *where, const char *key, uint32_t bit, uint32_t *approx,
		      struct ctx *c)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, -EINVAL, "%s.%s: expected a boolean, got %s", where, key, jtype(v));
	if (json_is_true(v))
		*approx |= bit;
	return 0;
}

static int parse_row(const json_t *o, size_t i, const struct em_hist_layout *l, struct em_arena *ar,
		     struct em_row *r, struct ctx *c)
{
	struct em_rstats *st = &r->st;
	char where[32];
	int64_t vcpu;
	uint64_t v[5];
	int rc;

	snprintf(where, sizeof(where), "rows[%zu]", i);
	if (!json_is_object(o))
		return fail(c, -EINVAL, "%s: expected an object, got %s", where, jtype(o));
	if ((rc = get_isa(o, where, &r->isa, c)) ||
	    (rc = get_u32(o, where, "reason", &r->reason, c)) ||
	    (rc = get_u32(o, where, "tgid", &r->tgid, c)) ||
	    (rc = get_vcpu(o, where, &vcpu, c)) ||
	    (rc = get_u64(o, where, "count", &v[0], c)) ||
	    (rc = get_u64(o, where, "lat_count", &v[1], c)) ||
	    (rc = get_u64(o, where, "lat_sum_ns", &v[2], c)) ||
	    (rc = get_u64(o, where, "lat_min_ns", &v[3], c)) ||
	    (rc = get_u64(o, where, "lat_max_ns", &v[4], c)))
		return rc;
	r->vcpu = vcpu < 0 ? EM_ANY_VCPU : (uint32_t)vcpu;
	st->count = v[0];
	st->lat_count = v[1];
	st->lat_sum = v[2];
	st->lat_min = v[3];
	st->lat_max = v[4];
	if (st->lat_count > st->count)
		return fail(c, -EINVAL, "%s: lat_count %" PRIu64 " exceeds count %" PRIu64, where, v[1], v[0]);
	if (st->lat_count && st->lat_min > st->lat_max)
		return fail(c, -EINVAL, "%s: lat_min_ns %" PRIu64 " exceeds lat_max_ns %" PRIu64, where, v[3],
			    v[4]);
	if ((rc = get_approx(o, where, "lat_min_approx", EM_APPROX_MIN, &r->approx, c)) ||
	    (rc = get_approx(o, where, "lat_max_approx", EM_APPROX_MAX, &r->approx, c)))
		return rc;
	return parse_hist(o, where, l, ar, st, c);
}

/* Builds the row index, which also finds two rows with the same identity. */
static int check_duplicates(struct em_snapshot *s, struct ctx *c)
{
	size_t dup = 0, n = s->nrows;
	const struct em_row *r, *first;
	int rc = em_snapshot_reindex(s, &dup);

	if (rc == -ENOMEM)
		return nomem(c);
	if (!rc)
		return 0;
	r = &s->rows[dup];
	s->nrows = dup; /* the rows before it are distinct: find the first one */
	first = em_snapshot_find(s, r->isa, r->reason, r->tgid, r->vcpu);
	s->nrows = n;
	return fail(c, -EINVAL,
		    "rows[%zu]: duplicate of rows[%zu] (isa %s, reason %" PRIu32 ", tgid %" PRIu32 ", vcpu %" PRId64 ")",
		    dup, (size_t)(first - s->rows), em_isa_name(r->isa) ?: "other", r->reason, r->tgid,
		    r->vcpu == EM_ANY_VCPU ? -1 : (int64_t)r->vcpu);
}

/*
 * The TOTAL line and the percentages sum the rows, and JSON output holds
 * integers up to 2^63-1: sums above that would print wrapped or not at
 * all, so such a file is refused.
 */
static int check_totals(const struct em_snapshot *s, struct ctx *c)
{
	int64_t count = 0, lat_count = 0, lat_sum = 0, breakdown = 0;
	size_t i;

	for (i = 0; i < s->nrows; i++) {
		const struct em_rstats *st = &s->rows[i].st;
		int ovf;

		if (em_row_is_total(&s->rows[i]))
			ovf = (int)__builtin_add_overflow(count, st->count, &count) +
			      (int)__builtin_add_overflow(lat_count, st->lat_count, &lat_count) +
			      (int)__builtin_add_overflow(lat_sum, st->lat_sum, &lat_sum);
		else
			ovf = __builtin_add_overflow(breakdown, st->count, &breakdown);
		if (ovf)
			return fail(c, -EINVAL, "rows[%zu]: the rows' counts or latency sums exceed 2^63-1", i);
	}
	return 0;
}

/* Everything before the rows (the header), and that "rows" is an array. */
static int from_json_head(const json_t *root, struct em_snapshot *s, struct ctx *c)
{
	struct em_meta *m = &s->meta;
	json_t *v, *counters = NULL, *rows = NULL;
	json_int_t version;
	size_t i;
	int rc;

	if (!json_is_object(root))
		return fail(c, -EINVAL, "not an exitmon snapshot: the document is %s, expected an object",
			    jtype(root));
	v = json_object_get(root, "format");
	if (!v)
		return fail(c, -EINVAL, "not an exitmon snapshot: no \"format\" field");
	if (!json_is_string(v) || strcmp(json_string_value(v), EM_SNAPSHOT_FORMAT) ||
	    json_string_length(v) != strlen(EM_SNAPSHOT_FORMAT))
		return fail(c, -EINVAL, "not an exitmon snapshot: \"format\" is %s%.40s%s, expected \"%s\"",
			    json_is_string(v) ? "\"" : jtype(v), json_is_string(v) ? json_string_value(v) : "",
			    json_is_string(v) ? "\"" : "", EM_SNAPSHOT_FORMAT);
	v = json_object_get(root, "version");
	if (!v)
		return fail(c, -EINVAL, "missing field \"version\"");
	if (!json_is_integer(v))
		return fail(c, -EINVAL, "version: expected an integer, got %s", jtype(v));
	version = json_integer_value(v);
	if (version != 1 && version != EM_FORMAT_VERSION)
		return fail(c, -EINVAL, "unsupported snapshot format version %" PRId64 " (this exitmon reads versions 1 to %d%s)",
			    (int64_t)version, EM_FORMAT_VERSION,
			    version > EM_FORMAT_VERSION ? "; it was written by a newer exitmon" : "");
	/* version 1 files: native layout, cumulative, attach mode unknown (em_snapshot_init) */
	if (version >= 2 && ((rc = parse_layout(root, &m->hist_layout, c)) || (rc = parse_measured(root, m, c))))
		return rc;

	if ((rc = get_str(root, "", "exitmon_version", m->exitmon_version, sizeof(m->exitmon_version), c)) ||
	    (rc = get_str(root, "", "hostname", m->hostname, sizeof(m->hostname), c)) ||
	    (rc = get_str(root, "", "kernel", m->kernel, sizeof(m->kernel), c)) ||
	    (rc = get_str(root, "", "cpu_vendor", m->cpu_vendor, sizeof(m->cpu_vendor), c)) ||
	    (rc = get_str(root, "", "cpu_model", m->cpu_model, sizeof(m->cpu_model), c)) ||
	    (rc = get_isa(root, "", &m->isa, c)) ||
	    (rc = parse_params(root, m, c)) ||
	    (rc = get_int(root, "", "start_ns", INT64_MIN, INT64_MAX, &m->start_ns, c)) ||
	    (rc = get_u64(root, "", "duration_ns", &m->duration_ns, c)) ||
	    (rc = parse_filters(root, &m->filters, c)) ||
	    (rc = get(root, "", "counters", JSON_OBJECT, "an object", &counters, c)))
		return rc;
	for (i = 0; i < EM_CNT__MAX; i++)
		if (i >= EM_CNT_RECURSION_MISSES && !json_object_get(counters, em_counter_names[i]))
			s->counters[i] = 0; /* a snapshot from before exitmon had it */
		else if ((rc = get_u64(counters, "counters", em_counter_names[i], &s->counters[i], c)))
			return rc;

	return get(root, "", "rows", JSON_ARRAY, "an array", &rows, c);
}

/* Room for n rows, checked against the limit. */
static int alloc_rows(struct em_snapshot *s, size_t n, struct ctx *c)
{
	if (n > EM_SNAPSHOT_MAX_ROWS)
		return fail(c, -EINVAL, "too many rows (%zu, at most %u)", n, EM_SNAPSHOT_MAX_ROWS);
	if (n) {
		s->rows = calloc(n, sizeof(*s->rows));
		if (!s->rows)
			return nomem(c);
		s->cap = n;
	}
	return 0;
}

/* What follows the rows: sums, names (vms, optional: runs without names have none), duplicates. */
static int from_json_tail(const json_t *vms, struct em_snapshot *s, struct ctx *c)
{
	int rc;

	if ((rc = check_totals(s, c)))
		return rc;
	if (vms && (rc = em_labels_from_json(vms, &s->labels, c->err, c->errlen)))
		return rc;
	return check_duplicates(s, c);
}

static int from_json(const json_t *root, struct em_snapshot *s, struct ctx *c)
{
	json_t *rows, *v;
	size_t i;
	int rc;

	if ((rc = from_json_head(root, s, c)))
		return rc;
	rows = json_object_get(root, "rows");
	if ((rc = alloc_rows(s, json_array_size(rows), c)))
		return rc;
	json_array_foreach(rows, i, v) {
		if ((rc = parse_row(v, i, &s->meta.hist_layout, &s->hist, &s->rows[i], c)))
			return rc;
		s->nrows++;
	}
	return from_json_tail(json_object_get(root, "vms"), s, c);
}

/*
 * jansson's memory while parsing is bounded to EM_PARSE_MEM_FACTOR times
 * the input (plus 1 MiB): "[1,1,1,...]"-like input would otherwise take
 * ~25 times its size. Plain malloc/free underneath (so free() of
 * json_dumps' text stays right); malloc_usable_size counts the frees.
 * The budget is per thread and only set in parse().
 */
static _Thread_local size_t parse_budget, parse_used;
static _Thread_local bool parse_over;

static void *json_alloc(size_t n)
{
	void *p;

	if (parse_budget && n > parse_budget - parse_used) {
		parse_over = true;
		return NULL;
	}
	p = malloc(n);
	if (p && parse_budget) {
		size_t got = malloc_usable_size(p);

		if (got > parse_budget - parse_used) {
			free(p);
			parse_over = true;
			return NULL;
		}
		parse_used += got;
	}
	return p;
}

static void json_release(void *p)
{
	if (p && parse_budget) {
		size_t got = malloc_usable_size(p);

		parse_used -= got < parse_used ? got : parse_used;
	}
	free(p);
}

__attribute__((constructor)) static void json_alloc_init(void)
{
	json_set_alloc_funcs(json_alloc, json_release);
}

/* jansson's parse of buf under the memory budget (EM_PARSE_MEM_FACTOR times len_all). */
static json_t *load_budget(const char *buf, size_t len, size_t len_all, json_error_t *je)
{
	json_t *v;

	parse_budget = len_all * EM_PARSE_MEM_FACTOR + (1u << 20);
	parse_used = 0;
	parse_over = false;
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, je);
	parse_budget = 0;
	return v;
}

/* The whole document as one jansson tree: the reference, and every error's wording. */
static int parse_tree(const char *buf, size_t len, struct em_snapshot *s, struct ctx *c)
{
	json_error_t je;
	json_t *root;
	int rc;

	root = load_budget(buf, len, len, &je);
	if (!root && parse_over)
		return fail(c, -EINVAL, "not a snapshot: parsing it would take more than %d times its size in memory",
			    EM_PARSE_MEM_FACTOR);
	if (!root) {
		/* jansson's words when the input stops in the middle of a value */
		bool at_end = strstr(je.text, "near end of file") || strstr(je.text, "premature end of input");

		return fail(c, -EINVAL, "%s: %s (line %d, column %d)",
			    at_end ? "truncated JSON" : "invalid JSON", je.text, je.line, je.column);
	}
	rc = from_json(root, s, c);
	json_decref(root);
	return rc;
}

/*
 * The fast path's scanner: it finds the spans of values without checking
 * them (jansson does that, span by span). NULL when it is lost (an
 * unterminated string, nesting deeper than EM_SCAN_DEPTH, the end).
 */
#define EM_SCAN_DEPTH 64

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Past the string that starts at p ('"'). */
static const char *skip_str(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end) /* the escaped character */
				break;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* The characters value_end() stops at; it skips the others in a tight loop. */
static const bool scan_stop[256] = {
	['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true, [','] = true,
};

/* The ',', ']' or '}' that ends the value starting at p. */
static const char *value_end(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		while (p < end && !scan_stop[(unsigned char)*p])
			p++;
		if (p == end)
			break;
		if (*p == '"') {
			if (!(p = skip_str(p, end)))
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[') {
			if (++depth > EM_SCAN_DEPTH)
				return NULL;
		} else if (*p == '}' || *p == ']') {
			if (!depth--)
				return p;
		} else if (*p == ',' && !depth) {
			return p;
		}
		p++;
	}
	return NULL;
}

/* The '[' of the top-level key "rows" (spelled plainly), or NULL. */
static const char *find_rows(const char *p, const char *end)
{
	static const char key[] = "\"rows\"";

	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return NULL;
	for (p++;;) {
		const char *k = skip_ws(p, end), *q;

		if (k == end || *k != '"' || !(q = skip_str(k, end)))
			return NULL;
		p = skip_ws(q, end);
		if (p == end || *p != ':')
			return NULL;
		p = skip_ws(p + 1, end);
		if (q - k == (ptrdiff_t)sizeof(key) - 1 && !memcmp(k, key, sizeof(key) - 1))
			return p < end && *p == '[' ? p : NULL;
		if (!(q = value_end(p, end)) || *q != ',')
			return NULL;
		p = q + 1;
	}
}

/*
 * A row as the save code writes it, read without jansson: every member a
 * known key once, plain strings (no escapes, ASCII), integers of at most
 * 18 digits, booleans, [bucket, count] pairs. Returns the ',' or ']' after
 * the row, or NULL for anything else (a bad value, another spelling, an
 * unknown key), which parse_row() then reads and judges with jansson: so
 * this only ever accepts rows parse_row() accepts, with the same result.
 */
enum { FK_ISA, FK_REASON, FK_NAME, FK_TGID, FK_VCPU, FK_COUNT, FK_LAT_COUNT, FK_LAT_SUM, FK_LAT_MIN,
       FK_LAT_MAX, FK_HIST, FK_MIN_APPROX, FK_MAX_APPROX, FK__N };
#define FK(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} fast_keys[FK__N] = {
	FK("isa"), FK("reason"), FK("name"), FK("tgid"), FK("vcpu"), FK("count"), FK("lat_count"),
	FK("lat_sum_ns"), FK("lat_min_ns"), FK("lat_max_ns"), FK("hist"), FK("lat_min_approx"),
	FK("lat_max_approx"),
};
#undef FK

#define EM_FAST_PAIRS 512 /* more [bucket, count] pairs in a row: jansson reads it */

struct fcur {
	const char *p, *end;
};

static bool fast_lit(struct fcur *f, char ch)
{
	f->p = skip_ws(f->p, f->end);
	if (f->p < f->end && *f->p == ch) {
		f->p++;
		return true;
	}
	return false;
}

static bool fast_word(struct fcur *f, const char *w, size_t n)
{
	f->p = skip_ws(f->p, f->end);
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n))
		return false;
	f->p += n;
	return true;
}

/* A plain string: its text in [*s, *s + *n). */
static bool fast_str(struct fcur *f, const char **s, size_t *n)
{
	const char *p;

	if (!fast_lit(f, '"'))
		return false;
	for (p = f->p; p < f->end && *p != '"'; p++)
		if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			return false;
	if (p == f->end)
		return false;
	*s = f->p;
	*n = (size_t)(p - f->p);
	f->p = p + 1;
	return true;
}

/* An integer as jansson reads one (no leading zero, no fraction or exponent, no "-0") in [lo, hi]. */
static bool fast_int(struct fcur *f, int64_t lo, int64_t hi, int64_t *out)
{
	const char *p = skip_ws(f->p, f->end), *d;
	bool neg = false;
	int64_t v = 0;

	if (p < f->end && *p == '-') {
		neg = true;
		p++;
	}
	for (d = p; p < f->end && *p >= '0' && *p <= '9'; p++) {
		if (p - d == 18)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (p == d || (*d == '0' && p - d > 1) || (neg && !v))
		return false;
	if (p < f->end && (*p == '.' || *p == 'e' || *p == 'E'))
		return false;
	v = neg ? -v : v;
	if (v < lo || v > hi)
		return false;
	*out = v;
	f->p = p;
	return true;
}

static const char *fast_row(const char *p, const char *end, const struct em_hist_layout *l,
			    struct em_arena *ar, struct em_row *r)
{
	struct { int64_t b, n; } pairs[EM_FAST_PAIRS];
	struct fcur f = { p, end };
	int64_t v[FK__N] = { 0 }, nb = em_layout_buckets(l), prev = -1;
	uint32_t next = 0;
	uint32_t seen = 0, approx = 0, npairs = 0, i;
	/* the native layout's buckets are this exitmon's: nothing to re-bucket */
	bool native = l->sub_bits == EM_HIST_SUB_BITS && l->max_log2 == EM_HIST_MAX_LOG2;
	uint64_t sum = 0;

	if (!fast_lit(&f, '{'))
		return NULL;
	do {
		const char *k;
		size_t n;
		int key;

		if (!fast_str(&f, &k, &n) || !fast_lit(&f, ':'))
			return NULL;
		/* saved rows have the keys in this order: try the one after the last first */
		for (i = 0; i < FK__N; i++) {
			key = (int)((next + i) % FK__N);
			if (fast_keys[key].n == n && !memcmp(fast_keys[key].s, k, n))
				break;
		}
		if (i == FK__N || (seen & (1u << key)))
			return NULL; /* another key, or a duplicate */
		next = (uint32_t)key + 1;
		seen |= 1u << key;
		switch (key) {
		case FK_ISA:
			if (!fast_str(&f, &k, &n) || n != 3 || (memcmp(k, "vmx", 3) && memcmp(k, "svm", 3)))
				return NULL;
			v[key] = *k == 'v' ? EM_ISA_VMX : EM_ISA_SVM;
			break;
		case FK_NAME:
			if (!fast_str(&f, &k, &n))
				return NULL;
			break;
		case FK_REASON:
		case FK_TGID:
			if (!fast_int(&f, 0, UINT32_MAX, &v[key]))
				return NULL;
			break;
		case FK_VCPU:
			if (!fast_int(&f, -1, (int64_t)EM_ANY_VCPU - 1, &v[key]))
				return NULL;
			break;
		case FK_MIN_APPROX:
		case FK_MAX_APPROX:
			if (fast_word(&f, "true", 4))
				approx |= key == FK_MIN_APPROX ? EM_APPROX_MIN : EM_APPROX_MAX;
			else if (!fast_word(&f, "false", 5))
				return NULL;
			break;
		case FK_HIST:
			if (!fast_lit(&f, '['))
				return NULL;
			if (fast_lit(&f, ']'))
				break;
			do {
				int64_t b, c;

				if (npairs == EM_FAST_PAIRS || !fast_lit(&f, '[') || !fast_int(&f, 0, nb - 1, &b) ||
				    b <= prev || !fast_lit(&f, ',') || !fast_int(&f, 0, INT64_MAX, &c) ||
				    !fast_lit(&f, ']') || __builtin_add_overflow(sum, (uint64_t)c, &sum) ||
				    (!native && em_hist_bucket(em_layout_lower(l, (uint32_t)b)) !=
						    em_hist_bucket(em_layout_upper(l, (uint32_t)b))))
					return NULL;
				prev = b;
				pairs[npairs].b = b;
				pairs[npairs++].n = c;
			} while (fast_lit(&f, ','));
			if (!fast_lit(&f, ']'))
				return NULL;
			break;
		default: /* count and the latency fields */
			if (!fast_int(&f, 0, INT64_MAX, &v[key]))
				return NULL;
		}
	} while (fast_lit(&f, ','));
	if (!fast_lit(&f, '}'))
		return NULL;
	f.p = skip_ws(f.p, f.end);
	if (f.p == f.end || (*f.p != ',' && *f.p != ']'))
		return NULL;
	/* every required field, and parse_row()'s checks passed */
	if ((seen | (1u << FK_NAME) | (1u << FK_MIN_APPROX) | (1u << FK_MAX_APPROX)) != (1u << FK__N) - 1 ||
	    v[FK_LAT_COUNT] > v[FK_COUNT] || (v[FK_LAT_COUNT] && v[FK_LAT_MIN] > v[FK_LAT_MAX]) ||
	    sum != (uint64_t)v[FK_LAT_COUNT])
		return NULL;
	r->isa = (uint32_t)v[FK_ISA];
	r->reason = (uint32_t)v[FK_REASON];
	r->tgid = (uint32_t)v[FK_TGID];
	r->vcpu = v[FK_VCPU] < 0 ? EM_ANY_VCPU : (uint32_t)v[FK_VCPU];
	r->approx = approx;
	r->st = (struct em_rstats){ .count = (uint64_t)v[FK_COUNT], .lat_count = (uint64_t)v[FK_LAT_COUNT],
				    .lat_sum = (uint64_t)v[FK_LAT_SUM], .lat_min = (uint64_t)v[FK_LAT_MIN],
				    .lat_max = (uint64_t)v[FK_LAT_MAX] };
	if (npairs) {
		r->st.cap = npairs < EM_HIST_BUCKETS ? npairs : EM_HIST_BUCKETS;
		if (!(r->st.hb = em_arena_alloc(ar, r->st.cap)))
			return NULL;
	}
	for (i = 0; i < npairs; i++)
		if (em_rstats_add_bucket(ar, &r->st,
					 native ? (uint32_t)pairs[i].b :
						  em_hist_bucket(em_layout_lower(l, (uint32_t)pairs[i].b)),
					 (uint64_t)pairs[i].n))
			return NULL;
	return f.p;
}

/* jansson's parse of "{" followed by text (a part of the document as an object of its own). */
static json_t *load_part(const char *text, size_t n, size_t len_all, json_error_t *je)
{
	char *doc = malloc(n + 1);
	json_t *v;

	if (!doc)
		return NULL;
	doc[0] = '{';
	memcpy(doc + 1, text, n);
	v = load_budget(doc, n + 1, len_all, je);
	free(doc);
	return v;
}

/*
 * The fast path (issue 12): jansson parses the members before "rows"
 * (with "rows": [] in place of the rows) and those after it as two small
 * objects; each row is read alone, checked, and copied into the snapshot
 * (plain rows without jansson, fast_row()), so the tree of the whole file
 * is never built and each byte of the rows is scanned once. Returns 0
 * only for a document the whole-tree parse accepts with the same result:
 * any failure (syntax, a bad field, a key of the tail also in the head,
 * memory) returns nonzero and parse() starts again with parse_tree(),
 * whose message is the one shown.
 */
static int parse_rows_apart(const char *buf, size_t len, struct em_snapshot *s, struct ctx *c)
{
	const char *end = buf + len, *open = find_rows(buf, end), *p, *q, *key;
	json_t *head = NULL, *tail = NULL, *v;
	json_error_t je;
	size_t head_len;
	int rc = -EAGAIN;

	if (!open)
		return -EAGAIN;
	/* the head: everything up to "rows": and then []} */
	head_len = (size_t)(open - buf);
	if (!(p = malloc(head_len + 3)))
		return -ENOMEM;
	memcpy((char *)p, buf, head_len);
	memcpy((char *)p + head_len, "[]}", 3);
	head = load_budget(p, head_len + 3, len, &je);
	free((char *)p);
	if (!head || (rc = from_json_head(head, s, c)))
		goto out;
	rc = -EAGAIN;
	for (p = skip_ws(open + 1, end), q = p; p < end && *p != ']'; p = q + 1) {
		struct em_row *r;

		if (s->nrows == s->cap &&
		    (s->nrows == EM_SNAPSHOT_MAX_ROWS || em_snapshot_reserve(s, s->cap ? 2 * s->cap : 1024)))
			goto out; /* too many rows, or memory: the whole-tree parse says which */
		r = &s->rows[s->nrows];
		memset(r, 0, sizeof(*r));
		if ((q = fast_row(p, end, &s->meta.hist_layout, &s->hist, r))) {
			em_snapshot_plain_rows++;
		} else { /* not the plain form: jansson reads this row */
			memset(r, 0, sizeof(*r));
			q = value_end(p, end);
			if (!q || *q == '}' || skip_ws(p, q) == q ||
			    !(v = load_budget(p, (size_t)(q - p), len, &je)))
				goto out;
			rc = parse_row(v, s->nrows, &s->meta.hist_layout, &s->hist, r, c);
			json_decref(v);
			if (rc)
				goto out;
			rc = -EAGAIN;
		}
		s->nrows++;
		if (*q == ']')
			break;
	}
	if (q >= end || *q != ']')
		goto out;
	/* the tail: the members after the rows, as an object; none may repeat one of the head */
	p = skip_ws(q + 1, end);
	if (p < end && *p == ',' && (q = skip_ws(p + 1, end)) < end && *q == '"')
		tail = load_part(q, (size_t)(end - q), len, &je);
	else if (p < end && *p == '}')
		tail = load_part(p, (size_t)(end - p), len, &je);
	if (!tail)
		goto out;
	json_object_foreach(tail, key, v)
		if (json_object_get(head, key))
			goto out;
	v = json_object_get(head, "vms");
	rc = from_json_tail(v ? v : json_object_get(tail, "vms"), s, c);
out:
	json_decref(head);
	json_decref(tail);
	return rc;
}

static int parse(const char *buf, size_t len, struct em_snapshot *s, struct ctx *c)
{
	int rc;

	em_snapshot_init(s);
	if (len == 0)
		return fail(c, -EINVAL, "empty file, not a snapshot");
	if (len > EM_SNAPSHOT_MAX_BYTES)
		return fail(c, -EINVAL, "too large for a snapshot (%zu bytes, max %u)", len, EM_SNAPSHOT_MAX_BYTES);
	rc = em_snapshot_whole_tree ? -EAGAIN : parse_rows_apart(buf, len, s, c);
	if (rc) {
		em_snapshot_free(s);
		em_snapshot_init(s);
		rc = parse_tree(buf, len, s, c);
	}
	if (rc) {
		em_snapshot_free(s);
		em_snapshot_init(s);
	}
	return rc;
}

int em_snapshot_parse(const char *buf, size_t len, struct em_snapshot *s, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };

	return parse(buf, len, s, &c);
}

int em_snapshot_load(const char *path, struct em_snapshot *s, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	const char *p;
	char *buf;
	size_t len;
	int rc;

	em_snapshot_init(s);
	if ((rc = em_safefile_read(path, EM_SNAPSHOT_MAX_BYTES, &buf, &len, err, errlen)))
		return rc;
	/* Anything but an object is refused before it is parsed (a huge array). */
	for (p = buf; p < buf + len && strchr(" \t\r\n", *p); p++)
		;
	if (p < buf + len && *p != '{')
		rc = fail(&c, -EINVAL, "not an exitmon snapshot: the document does not start with '{'");
	else
		rc = parse(buf, len, s, &c);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Save (the file safety is in safefile.c)                             */

int em_snapshot_save_file(struct em_safefile *f, const struct em_snapshot *s, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	char *text;
	json_t *root;
	size_t len;
	int rc;

	if ((rc = to_json(s, &root, &c)))
		return rc;
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return nomem(&c);
	len = strlen(text);
	text[len] = '\n'; /* json_dumps leaves room: its NUL */
	rc = em_safefile_write(f, text, len + 1, err, errlen);
	free(text);
	return rc;
}

int em_snapshot_save(const char *path, const struct em_snapshot *s, bool force, char *err, size_t errlen)
{
	struct em_safefile f;
	int rc;

	if ((rc = em_safefile_open(&f, path, force, err, errlen)))
		return rc;
	f.before_publish = em_snapshot_save_hook;
	rc = em_snapshot_save_file(&f, s, err, errlen);
	em_safefile_close(&f);
	return rc;
}

/* ------------------------------------------------------------------ */

/* The same non-empty buckets (pairs that wrapped to 0 are empty). */
static bool same_hist(const struct em_rstats *x, const struct em_rstats *y)
{
	uint32_t i = 0, j = 0;

	for (;;) {
		while (i < x->nb && !x->hb[i].n)
			i++;
		while (j < y->nb && !y->hb[j].n)
			j++;
		if (i == x->nb || j == y->nb)
			return i == x->nb && j == y->nb;
		if (x->hb[i].b != y->hb[j].b || x->hb[i].n != y->hb[j].n)
			return false;
		i++, j++;
	}
}

bool em_snapshot_equal(const struct em_snapshot *a, const struct em_snapshot *b)
{
	const struct em_meta *x = &a->meta, *y = &b->meta;
	uint32_t i;
	size_t r;

#define SEQ(f) (strncmp(x->f, y->f, sizeof(x->f)) == 0)
	if (!SEQ(exitmon_version) || !SEQ(hostname) || !SEQ(kernel) || !SEQ(cpu_vendor) || !SEQ(cpu_model))
		return false;
#undef SEQ
	/* not hist_layout: what a file was recorded with; rows are native buckets after loading */
	if (strncmp(x->attach, y->attach, sizeof(x->attach)) || x->interval != y->interval)
		return false;
	if (x->isa != y->isa || x->nparams != y->nparams || x->start_ns != y->start_ns ||
	    x->duration_ns != y->duration_ns || x->nparams > EM_MAX_PARAMS)
		return false;
	for (i = 0; i < x->nparams; i++)
		if (strncmp(x->params[i].name, y->params[i].name, sizeof(x->params[i].name)) ||
		    strncmp(x->params[i].value, y->params[i].value, sizeof(x->params[i].value)))
			return false;
	if (x->filters.nreasons != y->filters.nreasons || x->filters.nreasons > EM_MAX_FILTER_REASONS ||
	    memcmp(x->filters.reasons, y->filters.reasons, x->filters.nreasons * sizeof(uint32_t)) ||
	    x->filters.pid != y->filters.pid || x->filters.vcpu != y->filters.vcpu ||
	    x->filters.per_vm != y->filters.per_vm || x->filters.per_vcpu != y->filters.per_vcpu)
		return false;
	if (memcmp(a->counters, b->counters, sizeof(a->counters)) || a->nrows != b->nrows)
		return false;
	for (r = 0; r < a->nrows; r++) {
		const struct em_row *p = &a->rows[r], *q = &b->rows[r];

		if (p->isa != q->isa || p->reason != q->reason || p->tgid != q->tgid || p->vcpu != q->vcpu ||
		    (p->st.lat_count ? p->approx : 0) != (q->st.lat_count ? q->approx : 0) ||
		    p->st.count != q->st.count || p->st.lat_count != q->st.lat_count ||
		    p->st.lat_sum != q->st.lat_sum || p->st.lat_min != q->st.lat_min ||
		    p->st.lat_max != q->st.lat_max || !same_hist(&p->st, &q->st))
			return false;
	}
	return em_labels_equal(&a->labels, &b->labels);
}
