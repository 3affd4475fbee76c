/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The kernel's rows (struct em_kstats: u32 buckets, per CPU) back into
 * exact user-space stats (struct em_stats): sums over CPUs plus the
 * carries of buckets that wrapped (the hist_carry map). Pure: the
 * collector reads the maps, unit tests feed arrays.
 */
#ifndef EXITMON_KSTATS_H
#define EXITMON_KSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "exitmon.h"

/* dst += src, every u32 bucket widened to u64. */
void em_kstats_add(struct em_stats *dst, const struct em_kstats *src);

struct em_carry {
	struct em_carry_key key;
	uint64_t n; /* times the bucket passed 2^32 */
};

/* The hist_carry map as read at one moment, sorted for lookups. */
struct em_carries {
	struct em_carry *v;
	size_t n, cap;
};

/* Appends one entry (any order); 0 or -ENOMEM. */
int em_carries_push(struct em_carries *c, const struct em_carry_key *key, uint64_t n);
/* Sorts the entries: call once after the pushes, before em_carries_apply(). */
void em_carries_sort(struct em_carries *c);
/* Same entries and values (both sorted)? */
bool em_carries_equal(const struct em_carries *a, const struct em_carries *b);
/* Adds key's carries (n x 2^32 in its bucket) to st's histogram. */
void em_carries_apply(const struct em_carries *c, const struct em_key *key, struct em_stats *st);
/* The carry key of stats row `row` (bpf/exitmon.h, struct em_carry_key). */
struct em_key em_carry_row_key(uint32_t row);
void em_carries_free(struct em_carries *c);

#endif
