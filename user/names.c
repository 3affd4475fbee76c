// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* VM and vCPU names from /proc, /run/libvirt and KVM debugfs (see names.h). */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "names.h"

/* Read bounds: every file here may be written by a hostile guest owner. */
#define CMDLINE_MAX   (256 * 1024) /* libvirt's QEMU command lines are a few KiB */
#define CGROUP_MAX    (64 * 1024)
#define XML_MAX       (1024 * 1024) /* <vcpus> comes first in the status XML */
#define SMALL_MAX     4096         /* stat, comm, pid files */
#define DIR_MAX       65536        /* entries looked at per directory scan */
#define CACHE_MAX     1024         /* VMs kept; the least recently used goes */
#define VCPUS_MAX     4096

struct vm_ent {
	uint32_t pid;
	uint64_t start;     /* /proc/PID/stat field 22 when resolved */
	uint64_t used;      /* lookup counter value of the last use */
	uint64_t name_at;   /* monotonic ns of the last name attempt */
	uint64_t vcpus_at;  /* monotonic ns of the last vCPU table build, 0 = never */
	bool gone;          /* the process has exited: keep what we had */
	enum em_name_src src;
	char name[EM_NAME_MAX];
	char libvirt_file[256]; /* NAME of NAME.pid, raw, to find NAME.xml */
	struct em_vcpu_info *vcpus;
	size_t nvcpus;
};

struct em_names {
	char root[PATH_MAX]; /* "" for "/" */
	uint64_t retry_ns;
	uint64_t tick;
	struct vm_ent *ents;
	size_t nents;
	void (*resolved_hook)(void *); /* tests: runs between a resolution and its re-check */
	void *hook_arg;
};

void em_names_set_resolved_hook(struct em_names *n, void (*fn)(void *), void *arg)
{
	n->resolved_hook = fn;
	n->hook_arg = arg;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct em_names *em_names_new(const char *root)
{
	struct em_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (root && strcmp(root, "/"))
		snprintf(n->root, sizeof(n->root), "%s", root);
	n->retry_ns = 1000000000ULL;
	return n;
}

void em_names_free(struct em_names *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->nents; i++)
		free(n->ents[i].vcpus);
	free(n->ents);
	free(n);
}

void em_names_set_retry_ns(struct em_names *n, uint64_t ns)
{
	n->retry_ns = ns;
}

const char *em_name_src_str(enum em_name_src s)
{
	static const char *const str[] = { "pid", "libvirt", "qemu-cmdline", "cgroup",
					   "firecracker", "crosvm" };

	return (unsigned)s < sizeof(str) / sizeof(str[0]) ? str[s] : "pid";
}

const char *em_vcpu_src_str(enum em_vcpu_src s)
{
	static const char *const str[] = { "none", "thread-name", "libvirt", "debugfs" };

	return (unsigned)s < sizeof(str) / sizeof(str[0]) ? str[s] : "none";
}

/* ---- bounded reads -------------------------------------------------- */

