// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Reference programs for `make bench` (tests/bench/README in
 * docs/performance.md): what exitmon's handlers are compared with.
 *  - empty_*:   do nothing; the floor of a BPF program on that hook.
 *  - count_*:   one per-CPU array increment indexed by the exit reason,
 *               the way bcc's kvmexit counts (no latency, no pairing).
 * Test-run flavours (SEC("raw_tp"), ctx as in bpf/exitmon_test.bpf.c) and
 * attachable flavours on the kvm tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} exit_counts SEC(".maps");

static __always_inline void count_reason(__u32 reason)
{
	__u32 k = reason & 4095; /* SVM codes up to 0x403 and VMX basic reasons fit */
	__u64 *c = bpf_map_lookup_elem(&exit_counts, &k);

	if (c)
		(*c)++;
}

/* --- BPF_PROG_TEST_RUN flavours ---------------------------------- */
SEC("raw_tp")
int empty_run(__u64 *ctx)
{
	return 0;
}

SEC("raw_tp")
int count_run(__u64 *ctx)
{
	if (ctx[0] == 0)
		count_reason(ctx[3]);
	return 0;
}

/* --- attachable flavours ----------------------------------------- */
SEC("raw_tp/kvm_exit")
int empty_exit_raw(void *ctx)
{
	return 0;
}

SEC("raw_tp/kvm_entry")
int empty_entry_raw(void *ctx)
{
	return 0;
}

/* bcc kvmexit style: classic tracepoint, count by exit_reason, exit only. */
SEC("tp/kvm/kvm_exit")
int count_exit_tp(struct trace_event_raw_kvm_exit *ctx)
{
	count_reason(ctx->exit_reason);
	return 0;
}

/*
 * The price of a page under TCG: an exit program that writes one u64 in
 * each of K distinct pages (elements of a page-sized ARRAY), nothing else.
 * (T_touch16 - T_empty_raw) / 16 per exit is what one more distinct page
 * touched per exit costs the guest in the rig.
 */
struct emb_page {
	__u64 v[512];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct emb_page);
} pages SEC(".maps");

static __always_inline void touch_pages(__u32 k)
{
	for (__u32 i = 0; i < k && i < 16; i++) {
		__u32 key = i;
		struct emb_page *p = bpf_map_lookup_elem(&pages, &key);

		if (p)
			p->v[0]++;
	}
}

SEC("raw_tp/kvm_exit")
int touch4_exit(void *ctx)
{
	touch_pages(4);
	return 0;
}

SEC("raw_tp/kvm_exit")
int touch16_exit(void *ctx)
{
	touch_pages(16);
	return 0;
}

/*
 * A second empty pair, held on the kvm tracepoints for a whole boot under
 * multi-threaded TCG (bench.sh BENCH_HOLD): with two probes on a tracepoint,
 * attaching or detaching a third patches no kernel text (no static key or
 * static call update), and text patching is what freezes a two-vCPU L1
 * under MTTCG (/work/shared/docs/nested-kvm.md).
 */
SEC("raw_tp/kvm_exit")
int hold_exit_raw(void *ctx)
{
	return 0;
}

SEC("raw_tp/kvm_entry")
int hold_entry_raw(void *ctx)
{
	return 0;
}
