/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Snapshots: one run (struct em_snapshot) saved to / loaded from a JSON
 * file. The format is described in docs/snapshots.md.
 *
 * All functions return 0 on success or a negative errno value:
 *   -EINVAL  the data is not a valid snapshot (message in err)
 *   -EEXIST  save without force and the target exists
 *   -ENOMEM  out of memory
 *   other    the system call that failed (message in err)
 * err receives one line without the file name (the caller prefixes it);
 * err may be NULL or errlen 0.
 */
#ifndef EXITMON_SNAPSHOT_H
#define EXITMON_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include "model.h"

/* jansson stays out of every includer: users of em_snapshot_to_json()
 * include <jansson.h> themselves (C11 allows the repeated typedef). */
typedef struct json_t json_t;

#define EM_SNAPSHOT_FORMAT "exitmon-snapshot"
/* hist_layout.scheme of version 2 files: the family of struct em_hist_layout */
#define EM_SNAPSHOT_HIST_SCHEME "hdr-log2"
/*
 * Files larger than this are refused on load, before they are read (a
 * real one is < 10 MiB; docs/files.md).
 */
#define EM_SNAPSHOT_MAX_BYTES (64u << 20)
/* Parsing may take at most this many times the file's size (plus 1 MiB) in memory. */
#define EM_PARSE_MEM_FACTOR 24
/*
 * At most this many rows. A live run holds the dense slots plus at most
 * --max-keys breakdown keys and their per-VM sums; 2^20 leaves room for
 * that and is about what EM_SNAPSHOT_MAX_BYTES of compact rows can hold.
 */
#define EM_SNAPSHOT_MAX_ROWS (1u << 20)

/*
 * Writes s to path atomically through safefile.c (docs/files.md): the
 * target is checked and a temporary created in its directory first, then
 * the temporary is written, synced and linked into place. Without force
 * an existing path is never replaced, not even by a racing writer:
 * -EEXIST. With force only a regular file or a symlink (the link itself)
 * is replaced. On any failure an existing file is left as it was and no
 * temporary is left behind.
 */
int em_snapshot_save(const char *path, const struct em_snapshot *s, bool force,
		     char *err, size_t errlen);

/* Same into a target opened (and so checked) earlier with em_safefile_open(). */
struct em_safefile;
int em_snapshot_save_file(struct em_safefile *f, const struct em_snapshot *s, char *err, size_t errlen);

/*
 * Reads and validates a snapshot. *s is overwritten (free a previous
 * one first) and must be freed with em_snapshot_free() on success; on
 * failure it is left empty (initialised, nothing to free).
 */
int em_snapshot_load(const char *path, struct em_snapshot *s, char *err, size_t errlen);

/* Same from memory (buf need not be NUL-terminated). */
int em_snapshot_parse(const char *buf, size_t len, struct em_snapshot *s,
		      char *err, size_t errlen);

/*
 * The JSON document of s (new reference, json_decref() it), or NULL with
 * err set when s cannot be represented (a value above INT64_MAX, more
 * than EM_MAX_PARAMS / EM_MAX_FILTER_REASONS entries, a duplicate KVM
 * parameter name) or on ENOMEM.
 */
json_t *em_snapshot_to_json(const struct em_snapshot *s, char *err, size_t errlen);

/* Field-by-field equality of two snapshots (rows in the same order). */
bool em_snapshot_equal(const struct em_snapshot *a, const struct em_snapshot *b);

/*
 * Test hook: when set, called by em_snapshot_save() after the temporary
 * file is written and synced and before the rename; a non-zero return
 * makes the save fail there as if that step had failed (with that value
 * as -errno if negative, -EIO otherwise). NULL in production.
 */
extern int (*em_snapshot_save_hook)(const char *tmp_path, const char *path);
/*
 * Test hooks of the loader: em_snapshot_whole_tree makes it parse the
 * document as one jansson tree, the reference its rows-apart path must
 * match; em_snapshot_plain_rows counts the rows read without jansson.
 * Per thread, as the parse's memory budget.
 */
extern _Thread_local bool em_snapshot_whole_tree;
extern _Thread_local unsigned long em_snapshot_plain_rows;

#endif
