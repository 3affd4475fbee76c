// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * VM and vCPU names (user/names.c) from a fake /proc, /run/libvirt and KVM
 * debugfs tree that each test builds in a temporary directory; the name
 * table of a run, --vm and the per-VM diff (user/labels.c) on top of it.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include "user/cli.h"
#include "user/diff.h"
#include "user/labels.h"
#include "user/metrics.h"
#include "user/model.h"
#include "user/names.h"
#include "user/render.h"
#include "user/snapshot.h"

static char root[PATH_MAX];

static void mkparents(const char *path)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
}

static const char *fx_path(const char *fmt, va_list ap)
{
	static char path[PATH_MAX];
	int k = snprintf(path, sizeof(path), "%s/", root);

	vsnprintf(path + k, sizeof(path) - (size_t)k, fmt, ap);
	return path;
}

/* root/<fmt...>, with its directories created */
static const char *fxp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fxp(const char *fmt, ...)
{
	va_list ap;
	const char *path;

	va_start(ap, fmt);
	path = fx_path(fmt, ap);
	va_end(ap);
	mkparents(path);
	return path;
}

/* Writes len bytes of data to root/<fmt...>, creating the directories. */
static void fx_write(const void *data, size_t len, const char *fmt, ...)
{
	va_list ap;
	const char *path;
	FILE *f;

	va_start(ap, fmt);
	path = fx_path(fmt, ap);
	va_end(ap);
	mkparents(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void fx_str(const char *s, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	snprintf(path, sizeof(path), "%s", fx_path(fmt, ap) + strlen(root) + 1);
	va_end(ap);
	fx_write(s, strlen(s), "%s", path);
}

/* A process: stat with start time, and a NUL-separated argv (may be NULL). */
static void fx_proc(uint32_t pid, unsigned long long start, const char *const *argv)
{
	char stat[256], cmd[4096];
	size_t len = 0;

	/* fields 4..21 zero, 22 = start time; the comm holds ") (" to trip naive parsers */
	snprintf(stat, sizeof(stat),
		 "%u (a) b) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 %llu 0 0\n", pid, start);
	fx_str(stat, "proc/%u/stat", pid);
	for (; argv && *argv; argv++) {
		size_t l = strlen(*argv) + 1;

		assert_true(len + l <= sizeof(cmd));
		memcpy(cmd + len, *argv, l);
		len += l;
	}
	if (argv)
		fx_write(cmd, len, "proc/%u/cmdline", pid);
}

static void fx_thread(uint32_t pid, uint32_t tid, const char *comm)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s\n", comm);
	fx_str(buf, "proc/%u/task/%u/comm", pid, tid);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/exitmon-test-names-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct em_names *names(void)
{
	struct em_names *n = em_names_new(root);

	assert_non_null(n);
	return n;
}

static void assert_vm(struct em_names *n, uint32_t pid, const char *want, enum em_name_src src)
{
	enum em_name_src got;
	const char *name = em_names_vm(n, pid, &got);

	if (!want)
		assert_null(name);
	else
		assert_string_equal(name, want);
	assert_int_equal(got, src);
}

/* ---- parsers ---------------------------------------------------------- */

static void test_sanitize(void **state)
{
	char out[EM_NAME_MAX], small[6];
	static const char in[] = "a\tb\x1b[2Jc\x7f" "d\xc2\x85" "e\xff" "f\xc3" "\xa9\xe2\x9c\x93";

	(void)state;
	em_names_sanitize(out, sizeof(out), in, sizeof(in) - 1);
	/* tab, ESC, DEL, C1 NEL, a stray byte: '?'; é and ✓ kept */
	assert_string_equal(out, "a?b?[2Jc?d?e?f\xc3\xa9\xe2\x9c\x93");
	/* overlong '/' and a UTF-16 surrogate are invalid */
	em_names_sanitize(out, sizeof(out), "\xc0\xaf\xed\xa0\x80", 5);
	assert_string_equal(out, "?????");
	/* cut at a character boundary: 5 bytes of room, "ab" + é + ✓ would need 7 */
	em_names_sanitize(small, sizeof(small), "ab\xc3\xa9\xe2\x9c\x93", 7);
	assert_string_equal(small, "ab\xc3\xa9");
	/* a NUL inside the input is a control character too */
	em_names_sanitize(out, sizeof(out), "x\0y", 3);
	assert_string_equal(out, "x?y");
}

static void test_parse_qemu(void **state)
{
	char out[EM_NAME_MAX];

	(void)state;
	assert_true(em_names_parse_qemu("web01", out, sizeof(out)));
	assert_string_equal(out, "web01");
	assert_true(em_names_parse_qemu("guest=web01,debug-threads=on", out, sizeof(out)));
	assert_string_equal(out, "web01");
	assert_true(em_names_parse_qemu("guest=a,,b,,,,c,debug-threads=on", out, sizeof(out)));
	assert_string_equal(out, "a,b,,c");
	assert_true(em_names_parse_qemu("guest=g,plain", out, sizeof(out)));
	assert_string_equal(out, "plain"); /* the plain form beats guest=, as kvm_stat */
	assert_true(em_names_parse_qemu("plain,,x,guest=g", out, sizeof(out)));
	assert_string_equal(out, "plain,x");
	assert_true(em_names_parse_qemu("guest=my vm \xc3\xa9,process=p", out, sizeof(out)));
	assert_string_equal(out, "my vm \xc3\xa9");
	assert_true(em_names_parse_qemu("guest=x,,", out, sizeof(out)));
	assert_string_equal(out, "x,");
	assert_true(em_names_parse_qemu("guest=bad\x1b]0;t\x07", out, sizeof(out)));
	assert_string_equal(out, "bad?]0;t?");
	assert_false(em_names_parse_qemu("debug-threads=on", out, sizeof(out)));
	assert_false(em_names_parse_qemu("guest=", out, sizeof(out)));
	assert_false(em_names_parse_qemu("", out, sizeof(out)));
	assert_false(em_names_parse_qemu(",", out, sizeof(out)));
}

static void test_parse_cgroup(void **state)
{
	char out[EM_NAME_MAX];

	(void)state;
	assert_true(em_names_parse_cgroup(
		"0::/machine.slice/machine-qemu\\x2d3\\x2dweb01.scope/libvirt/emulator\n", out, sizeof(out)));
	assert_string_equal(out, "web01");
	assert_true(em_names_parse_cgroup(
		"0::/machine.slice/machine-qemu\\x2d12\\x2dweb\\x2d01\\x2eprod.scope/libvirt/vcpu0\n",
		out, sizeof(out)));
	assert_string_equal(out, "web-01.prod");
	/* cgroup v1: several hierarchies; older libvirt had no id */
	assert_true(em_names_parse_cgroup("12:pids:/user.slice\n4:cpu,cpuacct:/machine.slice/"
					  "machine-qemu\\x2dold.scope\n", out, sizeof(out)));
	assert_string_equal(out, "old");
	assert_true(em_names_parse_cgroup("0::/machine.slice/machine-qemu\\x2d1\\x2d\\x1b.scope\n",
					  out, sizeof(out)));
	assert_string_equal(out, "?");
	assert_false(em_names_parse_cgroup("0::/user.slice/user-0.slice/session-1.scope\n", out, sizeof(out)));
	assert_false(em_names_parse_cgroup("0::/machine.slice/machine-qemu\\x2dweb01\n", out, sizeof(out)));
	assert_false(em_names_parse_cgroup("0::/machine.slice/machine-qemu\\x2d.scope\n", out, sizeof(out)));
}

static void test_parse_thread(void **state)
{
	(void)state;
	assert_int_equal(em_names_parse_thread("CPU 0/KVM"), 0);
	assert_int_equal(em_names_parse_thread("CPU 12/KVM"), 12);
	assert_int_equal(em_names_parse_thread("fc_vcpu 3"), 3);
	assert_int_equal(em_names_parse_thread("vcpu7"), 7);
	assert_int_equal(em_names_parse_thread("crosvm_vcpu2"), 2);
	assert_int_equal(em_names_parse_thread("CPU 1/TCG"), -1);
	assert_int_equal(em_names_parse_thread("CPU 1/KVMx"), -1);
	assert_int_equal(em_names_parse_thread("CPU x/KVM"), -1);
	assert_int_equal(em_names_parse_thread("vcpu"), -1);
	assert_int_equal(em_names_parse_thread("vcpu1x"), -1);
	assert_int_equal(em_names_parse_thread("qemu-system-x86"), -1);
	assert_int_equal(em_names_parse_thread("CPU 99999999999/KVM"), -1);
	assert_int_equal(em_names_parse_thread(""), -1);
}

static void test_parse_start(void **state)
{
	uint64_t st = 0;

	(void)state;
	assert_true(em_names_parse_start("42 (x) y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
					 "987654321 19 20\n", &st));
	assert_int_equal(st, 987654321);
	assert_false(em_names_parse_start("42 (x) S 1 2 3\n", &st));
	assert_false(em_names_parse_start("no paren at all", &st));
	assert_false(em_names_parse_start("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 0\n", &st));
}

/* ---- sources, in order ------------------------------------------------ */

static void test_libvirt(void **state)
{
	static const char *const argv[] = { "/usr/bin/qemu-system-x86_64", "-name",
					    "guest=from-cmdline,debug-threads=on", NULL };
	struct em_names *n;
	struct em_vcpu_info v;

	(void)state;
	fx_proc(100, 5, argv);
	fx_str("100\n", "run/libvirt/qemu/web01.pid");
	fx_str("<domstatus state='running' reason='booted' pid='100'>\n"
	       "  <vcpus>\n    <vcpu id='0' pid='101'/>\n    <vcpu id=\"1\" pid=\"102\"/>\n  </vcpus>\n"
	       "  <domain type='kvm' id='3'>\n    <name>web01</name>\n"
	       "    <vcpu id='7' pid='103'/>\n  </domain>\n</domstatus>\n",
	       "run/libvirt/qemu/web01.xml");
	/* thread 101's name says 0; 102 is not named, so libvirt's XML gives 1 */
	fx_thread(100, 101, "CPU 0/KVM");
	fx_thread(100, 102, "worker");
	fx_thread(100, 103, "worker");
	/* a stale pid file of another domain, with an XML naming another pid */
	fx_proc(200, 5, argv);
	fx_str("200", "run/libvirt/qemu/stale.pid");
	fx_str("<domstatus state='running' pid='999'>", "run/libvirt/qemu/stale.xml");
	/* pid files that are not regular files are ignored */
	fx_proc(300, 5, NULL);
	assert_int_equal(mkfifo(fxp("run/libvirt/qemu/fifo.pid"), 0600), 0);

	n = names();
	assert_vm(n, 100, "web01", EM_NAME_LIBVIRT);
	assert_vm(n, 200, "from-cmdline", EM_NAME_QEMU);
	assert_vm(n, 300, NULL, EM_NAME_NONE);

	assert_true(em_names_vcpu_by_tid(n, 100, 101, &v));
	assert_int_equal(v.index, 0);
	assert_int_equal(v.index_src, EM_VCPU_THREAD);
	assert_true(em_names_vcpu_by_tid(n, 100, 102, &v));
	assert_int_equal(v.index, 1);
	assert_int_equal(v.index_src, EM_VCPU_LIBVIRT);
	assert_int_equal(v.kvm_id, -1); /* no debugfs in this tree */
	/* the <vcpu> inside <domain> is configuration, not a live thread */
	assert_false(em_names_vcpu_by_tid(n, 100, 103, &v));
	assert_int_equal(v.index, -1);
	em_names_free(n);
}

static void test_cmdline(void **state)
{
	static const char *const a1[] = { "qemu-system-x86_64", "-machine", "q35", "-name",
					  "guest=web,,01,debug-threads=on", "-m", "1G", NULL };
	static const char *const a2[] = { "qemu", "--name", "my vm \xc3\xa9\xe2\x9c\x93", NULL };
	static const char *const a3[] = { "qemu", "-name", "guest=ignored", "-name",
					  "last,guest=g", NULL };
	static const char *const a4[] = { "qemu", "-name", "guest=\x1b[31mred\x7f", NULL };
	static const char *const a5[] = { "qemu", "-name", NULL }; /* no value */
	static const char *const a6[] = { "vmm", "-name=guest=eq", NULL };
	struct em_names *n;

	(void)state;
	fx_proc(1, 1, a1);
	fx_proc(2, 1, a2);
	fx_proc(3, 1, a3);
	fx_proc(4, 1, a4);
	fx_proc(5, 1, a5);
	fx_proc(6, 1, a6);
	n = names();
	assert_vm(n, 1, "web,01", EM_NAME_QEMU);
	assert_vm(n, 2, "my vm \xc3\xa9\xe2\x9c\x93", EM_NAME_QEMU);
	assert_vm(n, 3, "last", EM_NAME_QEMU); /* the last -name counts, as in QEMU */
	assert_vm(n, 4, "?[31mred?", EM_NAME_QEMU);
	assert_vm(n, 5, NULL, EM_NAME_NONE);
	assert_vm(n, 6, "eq", EM_NAME_QEMU);
	em_names_free(n);
}

static void test_cgroup_and_others(void **state)
{
	static const char *const qemu[] = { "qemu-system-x86_64", "-m", "1G", NULL };
	static const char *const named[] = { "qemu-system-x86_64", "-name", "cmd", NULL };
	static const char *const fc[] = { "/usr/bin/firecracker", "--api-sock", "/x", "--id", "fc-7", NULL };
	static const char *const jail[] = { "jailer", "--id=jailed", "--exec-file", "/fc", NULL };
	static const char *const cv[] = { "crosvm", "run", "--name", "arcvm", "bzImage", NULL };
	static const char *const cvq[] = { "crosvm", "run", "-name", "notqemu", NULL };
	static const char *const ch[] = { "cloud-hypervisor", "--api-socket", "/s", NULL };
	static const char *const cg = "0::/machine.slice/machine-qemu\\x2d3\\x2dweb01.scope/libvirt/emulator\n";
	struct em_names *n;

	(void)state;
	fx_proc(10, 1, qemu);
	fx_str(cg, "proc/10/cgroup");
	fx_proc(11, 1, named); /* the command line comes before the cgroup */
	fx_str(cg, "proc/11/cgroup");
	fx_proc(12, 1, fc);
	fx_proc(13, 1, jail);
	fx_proc(14, 1, cv);
	fx_proc(15, 1, cvq);
	fx_proc(16, 1, ch);
	fx_proc(17, 1, fc); /* a cgroup scope beats the VMM's own convention */
	fx_str(cg, "proc/17/cgroup");
	n = names();
	assert_vm(n, 10, "web01", EM_NAME_CGROUP);
	assert_vm(n, 11, "cmd", EM_NAME_QEMU);
	assert_vm(n, 12, "fc-7", EM_NAME_FIRECRACKER);
	assert_vm(n, 13, "jailed", EM_NAME_FIRECRACKER);
	assert_vm(n, 14, "arcvm", EM_NAME_CROSVM);
	assert_vm(n, 15, NULL, EM_NAME_NONE);
	assert_vm(n, 16, NULL, EM_NAME_NONE); /* Cloud Hypervisor: no name, the pid */
	assert_vm(n, 17, "web01", EM_NAME_CGROUP);
	em_names_free(n);
}

/* ---- hostile and missing files ----------------------------------------- */

static void test_missing_and_unreadable(void **state)
{
	static const char *const good[] = { "qemu", "-name", "good", NULL };
	static const char cg[] = "0::/machine.slice/machine-qemu\\x2d1\\x2dfromcg.scope\n";
	struct em_names *n;
	char *big;
	size_t len = 300 * 1024;

	(void)state;
	/* 20: no /proc entry at all; 21: stat only; 22: stat unparsable */
	fx_proc(21, 1, NULL);
	fx_str("garbage", "proc/22/stat");
	fx_str(cg, "proc/22/cgroup");
	/* 23: cmdline is a FIFO (opening must not hang), the cgroup answers */
	fx_proc(23, 1, NULL);
	assert_int_equal(mkfifo(fxp("proc/23/cmdline"), 0600), 0);
	fx_str(cg, "proc/23/cgroup");
	/* 24: cmdline is a directory; 25: a symlink to a good one (not followed) */
	fx_proc(24, 1, NULL);
	assert_int_equal(mkdir(fxp("proc/24/cmdline"), 0755), 0);
	fx_proc(25, 1, NULL);
	fx_proc(26, 1, good);
	assert_int_equal(symlink("../26/cmdline", fxp("proc/25/cmdline")), 0);
	/* 27: a command line beyond the read bound hides a late -name */
	big = calloc(1, len + 64);
	assert_non_null(big);
	memset(big, 'A', len);
	memcpy(big + len, "\0-name\0late\0", 12);
	fx_proc(27, 1, NULL);
	fx_write(big, len + 12, "proc/27/cmdline");
	/* 28: an endless name is cut to EM_NAME_MAX - 1 bytes */
	memcpy(big, "q\0-name\0", 8);
	memset(big + 8, 'n', 4096);
	big[8 + 4096] = '\0';
	fx_proc(28, 1, NULL);
	fx_write(big, 8 + 4097, "proc/28/cmdline");
	free(big);
	/* 29: unreadable by mode (only meaningful when not root) */
	fx_proc(29, 1, good);
	assert_int_equal(chmod(fxp("proc/29/cmdline"), 0), 0);

	n = names();
	assert_vm(n, 20, NULL, EM_NAME_NONE);
	assert_vm(n, 21, NULL, EM_NAME_NONE);
	assert_vm(n, 22, NULL, EM_NAME_NONE); /* no start time: no name to trust */
	assert_vm(n, 23, "fromcg", EM_NAME_CGROUP);
	assert_vm(n, 24, NULL, EM_NAME_NONE);
	assert_vm(n, 25, NULL, EM_NAME_NONE);
	assert_vm(n, 27, NULL, EM_NAME_NONE);
	assert_int_equal(strlen(em_names_vm(n, 28, NULL)), EM_NAME_MAX - 1);
	if (geteuid())
		assert_vm(n, 29, NULL, EM_NAME_NONE);
	else
		assert_vm(n, 29, "good", EM_NAME_QEMU);
	em_names_free(n);
}

/* ---- cache ---------------------------------------------------------------- */

static void test_pid_reuse(void **state)
{
	static const char *const alpha[] = { "qemu", "-name", "alpha", NULL };
	static const char *const beta[] = { "qemu", "-name", "beta", NULL };
	struct em_names *n;
	struct em_vcpu_info v;

	(void)state;
	fx_proc(100, 1000, alpha);
	fx_thread(100, 101, "CPU 0/KVM");
	fx_str("101\n", "sys/kernel/debug/kvm/100-11/vcpu0/pid");
	n = names();
	assert_vm(n, 100, "alpha", EM_NAME_QEMU);
	assert_true(em_names_vcpu_by_id(n, 100, 0, &v));
	assert_int_equal(v.tid, 101);
	/* same process (same start time): the cached name stays */
	fx_proc(100, 1000, beta);
	assert_vm(n, 100, "alpha", EM_NAME_QEMU);
	/* the pid now belongs to another process: resolved anew, old vCPUs gone */
	fx_proc(100, 2000, beta);
	assert_int_equal(remove(fxp("sys/kernel/debug/kvm/100-11/vcpu0/pid")), 0);
	assert_vm(n, 100, "beta", EM_NAME_QEMU);
	assert_false(em_names_vcpu_by_id(n, 100, 0, &v));
	/* the same, unnamed this time: the pid, never the old name */
	fx_proc(100, 3000, NULL);
	assert_int_equal(remove(fxp("proc/100/cmdline")), 0);
	assert_vm(n, 100, NULL, EM_NAME_NONE);
	em_names_free(n);

	/* a process that exits keeps its name (its rows are still shown) */
	fx_proc(100, 4000, alpha);
	n = names();
	assert_vm(n, 100, "alpha", EM_NAME_QEMU);
	assert_int_equal(remove(fxp("proc/100/stat")), 0);
	assert_vm(n, 100, "alpha", EM_NAME_QEMU);
	/* ...until its pid is reused */
	fx_proc(100, 5000, beta);
	assert_vm(n, 100, "beta", EM_NAME_QEMU);
	em_names_free(n);
}

/* Hook of test_pid_reused_while_resolving: the pid passes to another process. */
static void reuse_pid(void *arg)
{
	static const char *const beta[] = { "qemu", "-name", "beta", NULL };
	int *calls = arg;

	if ((*calls)++ == 0)
		fx_proc(100, 2000, beta);
}

static void move_pid(void *arg)
{
	static const char *const gamma[] = { "qemu", "-name", "gamma", NULL };
	int *calls = arg;

	fx_proc(100, 3000 + (unsigned long long)(*calls)++, gamma);
}

/*
 * The pid passes to another process while its name is read: the name is
 * the new process's, never the old one's under the new start time, and a
 * pid that keeps moving gets no name.
 */
static void test_pid_reused_while_resolving(void **state)
{
	static const char *const alpha[] = { "qemu", "-name", "alpha", NULL };
	struct em_names *n;
	int calls = 0;

	(void)state;
	fx_proc(100, 1000, alpha);
	n = names();
	em_names_set_resolved_hook(n, reuse_pid, &calls);
	assert_vm(n, 100, "beta", EM_NAME_QEMU);
	assert_int_equal(calls, 2); /* resolved twice: alpha (dropped), then beta */
	em_names_free(n);

	fx_proc(100, 1000, alpha);
	n = names();
	calls = 0;
	em_names_set_resolved_hook(n, move_pid, &calls);
	assert_vm(n, 100, NULL, EM_NAME_NONE);
	em_names_free(n);
}

static void test_unresolved_retry(void **state)
{
	static const char *const late[] = { "qemu", "-name", "late", NULL };
	struct em_names *n;

	(void)state;
	fx_proc(7, 1, NULL);
	n = names();
	assert_vm(n, 7, NULL, EM_NAME_NONE);
	fx_proc(7, 1, late);
	assert_vm(n, 7, NULL, EM_NAME_NONE); /* not retried within the interval */
	em_names_set_retry_ns(n, 0);
	assert_vm(n, 7, "late", EM_NAME_QEMU);
	em_names_free(n);
}

/* ---- vCPUs ----------------------------------------------------------------- */

static void test_vcpus(void **state)
{
	static const char *const argv[] = { "qemu", "-name", "guest=sparse", NULL };
	struct em_names *n;
	struct em_vcpu_info v;

	(void)state;
	fx_proc(100, 1, argv);
	/* sparse topology: cpu_index 0, 1, 2 have APIC IDs 0, 2, 4 */
	fx_thread(100, 100, "qemu-system-x86");
	fx_thread(100, 101, "CPU 0/KVM");
	fx_thread(100, 102, "CPU 1/KVM");
	fx_thread(100, 103, "worker"); /* only debugfs knows it */
	fx_str("101\n", "sys/kernel/debug/kvm/100-11/vcpu0/pid");
	fx_str("102\n", "sys/kernel/debug/kvm/100-11/vcpu2/pid");
	fx_str("103\n", "sys/kernel/debug/kvm/100-11/vcpu4/pid");
	fx_str("oops\n", "sys/kernel/debug/kvm/100-11/vcpu6/pid");
	fx_str("555\n", "sys/kernel/debug/kvm/1000-11/vcpu8/pid"); /* pid 1000, not 100 */
	n = names();
	/* vCPUs only of a VM em_names_vm() has seen (it checks the pid's start time) */
	assert_false(em_names_vcpu_by_id(n, 100, 2, &v));
	assert_vm(n, 100, "sparse", EM_NAME_QEMU);
	assert_true(em_names_vcpu_by_id(n, 100, 2, &v));
	assert_int_equal(v.tid, 102);
	assert_int_equal(v.index, 1);
	assert_int_equal(v.kvm_id, 2);
	assert_int_equal(v.index_src, EM_VCPU_THREAD);
	assert_true(em_names_vcpu_by_id(n, 100, 4, &v));
	assert_int_equal(v.index, 4);
	assert_int_equal(v.index_src, EM_VCPU_DEBUGFS);
	assert_true(em_names_vcpu_by_tid(n, 100, 101, &v));
	assert_int_equal(v.index, 0);
	assert_int_equal(v.kvm_id, 0);
	assert_false(em_names_vcpu_by_id(n, 100, 6, &v));
	assert_false(em_names_vcpu_by_id(n, 100, 8, &v));
	assert_int_equal(v.kvm_id, 8);
	assert_int_equal(v.index, -1);
	assert_int_equal(v.tid, 0);
	assert_false(em_names_vcpu_by_tid(n, 100, 100, &v)); /* the main thread is no vCPU */
	/* a vCPU hot-plugged later is found on a miss once the retry interval passed */
	fx_thread(100, 104, "CPU 2/KVM");
	fx_str("104\n", "sys/kernel/debug/kvm/100-11/vcpu8/pid");
	assert_false(em_names_vcpu_by_id(n, 100, 8, &v));
	em_names_set_retry_ns(n, 0);
	assert_true(em_names_vcpu_by_id(n, 100, 8, &v));
	assert_int_equal(v.index, 2);
	/* no such process */
	assert_false(em_names_vcpu_by_id(n, 4242, 0, &v));
	em_names_free(n);
}

/* ---- selection ---------------------------------------------------------- */

static void test_vmms(void **state)
{
	static const char *const w1[] = { "qemu", "-name", "web01", NULL };
	static const char *const w2[] = { "qemu", "-name", "web02", NULL };
	static const char *const db[] = { "qemu", "-name", "db", NULL };
	static const char *const fake[] = { "sh", "-name", "web99", NULL };
	static const char *const globs[] = { "db", "web0[2-9]" };
	struct em_names *n;
	uint32_t *pids;
	size_t k;

	(void)state;
	fx_proc(300, 1, w1);
	fx_str("301\n", "sys/kernel/debug/kvm/300-12/vcpu0/pid");
	fx_proc(200, 1, w2);
	assert_int_equal(symlink("anon_inode:kvm-vm", fxp("proc/200/fd/9")), 0);
	assert_int_equal(symlink("/dev/null", fxp("proc/200/fd/0")), 0);
	fx_proc(100, 1, db);
	assert_int_equal(symlink("anon_inode:kvm-vm", fxp("proc/100/fd/5")), 0);
	fx_proc(400, 1, fake); /* not a VMM: no KVM VM open */
	assert_int_equal(symlink("anon_inode:kvm-vcpu:0", fxp("proc/400/fd/3")), 0);
	n = names();
	/* with KVM's debugfs, its list is the list */
	pids = em_names_vmms(n, &k);
	assert_int_equal(k, 1);
	assert_int_equal(pids[0], 300);
	free(pids);
	/* without it, the processes holding a kvm-vm fd, sorted */
	assert_int_equal(remove(fxp("sys/kernel/debug/kvm/300-12/vcpu0/pid")), 0);
	assert_int_equal(rmdir(fxp("sys/kernel/debug/kvm/300-12/vcpu0")), 0);
	assert_int_equal(rmdir(fxp("sys/kernel/debug/kvm/300-12")), 0);
	assert_int_equal(rmdir(fxp("sys/kernel/debug/kvm")), 0);
	pids = em_names_vmms(n, &k);
	assert_int_equal(k, 2);
	assert_int_equal(pids[0], 100);
	assert_int_equal(pids[1], 200);
	free(pids);
	/* the same check for one pid (run -p's warning): yes, no, no such process */
	assert_int_equal(em_names_vm_open(n, 200), 1);
	assert_int_equal(em_names_vm_open(n, 400), 0);
	assert_int_equal(em_names_vm_open(n, 12345), -ENOENT);
	assert_true(em_names_glob_any(globs, 2, "db"));
	assert_true(em_names_glob_any(globs, 2, "web02"));
	assert_false(em_names_glob_any(globs, 2, "web01"));
	assert_false(em_names_glob_any(globs, 2, NULL));
	em_names_free(n);
}

/* ---- the name table of a run (user/labels.c) ------------------------------- */

static struct em_row *row(struct em_snapshot *s, uint32_t reason, uint32_t tgid, uint32_t vcpu,
			  uint64_t count)
{
	struct em_row *r = em_snapshot_row(s, EM_ISA_SVM, reason, tgid, vcpu);

	assert_non_null(r);
	r->st.count += count;
	return r;
}

/* web01 (pid 100): vCPU index 0 and 1 with KVM vcpu_id 0 and 2 */
static void fx_web01(unsigned long long start)
{
	static const char *const argv[] = { "qemu", "-name", "guest=web01,debug-threads=on", NULL };

	fx_proc(100, start, argv);
	fx_thread(100, 101, "CPU 0/KVM");
	fx_thread(100, 102, "CPU 1/KVM");
	fx_str("101\n", "sys/kernel/debug/kvm/100-11/vcpu0/pid");
	fx_str("102\n", "sys/kernel/debug/kvm/100-11/vcpu2/pid");
}

static const struct em_row *find_row(const struct em_snapshot *s, uint32_t reason, uint32_t tgid)
{
	size_t i;

	for (i = 0; i < s->nrows; i++)
		if (s->rows[i].reason == reason && s->rows[i].tgid == tgid && s->rows[i].vcpu == EM_ANY_VCPU)
			return &s->rows[i];
	return NULL;
}

/* A per-vCPU run on the web01 tree; returns the names to resolve it with. */
static struct em_names *web01_run(struct em_snapshot *s)
{
	fx_web01(1);
	em_snapshot_init(s);
	s->meta.isa = EM_ISA_SVM;
	s->meta.filters.per_vm = s->meta.filters.per_vcpu = true;
	return names();
}

static char *render(const struct em_snapshot *s, bool json)
{
	struct em_view_ctx ctx = { .type = "final", .period_s = 1.0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (json)
		assert_int_equal(em_render_json(f, s, &ctx), 0);
	else
		em_render_table(f, s, &ctx);
	fclose(f);
	return buf;
}

static void test_labels_fill_and_show(void **state)
{
	struct em_names *n;
	struct em_snapshot s;
	char vm[EM_NAME_MAX], vc[48], line[256], *t;
	json_t *j;
	size_t i, named = 0;

	(void)state;
	n = web01_run(&s);
	row(&s, 0x72, EM_ANY_PID, EM_ANY_VCPU, 60);
	row(&s, 0x72, 100, 0, 10);
	row(&s, 0x72, 100, 2, 20);
	row(&s, 0x72, 100, 4, 5);   /* no thread or debugfs entry: the apic id only */
	row(&s, 0x72, 200, 0, 25);  /* no such process: the pid only */
	assert_int_equal(em_labels_fill(&s, n), 0);
	assert_string_equal(em_labels_vm_name(&s.labels, 100), "web01");
	assert_null(em_labels_vm_name(&s.labels, 200));

	em_labels_row_text(&s.labels, &s.rows[1], vm, sizeof(vm), vc, sizeof(vc));
	assert_string_equal(vm, "web01");
	assert_string_equal(vc, "0");
	em_labels_row_text(&s.labels, &s.rows[2], vm, sizeof(vm), vc, sizeof(vc));
	assert_string_equal(vc, "1 (apic 2)");
	em_labels_row_text(&s.labels, &s.rows[3], vm, sizeof(vm), vc, sizeof(vc));
	assert_string_equal(vc, "apic 4");
	em_labels_row_text(&s.labels, &s.rows[4], vm, sizeof(vm), vc, sizeof(vc));
	assert_string_equal(vm, "-");
	assert_string_equal(vc, "apic 0");

	/* table columns count characters: "é" is 2 bytes, 1 column */
	assert_int_equal(em_labels_pad("web01", 16), 16);
	assert_int_equal(em_labels_pad("w\xc3\xa9" "b \xe2\x9c\x93", 16), 19);
	t = render(&s, false);
	snprintf(line, sizeof(line), "%-16s %8u %-12s %8s CPUID", "web01", 100, "1 (apic 2)", "0x72");
	assert_non_null(strstr(t, line));
	snprintf(line, sizeof(line), "%-16s %8u %-12s %8s CPUID", "-", 200, "apic 0", "0x72");
	assert_non_null(strstr(t, line));
	free(t);
	t = render(&s, true);
	j = json_loads(t, 0, NULL);
	assert_non_null(j);
	for (i = 0; i < json_array_size(json_object_get(j, "rows")); i++) {
		json_t *r = json_array_get(json_object_get(j, "rows"), i);

		if (json_integer_value(json_object_get(r, "tgid")) == 100 &&
		    json_integer_value(json_object_get(r, "vcpu")) == 2) {
			assert_string_equal(json_string_value(json_object_get(r, "vm")), "web01");
			assert_int_equal(json_integer_value(json_object_get(r, "vcpu_index")), 1);
			assert_int_equal(json_integer_value(json_object_get(r, "vcpu_tid")), 102);
			named++;
		}
		if (json_integer_value(json_object_get(r, "tgid")) == 200) {
			assert_true(json_is_null(json_object_get(r, "vm")));
			assert_true(json_is_null(json_object_get(r, "vcpu_index")));
		}
		if (json_integer_value(json_object_get(r, "tgid")) == 0)
			assert_null(json_object_get(r, "vm")); /* totals carry no name */
	}
	assert_int_equal(named, 1);
	json_decref(j);
	free(t);

	/* pid 100 is reused by another VM: new name, vCPUs looked up again */
	fx_proc(100, 2, (const char *const[]){ "qemu", "-name", "web02", NULL });
	fx_thread(100, 102, "CPU 5/KVM");
	assert_int_equal(em_labels_fill(&s, n), 0);
	assert_string_equal(em_labels_vm_name(&s.labels, 100), "web02");
	assert_int_equal(em_labels_find(&s.labels, 100, 2)->index, 5);
	em_snapshot_free(&s);
	em_names_free(n);
}

/* Many keys in one read: one label each, sorted, whatever the row order. */
static void test_labels_many(void **state)
{
	struct em_names *n;
	struct em_snapshot s;
	struct em_vmdiff_row *rows;
	size_t i, k;
	uint32_t v;

	(void)state;
	n = web01_run(&s);
	for (v = 200; v-- > 0;) {
		row(&s, 0x72, 100, v, 1);
		row(&s, 0x7b, 100, v, 1);
	}
	for (v = 300; v < 400; v++)
		row(&s, 0x72, v, 7, 1);
	for (k = 0; k < 2; k++) {
		assert_int_equal(em_labels_fill(&s, n), 0);
		assert_int_equal(s.labels.n, 200 + 1 + 2 * 100);
		for (i = 1; i < s.labels.n; i++)
			assert_true(s.labels.v[i - 1].tgid < s.labels.v[i].tgid ||
				    (s.labels.v[i - 1].tgid == s.labels.v[i].tgid &&
				     s.labels.v[i - 1].vcpu < s.labels.v[i].vcpu));
	}
	assert_int_equal(em_labels_find(&s.labels, 100, 2)->index, 1);
	assert_string_equal(em_labels_vm_name(&s.labels, 100), "web01");
	/* the per-VM diff of the run with itself: 101 VMs, 300 vCPUs, all equal */
	assert_int_equal(em_vmdiff_compute(&s, &s, NULL, 0, &rows, &k), 0);
	assert_int_equal(k, 101 + 300);
	assert_string_equal(rows[0].vm, "web01");
	assert_int_equal(rows[0].vcpu, EM_ANY_VCPU);
	assert_int_equal(rows[0].count_a, 400);
	assert_int_equal(rows[0].count_b, 400);
	assert_int_equal(rows[1].vcpu, 0);
	assert_int_equal(rows[1].count_a, 2);
	for (i = 0; i < k; i++)
		assert_true(rows[i].pid_a && rows[i].pid_a == rows[i].pid_b && rows[i].count_a == rows[i].count_b);
	free(rows);
	em_snapshot_free(&s);
	em_names_free(n);
}

static void test_labels_snapshot_file(void **state)
{
	struct em_names *n;
	struct em_snapshot s, back;
	char err[256], path[PATH_MAX + 16];
	json_t *j;

	(void)state;
	n = web01_run(&s);
	row(&s, 0x72, EM_ANY_PID, EM_ANY_VCPU, 35);
	row(&s, 0x72, 100, 2, 20);
	row(&s, 0x72, 100, 4, 5);
	row(&s, 0x72, 200, 0, 10);
	assert_int_equal(em_labels_fill(&s, n), 0);
	snprintf(path, sizeof(path), "%s/run.json", root);
	assert_int_equal(em_snapshot_save(path, &s, false, err, sizeof(err)), 0);
	assert_int_equal(em_snapshot_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.labels.n, 5); /* 2 VMs, 3 vCPUs */
	assert_true(em_labels_equal(&back.labels, &s.labels));
	assert_true(em_snapshot_equal(&back, &s));
	back.labels.v[back.labels.n - 1].index ^= 1;
	assert_false(em_labels_equal(&back.labels, &s.labels));
	em_snapshot_free(&back);

	/* a crafted file: escapes in names are cleaned, bad entries refused */
	j = em_labels_to_json(&s.labels);
	assert_non_null(j);
	json_object_set_new(json_array_get(j, 0), "name", json_string("evil\x1b]0;x\x07"));
	assert_int_equal(em_labels_from_json(j, &back.labels, err, sizeof(err)), 0);
	assert_string_equal(em_labels_vm_name(&back.labels, 100), "evil?]0;x?");
	json_object_set_new(json_array_get(j, 0), "source", json_string("made-up"));
	assert_int_equal(em_labels_from_json(j, &back.labels, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vms[0]: source"));
	json_object_set_new(json_array_get(j, 0), "source", json_string("pid"));
	assert_int_equal(em_labels_from_json(j, &back.labels, err, sizeof(err)), -EINVAL); /* pid yet a name */
	json_object_set_new(json_array_get(j, 0), "source", json_string("qemu-cmdline"));
	json_object_set_new(json_array_get(j, 0), "tgid", json_integer(0));
	assert_int_equal(em_labels_from_json(j, &back.labels, err, sizeof(err)), -EINVAL);
	json_object_set_new(json_array_get(j, 0), "tgid", json_integer(100));
	json_array_append(j, json_array_get(j, 0));
	assert_int_equal(em_labels_from_json(j, &back.labels, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "listed twice"));
	json_decref(j);
	assert_int_equal(em_labels_from_json(json_string("x"), &back.labels, err, sizeof(err)), -EINVAL);
	em_labels_free(&back.labels);
	em_snapshot_free(&s);
	em_names_free(n);
}

static void test_vm_select(void **state)
{
	static const char *const db[] = { "qemu", "-name", "db", NULL };
	struct em_vm_select sel = { .globs = { "web*" }, .nglobs = 1 };
	struct em_names *n;
	struct em_snapshot s;
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);

	(void)state;
	fx_web01(1);
	fx_proc(200, 1, db);
	assert_int_equal(symlink("anon_inode:kvm-vm", fxp("proc/200/fd/4")), 0);
	n = names();
	assert_int_equal(em_vm_select_start(&sel, n, f), 1);
	em_snapshot_init(&s);
	s.meta.filters.per_vm = true;
	row(&s, 0x72, EM_ANY_PID, EM_ANY_VCPU, 30);
	row(&s, 0x7b, EM_ANY_PID, EM_ANY_VCPU, 7);
	row(&s, 0x72, 100, EM_ANY_VCPU, 10)->st.lat_count = 9;
	row(&s, 0x72, 200, EM_ANY_VCPU, 20)->st.lat_count = 20;
	row(&s, 0x7b, 200, EM_ANY_VCPU, 7)->st.lat_count = 7;
	row(&s, 0x7b, 300, EM_ANY_VCPU, 1); /* started after exitmon; named web03 */
	fx_proc(300, 1, (const char *const[]){ "qemu", "-name", "web03", NULL });
	s.counters[EM_CNT_EXITS] = 37;
	s.counters[EM_CNT_ENTRIES] = 36;
	assert_int_equal(em_vm_select_apply(&sel, &s, n, f), 0);
	assert_int_equal(em_vm_select_apply(&sel, &s, n, f), 0); /* said once */
	fclose(f);
	assert_string_equal(msg, "exitmon: --vm: matched pid 100 (web01)\n"
				 "exitmon: --vm: now following pid 300 (web03)\n");
	/* db's rows are gone, and the totals are web01's and web03's */
	assert_null(find_row(&s, 0x72, 200));
	assert_int_equal(find_row(&s, 0x72, EM_ANY_PID)->st.count, 10);
	assert_int_equal(find_row(&s, 0x7b, EM_ANY_PID)->st.count, 1);
	assert_int_equal(em_snapshot_total(&s), 11);
	assert_int_equal(s.counters[EM_CNT_FILTERED], 27);
	assert_int_equal(s.counters[EM_CNT_EXITS], 37);
	assert_int_equal(s.counters[EM_CNT_ENTRIES], 9);
	free(msg);

	/* nothing running matches yet: said so */
	msg = NULL;
	f = open_memstream(&msg, &len);
	em_vm_select_free(&sel);
	sel = (struct em_vm_select){ .globs = { "mail*" }, .nglobs = 1 };
	assert_int_equal(em_vm_select_start(&sel, n, f), 0);
	fclose(f);
	assert_non_null(strstr(msg, "--vm mail*: no running VM matches yet"));
	free(msg);
	em_vm_select_free(&sel);
	em_snapshot_free(&s);
	em_names_free(n);
}

/* Names a VM of s by hand, as em_labels_fill() would have. */
static void label(struct em_snapshot *s, uint32_t tgid, const char *name)
{
	struct em_labels *l = &s->labels;
	struct em_label *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	assert_non_null(v);
	l->v = v;
	l->v[l->n] = (struct em_label){ .tgid = tgid, .vcpu = EM_ANY_VCPU, .index = -1, .src = EM_NAME_QEMU };
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->cap = ++l->n;
}

static void test_vmdiff(void **state)
{
	struct em_snapshot a, b;
	struct em_vmdiff_row *rows;
	struct em_diff_opts o = { .json = true };
	size_t n;
	char *buf = NULL, line[256];
	size_t len = 0;
	FILE *f;
	json_t *j;

	(void)state;
	em_snapshot_init(&a);
	em_snapshot_init(&b);
	a.meta.isa = b.meta.isa = EM_ISA_SVM;
	row(&a, 0x72, 100, EM_ANY_VCPU, 10);
	row(&a, 0x72, 300, EM_ANY_VCPU, 5);  /* unnamed: matched by pid */
	row(&a, 0x72, 400, EM_ANY_VCPU, 1);  /* "dup" twice in A: by pid */
	row(&a, 0x72, 401, EM_ANY_VCPU, 2);
	label(&a, 100, "web01");
	label(&a, 400, "dup");
	label(&a, 401, "dup");
	row(&b, 0x72, 555, EM_ANY_VCPU, 15); /* web01 again, another pid */
	row(&b, 0x7b, 555, EM_ANY_VCPU, 3);
	row(&b, 0x72, 300, EM_ANY_VCPU, 7);
	row(&b, 0x72, 100, EM_ANY_VCPU, 4);  /* pid 100 reused by an unnamed VM */
	label(&b, 555, "web01");
	assert_int_equal(em_vmdiff_compute(&a, &b, NULL, 0, &rows, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(rows[0].vm, "web01");
	assert_int_equal(rows[0].pid_a, 100);
	assert_int_equal(rows[0].pid_b, 555);
	assert_int_equal(rows[0].count_a, 10);
	assert_int_equal(rows[0].count_b, 18);
	/* then unnamed (or ambiguous) VMs by pid: 100 only B, 300 both, 400, 401 only A */
	assert_int_equal(rows[1].pid_a, 0);
	assert_int_equal(rows[1].pid_b, 100);
	assert_int_equal(rows[2].pid_a, 300);
	assert_int_equal(rows[2].pid_b, 300);
	assert_int_equal(rows[2].count_b, 7);
	assert_int_equal(rows[3].pid_a, 400);
	assert_int_equal(rows[4].pid_a, 401);
	free(rows);
	/* --reason narrows the per-VM sums too */
	assert_int_equal(em_vmdiff_compute(&a, &b, (const uint32_t[]){ 0x7b }, 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].count_b, 3);
	free(rows);

	f = open_memstream(&buf, &len);
	assert_int_equal(em_diff_print(f, &a, "a.json", &b, "b.json", NULL), 0);
	fclose(f);
	snprintf(line, sizeof(line), "%-20s %8s %8s %-12s %12d %12d %+13d", "web01", "100", "555", "", 10, 18, 8);
	assert_non_null(strstr(buf, line));
	assert_non_null(strstr(buf, "per VM (matched by name"));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(em_diff_print(f, &a, "a.json", &b, "b.json", &o), 0);
	fclose(f);
	j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "vms")), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "vms"), 0), "vm")),
			    "web01");
	json_decref(j);
	free(buf);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
}

