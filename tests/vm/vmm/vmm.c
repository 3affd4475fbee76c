// SPDX-License-Identifier: GPL-2.0
/*
 * exitmon-vmm: a tiny KVM VMM whose guests run an exactly known
 * instruction mix, so the VM exits they cause are an oracle for exitmon.
 *
 * Guest programs (same code on every vCPU, parameters in a read-only block):
 *   real   16-bit real mode: N x cpuid, M x out to PORT, hlt
 *   paged  32-bit protected mode with paging (identity map, 4 KiB pages):
 *          mov to CR3 (set-up) + CR0.PG, then N x cpuid, M x out,
 *          K x invlpg, L x mov to CR3, hlt
 * On SVM this gives exactly CPUID(0x72)=N, IOIO(0x7b)=M, HLT(0x78)=1 and,
 * with npt=0 only, INVLPG(0x79)=K and CR3 write(0x13)=L+1 per vCPU.
 *
 * Names as QEMU gives them, for exitmon's VM/vCPU names: vCPU threads are
 * "CPU <i>/KVM", and "-name guest=NAME,..." is accepted (and ignored).
 * --vcpu-id-stride S gives vCPU i the KVM vcpu_id i*S (the APIC ID of a
 * sparse topology), so the tracepoint's vcpu_id differs from the index.
 * --linger-ms MS keeps each vCPU thread (and so the process) alive MS ms
 * after its hlt, for a tool that resolves names while the VM runs.
 *
 * No in-kernel irqchip: the final hlt exits to user space (KVM_EXIT_HLT)
 * and the vCPU is never entered again, so its last exit has no kvm_entry.
 *
 * Output (stdout, one line each, for the test runner to parse):
 *   vmm: pid=P mode=... vcpus=V n=N m=M k=K l=L port=X
 *   vmm: vcpu=I tid=T               (once per vCPU thread, before running)
 *   vmm: vcpu=I tid=T done io=M ok  (after its hlt)
 * and on stderr, for a vCPU that failed or hit the --timeout watchdog:
 *   vmm: vcpu I: [TIMEOUT] io=.. (want M) esi=<loop counter> rip=..
 * Exit status 0 iff every vCPU reached hlt with the expected I/O count and
 * loop registers at zero.
 *
 * Static, no libraries beyond libc: it runs in a bare busybox initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (4u << 20)     /* identity-mapped by one page table */
#define PARAMS_GPA 0x800u       /* struct guest_params */
#define CODE_GPA 0x1000u
#define PD_GPA 0x2000u
#define PT_GPA 0x3000u
#define INVLPG_GVA 0x300000u    /* mapped, never touched by the guest */
#define MAX_VCPUS 64

/* Layout read by the guest code below; offsets are hard-coded there. */
struct guest_params {
	uint32_t cr3;   /* 0x800 */
	uint32_t n;     /* 0x804 cpuid */
	uint32_t m;     /* 0x808 out */
	uint32_t port;  /* 0x80c */
	uint32_t k;     /* 0x810 invlpg */
	uint32_t l;     /* 0x814 mov to cr3 (after the set-up one) */
	uint32_t gva;   /* 0x818 invlpg target */
};

/*
 * Guest code, assembled by gcc into .rodata and copied to CODE_GPA.
 * Loop counters live in esi (cpuid clobbers eax..edx); at hlt, esi must be 0:
 * the VMM checks it so a guest that took a wrong path cannot pass.
 */
