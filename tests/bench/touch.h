/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layout of the address log of tests/bench/touch.bpf.c (exitmon's raw_tp
 * handlers with their map look-ups and probe reads recorded), shared with
 * embench, which dumps it (`touch` lines). Bench only.
 */
#ifndef EMB_TOUCH_H
#define EMB_TOUCH_H

#define EMB_TOUCH_FIRST 1000 /* pairs skipped: first exits claim rows and slots */
#define EMB_TOUCH_PAIRS 8    /* exit+entry pairs recorded after them */
#define EMB_TOUCH_SLOTS 48   /* accesses recorded per pair */
#define EMB_TOUCH_MAGIC 0x656d62746f756368ULL

enum emb_touch_kind {
	EMB_T_STACK = 1, /* the BPF stack (a local's address) */
	EMB_T_RODATA,    /* filters and options read on the path */
	EMB_T_PROBE,     /* bpf_probe_read_kernel source: vcpu_svm.vmcb, vmcb exit_code */
	EMB_T_PENDING_FAST,
	EMB_T_PENDING,
	EMB_T_THREAD_GEN,
	EMB_T_ROW_OF,
	EMB_T_OTHER_ROW,
	EMB_T_STATS,      /* count at exit; lat_count..lat_max at entry */
	EMB_T_STATS_HIST, /* the histogram bucket the entry adds to */
	EMB_T_COUNTERS,
	EMB_T_MAP_OTHER, /* a look-up in any other map (breakdown) */
	EMB_T__MAX,
};

struct emb_touch {
	__u64 addr;
	__u32 size;
	__u16 kind;
	__u16 side; /* 0: exit handler, 1: entry handler */
};

struct emb_touch_log {
	__u64 magic;
	__u64 pairs;   /* entries seen; pair k is the exit before entry k and that entry */
	__u64 exit_ts; /* now of the last exit: the entry's latency gives the bucket */
	__u64 last_stats;
	__u32 side;
	__u32 pad;
	__u32 n[EMB_TOUCH_PAIRS];
	struct emb_touch t[EMB_TOUCH_PAIRS * EMB_TOUCH_SLOTS]; /* pair p at p * EMB_TOUCH_SLOTS */
};

#endif
