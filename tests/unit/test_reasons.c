// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of user/reasons.c against the Intel SDM and AMD APM numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/types.h>

#include "bpf/exitmon.h"
#include "user/reasons.h"
/* The kernel's own lists (linux-libc-dev): VMX_EXIT_REASONS, SVM_EXIT_REASONS. */
#include <asm/kvm.h> /* the exception vectors SVM_EXIT_REASONS names */
#include <asm/vmx.h>
#include <asm/svm.h>

static const char *name_of(uint32_t isa, uint32_t code)
{
	static char buf[128];

	return em_reason_name(isa, code, buf, sizeof(buf));
}

static uint32_t parse_ok(uint32_t isa, const char *s)
{
	uint32_t code = 0xdeadbeef;
	char err[256] = "";

	if (em_reason_parse(isa, s, &code, err, sizeof(err)) != 0)
		fail_msg("parse '%s' failed: %s", s, err);
	return code;
}

static void parse_err(uint32_t isa, const char *s, const char *want)
{
	uint32_t code = 0xdeadbeef;
	char err[256] = "";

	assert_int_equal(em_reason_parse(isa, s, &code, err, sizeof(err)), -1);
	assert_int_equal(code, 0xdeadbeef);
	assert_string_equal(err, want);
}

static void test_isa(void **state)
{
	(void)state;
	assert_int_equal(em_isa_from_name("vmx"), EM_ISA_VMX);
	assert_int_equal(em_isa_from_name("Intel"), EM_ISA_VMX);
	assert_int_equal(em_isa_from_name("svm"), EM_ISA_SVM);
	assert_int_equal(em_isa_from_name("AMD"), EM_ISA_SVM);
	assert_int_equal(em_isa_from_name("arm"), 0);
	assert_int_equal(em_isa_from_name(""), 0);
	assert_int_equal(em_isa_from_name(NULL), 0);
	assert_string_equal(em_isa_name(EM_ISA_VMX), "vmx");
	assert_string_equal(em_isa_name(EM_ISA_SVM), "svm");
	assert_null(em_isa_name(0));
	assert_null(em_isa_name(3));

	size_t n = 42;
	assert_null(em_reasons(0, &n));
	assert_int_equal(n, 0);
	assert_null(em_reason_lookup(7, 10));
}

static void check_table(uint32_t isa)
{
	size_t n;
	const struct em_reason *t = em_reasons(isa, &n);

	assert_non_null(t);
	assert_true(n > 50);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_non_null(t[i].descr);
		assert_true(t[i].name[0] && t[i].descr[0]);
		for (const char *p = t[i].name; *p; p++)
			assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_');
		assert_int_equal(t[i].flags & ~EM_REASON_IDLE, 0);
		if (i)
			assert_true(t[i - 1].code < t[i].code); /* sorted, no duplicate */
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(t[i].name, t[j].name))
				fail_msg("duplicate name %s", t[i].name);
		assert_ptr_equal(em_reason_lookup(isa, t[i].code), &t[i]);
		/* names round-trip, in any case */
		assert_int_equal(parse_ok(isa, t[i].name), t[i].code);
		char lower[64];
		size_t k;
		for (k = 0; t[i].name[k] && k < sizeof(lower) - 1; k++)
			lower[k] = (char)tolower((unsigned char)t[i].name[k]);
		lower[k] = '\0';
		assert_int_equal(parse_ok(isa, lower), t[i].code);
		/* numbers round-trip, decimal and hex */
		char num[32];
		snprintf(num, sizeof(num), "%u", t[i].code);
		assert_int_equal(parse_ok(isa, num), t[i].code);
		snprintf(num, sizeof(num), "0x%x", t[i].code);
		assert_int_equal(parse_ok(isa, num), t[i].code);
		assert_string_equal(name_of(isa, t[i].code), t[i].name);
	}
}