__asm__(
	".pushsection .rodata\n"
	".globl guest_real, guest_real_end, guest_paged, guest_paged_end\n"
	".code16\n"
	"guest_real:\n"
	"	mov 0x804, %esi\n"
	"	test %esi, %esi\n"
	"	jz 2f\n"
	"1:	xor %eax, %eax\n"
	"	cpuid\n"
	"	dec %esi\n"
	"	jnz 1b\n"
	"2:	mov 0x808, %esi\n"
	"	mov 0x80c, %dx\n"
	"	test %esi, %esi\n"
	"	jz 4f\n"
	"3:	out %al, %dx\n"
	"	dec %esi\n"
	"	jnz 3b\n"
	"4:	hlt\n"
	"	jmp 4b\n"
	"guest_real_end:\n"
	".code32\n"
	"guest_paged:\n"
	"	mov 0x800, %eax\n"
	"	mov %eax, %cr3\n"          /* the set-up CR3 write: counted */
	"	mov %cr0, %eax\n"
	"	or $0x80000000, %eax\n"
	"	mov %eax, %cr0\n"          /* paging on */
	"	mov 0x804, %esi\n"
	"	test %esi, %esi\n"
	"	jz 2f\n"
	"1:	xor %eax, %eax\n"
	"	cpuid\n"
	"	dec %esi\n"
	"	jnz 1b\n"
	"2:	mov 0x808, %esi\n"
	"	mov 0x80c, %edx\n"
	"	test %esi, %esi\n"
	"	jz 4f\n"
	"3:	out %al, %dx\n"
	"	dec %esi\n"
	"	jnz 3b\n"
	"4:	mov 0x810, %esi\n"
	"	mov 0x818, %ebx\n"
	"	test %esi, %esi\n"
	"	jz 6f\n"
	"5:	invlpg (%ebx)\n"
	"	dec %esi\n"
	"	jnz 5b\n"
	"6:	mov 0x814, %esi\n"
	"	mov 0x800, %ecx\n"
	"	test %esi, %esi\n"
	"	jz 8f\n"
	"7:	mov %ecx, %cr3\n"
	"	dec %esi\n"
	"	jnz 7b\n"
	"8:	hlt\n"
	"	jmp 8b\n"
	"guest_paged_end:\n"
	".code64\n"
	".popsection\n");
extern const unsigned char guest_real[], guest_real_end[];
extern const unsigned char guest_paged[], guest_paged_end[];

enum mode { MODE_REAL, MODE_PAGED };

static struct {
	enum mode mode;
	unsigned vcpus;
	uint32_t n, m, k, l, port;
	const char *wait_file;
	unsigned timeout_s;
	unsigned id_stride;
	unsigned linger_ms; /* each vCPU thread (so the process) stays MS ms after hlt */
	/* interval-view case: the first slow_outs OUTs are held slow_ms in the
	 * VMM (slow exit->entry latency) */
	uint32_t slow_outs, slow_ms;
} opt = { .mode = MODE_REAL, .vcpus = 1, .port = 0x10, .timeout_s = 120, .id_stride = 1 };

/* Set by the watchdog; vCPU threads then leave KVM_RUN and report. */
static volatile sig_atomic_t timed_out;

static int kvm_fd, vm_fd;
static long run_size;
static unsigned char *mem;

/* Threads wait here until every vCPU exists and the start file appears. */
static pthread_mutex_t go_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static int go;

struct vcpu {
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thr;
	int ok;
	int done; /* set once the thread is finished */
};

static void on_kick(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

static void die(const char *what)
{
	fprintf(stderr, "vmm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vmm [--mode real|paged] [-n CPUIDS] [-m OUTS] [-k INVLPGS]\n"
		"           [-l CR3_WRITES] [--port P] [--vcpus V] [--wait-file F]\n"
		"           [--timeout SEC]  (default 120; 0 = none)\n"
		"           [-name guest=NAME,...] [--vcpu-id-stride S] [--linger-ms MS]\n"
		"           [--slow-outs N --slow-ms MS]\n");
	exit(2);
}

static uint32_t num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > 0xffffffffUL)
		usage();
	return (uint32_t)v;
}

