// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Benchmark programs around exitmon's real aggregation core
 * (bpf/aggregate.bpf.h), run with BPF_PROG_TEST_RUN's `repeat` loop, which
 * raw_tp test runs reject:
 *   pair_tc    one exit + entry pair per run, real clock like the handlers
 *   empty_tc   its floor
 *   piece_*    one kind of a pair's work each, to see where the time goes
 * Earlier variants of the core (task storage, no counters, lazy vCPU id,
 * direct-mapped pending) were measured with a copy of the core; the winner
 * is now the core itself, and the figures are in docs/performance.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "aggregate.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* a struct kvm_vcpu address, the pending key of raw_tp */
#define EMB_VCPU 0xffff888123454000ULL

SEC("tc")
int pair_tc(struct __sk_buff *skb)
{
	__u64 pid_tgid = (1000ULL << 32) | 1001, t = bpf_ktime_get_ns();

	em_on_exit(pid_tgid, EM_ISA_SVM, 0x72, 0, EMB_VCPU, t);
	em_on_entry(pid_tgid, 0, EMB_VCPU, bpf_ktime_get_ns() + (t & 4095));
	return 0;
}

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return 0;
}

volatile __u64 emb_sink;

SEC("tc")
int piece_clock(struct __sk_buff *skb)
{
	emb_sink += bpf_ktime_get_ns() + bpf_ktime_get_ns();
	return 0;
}

/* The two pending look-ups of a pair (exit claims, entry finds). */
SEC("tc")
int piece_pending(struct __sk_buff *skb)
{
	bool in_lru;
	struct em_pending *p = em_pending_find(EMB_VCPU, true, &in_lru);

	if (p)
		p->ts = 2;
	p = em_pending_find(EMB_VCPU, false, &in_lru);
	if (p)
		p->ts = 0;
	return 0;
}

SEC("tc")
int piece_arrays(struct __sk_buff *skb)
{
	__u32 slot = 1; /* a claimed row */
	struct em_kstats *st = bpf_map_lookup_elem(&stats, &slot);

	if (st)
		st->count++;
	st = bpf_map_lookup_elem(&stats, &slot);
	if (st)
		st->lat_count++;
	return 0;
}

SEC("tc")
int piece_latency(struct __sk_buff *skb)
{
	__u32 slot = 1; /* a claimed row */
	struct em_kstats *st = bpf_map_lookup_elem(&stats, &slot);
	__u64 t = bpf_ktime_get_ns();

	if (st)
		em_kstats_add_latency(st, 500 + (t & 4095));
	return 0;
}
