// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * embench: the measuring tool of `make bench` (docs/performance.md).
 *
 *   embench testrun BUILD ROUNDS PAIRS
 *       BPF_PROG_TEST_RUN on this machine: the aggregation core vs an
 *       empty program, interleaved round by round. Two methods:
 *         stats:  raw_tp programs (exitmon's own run_event), one call per
 *                 event, cost from bpf_prog_info run_time_ns / run_cnt with
 *                 BPF stats enabled (raw_tp test runs reject `repeat`);
 *         repeat: a SEC("tc") wrapper doing one exit+entry pair per run with
 *                 the real clock, timed by the `repeat` loop (opts.duration).
 *       Prints min / median / max ns per exit+entry pair and the ratio to
 *       the empty program of the same round.
 *   embench attach OBJ READY PROG...
 *       load OBJ with only PROGs, attach them, create READY, wait for
 *       SIGINT/SIGTERM, print "prog NAME run_cnt N run_time_ns T" each.
 *   embench progstats NAME...
 *       the same line for every loaded program whose name starts with NAME.
 *   embench time CMD...
 *       run CMD, print "wall_ns W rc R".
 *   embench supervise READY OUT CMD...
 *       start CMD, time until READY exists (attach time), forward
 *       SIGINT/SIGTERM to it; from READY to the stop signal, measure its
 *       on-CPU time (/proc/PID/schedstat, ns); on its exit write to OUT:
 *       "ready_ms R window_s W cpu_ns C cpu_pct P maxrss_kb M rc X".
 *   embench waitfile FILE TIMEOUT_MS   (exit 0 once FILE exists)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "exitmon.h"
#include "touch.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (l == LIBBPF_WARN && getenv("EMBENCH_VERBOSE"))
		return vfprintf(stderr, f, ap);
	return 0;
}

/* ---- rodata by variable name (BTF of the object's .rodata) ---------- */
static int set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t len)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	size_t sz;
	char *data;
	int id, i;

	bpf_object__for_each_map(m, obj) {
		if (strstr(bpf_map__name(m), ".rodata"))
			break;
	}
	if (!m || !btf)
		return -ENOENT;
	data = (char *)bpf_map__initial_value(m, &sz);
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!data || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (!strcmp(btf__name_by_offset(btf, v->name_off), name)) {
			if (vs->offset + len > sz)
				return -E2BIG;
			memcpy(data + vs->offset, val, len);
			return 0;
		}
	}
	return -ENOENT;
}

struct cfg {
	const char *label;
	const char *obj;   /* relative to BUILD */
	const char *prog;
	int tc;            /* repeat method (tc pair) instead of raw_tp stats */
	int per_vcpu;
	int reason_filter; /* --reason CPUID --reason HLT (SVM) */
	int floor;         /* this is the floor the others are divided by */
	/* runtime */
	struct bpf_object *o;
	int fd;
	double *v;
	int ok;
	char why[600];
};

