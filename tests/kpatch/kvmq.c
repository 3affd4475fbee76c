// SPDX-License-Identifier: GPL-2.0
/*
 * kvmq: a tiny KVM VMM for the exit-statistics CPUID interface tests.
 *
 * Each VM has one vCPU running 16-bit real-mode code:
 *   for each baseline query (-b):      cpuid, then 4 x out 0xe0,eax
 *   out 0xe2,al                        start point, only with -b (all VMs
 *                                      have read their baseline)
 *   N x (xor eax,eax; cpuid)           work: CPUID exits
 *   M x out 0x80,al                    work: IOIO exits
 *   out 0xe1,al                        sync point (all VMs wait here)
 *   for each query (leaf, ecx):        cpuid, then 4 x out 0xe0,eax
 *                                      reporting EAX, EBX, ECX, EDX
 *   hlt
 * So when query k (0-based) executes, the VM has had exactly
 *   CPUID exits: N + k + 1     (the query itself included)
 *   IOIO exits:  M + 1 + 4k
 * plus a few others (NPF, INTR) that are not exact (and, with B baseline
 * queries, B more CPUID and 4B + 1 more IOIO exits before the work).
 *
 * Usage: kvmq [-n N] [-m M] [-b LEAF:ECX]... [-q LEAF:ECX]... [-v VMS]
 *             [--intel-cpuid] [-t SEC]
 *   -b LEAF:ECX   a baseline query, before the work: with several VMs the
 *                 difference query - baseline covers exactly the other
 *                 VMs' work, whatever counts earlier runs left behind.
 *   -v VMS        run VMS VMs at once (thread each); VM i does N*(i+1)
 *                 cpuids and M*(i+1) outs, so their counts differ.
 *   --intel-cpuid give the vCPU KVM's supported CPUID with the vendor
 *                 set to GenuineIntel: stock KVM then answers unknown
 *                 leaves from the last basic leaf, which makes "stock
 *                 behaviour" visible in the output.
 * Output, one line per query:  vm=I q=K leaf=L ecx=C -> A B C D  (hex)
 * (baseline queries: vm=I b=K ...)
 * and per VM:  vm=I n=N m=M work_ns=T  (T: KVM_RUN start to the sync exit)
 *   -t SEC        give up after SEC seconds (default 120): print each VM's
 *                 progress and exit 124
 *   --sleep-us U  the VMM sleeps U microseconds on each work OUT before it
 *                 re-enters the guest (time spent in userspace)
 *   --fep         each query is prefixed with KVM's forced-emulation
 *                 prefix (ud2; "kvm"): a #UD exit, and KVM's emulator
 *                 executes the CPUID (needs kvm.force_emulation_prefix=1)
 *   -c VCPUS      VCPUS vCPUs per VM: vCPU 0 runs the program above; the
 *                 others do the same work and sync OUT, then hlt (no
 *                 queries), so vCPU 0's queries see exactly VCPUS times
 *                 the work (not with -b)
 *   --stats       read the vCPU's binary statistic "exits" (KVM_GET_STATS_FD)
 *                 at the first report OUT of each query; printed as
 *                 vm=I q=K stat_exits=N
 * Exit status 0 iff every VM reached hlt with the expected exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000u
#define CODE_GPA 0x1000u
#define QTAB_GPA 0x8000u
#define PORT_WORK 0x80
#define PORT_REPORT 0xe0
#define PORT_SYNC 0xe1
#define PORT_START 0xe2
#define BTAB_GPA 0x9000u
#define MAX_B 16
#define MAX_Q 512
#define MAX_VMS 8
#define MAX_VCPUS 8
#define CODE2_GPA 0x4000u		/* the other vCPUs' program */

static uint32_t q_leaf[MAX_Q], q_ecx[MAX_Q];
static int nq;
static uint32_t b_leaf[MAX_B], b_ecx[MAX_B];
static int nb;
static unsigned long base_n = 1000, base_m = 100;
static int nvms = 1, ncpus = 1, intel_cpuid;
static unsigned timeout_s = 120;
static unsigned sleep_us;
static int fep, want_stats;
static int kvm_fd;
static pthread_barrier_t sync_barrier, start_barrier;

struct vm {
	int idx;
	unsigned long n, m;
	uint32_t res[(MAX_B + MAX_Q) * 4];
	uint64_t stat_exits[MAX_B + MAX_Q];
	int nres;
	unsigned long outs;
	uint64_t work_ns;
	int ok;
	char err[160];
};

static struct vm *all_vms;