static void test_tables(void **state)
{
	(void)state;
	size_t nv, ns;

	check_table(EM_ISA_VMX);
	check_table(EM_ISA_SVM);
	const struct em_reason *v = em_reasons(EM_ISA_VMX, &nv);
	const struct em_reason *s = em_reasons(EM_ISA_SVM, &ns);
	/* every code has a dense slot in the BPF stats array (see exitmon.h) */
	assert_true(v[nv - 1].code < EM_VMX_SLOTS);
	for (size_t i = 0; i < ns; i++)
		assert_true(s[i].code <= 0xff || (s[i].code >= 0x400 && s[i].code <= 0x403) ||
			    s[i].code >= 0xfffffffc);
}

static void expect(uint32_t isa, uint32_t code, const char *name)
{
	const struct em_reason *r = em_reason_lookup(isa, code);

	if (!r)
		fail_msg("%s 0x%x missing (want %s)", em_isa_name(isa), code, name);
	assert_string_equal(r->name, name);
	assert_int_equal(parse_ok(isa, name), code);
}

static void test_vmx_numbers(void **state)
{
	(void)state;
	expect(EM_ISA_VMX, 0, "EXCEPTION_NMI");
	expect(EM_ISA_VMX, 1, "EXTERNAL_INTERRUPT");
	expect(EM_ISA_VMX, 2, "TRIPLE_FAULT");
	expect(EM_ISA_VMX, 5, "IO_SMI");
	expect(EM_ISA_VMX, 6, "OTHER_SMI");
	expect(EM_ISA_VMX, 7, "INTERRUPT_WINDOW");
	expect(EM_ISA_VMX, 10, "CPUID");
	expect(EM_ISA_VMX, 11, "GETSEC");
	expect(EM_ISA_VMX, 12, "HLT");
	expect(EM_ISA_VMX, 14, "INVLPG");
	expect(EM_ISA_VMX, 17, "RSM");
	expect(EM_ISA_VMX, 18, "VMCALL");
	expect(EM_ISA_VMX, 28, "CR_ACCESS");
	expect(EM_ISA_VMX, 30, "IO_INSTRUCTION");
	expect(EM_ISA_VMX, 31, "MSR_READ");
	expect(EM_ISA_VMX, 32, "MSR_WRITE");
	expect(EM_ISA_VMX, 33, "INVALID_STATE");
	expect(EM_ISA_VMX, 36, "MWAIT_INSTRUCTION");
	expect(EM_ISA_VMX, 40, "PAUSE_INSTRUCTION");
	expect(EM_ISA_VMX, 48, "EPT_VIOLATION");
	expect(EM_ISA_VMX, 49, "EPT_MISCONFIG");
	expect(EM_ISA_VMX, 52, "PREEMPTION_TIMER");
	expect(EM_ISA_VMX, 58, "INVPCID");
	expect(EM_ISA_VMX, 62, "PML_FULL");
	expect(EM_ISA_VMX, 67, "UMWAIT");
	expect(EM_ISA_VMX, 68, "TPAUSE");
	expect(EM_ISA_VMX, 74, "BUS_LOCK");
	expect(EM_ISA_VMX, 75, "NOTIFY");
	expect(EM_ISA_VMX, 77, "TDCALL");
	expect(EM_ISA_VMX, 84, "MSR_READ_IMM");
	expect(EM_ISA_VMX, 85, "MSR_WRITE_IMM");
	/* reserved in the SDM */
	assert_null(em_reason_lookup(EM_ISA_VMX, 35));
	assert_null(em_reason_lookup(EM_ISA_VMX, 38));
	assert_null(em_reason_lookup(EM_ISA_VMX, 42));
	assert_null(em_reason_lookup(EM_ISA_VMX, 0x80000021)); /* flags: not exact */
	assert_string_equal(em_reason_lookup(EM_ISA_VMX, 10)->descr, "CPUID instruction");
}

