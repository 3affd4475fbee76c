// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Test driver for the aggregation core: a raw_tp program run with
 * BPF_PROG_TEST_RUN whose context carries a synthetic event, fed to the
 * very same em_on_exit()/em_on_entry() as the real handlers.
 * ctx: [0] op (0 exit, 1 entry, 2 thread exit), [1] pid_tgid, [2] isa,
 *      [3] reason, [4] vcpu id, [5] timestamp ns, [6] vCPU key (as the
 *      struct kvm_vcpu * of raw_tp; 0 = EM_VCPU_KEY(tgid, vcpu id) as tp).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "aggregate.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp")
int run_event(__u64 *ctx)
{
	__u64 key = ctx[6] ? ctx[6] : EM_VCPU_KEY(ctx[1] >> 32, ctx[4]);

	if (ctx[0] == 0)
		em_on_exit(ctx[1], ctx[2], ctx[3], ctx[4], key, ctx[5]);
	else if (ctx[0] == 1)
		em_on_entry(ctx[1], ctx[4], key, ctx[5]);
	else
		em_on_thread_exit(ctx[1]);
	return 0;
}
