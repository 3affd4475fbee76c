// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Benchmark driver programs around the aggregation core, compiled several
 * times with different knobs (tests/bench/bench.mk):
 *   EMB_REAL        use the real bpf/aggregate.bpf.h (else the knob copy
 *                   variants/aggregate_variant.bpf.h, see its header)
 *   EMB_LAZY_VCPU   raw_tp handlers read vcpu->vcpu_id only when a vCPU
 *                   filter or --per-vcpu needs it (probe reads saved)
 * Programs:
 *   run_event       SEC("raw_tp"), BPF_PROG_TEST_RUN ctx as in bpf/exitmon_test.bpf.c
 *   pair_tc         SEC("tc"): one exit + entry pair per run, so that the
 *                   `repeat` loop of BPF_PROG_TEST_RUN can time it (raw_tp
 *                   test runs reject `repeat`); empty_tc is its floor
 *   handle_*_raw    the same as bpf/exitmon.bpf.c's raw_tp handlers
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#ifdef EMB_REAL
#include "aggregate.bpf.h"
#else
#include "aggregate_variant.bpf.h"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp")
int run_event(__u64 *ctx)
{
	if (ctx[0] == 0)
		em_on_exit(ctx[1], ctx[2], ctx[3], ctx[4], ctx[5]);
	else
		em_on_entry(ctx[1], ctx[4], ctx[5]);
	return 0;
}

#ifndef EMB_TASK_STORAGE
/* One exit+entry pair per run, times from the real clock like the handlers. */
SEC("tc")
int pair_tc(struct __sk_buff *skb)
{
	__u64 pid_tgid = (1000ULL << 32) | 1001, t = bpf_ktime_get_ns();

	em_on_exit(pid_tgid, EM_ISA_SVM, 0x72, 0, t);
	em_on_entry(pid_tgid, 0, bpf_ktime_get_ns() + (t & 4095));
	return 0;
}

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return 0;
}

/*
 * Pieces of a pair, one per program, to see where pair_tc's time goes.
 * Each does what a pair does of one kind: the two clock reads, the two
 * lookups of the pending hash, the four per-CPU array lookups (stats and
 * counters, exit and entry), the latency update with its histogram math.
 * Built from the knob copy (EMB_VARIANT), whose pending-map macros they use.
 */
#ifdef EMB_VARIANT
volatile __u64 emb_sink;

SEC("tc")
int piece_clock(struct __sk_buff *skb)
{
	emb_sink += bpf_ktime_get_ns() + bpf_ktime_get_ns();
	return 0;
}

SEC("tc")
int piece_pending(struct __sk_buff *skb)
{
	__u32 tid = 1001;
	struct em_pending np = { .ts = 1 }, *p = EMB_PENDING_GET(&tid);

	if (!p) {
		EMB_PENDING_NEW(&tid, &np);
		return 0;
	}
	p->ts = 2;
	p = EMB_PENDING_GET(&tid);
	if (p)
		p->ts = 0;
	return 0;
}

SEC("tc")
int piece_arrays(struct __sk_buff *skb)
{
	__u32 slot = EM_SVM_BASE + 0x72;
	struct em_stats *st = bpf_map_lookup_elem(&stats, &slot);

	if (st)
		st->count++;
	em_count(EM_CNT_EXITS);
	em_count(EM_CNT_ENTRIES);
	st = bpf_map_lookup_elem(&stats, &slot);
	if (st)
		st->lat_count++;
	return 0;
}

SEC("tc")
int piece_latency(struct __sk_buff *skb)
{
	__u32 slot = EM_SVM_BASE + 0x72;
	struct em_stats *st = bpf_map_lookup_elem(&stats, &slot);
	__u64 t = bpf_ktime_get_ns();

	if (st)
		em_add_latency(st, 500 + (t & 4095));
	return 0;
}
#endif /* EMB_VARIANT */
#endif

/* --- raw_tp handlers: a copy of bpf/exitmon.bpf.c's, SVM part only ---- */
struct vmcb_control_area___em {
	u32 exit_code;
} __attribute__((preserve_access_index));

struct vmcb___em {
	struct vmcb_control_area___em control;
} __attribute__((preserve_access_index));

struct vcpu_svm___em {
	struct kvm_vcpu vcpu;
	struct vmcb___em *vmcb;
} __attribute__((preserve_access_index));

static __always_inline u32 em_vcpu_exit_reason(struct kvm_vcpu *vcpu, u32 isa)
{
	u32 reason = 0xffffffff;

	if (isa == EM_ISA_SVM && bpf_core_type_exists(struct vcpu_svm___em)) {
		struct vcpu_svm___em *svm = (void *)vcpu -
			bpf_core_field_offset(struct vcpu_svm___em, vcpu);

		reason = BPF_CORE_READ(svm, vmcb, control.exit_code);
	}
	return reason;
}

#ifdef EMB_LAZY_VCPU
#define EXIT_VCPU(v) ((filter_vcpu != EM_ANY_VCPU || breakdown_vcpu) ? BPF_CORE_READ(v, vcpu_id) : EM_ANY_VCPU)
#define ENTRY_VCPU(v) (filter_vcpu != EM_ANY_VCPU ? BPF_CORE_READ(v, vcpu_id) : EM_ANY_VCPU)
#else
#define EXIT_VCPU(v) BPF_CORE_READ(v, vcpu_id)
#define ENTRY_VCPU(v) BPF_CORE_READ(v, vcpu_id)
#endif

SEC("raw_tp/kvm_exit")
int BPF_PROG(handle_exit_raw, struct kvm_vcpu *vcpu, u32 isa)
{
	em_on_exit(bpf_get_current_pid_tgid(), isa, em_vcpu_exit_reason(vcpu, isa),
		   EXIT_VCPU(vcpu), bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/kvm_entry")
int BPF_PROG(handle_entry_raw, struct kvm_vcpu *vcpu)
{
	em_on_entry(bpf_get_current_pid_tgid(), ENTRY_VCPU(vcpu), bpf_ktime_get_ns());
	return 0;
}
