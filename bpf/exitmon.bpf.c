// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exitmon: KVM exit counts and exit-handling latency, per (isa, reason).
 *
 * Three attach flavours of the same aggregation (aggregate.bpf.h); user
 * space loads exactly one pair, plus the thread-exit hook (see
 * docs/design.md for why, the numbers and which kernel gets which):
 *  - raw_tp: cheapest; the vCPU pointer is the pending key. On 5.16+
 *    (kvm_exit(vcpu, isa)) it reads the exit reason from the vendor's vCPU
 *    struct via CO-RE (vcpu_svm->vmcb->control.exit_code or
 *    vcpu_vmx->exit_reason.full), so it needs that type in kernel BTF;
 *    before 5.16 (kvm_exit(exit_reason, vcpu, isa)) the reason is an
 *    argument. User space picks the layout from the FUNC_PROTO in BTF.
 *  - tp (classic tracepoint): reads the fields KVM's tracepoint
 *    computed, located by CO-RE in the kvm module's BTF;
 *  - tp_format: the same tracepoints for kvm modules without BTF; field
 *    offsets come from tracefs events/kvm/kvm_{exit,entry}/format.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "aggregate.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* raw_tp kvm_exit arguments are (exit_reason, vcpu, isa), before 5.16 */
const volatile bool kvm_exit_old_layout = false;

/* tp_format: byte offsets of the fields in the trace record (from tracefs) */
const volatile __u32 tpf_exit_reason_off = 0;
const volatile __u32 tpf_exit_isa_off = 0;
const volatile __u32 tpf_exit_vcpu_off = 0;
const volatile __u32 tpf_entry_vcpu_off = 0;

/* --- classic tracepoints ------------------------------------------- */

SEC("tp/kvm/kvm_exit")
int handle_exit_tp(struct trace_event_raw_kvm_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	em_on_exit(pid_tgid, ctx->isa, ctx->exit_reason, ctx->vcpu_id,
		   EM_VCPU_KEY(pid_tgid >> 32, ctx->vcpu_id), bpf_ktime_get_ns());
	return 0;
}

SEC("tp/kvm/kvm_entry")
int handle_entry_tp(struct trace_event_raw_kvm_entry *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	em_on_entry(pid_tgid, ctx->vcpu_id, EM_VCPU_KEY(pid_tgid >> 32, ctx->vcpu_id),
		    bpf_ktime_get_ns());
	return 0;
}

/* A u32 field of the trace record at a tracefs-given offset. */
static __always_inline __u32 em_tpf_field(void *ctx, __u32 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}

SEC("tp/kvm/kvm_exit")
int handle_exit_tpf(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 vcpu = em_tpf_field(ctx, tpf_exit_vcpu_off);

	em_on_exit(pid_tgid, em_tpf_field(ctx, tpf_exit_isa_off),
		   em_tpf_field(ctx, tpf_exit_reason_off), vcpu,
		   EM_VCPU_KEY(pid_tgid >> 32, vcpu), bpf_ktime_get_ns());
	return 0;
}

SEC("tp/kvm/kvm_entry")
int handle_entry_tpf(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 vcpu = em_tpf_field(ctx, tpf_entry_vcpu_off);

	em_on_entry(pid_tgid, vcpu, EM_VCPU_KEY(pid_tgid >> 32, vcpu), bpf_ktime_get_ns());
	return 0;
}

/* --- raw tracepoints ------------------------------------------------ */

/*
 * Minimal CO-RE views of the vendor structs (they live in kvm_amd /
 * kvm_intel BTF, not in vmlinux.h). The ___em suffix is dropped when
 * matching, so fields are relocated against the running kernel.
 */
struct vmcb_control_area___em {
	u32 exit_code; /* low half on kernels where it is u64 (x86 is little endian) */
} __attribute__((preserve_access_index));

struct vmcb___em {
	struct vmcb_control_area___em control;
} __attribute__((preserve_access_index));