static void setup_sregs(struct vcpu *v)
{
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
	if (opt.mode == MODE_REAL) {
		/* Reset state is real mode; only move CS:IP to our code. */
		s.cs.base = 0;
		s.cs.selector = 0;
	} else {
		/*
		 * Flat 32-bit protected mode set directly (no GDT walk in the
		 * guest); the guest turns paging on itself so that CR3 write
		 * is a real, intercepted instruction.
		 */
		struct kvm_segment code = {
			.base = 0, .limit = 0xffffffff, .selector = 0x8,
			.type = 11, .present = 1, .dpl = 0, .db = 1, .s = 1,
			.l = 0, .g = 1,
		};
		struct kvm_segment data = code;

		data.selector = 0x10;
		data.type = 3;
		s.cs = code;
		s.ds = s.es = s.fs = s.gs = s.ss = data;
		s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67,
			.selector = 0x18, .type = 11, .present = 1 };
		s.ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
		s.cr0 = 0x11; /* PE | ET */
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		die("KVM_SET_SREGS");

	struct kvm_regs r;

	memset(&r, 0, sizeof(r));
	r.rip = CODE_GPA;
	r.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

static void vcpu_body(struct vcpu *v)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	uint64_t io = 0;
	int kicked = 0; /* left KVM_RUN because of the watchdog */

	printf("vmm: vcpu=%u tid=%d\n", v->id, tid);
	fflush(stdout);

	pthread_mutex_lock(&go_mu);
	while (!go)
		pthread_cond_wait(&go_cv, &go_mu);
	pthread_mutex_unlock(&go_mu);

	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if ((errno == EINTR || errno == EAGAIN) && timed_out) {
				kicked = 1;
				break;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "vmm: vcpu %u: KVM_RUN: %s\n", v->id,
				strerror(errno));
			return;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			if (v->run->io.direction != KVM_EXIT_IO_OUT ||
			    v->run->io.port != opt.port) {
				fprintf(stderr, "vmm: vcpu %u: unexpected io port 0x%x dir %u\n",
					v->id, v->run->io.port, v->run->io.direction);
				return;
			}
			io += v->run->io.count;
			if (io <= opt.slow_outs) {
				struct timespec d = { (time_t)(opt.slow_ms / 1000), (long)(opt.slow_ms % 1000) * 1000000L };

				while (nanosleep(&d, &d) && errno == EINTR && !timed_out)
					;
			}
			continue;
		case KVM_EXIT_HLT:
			break;
		case KVM_EXIT_INTR:
			if (timed_out) {
				kicked = 1;
				break;
			}
			continue;
		default:
			fprintf(stderr, "vmm: vcpu %u: unexpected exit %u (hw 0x%llx)\n",
				v->id, v->run->exit_reason,
				(unsigned long long)v->run->hw.hardware_exit_reason);
			return;
		}
		break; /* hlt (or watchdog): never enter this vCPU again */
	}

	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		die("KVM_GET_REGS");
	if (kicked || io != opt.m || (uint32_t)r.rsi != 0) {
		fprintf(stderr, "vmm: vcpu %u:%s io=%llu (want %u) esi=%llu rip=0x%llx\n",
			v->id, kicked ? " TIMEOUT" : "", (unsigned long long)io,
			opt.m, (unsigned long long)r.rsi, (unsigned long long)r.rip);
		return;
	}
	printf("vmm: vcpu=%u tid=%d done io=%llu ok\n", v->id, tid,
	       (unsigned long long)io);
	fflush(stdout);
	v->ok = 1;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "CPU %u/KVM", v->id); /* QEMU's vCPU thread name */
	prctl(PR_SET_NAME, name);
	vcpu_body(v);
	if (opt.linger_ms) {
		const struct timespec linger = { opt.linger_ms / 1000, (opt.linger_ms % 1000) * 1000000L };

		nanosleep(&linger, NULL);
	}
	__atomic_store_n(&v->done, 1, __ATOMIC_RELEASE); /* for the watchdog, whatever the outcome */
	return NULL;
}