static void test_svm_numbers(void **state)
{
	(void)state;
	expect(EM_ISA_SVM, 0x00, "READ_CR0");
	expect(EM_ISA_SVM, 0x0f, "READ_CR15");
	expect(EM_ISA_SVM, 0x13, "WRITE_CR3");
	expect(EM_ISA_SVM, 0x27, "READ_DR7");
	expect(EM_ISA_SVM, 0x3f, "WRITE_DR15");
	expect(EM_ISA_SVM, 0x40, "DE_EXCP");
	expect(EM_ISA_SVM, 0x41, "DB_EXCP");
	expect(EM_ISA_SVM, 0x46, "UD_EXCP");
	expect(EM_ISA_SVM, 0x4d, "GP_EXCP");
	expect(EM_ISA_SVM, 0x4e, "PF_EXCP");
	expect(EM_ISA_SVM, 0x52, "MC_EXCP");
	expect(EM_ISA_SVM, 0x5d, "VC_EXCP");
	expect(EM_ISA_SVM, 0x5f, "VEC31_EXCP");
	expect(EM_ISA_SVM, 0x60, "INTR");
	expect(EM_ISA_SVM, 0x61, "NMI");
	expect(EM_ISA_SVM, 0x64, "VINTR");
	expect(EM_ISA_SVM, 0x65, "CR0_SEL_WRITE");
	expect(EM_ISA_SVM, 0x6e, "RDTSC");
	expect(EM_ISA_SVM, 0x72, "CPUID");
	expect(EM_ISA_SVM, 0x77, "PAUSE");
	expect(EM_ISA_SVM, 0x78, "HLT");
	expect(EM_ISA_SVM, 0x79, "INVLPG");
	expect(EM_ISA_SVM, 0x7a, "INVLPGA");
	expect(EM_ISA_SVM, 0x7b, "IOIO");
	expect(EM_ISA_SVM, 0x7c, "MSR");
	expect(EM_ISA_SVM, 0x7f, "SHUTDOWN");
	expect(EM_ISA_SVM, 0x81, "VMMCALL");
	expect(EM_ISA_SVM, 0x8b, "MWAIT");
	expect(EM_ISA_SVM, 0x8c, "MWAIT_CONDITIONAL");
	expect(EM_ISA_SVM, 0x8d, "XSETBV");
	expect(EM_ISA_SVM, 0x8f, "EFER_WRITE_TRAP");
	expect(EM_ISA_SVM, 0x90, "CR0_WRITE_TRAP");
	expect(EM_ISA_SVM, 0x98, "CR8_WRITE_TRAP");
	expect(EM_ISA_SVM, 0xa0, "INVLPGB");
	expect(EM_ISA_SVM, 0xa2, "INVPCID");
	expect(EM_ISA_SVM, 0xa5, "BUSLOCK");
	expect(EM_ISA_SVM, 0xa6, "IDLE_HLT");
	expect(EM_ISA_SVM, 0x400, "NPF");
	expect(EM_ISA_SVM, 0x401, "AVIC_INCOMPLETE_IPI");
	expect(EM_ISA_SVM, 0x402, "AVIC_NOACCEL");
	expect(EM_ISA_SVM, 0x403, "VMGEXIT");
	expect(EM_ISA_SVM, 0xffffffff, "INVALID");
	assert_null(em_reason_lookup(EM_ISA_SVM, 0xa7));
	assert_null(em_reason_lookup(EM_ISA_SVM, 0x100));
	assert_null(em_reason_lookup(EM_ISA_SVM, 0x404));
	assert_string_equal(em_reason_lookup(EM_ISA_SVM, 0x400)->descr, "Nested page fault");
}