static int load_cfg(struct cfg *c, const char *build)
{
	char path[512];
	struct bpf_program *p, *want = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", build, c->obj);
	c->o = bpf_object__open_file(path, NULL);
	if (!c->o) {
		snprintf(c->why, sizeof(c->why), "open %s: %s", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(p, c->o) {
		int me = !strcmp(bpf_program__name(p), c->prog);

		bpf_program__set_autoload(p, me);
		if (me)
			want = p;
	}
	if (!want) {
		snprintf(c->why, sizeof(c->why), "no program %s in %s", c->prog, c->obj);
		return -1;
	}
	if (c->per_vcpu) {
		bool t = true;
		struct bpf_map *bd = bpf_object__find_map_by_name(c->o, "breakdown");

		struct bpf_map *bdi = bpf_object__find_map_by_name(c->o, "breakdown_index");
		__u32 rows = 1024;

		set_rodata(c->o, "breakdown_vcpu", &t, sizeof(t));
		set_rodata(c->o, "breakdown_rows", &rows, sizeof(rows));
		if (bd)
			bpf_map__set_max_entries(bd, rows);
		if (bdi)
			bpf_map__set_max_entries(bdi, rows);
	}
	if (c->reason_filter) {
		bool t = true;
		__u64 bits[EM_FILTER_WORDS] = { 0 };
		__u32 s1 = em_slot(EM_ISA_SVM, 0x72), s2 = em_slot(EM_ISA_SVM, 0x78);

		bits[s1 / 64] |= 1ULL << (s1 % 64);
		bits[s2 / 64] |= 1ULL << (s2 % 64);
		set_rodata(c->o, "filter_reasons_on", &t, sizeof(t));
		set_rodata(c->o, "filter_reasons", bits, sizeof(bits));
	}
	rc = bpf_object__load(c->o);
	if (rc) {
		snprintf(c->why, sizeof(c->why), "load %s:%s: %s", c->obj, c->prog, strerror(-rc));
		return -1;
	}
	c->fd = bpf_program__fd(want);
	c->ok = 1;
	return 0;
}

static int prog_stats(int fd, uint64_t *cnt, uint64_t *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int rc = bpf_obj_get_info_by_fd(fd, &info, &len);

	*cnt = info.run_cnt;
	*ns = info.run_time_ns;
	return rc;
}

/* ns per exit+entry pair, or < 0 on error. */
static double measure(struct cfg *c, unsigned pairs)
{
	static uint64_t ts = 1000000;
	uint64_t c0, n0, c1, n1;
	unsigned i;
	int sfd;

	if (c->tc) {
		char pkt[64] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = pairs);

		if (bpf_prog_test_run_opts(c->fd, &t))
			return -1;
		return t.duration; /* average ns per run = per pair */
	}
	/* stats on only now: they would add two clock reads to every run of the
	 * repeat method too */
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0 || prog_stats(c->fd, &c0, &n0))
		return -1;
	for (i = 0; i < pairs; i++) {
		/* one vCPU thread exiting with CPUID, re-entering 0.5-4.5 us later */
		/* key: a struct kvm_vcpu address, as raw_tp passes it */
		__u64 ex[7] = { 0, (1000ULL << 32) | 1001, EM_ISA_SVM, 0x72, 0, ts, 0xffff888123454000ULL };
		__u64 en[7] = { 1, (1000ULL << 32) | 1001, 0, 0, 0, ts + 500 + (i * 37 % 4000),
				0xffff888123454000ULL };
		LIBBPF_OPTS(bpf_test_run_opts, a, .ctx_in = ex, .ctx_size_in = sizeof(ex));
		LIBBPF_OPTS(bpf_test_run_opts, b, .ctx_in = en, .ctx_size_in = sizeof(en));

		if (bpf_prog_test_run_opts(c->fd, &a) || bpf_prog_test_run_opts(c->fd, &b)) {
			close(sfd);
			return -1;
		}
		ts += 10000;
	}
	prog_stats(c->fd, &c1, &n1);
	close(sfd);
	if (c1 - c0 < 2)
		return -1;
	return (double)(n1 - n0) / ((double)(c1 - c0) / 2);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double *s = malloc(n * sizeof(*s)), m;

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), dcmp);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static double vmin(double *v, int n) { double m = v[0]; for (int i = 1; i < n; i++) if (v[i] < m) m = v[i]; return m; }
static double vmax(double *v, int n) { double m = v[0]; for (int i = 1; i < n; i++) if (v[i] > m) m = v[i]; return m; }