static void *watchdog(void *arg)
{
	(void)arg;
	sleep(timeout_s);
	for (int i = 0; i < nvms; i++)
		printf("vm=%d error: timeout after %us: outs=%lu/%lu reports=%d/%d work_ns=%llu\n",
		       i, timeout_s, all_vms[i].outs, all_vms[i].m, all_vms[i].nres, 4 * (nb + nq),
		       (unsigned long long)all_vms[i].work_ns);
	fflush(stdout);
	_exit(124);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

#define B(...) do { const uint8_t b_[] = { __VA_ARGS__ }; memcpy(p, b_, sizeof(b_)); p += sizeof(b_); } while (0)
#define D32(v) B((v) & 0xff, ((v) >> 8) & 0xff, ((v) >> 16) & 0xff, ((v) >> 24) & 0xff)

/* Code for COUNT queries read from the table at TAB (leaf, ecx pairs):
 * cpuid (with KVM's forced-emulation prefix if EMUL), then EAX, EBX,
 * ECX, EDX out to the report port. */
static uint8_t *gen_queries(uint8_t *p, uint16_t tab, int count, int emul)
{
	uint8_t *loop, *jz;

	/* mov si, tab ; mov di, count  (cpuid clobbers e[abcd]x, not si/di/bp) */
	B(0xbe, tab & 0xff, tab >> 8);
	B(0xbf, count & 0xff, count >> 8);
	/* test di,di ; jz done */
	B(0x85, 0xff);
	B(0x74, 0x00);
	jz = p - 1;
	loop = p;
	B(0x66, 0x8b, 0x04);            /* mov eax,[si] */
	B(0x66, 0x8b, 0x4c, 0x04);      /* mov ecx,[si+4] */
	if (emul)
		B(0x0f, 0x0b, 'k', 'v', 'm'); /* ud2; "kvm" */
	B(0x0f, 0xa2);                  /* cpuid */
	B(0x66, 0x89, 0xd5);            /* mov ebp,edx */
	B(0xba, PORT_REPORT, 0x00);     /* mov dx,0xe0 */
	B(0x66, 0xef);                  /* out dx,eax */
	B(0x66, 0x89, 0xd8);            /* mov eax,ebx */
	B(0x66, 0xef);
	B(0x66, 0x89, 0xc8);            /* mov eax,ecx */
	B(0x66, 0xef);
	B(0x66, 0x89, 0xe8);            /* mov eax,ebp */
	B(0x66, 0xef);
	B(0x83, 0xc6, 0x08);            /* add si,8 */
	B(0x4f);                        /* dec di */
	B(0x75, 0x00);                  /* jnz loop */
	p[-1] = (uint8_t)(loop - p);
	*jz = (uint8_t)(p - (jz + 1));
	return p;
}

/* Emit the guest program; returns its length. */
static size_t gen_code(uint8_t *p, unsigned long n, unsigned long m, int queries)
{
	uint8_t *s = p;
	uint8_t *loop;

	if (nb && queries) {
		p = gen_queries(p, BTAB_GPA, nb, 0);
		B(0xe6, PORT_START);    /* out 0xe2, al */
	}
	/* mov esi, n */
	B(0x66, 0xbe); D32((uint32_t)n);
	/* test esi,esi ; jz +9 */
	B(0x66, 0x85, 0xf6, 0x74, 0x09);
	loop = p;
	B(0x66, 0x31, 0xc0);            /* xor eax,eax */
	B(0x0f, 0xa2);                  /* cpuid */
	B(0x66, 0x4e);                  /* dec esi */
	B(0x75, (uint8_t)(loop - (p + 2))); /* jnz loop */
	/* mov esi, m ; test ; jz +5 */
	B(0x66, 0xbe); D32((uint32_t)m);
	B(0x66, 0x85, 0xf6, 0x74, 0x06);
	loop = p;
	B(0xe6, PORT_WORK);             /* out 0x80, al */
	B(0x66, 0x4e);                  /* dec esi */
	B(0x75, (uint8_t)(loop - (p + 2)));
	B(0xe6, PORT_SYNC);             /* out 0xe1, al */
	if (queries)
		p = gen_queries(p, QTAB_GPA, nq, fep);
	B(0xf4);                        /* hlt */
	B(0xeb, 0xfe);                  /* jmp $ */
	return p - s;
}
#undef B
#undef D32

static void set_intel_cpuid(int vcpu)
{
	int nent = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (!c)
		die("calloc");
	c->nent = nent;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	for (unsigned i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 0) {
			memcpy(&c->entries[i].ebx, "Genu", 4);
			memcpy(&c->entries[i].edx, "ineI", 4);
			memcpy(&c->entries[i].ecx, "ntel", 4);
		}
	}
	if (ioctl(vcpu, KVM_SET_CPUID2, c) < 0)
		die("KVM_SET_CPUID2");
	free(c);
}