static void test_aliases(void **state)
{
	(void)state;
	/* the kernel's kvm_exit tracepoint spellings */
	assert_int_equal(parse_ok(EM_ISA_SVM, "io"), 0x7b);
	assert_int_equal(parse_ok(EM_ISA_SVM, "npf"), 0x400);
	assert_int_equal(parse_ok(EM_ISA_SVM, "write_cr3"), 0x13);
	assert_int_equal(parse_ok(EM_ISA_SVM, "interrupt"), 0x60);
	assert_int_equal(parse_ok(EM_ISA_SVM, "INTERRUPT"), 0x60);
	assert_int_equal(parse_ok(EM_ISA_SVM, "PF excp"), 0x4e);
	assert_int_equal(parse_ok(EM_ISA_SVM, "pf_excp"), 0x4e);
	assert_int_equal(parse_ok(EM_ISA_SVM, "excp14"), 0x4e);
	assert_int_equal(parse_ok(EM_ISA_SVM, "EXCP_0"), 0x40);
	assert_int_equal(parse_ok(EM_ISA_SVM, "idle-halt"), 0xa6);
	assert_int_equal(parse_ok(EM_ISA_SVM, "hypercall"), 0x81);
	assert_int_equal(parse_ok(EM_ISA_SVM, "read_rt"), 0x69);
	assert_int_equal(parse_ok(EM_ISA_SVM, "write_cr8_trap"), 0x98);
	assert_int_equal(parse_ok(EM_ISA_SVM, "write_efer_trap"), 0x8f);
	assert_int_equal(parse_ok(EM_ISA_SVM, "avic_unaccelerated_access"), 0x402);
	assert_int_equal(parse_ok(EM_ISA_SVM, "invalid_guest_state"), 0xffffffff);
	assert_int_equal(parse_ok(EM_ISA_SVM, "-1"), 0xffffffff);
	assert_int_equal(parse_ok(EM_ISA_SVM, "Cpuid"), 0x72);
	assert_int_equal(parse_ok(EM_ISA_VMX, "ept_violation"), 48);
	assert_int_equal(parse_ok(EM_ISA_VMX, "Io_Instruction"), 30);
	assert_int_equal(parse_ok(EM_ISA_VMX, "vmxon"), 27);
	assert_int_equal(parse_ok(EM_ISA_VMX, "0x30"), 48);
	assert_int_equal(parse_ok(EM_ISA_VMX, "030"), 30); /* decimal, not octal */
	assert_int_equal(parse_ok(EM_ISA_SVM, "0X7B"), 0x7b);
	/* aliases are per isa */
	parse_err(EM_ISA_VMX, "npf", "unknown vmx exit reason 'npf'");
	/* no alias shadows a table name */
	size_t n;
	const struct em_reason *t = em_reasons(EM_ISA_SVM, &n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(parse_ok(EM_ISA_SVM, t[i].name), t[i].code);
	/* a NULL code pointer is allowed */
	assert_int_equal(em_reason_parse(EM_ISA_SVM, "hlt", NULL, NULL, 0), 0);
}

static void test_names(void **state)
{
	(void)state;
	char buf[64];

	assert_string_equal(name_of(EM_ISA_VMX, 0x80000021), "INVALID_STATE|FAILED_VMENTRY");
	assert_string_equal(name_of(EM_ISA_VMX, 0x80000022), "MSR_LOAD_FAIL|FAILED_VMENTRY");
	assert_string_equal(name_of(EM_ISA_VMX, 0x08000000 | 48), "EPT_VIOLATION|ENCLAVE");
	assert_string_equal(name_of(EM_ISA_VMX, 0x04000000 | 74), "BUS_LOCK|BUS_LOCK_DETECTED");
	assert_string_equal(name_of(EM_ISA_VMX, 0x88000001),
			    "EXTERNAL_INTERRUPT|ENCLAVE|FAILED_VMENTRY");
	assert_string_equal(name_of(EM_ISA_VMX, 0x00010000 | 12), "HLT|0x10000");
	assert_string_equal(name_of(EM_ISA_VMX, 35), "UNKNOWN_0x23");
	assert_string_equal(name_of(EM_ISA_VMX, 0x1234), "UNKNOWN_0x1234");
	assert_string_equal(name_of(EM_ISA_VMX, 0x80000099), "UNKNOWN_0x99|FAILED_VMENTRY");
	assert_string_equal(name_of(EM_ISA_VMX, 10), "CPUID");
	assert_string_equal(name_of(EM_ISA_SVM, 0x7b), "IOIO");
	assert_string_equal(name_of(EM_ISA_SVM, 0x4e), "PF_EXCP");
	assert_string_equal(name_of(EM_ISA_SVM, 0xffffffff), "INVALID");
	/* SVM: exact code, bit 31 is no flag */
	assert_string_equal(name_of(EM_ISA_SVM, 0x80000078), "UNKNOWN_0x80000078");
	assert_string_equal(name_of(EM_ISA_SVM, 0x999), "UNKNOWN_0x999");
	assert_string_equal(name_of(0, 12), "UNKNOWN_0xc");
	/* truncation is safe and NUL-terminated */
	assert_string_equal(em_reason_name(EM_ISA_VMX, 0x80000021, buf, 8), "INVALID");
	assert_string_equal(em_reason_name(EM_ISA_VMX, 0x80000021, buf, 15), "INVALID_STATE|");
	assert_string_equal(em_reason_name(EM_ISA_VMX, 0x1234, buf, 4), "UNK");
	buf[0] = 'x';
	assert_ptr_equal(em_reason_name(EM_ISA_VMX, 1, buf, 0), buf);
	assert_int_equal(buf[0], 'x');
}

static void test_idle(void **state)
{
	(void)state;
	const uint32_t vmx_idle[] = { 12, 36, 67, 68 };
	const uint32_t svm_idle[] = { 0x78, 0x8b, 0x8c, 0xa6 };
	size_t n, cnt = 0;
	const struct em_reason *t;

	for (size_t i = 0; i < 4; i++) {
		assert_true(em_reason_is_idle(EM_ISA_VMX, vmx_idle[i]));
		assert_true(em_reason_is_idle(EM_ISA_SVM, svm_idle[i]));
	}
	t = em_reasons(EM_ISA_VMX, &n);
	for (size_t i = 0; i < n; i++)
		cnt += !!(t[i].flags & EM_REASON_IDLE);
	t = em_reasons(EM_ISA_SVM, &n);
	for (size_t i = 0; i < n; i++)
		cnt += !!(t[i].flags & EM_REASON_IDLE);
	assert_int_equal(cnt, 8);
	assert_false(em_reason_is_idle(EM_ISA_VMX, 10));
	assert_false(em_reason_is_idle(EM_ISA_VMX, 0x80000000 | 12)); /* not an exact code */
	assert_false(em_reason_is_idle(EM_ISA_SVM, 12));
	assert_false(em_reason_is_idle(EM_ISA_SVM, 0x72));
	assert_false(em_reason_is_idle(0, 12));
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_err(EM_ISA_SVM, "invlgp",
		  "unknown svm exit reason 'invlgp' (did you mean INVLPG, INVLPGA, INVLPGB?)");
	parse_err(EM_ISA_SVM, "cpuidd", "unknown svm exit reason 'cpuidd' (did you mean CPUID?)");
	parse_err(EM_ISA_VMX, "ept_violaton",
		  "unknown vmx exit reason 'ept_violaton' (did you mean EPT_VIOLATION?)");
	/* prefix */
	parse_err(EM_ISA_VMX, "ept", "unknown vmx exit reason 'ept' (did you mean EPT_VIOLATION, "
				     "EPT_MISCONFIG?)");
	/* a match through an alias names the table entry */
	parse_err(EM_ISA_SVM, "interupt",
		  "unknown svm exit reason 'interupt' (did you mean INTR?)");
	parse_err(EM_ISA_SVM, "zzzzzzzz", "unknown svm exit reason 'zzzzzzzz'");
	parse_err(EM_ISA_SVM, "0x999", "svm has no exit code 0x999");
	parse_err(EM_ISA_SVM, "0x404", "svm has no exit code 0x404");
	parse_err(EM_ISA_VMX, "35", "vmx has no exit reason 35");
	parse_err(EM_ISA_VMX, "0x80000021", "vmx has no exit reason 2147483681");
	parse_err(EM_ISA_VMX, "12abc", "invalid vmx exit reason '12abc'");
	parse_err(EM_ISA_VMX, "0x100000000", "invalid vmx exit reason '0x100000000'");
	parse_err(EM_ISA_VMX, "", "empty vmx exit reason");
	parse_err(EM_ISA_SVM, "excp32", "unknown svm exit reason 'excp32'");
	parse_err(0, "hlt", "unknown isa 0");

	/* never more than 3 suggestions */
	char err[256];
	uint32_t code;
	assert_int_equal(em_reason_parse(EM_ISA_SVM, "read_cr", &code, err, sizeof(err)), -1);
	const char *p = strstr(err, "did you mean ");
	assert_non_null(p);
	int commas = 0;
	for (; *p; p++)
		commas += *p == ',';
	assert_int_equal(commas, 2);
	/* a short error buffer truncates safely */
	char small[12];
	assert_int_equal(em_reason_parse(EM_ISA_SVM, "invlgp", &code, small, sizeof(small)), -1);
	assert_string_equal(small, "unknown svm");
}

/* "read_cr0" / "READ_CR0" / "ReadCR0" compare equal. */
static void norm(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in && n + 1 < len; in++)
		if (isalnum((unsigned char)*in))
			out[n++] = (char)toupper((unsigned char)*in);
	out[n] = '\0';
}