static bool path_of(const struct em_names *n, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool path_of(const struct em_names *n, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t r = strlen(n->root);
	int k;

	if (r >= len)
		return false;
	memcpy(buf, n->root, r);
	va_start(ap, fmt);
	k = vsnprintf(buf + r, len - r, fmt, ap);
	va_end(ap);
	return k >= 0 && (size_t)k < len - r;
}

/*
 * Reads at most cap-1 bytes of a regular file into a malloc'd buffer,
 * NUL-terminated (the content may hold NULs: *len says how much). No
 * symlinks, no FIFOs or devices (O_NONBLOCK so opening one cannot hang).
 */
static char *read_bounded(const char *path, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !(buf = malloc(cap))) {
		close(fd);
		return NULL;
	}
	while (got < cap - 1) {
		ssize_t k = read(fd, buf + got, cap - 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (!k)
			break;
		got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
	if (len)
		*len = got;
	return buf;
}

/* Decimal u32 with optional surrounding whitespace, nothing else. */
static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool read_u32(const char *path, uint32_t *out)
{
	char *s = read_bounded(path, 64, NULL);
	bool ok = s && parse_u32(s, out);

	free(s);
	return ok;
}

/* ---- parsers ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, c = s[0] & 0x07;
	else
		return 0;
	if (k > n)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((k == 3 && c < 0x800) || (k == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return k;
}

void em_names_sanitize(char *out, size_t outlen, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	if (!outlen)
		return;
	while (i < len) {
		size_t k = utf8_len(s + i, len - i);
		/* C0, DEL and C1 (U+0080..U+009F = C2 80..C2 9F) controls: one '?' each */
		bool ctl = (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
			   (k == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f);

		if (o + (k && !ctl ? k : 1) >= outlen)
			break;
		if (k && !ctl) {
			memcpy(out + o, s + i, k);
			o += k;
		} else {
			out[o++] = '?';
		}
		i += k ? k : 1;
	}
	out[o] = '\0';
}

bool em_names_parse_qemu(const char *arg, char *out, size_t outlen)
{
	/* QemuOpts syntax: params split at ',', ",," is a literal comma. */
	char buf[EM_NAME_MAX * 4];
	bool found = false;
	const char *p = arg;

	while (*p) {
		size_t o = 0;

		while (*p) {
			if (*p == ',' && p[1] == ',') {
				if (o < sizeof(buf) - 1)
					buf[o++] = ',';
				p += 2;
			} else if (*p == ',') {
				p++;
				break;
			} else {
				if (o < sizeof(buf) - 1)
					buf[o++] = *p;
				p++;
			}
		}
		buf[o] = '\0';
		if (!strchr(buf, '=')) {
			/* the implied "guest" key: a plain name beats guest= (as kvm_stat) */
			if (o) {
				em_names_sanitize(out, outlen, buf, o);
				return true;
			}
		} else if (!strncmp(buf, "guest=", 6) && o > 6) {
			em_names_sanitize(out, outlen, buf + 6, o - 6);
			found = true;
		}
	}
	return found;
}

/* Undoes systemd's unit-name escaping (\xNN) in place. */
static size_t systemd_unescape(char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' && isxdigit((unsigned char)s[i + 2]) &&
		    isxdigit((unsigned char)s[i + 3])) {
			char hex[3] = { s[i + 2], s[i + 3], 0 };

			s[o++] = (char)strtoul(hex, NULL, 16);
			i += 3;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

bool em_names_parse_cgroup(const char *text, char *out, size_t outlen)
{
	static const char pre[] = "machine-qemu\\x2d";
	const char *p = text;

	/* libvirt via systemd-machined: machine-qemu\x2d<id>\x2d<name>.scope
	 * (older libvirt: machine-qemu\x2d<name>.scope), in any hierarchy. */
	while ((p = strstr(p, pre))) {
		const char *b = p + sizeof(pre) - 1;
		const char *e = b + strcspn(b, "/\n");
		char buf[1024];
		size_t len = (size_t)(e - b), k;

		p = e;
		if (len < 7 || len >= sizeof(buf) || strncmp(e - 6, ".scope", 6))
			continue;
		len -= 6;
		memcpy(buf, b, len);
		len = systemd_unescape(buf, len);
		buf[len] = '\0';
		k = strspn(buf, "0123456789");
		if (k && buf[k] == '-' && buf[k + 1]) /* strip "<id>-" */
			memmove(buf, buf + k + 1, len - k);
		len = strlen(buf);
		if (!len)
			continue;
		em_names_sanitize(out, outlen, buf, len);
		return true;
	}
	return false;
}

int32_t em_names_parse_thread(const char *comm)
{
	static const char *const pre[] = { "CPU ", "fc_vcpu ", "crosvm_vcpu", "vcpu" };
	size_t i;

	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t l = strlen(pre[i]);
		const char *s = comm + l;
		char *end;
		unsigned long v;

		if (strncmp(comm, pre[i], l) || !isdigit((unsigned char)*s))
			continue;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || v > INT32_MAX)
			return -1;
		/* QEMU: "CPU n/KVM" (also "/TCG", "/HVF": only KVM counts here) */
		if (i == 0 ? !strcmp(end, "/KVM") : !*end)
			return (int32_t)v;
		return -1;
	}
	return -1;
}