/* Offset of the binary statistic "exits" in the vCPU's stats file. */
static int stats_open(int vcpu, uint64_t *off)
{
	struct kvm_stats_header h;
	int fd = ioctl(vcpu, KVM_GET_STATS_FD, NULL);
	size_t dsz;
	char *d;

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		die("KVM_GET_STATS_FD");
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	d = calloc(1, dsz);
	if (!d)
		die("calloc");
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *sd = (void *)d;

		if (pread(fd, d, dsz, h.desc_offset + i * dsz) != (ssize_t)dsz)
			die("stats descriptors");
		if (!strcmp(sd->name, "exits")) {
			*off = h.data_offset + sd->offset;
			free(d);
			return fd;
		}
	}
	fprintf(stderr, "kvmq: no binary statistic 'exits'\n");
	exit(2);
}

/* vCPUs 1.. of a VM: work, sync, hlt. */
struct helper {
	int vcpu;
	unsigned long m, outs;
	int ok;
	pthread_t th;
};

static void setup_vcpu(int vcpu, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (intel_cpuid)
		set_intel_cpuid(vcpu);
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

static void *run_helper(void *arg)
{
	struct helper *h = arg;
	size_t runsz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, runsz, PROT_READ | PROT_WRITE,
				   MAP_SHARED, h->vcpu, 0);
	int synced = 0;

	if (run == MAP_FAILED)
		die("mmap run");
	for (;;) {
		if (ioctl(h->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO)
			return NULL;
		if (run->io.port == PORT_WORK) {
			h->outs += run->io.count;
		} else if (run->io.port == PORT_SYNC) {
			synced = 1;
			pthread_barrier_wait(&sync_barrier);
		} else {
			return NULL;
		}
	}
	h->ok = synced && h->outs == h->m;
	return NULL;
}

static void *run_vm(void *arg)
{
	struct vm *v = arg;
	int vmfd, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t runsz;
	uint64_t t0;
	int synced = 0, started = !nb, stats_fd = -1;
	struct helper helpers[MAX_VCPUS];
	uint64_t stats_off = 0;

	vmfd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vmfd < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	gen_code(mem + CODE_GPA, v->n, v->m, 1);
	gen_code(mem + CODE2_GPA, v->n, v->m, 0);
	for (int i = 0; i < nq; i++) {
		memcpy(mem + QTAB_GPA + 8 * i, &q_leaf[i], 4);
		memcpy(mem + QTAB_GPA + 8 * i + 4, &q_ecx[i], 4);
	}
	for (int i = 0; i < nb; i++) {
		memcpy(mem + BTAB_GPA + 8 * i, &b_leaf[i], 4);
		memcpy(mem + BTAB_GPA + 8 * i + 4, &b_ecx[i], 4);
	}
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	if (want_stats)
		stats_fd = stats_open(vcpu, &stats_off);
	runsz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap run");
	setup_vcpu(vcpu, CODE_GPA);
	for (int j = 1; j < ncpus; j++) {
		struct helper *h = &helpers[j];

		memset(h, 0, sizeof(*h));
		h->m = v->m;
		h->vcpu = ioctl(vmfd, KVM_CREATE_VCPU, j);
		if (h->vcpu < 0)
			die("KVM_CREATE_VCPU");
		setup_vcpu(h->vcpu, CODE2_GPA);
		if (pthread_create(&h->th, NULL, run_helper, h))
			die("pthread_create");
	}

	t0 = now_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(v->err, sizeof(v->err), "KVM_RUN: %s", strerror(errno));
			return NULL;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.direction != KVM_EXIT_IO_OUT) {
			snprintf(v->err, sizeof(v->err), "unexpected exit %u", run->exit_reason);
			return NULL;
		}
		uint8_t *data = (uint8_t *)run + run->io.data_offset;

		switch (run->io.port) {
		case PORT_WORK:
			v->outs += run->io.count;
			if (sleep_us)
				usleep(sleep_us);
			break;
		case PORT_START:
			started = 1;
			pthread_barrier_wait(&start_barrier);
			t0 = now_ns();
			break;
		case PORT_SYNC:
			v->work_ns = now_ns() - t0;
			synced = 1;
			pthread_barrier_wait(&sync_barrier);
			break;
		case PORT_REPORT:
			if (run->io.size != 4 || v->nres >= (MAX_B + MAX_Q) * 4) {
				snprintf(v->err, sizeof(v->err), "bad report");
				return NULL;
			}
			/* Right after the query's CPUID: this OUT is the next exit. */
			if (stats_fd >= 0 && v->nres % 4 == 0 &&
			    pread(stats_fd, &v->stat_exits[v->nres / 4], 8, stats_off) != 8)
				die("read stat exits");
			memcpy(&v->res[v->nres++], data, 4);
			break;
		default:
			snprintf(v->err, sizeof(v->err), "port 0x%x", run->io.port);
			return NULL;
		}
	}
	int helpers_ok = 1;

	for (int j = 1; j < ncpus; j++) {
		pthread_join(helpers[j].th, NULL);
		helpers_ok &= helpers[j].ok;
		close(helpers[j].vcpu);
	}
	if (!started || !synced || v->outs != v->m || v->nres != 4 * (nb + nq) || !helpers_ok)
		snprintf(v->err, sizeof(v->err), "started=%d synced=%d outs=%lu/%lu reports=%d/%d vcpus_ok=%d",
			 started, synced, v->outs, v->m, v->nres, 4 * (nb + nq), helpers_ok);
	else
		v->ok = 1;
	close(vcpu);
	close(vmfd);
	munmap(mem, MEM_SIZE);
	return NULL;
}