struct uapi_reason {
	unsigned long long code;
	const char *name;
};

/*
 * Every code in the kernel's list is in ours; a name of the kernel's that
 * we also use is at the same code. Names may differ in style.
 */
static void cross_check(uint32_t isa, const struct uapi_reason *k, size_t nk)
{
	const struct em_reason *t;
	size_t i, j, n, missing = 0, wrong = 0, renamed = 0;
	char a[64], b[64];

	t = em_reasons(isa, &n);
	for (i = 0; i < nk; i++) {
		const struct em_reason *r;

		if (isa == EM_ISA_VMX && k[i].code > 0xffff)
			continue; /* VMX_EXIT_REASONS_FAILED_VMENTRY is a flag bit, shown as one */
		/*
		 * SVM_VMGEXIT_* (0x8000xxxx) are the GHCB's software exit codes
		 * of SEV-ES guests: they travel inside exit 0x403 (VMGEXIT),
		 * which is what kvm_exit reports; they are never exit codes.
		 */
		if (isa == EM_ISA_SVM && k[i].code >= 0x80000000 && k[i].code < 0xffffffff)
			continue;
		r = em_reason_lookup(isa, (uint32_t)k[i].code);
		if (!r) {
			print_message("%s: code 0x%llx (%s) missing\n", em_isa_name(isa), k[i].code, k[i].name);
			missing++;
			continue;
		}
		norm(k[i].name, a, sizeof(a));
		norm(r->name, b, sizeof(b));
		if (!strcmp(a, b))
			continue;
		renamed++;
		for (j = 0; j < n; j++) {
			norm(t[j].name, b, sizeof(b));
			if (!strcmp(a, b) && t[j].code != k[i].code) {
				print_message("%s: %s is 0x%llx in the kernel, 0x%x here\n", em_isa_name(isa),
					      k[i].name, k[i].code, t[j].code);
				wrong++;
			}
		}
	}
	assert_int_equal(missing, 0);
	assert_int_equal(wrong, 0);
	/* most names are the kernel's own */
	assert_true(renamed * 4 < nk);
}

static void test_uapi_vmx(void **state)
{
	static const struct uapi_reason k[] = { VMX_EXIT_REASONS };

	(void)state;
	assert_true(sizeof(k) / sizeof(k[0]) > 60);
	cross_check(EM_ISA_VMX, k, sizeof(k) / sizeof(k[0]));
}

static void test_uapi_svm(void **state)
{
	static const struct uapi_reason k[] = { SVM_EXIT_REASONS };

	(void)state;
	assert_true(sizeof(k) / sizeof(k[0]) > 100);
	cross_check(EM_ISA_SVM, k, sizeof(k) / sizeof(k[0]));
	assert_non_null(em_reason_lookup(EM_ISA_SVM, SVM_EXIT_VMGEXIT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isa),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_vmx_numbers),
		cmocka_unit_test(test_svm_numbers),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_uapi_vmx),
		cmocka_unit_test(test_uapi_svm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