int main(int argc, char **argv)
{
	static struct vcpu vcpus[MAX_VCPUS];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		if (!val)
			usage();
		i++;
		if (!strcmp(a, "--mode")) {
			if (!strcmp(val, "real"))
				opt.mode = MODE_REAL;
			else if (!strcmp(val, "paged"))
				opt.mode = MODE_PAGED;
			else
				usage();
		} else if (!strcmp(a, "-n")) {
			opt.n = num(val);
		} else if (!strcmp(a, "-m")) {
			opt.m = num(val);
		} else if (!strcmp(a, "-k")) {
			opt.k = num(val);
		} else if (!strcmp(a, "-l")) {
			opt.l = num(val);
		} else if (!strcmp(a, "--port")) {
			opt.port = num(val);
			if (opt.port > 0xffff)
				usage();
		} else if (!strcmp(a, "--vcpus")) {
			opt.vcpus = num(val);
			if (opt.vcpus < 1 || opt.vcpus > MAX_VCPUS)
				usage();
		} else if (!strcmp(a, "--timeout")) {
			opt.timeout_s = num(val);
		} else if (!strcmp(a, "-name")) {
			/* QEMU's option; the name is read from /proc/PID/cmdline */
		} else if (!strcmp(a, "--vcpu-id-stride")) {
			opt.id_stride = num(val);
			if (opt.id_stride < 1 || opt.id_stride > 16)
				usage();
		} else if (!strcmp(a, "--linger-ms")) {
			opt.linger_ms = num(val);
		} else if (!strcmp(a, "--wait-file")) {
			opt.wait_file = val;
		} else if (!strcmp(a, "--slow-outs")) {
			opt.slow_outs = num(val);
		} else if (!strcmp(a, "--slow-ms")) {
			opt.slow_ms = num(val);
		} else {
			usage();
		}
	}
	/* The real-mode program has no invlpg / CR3 loops. */
	if (opt.mode == MODE_REAL && (opt.k || opt.l)) {
		fprintf(stderr, "vmm: -k/-l need --mode paged\n");
		return 2;
	}

	/* No SA_RESTART: the kick must interrupt KVM_RUN. */
	struct sigaction sa = { .sa_handler = on_kick };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction");

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("open /dev/kvm");
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "vmm: KVM API version mismatch\n");
		return 1;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM");
	/* Needed on VMX without unrestricted guest; a no-op on SVM. */
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
		die("KVM_SET_TSS_ADDR");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	struct guest_params p = {
		.cr3 = PD_GPA, .n = opt.n, .m = opt.m, .port = opt.port,
		.k = opt.k, .l = opt.l, .gva = INVLPG_GVA,
	};
	memcpy(mem + PARAMS_GPA, &p, sizeof(p));
	if (opt.mode == MODE_REAL)
		memcpy(mem + CODE_GPA, guest_real, (size_t)(guest_real_end - guest_real));
	else
		memcpy(mem + CODE_GPA, guest_paged, (size_t)(guest_paged_end - guest_paged));
	uint32_t *pd = (uint32_t *)(mem + PD_GPA), *pt = (uint32_t *)(mem + PT_GPA);
	pd[0] = PT_GPA | 0x3; /* present, writable */
	for (uint32_t i = 0; i < 1024; i++)
		pt[i] = (i << 12) | 0x3;

	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE");

	printf("vmm: pid=%d mode=%s vcpus=%u n=%u m=%u k=%u l=%u port=0x%x\n",
	       (int)getpid(), opt.mode == MODE_REAL ? "real" : "paged",
	       opt.vcpus, opt.n, opt.m, opt.k, opt.l, opt.port);
	fflush(stdout);

	for (unsigned i = 0; i < opt.vcpus; i++) {
		struct vcpu *v = &vcpus[i];

		v->id = i;
		v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)i * opt.id_stride);
		if (v->fd < 0)
			die("KVM_CREATE_VCPU");
		v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			die("mmap kvm_run");
		setup_sregs(v);
		errno = pthread_create(&v->thr, NULL, vcpu_thread, v);
		if (errno)
			die("pthread_create");
	}

	/* Start barrier: lets a runner attach exitmon -p to this pid first. */
	if (opt.wait_file) {
		struct stat st;
		const struct timespec tick = { 0, 5 * 1000 * 1000 };

		while (stat(opt.wait_file, &st) < 0)
			nanosleep(&tick, NULL);
	}
	pthread_mutex_lock(&go_mu);
	go = 1;
	pthread_cond_broadcast(&go_cv);
	pthread_mutex_unlock(&go_mu);

	/*
	 * Watchdog: a guest that never reaches hlt must fail with its state
	 * printed, not hang the test. Kick the vCPU threads out of KVM_RUN
	 * with a signal; they then dump their registers.
	 */
	struct timespec start, now;
	const struct timespec tick = { 0, 20 * 1000 * 1000 };

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		unsigned busy = 0;

		for (unsigned i = 0; i < opt.vcpus; i++)
			busy += !__atomic_load_n(&vcpus[i].done, __ATOMIC_ACQUIRE);
		if (!busy)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - start.tv_sec) +
			    (double)(now.tv_nsec - start.tv_nsec) / 1e9;

		if (opt.timeout_s && el >= opt.timeout_s) {
			timed_out = 1;
			for (unsigned i = 0; i < opt.vcpus; i++)
				if (!__atomic_load_n(&vcpus[i].done, __ATOMIC_ACQUIRE))
					pthread_kill(vcpus[i].thr, SIGUSR1);
		}
		nanosleep(&tick, NULL);
	}

	int ok = 1;

	for (unsigned i = 0; i < opt.vcpus; i++) {
		pthread_join(vcpus[i].thr, NULL);
		ok &= vcpus[i].ok;
	}
	return ok ? 0 : 1;
}