static int cmd_testrun(int argc, char **argv)
{
	static struct cfg cfgs[] = {
		/* raw_tp, bpf_stats: the real test driver and the floor */
		{ "empty raw_tp (floor)", "bench/floor.bpf.o", "empty_run", 0, 0, 0, 1 },
		{ "count-only (kvmexit-like)", "bench/floor.bpf.o", "count_run", 0, 0, 0, 0 },
		{ "exitmon core", "exitmon_test.bpf.o", "run_event", 0, 0, 0, 0 },
		{ "exitmon core --per-vcpu", "exitmon_test.bpf.o", "run_event", 0, 1, 0, 0 },
		{ "exitmon core --reason CPUID,HLT", "exitmon_test.bpf.o", "run_event", 0, 0, 1, 0 },
		/* pending_fast as a plain ARRAY: slots straddle cache lines */
		{ "variant: pending_fast unaligned", "bench/exitmon_test_unaligned.bpf.o", "run_event", 0, 0, 0, 0 },
		/* tc wrapper, repeat loop */
		{ "empty tc (floor)", "bench/pair.bpf.o", "empty_tc", 1, 0, 0, 1 },
		{ "exitmon core", "bench/pair.bpf.o", "pair_tc", 1, 0, 0, 0 },
		{ "exitmon core --per-vcpu", "bench/pair.bpf.o", "pair_tc", 1, 1, 0, 0 },
		{ "exitmon core --reason CPUID,HLT", "bench/pair.bpf.o", "pair_tc", 1, 0, 1, 0 },
		{ "piece: 2 clock reads", "bench/pair.bpf.o", "piece_clock", 1, 0, 0, 0 },
		{ "piece: 2 pending look-ups", "bench/pair.bpf.o", "piece_pending", 1, 0, 0, 0 },
		{ "piece: 2 per-CPU array lookups", "bench/pair.bpf.o", "piece_arrays", 1, 0, 0, 0 },
		{ "piece: 1 lookup + latency/histogram", "bench/pair.bpf.o", "piece_latency", 1, 0, 0, 0 },
	};
	const int n = sizeof(cfgs) / sizeof(cfgs[0]);
	const char *build;
	int rounds, r, i, sfd;
	unsigned pairs;
	double *ratio[sizeof(cfgs) / sizeof(cfgs[0])];

	if (argc < 3)
		return fprintf(stderr, "usage: embench testrun BUILD ROUNDS PAIRS\n"), 2;
	build = argv[0];
	rounds = atoi(argv[1]);
	pairs = strtoul(argv[2], NULL, 0);
	if (rounds < 1 || !pairs)
		return 2;
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0) {
		printf("skip: cannot enable BPF stats (%s): need root and BPF_ENABLE_STATS\n",
		       strerror(errno));
		return 0;
	}
	close(sfd);
	for (i = 0; i < n; i++) {
		cfgs[i].v = calloc(rounds, sizeof(double));
		ratio[i] = calloc(rounds, sizeof(double));
		if (load_cfg(&cfgs[i], build))
			fprintf(stderr, "embench: %s: %s\n", cfgs[i].label, cfgs[i].why);
	}
	/* warm-up, then rounds with the configurations interleaved */
	for (i = 0; i < n; i++)
		if (cfgs[i].ok)
			measure(&cfgs[i], pairs / 10 + 1);
	for (r = 0; r < rounds; r++) {
		double fl = 0;

		for (i = 0; i < n; i++) {
			if (!cfgs[i].ok)
				continue;
			if (cfgs[i].floor)
				fl = 0;
			cfgs[i].v[r] = measure(&cfgs[i], pairs);
			if (cfgs[i].floor)
				fl = cfgs[i].v[r];
			ratio[i][r] = fl > 0 ? cfgs[i].v[r] / fl : 0;
		}
	}
	printf("BPF_PROG_TEST_RUN, %d rounds x %u exit+entry pairs, interleaved; ns per pair\n",
	       rounds, pairs);
	printf("%-6s  %-36s %8s %8s %8s  %8s\n", "method", "program", "min", "median", "max",
	       "x floor");
	for (i = 0; i < n; i++) {
		struct cfg *c = &cfgs[i];

		if (!c->ok) {
			printf("%-6s  %-36s skipped: %s\n", c->tc ? "repeat" : "stats", c->label, c->why);
			continue;
		}
		printf("%-6s  %-36s %8.1f %8.1f %8.1f  %8.2f\n", c->tc ? "repeat" : "stats", c->label,
		       vmin(c->v, rounds), median(c->v, rounds), vmax(c->v, rounds),
		       median(ratio[i], rounds));
	}
	return 0;
}

/* ---- attach / progstats ---------------------------------------------- */
static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static void print_prog(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		printf("prog %s run_cnt %llu run_time_ns %llu\n", info.name,
		       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
}

/*
 * touch.bpf.o's address log (its .bss), one line per access:
 * touch PAIR SIDE KIND ADDR SIZE; nothing for objects without it.
 */
static void print_touch(struct bpf_object *o)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o, ".bss");
	struct emb_touch_log *lg;
	__u32 k = 0, p, i;

	if (!m || bpf_map__value_size(m) < sizeof(*lg))
		return;
	lg = calloc(1, bpf_map__value_size(m));
	if (!lg || bpf_map_lookup_elem(bpf_map__fd(m), &k, lg) || lg->magic != EMB_TOUCH_MAGIC) {
		printf("touch-error no address log (pairs seen: %llu)\n",
		       lg ? (unsigned long long)lg->pairs : 0ULL);
		free(lg);
		return;
	}
	for (p = 0; p < EMB_TOUCH_PAIRS; p++)
		for (i = 0; i < lg->n[p] && i < EMB_TOUCH_SLOTS; i++)
			printf("touch %u %u %u 0x%llx %u\n", p, lg->t[p * EMB_TOUCH_SLOTS + i].side, lg->t[p * EMB_TOUCH_SLOTS + i].kind,
			       (unsigned long long)lg->t[p * EMB_TOUCH_SLOTS + i].addr, lg->t[p * EMB_TOUCH_SLOTS + i].size);
	free(lg);
}