bool em_names_parse_start(const char *stat, uint64_t *start)
{
	const char *p = strrchr(stat, ')'); /* comm may hold spaces and ')' */
	int field;
	char *end;

	if (!p)
		return false;
	p++;
	/* p is before field 3; field 22 is the 20th from here */
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return false;
		if (field == 22)
			break;
		p += strcspn(p, " ");
	}
	if (!isdigit((unsigned char)*p))
		return false;
	errno = 0;
	*start = strtoull(p, &end, 10);
	return !errno && (*end == ' ' || *end == '\n' || !*end);
}

/* ---- per-process sources ------------------------------------------------ */

static bool proc_start(const struct em_names *n, uint32_t pid, uint64_t *start)
{
	char path[PATH_MAX];
	char *s;
	bool ok;

	if (!path_of(n, path, sizeof(path), "/proc/%u/stat", pid))
		return false;
	s = read_bounded(path, SMALL_MAX, NULL);
	ok = s && em_names_parse_start(s, start);
	free(s);
	return ok;
}

/* Value of attribute name in the tag [tag, end), into out; false if absent. */
static bool xml_attr(const char *tag, const char *end, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = tag;

	while (p < end && !isspace((unsigned char)*p)) /* the element name */
		p++;
	for (;;) {
		const char *q, *v, *e;

		while (p < end && isspace((unsigned char)*p))
			p++;
		q = p;
		while (q < end && *q != '=' && !isspace((unsigned char)*q))
			q++;
		if (q + 1 >= end || *q != '=' || (q[1] != '\'' && q[1] != '"'))
			return false;
		v = q + 2;
		e = memchr(v, q[1], (size_t)(end - v));
		if (!e)
			return false;
		if ((size_t)(q - p) == nl && !memcmp(p, name, nl)) {
			if ((size_t)(e - v) >= outlen)
				return false;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return true;
		}
		p = e + 1;
	}
}

static char *libvirt_xml(const struct em_names *n, const char *file)
{
	char path[PATH_MAX];

	if (!path_of(n, path, sizeof(path), "/run/libvirt/qemu/%s.xml", file))
		return NULL;
	return read_bounded(path, XML_MAX, NULL);
}

/* The status XML, when present, must agree about the pid (no stale pid files). */
static bool libvirt_xml_pid_ok(const char *xml, uint32_t pid)
{
	const char *t = xml ? strstr(xml, "<domstatus") : NULL;
	char v[32];
	uint32_t got;

	if (!xml)
		return true;
	if (!t || !xml_attr(t, t + strcspn(t, ">"), "pid", v, sizeof(v)) || !parse_u32(v, &got))
		return false;
	return got == pid;
}

static bool from_libvirt(const struct em_names *n, struct vm_ent *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	size_t seen = 0;
	DIR *dh;
	bool found = false;

	if (!path_of(n, dir, sizeof(dir), "/run/libvirt/qemu") || !(dh = opendir(dir)))
		return false;
	while (!found && (d = readdir(dh)) && seen++ < DIR_MAX) {
		size_t l = strlen(d->d_name);
		uint32_t pid;
		char *xml;

		if (l <= 4 || l - 4 >= sizeof(e->libvirt_file) || strcmp(d->d_name + l - 4, ".pid"))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= (int)sizeof(path) ||
		    !read_u32(path, &pid) || pid != e->pid)
			continue;
		memcpy(e->libvirt_file, d->d_name, l - 4);
		e->libvirt_file[l - 4] = '\0';
		xml = libvirt_xml(n, e->libvirt_file);
		if (libvirt_xml_pid_ok(xml, e->pid)) {
			em_names_sanitize(e->name, sizeof(e->name), d->d_name, l - 4);
			found = true;
		} else {
			e->libvirt_file[0] = '\0';
		}
		free(xml);
	}
	closedir(dh);
	return found;
}

