// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exitmon: KVM exit counts and exit-handling latency, per (isa, reason).
 *
 * Two attach flavours of the same aggregation (aggregate.bpf.h); user
 * space loads exactly one pair (see docs/design.md for why and the numbers):
 *  - raw_tp: cheapest; reads the exit reason from the vendor's vCPU
 *    struct via CO-RE (vcpu_svm->vmcb->control.exit_code or
 *    vcpu_vmx->exit_reason.full), so it needs that type in kernel BTF.
 *  - tp (classic tracepoint): reads the fields KVM's tracepoint
 *    computed; works wherever the kvm tracepoints exist.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "aggregate.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --- classic tracepoints ------------------------------------------- */

SEC("tp/kvm/kvm_exit")
int handle_exit_tp(struct trace_event_raw_kvm_exit *ctx)
{
	em_on_exit(bpf_get_current_pid_tgid(), ctx->isa, ctx->exit_reason, ctx->vcpu_id,
		   bpf_ktime_get_ns());
	return 0;
}

SEC("tp/kvm/kvm_entry")
int handle_entry_tp(struct trace_event_raw_kvm_entry *ctx)
{
	em_on_entry(bpf_get_current_pid_tgid(), ctx->vcpu_id, bpf_ktime_get_ns());
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

/* vcpu_id costs a probe read on raw_tp: only the vCPU filter and --per-vcpu need it. */
static __always_inline u32 em_vcpu_id(struct kvm_vcpu *vcpu)
{
	if (filter_vcpu == EM_ANY_VCPU && !breakdown_vcpu)
		return EM_ANY_VCPU;
	return BPF_CORE_READ(vcpu, vcpu_id);
}

SEC("raw_tp/kvm_exit")
int BPF_PROG(handle_exit_raw, struct kvm_vcpu *vcpu, u32 isa)
{
	em_on_exit(bpf_get_current_pid_tgid(), isa, em_vcpu_exit_reason(vcpu, isa),
		   em_vcpu_id(vcpu), bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/kvm_entry")
int BPF_PROG(handle_entry_raw, struct kvm_vcpu *vcpu)
{
	em_on_entry(bpf_get_current_pid_tgid(), em_vcpu_id(vcpu), bpf_ktime_get_ns());
	return 0;
}