static int cmd_attach(int argc, char **argv)
{
	struct bpf_object *o;
	struct bpf_program *p;
	struct bpf_link *links[16];
	int nl = 0, i, rc;

	if (argc < 3)
		return fprintf(stderr, "usage: embench attach OBJ READY PROG...\n"), 2;
	o = bpf_object__open_file(argv[0], NULL);
	if (!o)
		return fprintf(stderr, "embench: open %s: %s\n", argv[0], strerror(errno)), 1;
	bpf_object__for_each_program(p, o) {
		int me = 0;

		for (i = 2; i < argc; i++)
			me |= !strcmp(bpf_program__name(p), argv[i]);
		bpf_program__set_autoload(p, me);
	}
	rc = bpf_object__load(o);
	if (rc)
		return fprintf(stderr, "embench: load %s: %s\n", argv[0], strerror(-rc)), 1;
	bpf_object__for_each_program(p, o) {
		if (!bpf_program__autoload(p) || nl >= 16)
			continue;
		links[nl] = bpf_program__attach(p);
		if (!links[nl])
			return fprintf(stderr, "embench: attach %s: %s\n", bpf_program__name(p),
				       strerror(errno)), 1;
		nl++;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	close(open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644));
	while (!stop)
		pause();
	bpf_object__for_each_program(p, o)
		if (bpf_program__autoload(p))
			print_prog(bpf_program__fd(p));
	print_touch(o);
	for (i = 0; i < nl; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(o);
	return 0;
}

static int cmd_progstats(int argc, char **argv)
{
	__u32 id = 0;
	int i;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			for (i = 0; i < argc; i++)
				if (!strncmp(info.name, argv[i], strlen(argv[i]))) {
					print_prog(fd);
					break;
				}
		close(fd);
	}
	return 0;
}

/* ---- processes ---------------------------------------------------------- */
static int cmd_time(int argc, char **argv)
{
	uint64_t t0 = now_ns();
	pid_t pid;
	int st;

	if (argc < 1)
		return 2;
	pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("wall_ns %llu rc %d\n", (unsigned long long)(now_ns() - t0),
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

static pid_t child;
static volatile sig_atomic_t got_stop;
static void fwd(int s)
{
	got_stop = 1;
	if (child > 0)
		kill(child, s);
}

static uint64_t sched_ns(pid_t pid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

static int cmd_supervise(int argc, char **argv)
{
	const char *ready = argv[0], *out = argv[1];
	uint64_t t0 = now_ns(), tr = 0, ts = 0, c0 = 0, c1 = 0;
	struct rusage ru;
	struct sigaction sa = { .sa_handler = fwd };
	int st = 0;
	FILE *f;

	if (argc < 3)
		return fprintf(stderr, "usage: embench supervise READY OUT CMD...\n"), 2;
	unlink(ready);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	child = fork();
	if (child == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	/* attach time: poll the ready file every 0.5 ms */
	while (!got_stop) {
		if (!access(ready, F_OK)) {
			tr = now_ns();
			c0 = sched_ns(child);
			break;
		}
		if (waitpid(child, &st, WNOHANG) == child) {
			child = -1;
			break;
		}
		usleep(500);
	}
	while (child > 0 && !got_stop) {
		if (waitpid(child, &st, WNOHANG) == child) {
			child = -1;
			break;
		}
		usleep(20000);
	}
	ts = now_ns();
	if (child > 0) {
		c1 = sched_ns(child); /* before it exits and its counters go */
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	f = fopen(out, "w");
	if (!f)
		return 1;
	fprintf(f, "ready_ms %.1f window_s %.3f cpu_ns %llu cpu_pct %.3f maxrss_kb %ld rc %d\n",
		tr ? (tr - t0) / 1e6 : -1.0, tr ? (ts - tr) / 1e9 : 0.0,
		(unsigned long long)(c1 - c0),
		tr && ts > tr ? 100.0 * (c1 - c0) / (double)(ts - tr) : -1.0, ru.ru_maxrss,
		WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fclose(f);
	return 0;
}

static int cmd_waitfile(int argc, char **argv)
{
	uint64_t t0 = now_ns(), lim;

	if (argc < 2)
		return 2;
	lim = strtoull(argv[1], NULL, 0) * 1000000ULL;
	while (access(argv[0], F_OK)) {
		if (now_ns() - t0 > lim)
			return 1;
		usleep(1000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(quiet);
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "testrun"))
		return cmd_testrun(argc - 2, argv + 2);
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "progstats"))
		return cmd_progstats(argc - 2, argv + 2);
	if (!strcmp(argv[1], "time"))
		return cmd_time(argc - 2, argv + 2);
	if (!strcmp(argv[1], "supervise"))
		return cmd_supervise(argc - 2, argv + 2);
	if (!strcmp(argv[1], "waitfile"))
		return cmd_waitfile(argc - 2, argv + 2);
usage:
	fprintf(stderr, "usage: embench testrun|attach|progstats|time|supervise|waitfile ...\n");
	return 2;
}