static void test_cli_vm(void **state)
{
	struct em_opts o;
	char err[256];
	char *ok[] = { "exitmon", "--vm", "web*", "--vm", "db", NULL };
	char *show[] = { "exitmon", "show", "f.json", "--vm", "x", NULL };
	char *empty[] = { "exitmon", "--vm", "", NULL };
	char *many[40] = { "exitmon" };
	int i;

	(void)state;
	assert_int_equal(em_cli_parse(5, ok, EM_ISA_SVM, &o, err, sizeof(err)), EM_EXIT_OK);
	assert_int_equal(o.nvm_globs, 2);
	assert_string_equal(o.vm_globs[0], "web*");
	assert_true(o.filters.per_vm); /* --vm selects VM rows */
	assert_int_equal(em_cli_parse(5, show, EM_ISA_SVM, &o, err, sizeof(err)), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "'--vm' does not apply to show"));
	assert_int_equal(em_cli_parse(3, empty, EM_ISA_SVM, &o, err, sizeof(err)), EM_EXIT_USAGE);
	for (i = 0; i < 17; i++) {
		many[1 + 2 * i] = "--vm";
		many[2 + 2 * i] = "v";
	}
	assert_int_equal(em_cli_parse(35, many, EM_ISA_SVM, &o, err, sizeof(err)), EM_EXIT_USAGE);
	assert_non_null(strstr(err, "too many --vm"));
}