static uint32_t parse_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == 0 || (*end && *end != ':') || v > 0xffffffffUL) {
		fprintf(stderr, "kvmq: bad number '%s'\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	static struct vm vms[MAX_VMS];
	pthread_t th[MAX_VMS];
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			base_n = parse_u32(argv[++i]);
		} else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
			base_m = parse_u32(argv[++i]);
		} else if (!strcmp(argv[i], "-v") && i + 1 < argc) {
			nvms = parse_u32(argv[++i]);
			if (nvms < 1 || nvms > MAX_VMS)
				nvms = 1;
		} else if (!strcmp(argv[i], "-q") && i + 1 < argc && nq < MAX_Q) {
			char *c = strchr(argv[++i], ':');

			q_leaf[nq] = parse_u32(argv[i]);
			q_ecx[nq] = c ? parse_u32(c + 1) : 0;
			nq++;
		} else if (!strcmp(argv[i], "-b") && i + 1 < argc && nb < MAX_B) {
			char *c = strchr(argv[++i], ':');

			b_leaf[nb] = parse_u32(argv[i]);
			b_ecx[nb] = c ? parse_u32(c + 1) : 0;
			nb++;
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			timeout_s = parse_u32(argv[++i]);
		} else if (!strcmp(argv[i], "--intel-cpuid")) {
			intel_cpuid = 1;
		} else if (!strcmp(argv[i], "--sleep-us") && i + 1 < argc) {
			sleep_us = parse_u32(argv[++i]);
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			ncpus = parse_u32(argv[++i]);
			if (ncpus < 1 || ncpus > MAX_VCPUS)
				ncpus = 1;
		} else if (!strcmp(argv[i], "--fep")) {
			fep = 1;
		} else if (!strcmp(argv[i], "--stats")) {
			want_stats = 1;
		} else {
			fprintf(stderr, "usage: kvmq [-n N] [-m M] [-v VMS] [-b LEAF:ECX]... [-q LEAF:ECX]... [--intel-cpuid] [-t SEC] [--sleep-us U] [--fep] [--stats] [-c VCPUS]\n");
			return 2;
		}
	}
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	if (nb && ncpus > 1) {
		fprintf(stderr, "kvmq: -b and -c do not combine\n");
		return 2;
	}
	pthread_barrier_init(&sync_barrier, NULL, nvms * ncpus);
	pthread_barrier_init(&start_barrier, NULL, nvms);
	all_vms = vms;
	if (timeout_s) {
		pthread_t wd;

		pthread_create(&wd, NULL, watchdog, NULL);
		pthread_detach(wd);
	}
	for (int i = 0; i < nvms; i++) {
		memset(&vms[i], 0, sizeof(vms[i]));
		vms[i].idx = i;
		vms[i].n = base_n * (i + 1);
		vms[i].m = base_m * (i + 1);
		if (pthread_create(&th[i], NULL, run_vm, &vms[i]))
			die("pthread_create");
	}
	for (int i = 0; i < nvms; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < nvms; i++) {
		struct vm *v = &vms[i];

		printf("vm=%d n=%lu m=%lu work_ns=%llu\n", i, v->n, v->m,
		       (unsigned long long)v->work_ns);
		if (ncpus > 1)
			printf("vm=%d vcpus=%d\n", i, ncpus);
		for (int k = 0; k < v->nres / 4; k++) {
			const uint32_t *r = &v->res[4 * k];
			int b = k < nb, j = b ? k : k - nb;

			printf("vm=%d %s=%d leaf=0x%x ecx=0x%x -> %08x %08x %08x %08x\n",
			       i, b ? "b" : "q", j, b ? b_leaf[j] : q_leaf[j],
			       b ? b_ecx[j] : q_ecx[j], r[0], r[1], r[2], r[3]);
			if (want_stats && !b)
				printf("vm=%d q=%d stat_exits=%llu\n", i, j,
				       (unsigned long long)v->stat_exits[k]);
		}
		if (!v->ok) {
			printf("vm=%d error: %s\n", i, v->err);
			rc = 1;
		}
	}
	return rc;
}
