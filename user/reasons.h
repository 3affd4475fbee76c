/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The one table of VMX and SVM exit reason names (Intel SDM, AMD APM). */
#ifndef EXITMON_REASONS_H
#define EXITMON_REASONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Flags of a reason. */
#define EM_REASON_IDLE 0x1 /* exit-to-entry time is mostly the vCPU idling (HLT, MWAIT) */

struct em_reason {
	uint32_t code;
	const char *name;  /* upper case, as the kernel's tracepoint prints it */
	const char *descr; /* short human description */
	unsigned flags;
};

/* "vmx"/"svm" <-> EM_ISA_*; 0 / NULL when unknown. */
uint32_t em_isa_from_name(const char *s);
const char *em_isa_name(uint32_t isa);

/* Known reasons of an isa, in code order; *n set to the count. */
const struct em_reason *em_reasons(uint32_t isa, size_t *n);

/* Entry of an exact code (VMX: basic reason with no flag bits), or NULL. */
const struct em_reason *em_reason_lookup(uint32_t isa, uint32_t code);

/*
 * Display name of any raw code into buf: the table name, VMX flag bits
 * appended ("INVALID_STATE|FAILED_VMENTRY"), "UNKNOWN_0x1234" otherwise.
 */
const char *em_reason_name(uint32_t isa, uint32_t code, char *buf, size_t len);

/* True when the code's latency is mostly idling (HLT and the like). */
bool em_reason_is_idle(uint32_t isa, uint32_t code);

/*
 * Parses "14", "0x7b", "INVLPG", "npf" (case-insensitive) for isa.
 * Returns 0 and sets *code, or -1 with a message naming close matches in
 * err (e.g. "unknown svm exit reason 'invlgp' (did you mean INVLPG?)").
 */
int em_reason_parse(uint32_t isa, const char *s, uint32_t *code, char *err, size_t errlen);

#endif