/* The metrics endpoint's vm label: the name when it is unambiguous, else the pid. */
static void test_metrics_vm_label(void **state)
{
	struct em_snapshot s;
	struct em_metrics_state st = { 0 };
	struct em_metrics_ctx ctx = { .collect_seconds = -1 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint32_t t;

	(void)state;
	em_snapshot_init(&s);
	s.meta.isa = EM_ISA_SVM;
	s.meta.filters.per_vm = true;
	for (t = 100; t <= 500; t += 100)
		row(&s, 0x72, t, EM_ANY_VCPU, t);
	row(&s, 0x72, 201, EM_ANY_VCPU, 1);
	label(&s, 100, "web \"01\"");
	label(&s, 200, "dup");
	label(&s, 201, "dup");   /* two VMs, one name: both by pid */
	label(&s, 300, "4242");  /* could be read as a pid */
	label(&s, 400, "other"); /* would merge with vm="other" */
	assert_non_null(f);
	assert_int_equal(em_metrics_render(f, &s, &st, &ctx, EM_METRICS_TEXT), 0);
	fclose(f);
	assert_non_null(strstr(buf, "exitmon_exits_total{isa=\"svm\",reason=\"0x72\",name=\"CPUID\",vm=\"web \\\"01\\\"\"} 100\n"));
	assert_non_null(strstr(buf, "name=\"CPUID\",vm=\"200\"} 200\n"));
	assert_non_null(strstr(buf, "name=\"CPUID\",vm=\"201\"} 1\n"));
	assert_non_null(strstr(buf, "name=\"CPUID\",vm=\"300\"} 300\n"));
	assert_non_null(strstr(buf, "name=\"CPUID\",vm=\"400\"} 400\n"));
	assert_non_null(strstr(buf, "name=\"CPUID\",vm=\"500\"} 500\n"));
	assert_null(strstr(buf, "vm=\"dup\""));
	free(buf);
	em_metrics_state_free(&st);
	em_snapshot_free(&s);
}

/* ---- the real /proc ------------------------------------------------------ */

/*
 * The child of test_live_process: this binary run again as a "VMM" with
 * -name on its command line and a thread named like QEMU's vCPU 3. It
 * writes that thread's tid to fd 1 and sleeps until stdin closes.
 */
static void *live_vcpu(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	(void)arg;
	prctl(PR_SET_NAME, "CPU 3/KVM");
	if (write(1, &tid, sizeof(tid)) != sizeof(tid))
		_exit(1);
	for (;;)
		pause();
	return NULL;
}

static int live_child(void)
{
	pthread_t t;
	char c;

	if (pthread_create(&t, NULL, live_vcpu, NULL))
		return 1;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static void test_live_process(void **state)
{
	int to_child[2], from_child[2], st;
	pid_t pid, tid = 0;
	struct em_names *n = em_names_new("/");
	struct em_vcpu_info v;

	(void)state;
	assert_non_null(n);
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from_child, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char *argv[] = { "exitmon-test-vmm", "--names-child", "-name", "guest=live,,1,debug-threads=on",
				 NULL };

		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	assert_int_equal(read(from_child[0], &tid, sizeof(tid)), sizeof(tid));
	/* the real stat, cmdline and comm of a running process */
	assert_string_equal(em_names_vm(n, (uint32_t)pid, NULL), "live,1");
	assert_true(em_names_vcpu_by_tid(n, (uint32_t)pid, (uint32_t)tid, &v));
	assert_int_equal(v.index, 3);
	assert_int_equal(v.index_src, EM_VCPU_THREAD);
	/* once it has exited its rows keep the name */
	close(to_child[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(em_names_vm(n, (uint32_t)pid, NULL), "live,1");
	close(from_child[0]);
	em_names_free(n);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--names-child"))
		return live_child();
	{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_parse_qemu),
		cmocka_unit_test(test_parse_cgroup),
		cmocka_unit_test(test_parse_thread),
		cmocka_unit_test(test_parse_start),
		cmocka_unit_test_setup_teardown(test_libvirt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_and_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reused_while_resolving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_fill_and_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_snapshot_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_select, setup, teardown),
		cmocka_unit_test(test_vmdiff),
		cmocka_unit_test(test_cli_vm),
		cmocka_unit_test(test_metrics_vm_label),
		cmocka_unit_test(test_live_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
	}
}