/* Value of the last "opt VALUE" or "opt=VALUE" in an argv (NUL-separated). */
static const char *argv_opt(const char *argv, size_t len, const char *opt, const char *opt2)
{
	const char *p = argv, *end = argv + len, *val = NULL;

	while (p < end) {
		size_t l = strnlen(p, (size_t)(end - p));
		const char *next = p + l + 1;
		const char *const opts[] = { opt, opt2 };
		size_t i;

		for (i = 0; i < 2; i++) {
			size_t ol;

			if (!opts[i])
				continue;
			ol = strlen(opts[i]);
			if (!strcmp(p, opts[i]) && next < end)
				val = next;
			else if (!strncmp(p, opts[i], ol) && p[ol] == '=')
				val = p + ol + 1;
		}
		p = next;
	}
	return val;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void resolve_name(const struct em_names *n, struct vm_ent *e)
{
	char path[PATH_MAX];
	char *argv = NULL, *cg;
	size_t alen = 0;
	const char *exe = "", *v;

	e->src = EM_NAME_NONE;
	e->name[0] = '\0';
	e->libvirt_file[0] = '\0';
	if (from_libvirt(n, e)) {
		e->src = EM_NAME_LIBVIRT;
		return;
	}
	if (path_of(n, path, sizeof(path), "/proc/%u/cmdline", e->pid))
		argv = read_bounded(path, CMDLINE_MAX, &alen);
	if (argv && alen)
		exe = base_name(argv);
	if (argv && strncmp(exe, "crosvm", 6) && strncmp(exe, "firecracker", 11) &&
	    strncmp(exe, "jailer", 6) && (v = argv_opt(argv, alen, "-name", "--name")) &&
	    em_names_parse_qemu(v, e->name, sizeof(e->name))) {
		e->src = EM_NAME_QEMU;
		goto out;
	}
	if (path_of(n, path, sizeof(path), "/proc/%u/cgroup", e->pid) &&
	    (cg = read_bounded(path, CGROUP_MAX, NULL))) {
		bool ok = em_names_parse_cgroup(cg, e->name, sizeof(e->name));

		free(cg);
		if (ok) {
			e->src = EM_NAME_CGROUP;
			goto out;
		}
	}
	/* Cloud Hypervisor has no VM name of its own: its VMs fall through to the pid. */
	if (argv && (!strncmp(exe, "firecracker", 11) || !strncmp(exe, "jailer", 6)) &&
	    (v = argv_opt(argv, alen, "--id", NULL)) && *v) {
		em_names_sanitize(e->name, sizeof(e->name), v, strlen(v));
		e->src = EM_NAME_FIRECRACKER;
	} else if (argv && !strncmp(exe, "crosvm", 6) && (v = argv_opt(argv, alen, "--name", NULL)) && *v) {
		em_names_sanitize(e->name, sizeof(e->name), v, strlen(v));
		e->src = EM_NAME_CROSVM;
	}
out:
	free(argv);
}

/* ---- vCPU table --------------------------------------------------------- */

static struct em_vcpu_info *vcpu_slot(struct vm_ent *e, uint32_t tid)
{
	struct em_vcpu_info *v;
	size_t i;

	for (i = 0; i < e->nvcpus; i++)
		if (e->vcpus[i].tid == tid)
			return &e->vcpus[i];
	if (e->nvcpus >= VCPUS_MAX || !(v = realloc(e->vcpus, (e->nvcpus + 1) * sizeof(*v))))
		return NULL;
	e->vcpus = v;
	v = &e->vcpus[e->nvcpus++];
	*v = (struct em_vcpu_info){ .tid = tid, .index = -1, .kvm_id = -1 };
	return v;
}

static void vcpus_from_threads(const struct em_names *n, struct vm_ent *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	size_t seen = 0;
	DIR *dh;

	if (!path_of(n, dir, sizeof(dir), "/proc/%u/task", e->pid) || !(dh = opendir(dir)))
		return;
	while ((d = readdir(dh)) && seen++ < DIR_MAX) {
		uint32_t tid;
		char *comm;
		int32_t idx;

		if (!parse_u32(d->d_name, &tid) ||
		    snprintf(path, sizeof(path), "%s/%s/comm", dir, d->d_name) >= (int)sizeof(path))
			continue;
		comm = read_bounded(path, 64, NULL);
		if (comm)
			comm[strcspn(comm, "\n")] = '\0';
		idx = comm ? em_names_parse_thread(comm) : -1;
		free(comm);
		if (idx >= 0) {
			struct em_vcpu_info *v = vcpu_slot(e, tid);

			if (v) {
				v->index = idx;
				v->index_src = EM_VCPU_THREAD;
			}
		}
	}
	closedir(dh);
}

static void vcpus_from_libvirt(const struct em_names *n, struct vm_ent *e)
{
	char *xml, *p, *stop;

	if (!e->libvirt_file[0] || !(xml = libvirt_xml(n, e->libvirt_file)))
		return;
	/* only the live part: the <domain> definition below has other <vcpu> tags */
	stop = strstr(xml, "<domain");
	if (stop)
		*stop = '\0';
	for (p = xml; (p = strstr(p, "<vcpu ")); p++) {
		const char *end = p + strcspn(p, ">");
		char id[16], tid[16];
		uint32_t i, t;
		struct em_vcpu_info *v;

		if (!xml_attr(p, end, "id", id, sizeof(id)) || !xml_attr(p, end, "pid", tid, sizeof(tid)) ||
		    !parse_u32(id, &i) || !parse_u32(tid, &t) || i > INT32_MAX || !t)
			continue;
		v = vcpu_slot(e, t);
		if (v && v->index < 0) {
			v->index = (int32_t)i;
			v->index_src = EM_VCPU_LIBVIRT;
		}
	}
	free(xml);
}

static void vcpus_from_debugfs(const struct em_names *n, struct vm_ent *e)
{
	char dir[PATH_MAX], vm[PATH_MAX], path[PATH_MAX];
	struct dirent *d, *c;
	size_t seen = 0;
	DIR *dh, *ch;
	char pre[16];

	if (!path_of(n, dir, sizeof(dir), "/sys/kernel/debug/kvm") || !(dh = opendir(dir)))
		return;
	snprintf(pre, sizeof(pre), "%u-", e->pid);
	while ((d = readdir(dh)) && seen++ < DIR_MAX) {
		size_t cseen = 0;

		if (strncmp(d->d_name, pre, strlen(pre)) ||
		    snprintf(vm, sizeof(vm), "%s/%s", dir, d->d_name) >= (int)sizeof(vm) ||
		    !(ch = opendir(vm)))
			continue;
		while ((c = readdir(ch)) && cseen++ < DIR_MAX) {
			uint32_t id, tid;
			struct em_vcpu_info *v;

			if (strncmp(c->d_name, "vcpu", 4) || !parse_u32(c->d_name + 4, &id) ||
			    id > INT32_MAX ||
			    snprintf(path, sizeof(path), "%s/%s/pid", vm, c->d_name) >= (int)sizeof(path) ||
			    !read_u32(path, &tid) || !tid)
				continue;
			v = vcpu_slot(e, tid);
			if (!v)
				continue;
			v->kvm_id = (int32_t)id;
			if (v->index < 0) {
				v->index = (int32_t)id;
				v->index_src = EM_VCPU_DEBUGFS;
			}
		}
		closedir(ch);
	}
	closedir(dh);
}

static void build_vcpus(const struct em_names *n, struct vm_ent *e)
{
	e->nvcpus = 0;
	vcpus_from_threads(n, e);
	vcpus_from_libvirt(n, e);
	vcpus_from_debugfs(n, e);
	e->vcpus_at = now_ns();
	if (!e->vcpus_at)
		e->vcpus_at = 1;
}

/* ---- cache ------------------------------------------------------------ */

static void ent_reset(struct vm_ent *e, uint32_t pid, uint64_t start)
{
	free(e->vcpus);
	*e = (struct vm_ent){ .pid = pid, .start = start };
}

static struct vm_ent *vm_find(struct em_names *n, uint32_t pid)
{
	size_t i;

	for (i = 0; i < n->nents; i++)
		if (n->ents[i].pid == pid)
			return &n->ents[i];
	return NULL;
}

/* Cache entry of pid, resolved anew if the pid now is another process. */
static struct vm_ent *vm_get(struct em_names *n, uint32_t pid)
{
	struct vm_ent *e = vm_find(n, pid);
	uint64_t start, t = now_ns();
	bool alive = proc_start(n, pid, &start);
	size_t i;
	if (e && alive && e->start != start) {
		ent_reset(e, pid, start);
	} else if (!e) {
		if (!alive)
			return NULL; /* never seen and gone: nothing trustworthy to say */
		if (n->nents < CACHE_MAX) {
			struct vm_ent *ne = realloc(n->ents, (n->nents + 1) * sizeof(*ne));

			if (!ne)
				return NULL;
			n->ents = ne;
			e = &n->ents[n->nents++];
			e->vcpus = NULL;
		} else {
			e = &n->ents[0];
			for (i = 1; i < n->nents; i++)
				if (n->ents[i].used < e->used)
					e = &n->ents[i];
		}
		ent_reset(e, pid, start);
	} else if (!alive || e->src != EM_NAME_NONE || t - e->name_at < n->retry_ns) {
		e->gone = !alive;
		e->used = ++n->tick;
		return e; /* exited processes keep their last name */
	}
	e->used = ++n->tick;
	/*
	 * The name is read from several files after the start time: if the
	 * pid passed to another process meanwhile, the name may be the new
	 * one's. A second reading of the start time tells; then resolve the
	 * new process once more, and give up (no name) if it moves again.
	 */
	for (i = 0; i < 2; i++) {
		uint64_t again;

		resolve_name(n, e);
		if (n->resolved_hook)
			n->resolved_hook(n->hook_arg);
		if (proc_start(n, pid, &again) && again == e->start)
			break;
		e->src = EM_NAME_NONE;
		e->name[0] = '\0';
		if (!proc_start(n, pid, &again)) {
			e->gone = true; /* gone meanwhile: nothing trustworthy to say */
			break;
		}
		ent_reset(e, pid, again);
		e->used = n->tick;
	}
	e->name_at = t;
	return e;
}

const char *em_names_vm(struct em_names *n, uint32_t pid, enum em_name_src *src)
{
	struct vm_ent *e = vm_get(n, pid);

	if (src)
		*src = e ? e->src : EM_NAME_NONE;
	return e && e->src != EM_NAME_NONE ? e->name : NULL;
}

static bool vcpu_find(struct em_names *n, uint32_t pid, uint32_t key, bool by_tid,
		      struct em_vcpu_info *out)
{
	/* the start time is checked by em_names_vm(): one /proc read per VM, not per vCPU */
	struct vm_ent *e = vm_find(n, pid);
	int pass;

	*out = (struct em_vcpu_info){ .tid = by_tid ? key : 0, .index = -1,
				      .kvm_id = by_tid || key > INT32_MAX ? -1 : (int32_t)key };
	if (!e)
		return false;
	/* a miss rebuilds the table (vCPUs hot-plugged, threads renamed late), rate-limited */
	for (pass = 0; pass < 2; pass++) {
		size_t i;

		if (pass && (e->gone || now_ns() - e->vcpus_at < n->retry_ns))
			break;
		if ((!e->vcpus_at && !e->gone) || pass)
			build_vcpus(n, e);
		for (i = 0; i < e->nvcpus; i++) {
			const struct em_vcpu_info *v = &e->vcpus[i];

			if (by_tid ? v->tid == key : v->kvm_id >= 0 && (uint32_t)v->kvm_id == key) {
				*out = *v;
				return true;
			}
		}
	}
	return false;
}

bool em_names_vcpu_by_id(struct em_names *n, uint32_t pid, uint32_t kvm_id, struct em_vcpu_info *out)
{
	return vcpu_find(n, pid, kvm_id, false, out);
}

bool em_names_vcpu_by_tid(struct em_names *n, uint32_t pid, uint32_t tid, struct em_vcpu_info *out)
{
	return vcpu_find(n, pid, tid, true, out);
}

/* ---- selection ---------------------------------------------------------- */

bool em_names_glob_any(const char *const *globs, size_t nglobs, const char *name)
{
	size_t i;

	for (i = 0; name && i < nglobs; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int em_names_vm_open(const struct em_names *n, uint32_t pid)
{
	char dir[PATH_MAX], path[PATH_MAX], link[64];
	struct dirent *d;
	size_t seen = 0;
	bool found = false;
	DIR *dh;

	if (!path_of(n, dir, sizeof(dir), "/proc/%u/fd", pid))
		return -ENAMETOOLONG;
	if (!(dh = opendir(dir)))
		return -errno;
	while (!found && (d = readdir(dh)) && seen++ < DIR_MAX) {
		ssize_t k;

		if (d->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= (int)sizeof(path))
			continue;
		k = readlink(path, link, sizeof(link) - 1);
		if (k > 0) {
			link[k] = '\0';
			found = !strcmp(link, "anon_inode:kvm-vm");
		}
	}
	closedir(dh);
	return found;
}

/* Adds pid to the set (sorted later) unless already there. */
static void add_pid(uint32_t **set, size_t *nset, size_t *cap, uint32_t pid)
{
	size_t i;

	for (i = 0; i < *nset; i++)
		if ((*set)[i] == pid)
			return;
	if (*nset == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		uint32_t *ns = nc <= DIR_MAX ? realloc(*set, nc * sizeof(*ns)) : NULL;

		if (!ns)
			return;
		*set = ns;
		*cap = nc;
	}
	(*set)[(*nset)++] = pid;
}

uint32_t *em_names_vmms(struct em_names *n, size_t *count)
{
	char dir[PATH_MAX];
	uint32_t *vms = NULL;
	size_t nvms = 0, cap = 0, seen = 0;
	struct dirent *d;
	DIR *dh;

	/* KVM's debugfs lists every VM as kvm/<pid>-<fd>: no need to look at fds then */
	if (path_of(n, dir, sizeof(dir), "/sys/kernel/debug/kvm") && (dh = opendir(dir))) {
		while ((d = readdir(dh)) && seen++ < DIR_MAX) {
			char num[16];
			size_t l = strcspn(d->d_name, "-");
			uint32_t pid;

			if (!d->d_name[l] || !l || l >= sizeof(num))
				continue;
			memcpy(num, d->d_name, l);
			num[l] = '\0';
			if (parse_u32(num, &pid))
				add_pid(&vms, &nvms, &cap, pid);
		}
		closedir(dh);
	} else if (path_of(n, dir, sizeof(dir), "/proc") && (dh = opendir(dir))) {
		while ((d = readdir(dh)) && seen++ < DIR_MAX) {
			uint32_t pid;

			if (parse_u32(d->d_name, &pid) && em_names_vm_open(n, pid) == 1)
				add_pid(&vms, &nvms, &cap, pid);
		}
		closedir(dh);
	}
	if (nvms)
		qsort(vms, nvms, sizeof(*vms), cmp_u32);
	*count = nvms;
	return vms;
}
