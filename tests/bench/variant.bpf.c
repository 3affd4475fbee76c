// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * exitmon's real handlers (bpf/exitmon.bpf.c) over a patched copy of
 * bpf/aggregate.bpf.h: build/bench/variant-NAME/aggregate.bpf.h =
 * bpf/aggregate.bpf.h + tests/bench/NAME.patch (bench.mk), found first on
 * the include path; exitmon.bpf.c's own include of the original is then a
 * no-op (same include guard). Bench only: measures a proposed change to
 * the core before it is made (rig config v_NAME; v_base = the unpatched
 * object, loaded the same way).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "aggregate.bpf.h"
/* the handlers, or the BPF tier's test driver (-DEMB_TEST_DRIVER) */
#ifdef EMB_TEST_DRIVER
#include "exitmon_test.bpf.c"
#else
#include "exitmon.bpf.c"
#endif