struct vcpu_svm___em {
	struct kvm_vcpu vcpu;
	struct vmcb___em *vmcb;
} __attribute__((preserve_access_index));

union vmx_exit_reason___em {
	u32 full;
} __attribute__((preserve_access_index));

/* Since Linux 6.16 the exit reason moved into struct vcpu_vt (shared with TDX). */
struct vcpu_vt___em {
	union vmx_exit_reason___em exit_reason;
} __attribute__((preserve_access_index));

struct vcpu_vmx___em {
	struct kvm_vcpu vcpu;
	union vmx_exit_reason___em exit_reason;
	struct vcpu_vt___em vt;
} __attribute__((preserve_access_index));

static __always_inline u32 em_vcpu_exit_reason(struct kvm_vcpu *vcpu, u32 isa)
{
	u32 reason = 0xffffffff;

	if (isa == EM_ISA_SVM) {
		if (bpf_core_type_exists(struct vcpu_svm___em)) {
			struct vcpu_svm___em *svm = (void *)vcpu -
				bpf_core_field_offset(struct vcpu_svm___em, vcpu);

			reason = BPF_CORE_READ(svm, vmcb, control.exit_code);
		}
	} else if (isa == EM_ISA_VMX) {
		if (bpf_core_type_exists(struct vcpu_vmx___em)) {
			struct vcpu_vmx___em *vmx = (void *)vcpu -
				bpf_core_field_offset(struct vcpu_vmx___em, vcpu);

			if (bpf_core_field_exists(vmx->vt))
				reason = BPF_CORE_READ(vmx, vt.exit_reason.full);
			else
				reason = BPF_CORE_READ(vmx, exit_reason.full);
		}
	}
	return reason;
}

/* vcpu_id costs a probe read on raw_tp: only the vCPU filter and the breakdown need it. */
static __always_inline u32 em_vcpu_id(struct kvm_vcpu *vcpu)
{
	if (filter_vcpu == EM_ANY_VCPU && !breakdown_vcpu && !breakdown_vm)
		return EM_ANY_VCPU;
	return BPF_CORE_READ(vcpu, vcpu_id);
}

/* Both layouts; the rodata flag is fixed at load, the verifier drops the other branch. */
SEC("raw_tp/kvm_exit")
int handle_exit_raw(__u64 *ctx)
{
	struct kvm_vcpu *vcpu;
	u32 isa, reason;

	if (kvm_exit_old_layout) {
		reason = ctx[0];
		vcpu = (void *)ctx[1];
		isa = ctx[2];
	} else {
		vcpu = (void *)ctx[0];
		isa = ctx[1];
		reason = em_vcpu_exit_reason(vcpu, isa);
	}
	em_on_exit(bpf_get_current_pid_tgid(), isa, reason, em_vcpu_id(vcpu), (__u64)vcpu,
		   bpf_ktime_get_ns());
	return 0;
}

/* kvm_entry(vcpu) since 5.10, (vcpu, force_immediate_exit) since 6.9 */
SEC("raw_tp/kvm_entry")
int handle_entry_raw(__u64 *ctx)
{
	struct kvm_vcpu *vcpu = (void *)ctx[0];
	/* the entry needs the id only for --vcpu; a breakdown takes the exit's */
	u32 id = filter_vcpu == EM_ANY_VCPU ? EM_ANY_VCPU : BPF_CORE_READ(vcpu, vcpu_id);

	em_on_entry(bpf_get_current_pid_tgid(), id, (__u64)vcpu, bpf_ktime_get_ns());
	return 0;
}

/* --- thread exit: kills the records the thread made ------------------ */

/* runs in the exiting task, so current's tid is the one that exits */
SEC("raw_tp/sched_process_exit")
int handle_thread_exit(__u64 *ctx)
{
	em_on_thread_exit(bpf_get_current_pid_tgid());
	return 0;
}
