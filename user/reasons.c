// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The one table of VMX and SVM exit reason names.
 *
 * VMX: basic exit reasons, Intel SDM vol. 3, Appendix C (Table C-1). Names
 * are the kernel's (arch/x86/include/uapi/asm/vmx.h, as printed by the
 * kvm_exit tracepoint); reasons the kernel does not name use the SDM's
 * wording in the same style (IO_SMI, GETSEC, RSM, PCONFIG, ...).
 * SVM: exit codes, AMD APM vol. 2, Appendix C (Table C-1), named after the
 * kernel's SVM_EXIT_* macros (arch/x86/include/uapi/asm/svm.h), upper case.
 * Exception intercepts 0x40 + vector are "<MNEMONIC>_EXCP" ("PF_EXCP"),
 * like the tracepoint's "PF excp"; vectors without a mnemonic are
 * "VEC<n>_EXCP". The tracepoint's lower-case SVM spellings ("io",
 * "interrupt", "idle-halt", ...) are accepted as aliases.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/types.h>

#include "exitmon.h"
#include "reasons.h"

#define IDLE EM_REASON_IDLE

static const struct em_reason vmx_reasons[] = {
	{ 0, "EXCEPTION_NMI", "Exception or NMI", 0 },
	{ 1, "EXTERNAL_INTERRUPT", "External interrupt", 0 },
	{ 2, "TRIPLE_FAULT", "Triple fault", 0 },
	{ 3, "INIT_SIGNAL", "INIT signal", 0 },
	{ 4, "SIPI_SIGNAL", "Start-up IPI (SIPI)", 0 },
	{ 5, "IO_SMI", "I/O system-management interrupt", 0 },
	{ 6, "OTHER_SMI", "Other SMI", 0 },
	{ 7, "INTERRUPT_WINDOW", "Interrupt window", 0 },
	{ 8, "NMI_WINDOW", "NMI window", 0 },
	{ 9, "TASK_SWITCH", "Task switch", 0 },
	{ 10, "CPUID", "CPUID instruction", 0 },
	{ 11, "GETSEC", "GETSEC instruction", 0 },
	{ 12, "HLT", "HLT instruction", IDLE },
	{ 13, "INVD", "INVD instruction", 0 },
	{ 14, "INVLPG", "INVLPG instruction", 0 },
	{ 15, "RDPMC", "RDPMC instruction", 0 },
	{ 16, "RDTSC", "RDTSC instruction", 0 },
	{ 17, "RSM", "RSM instruction in SMM", 0 },
	{ 18, "VMCALL", "VMCALL instruction (hypercall)", 0 },
	{ 19, "VMCLEAR", "VMCLEAR instruction", 0 },
	{ 20, "VMLAUNCH", "VMLAUNCH instruction", 0 },
	{ 21, "VMPTRLD", "VMPTRLD instruction", 0 },
	{ 22, "VMPTRST", "VMPTRST instruction", 0 },
	{ 23, "VMREAD", "VMREAD instruction", 0 },
	{ 24, "VMRESUME", "VMRESUME instruction", 0 },
	{ 25, "VMWRITE", "VMWRITE instruction", 0 },
	{ 26, "VMOFF", "VMXOFF instruction", 0 },
	{ 27, "VMON", "VMXON instruction", 0 },
	{ 28, "CR_ACCESS", "Control-register access", 0 },
	{ 29, "DR_ACCESS", "MOV DR (debug-register access)", 0 },
	{ 30, "IO_INSTRUCTION", "I/O instruction", 0 },
	{ 31, "MSR_READ", "RDMSR instruction", 0 },
	{ 32, "MSR_WRITE", "WRMSR instruction", 0 },
	{ 33, "INVALID_STATE", "VM-entry failure: invalid guest state", 0 },
	{ 34, "MSR_LOAD_FAIL", "VM-entry failure: MSR loading", 0 },
	{ 36, "MWAIT_INSTRUCTION", "MWAIT instruction", IDLE },
	{ 37, "MONITOR_TRAP_FLAG", "Monitor trap flag", 0 },
	{ 39, "MONITOR_INSTRUCTION", "MONITOR instruction", 0 },
	{ 40, "PAUSE_INSTRUCTION", "PAUSE instruction (pause-loop exit)", 0 },
	{ 41, "MCE_DURING_VMENTRY", "VM-entry failure: machine-check event", 0 },
	{ 43, "TPR_BELOW_THRESHOLD", "TPR below threshold", 0 },
	{ 44, "APIC_ACCESS", "APIC access", 0 },
	{ 45, "EOI_INDUCED", "Virtualized EOI", 0 },
	{ 46, "GDTR_IDTR", "Access to GDTR or IDTR", 0 },
	{ 47, "LDTR_TR", "Access to LDTR or TR", 0 },
	{ 48, "EPT_VIOLATION", "EPT violation", 0 },
	{ 49, "EPT_MISCONFIG", "EPT misconfiguration", 0 },
	{ 50, "INVEPT", "INVEPT instruction", 0 },
	{ 51, "RDTSCP", "RDTSCP instruction", 0 },
	{ 52, "PREEMPTION_TIMER", "VMX-preemption timer expired", 0 },
	{ 53, "INVVPID", "INVVPID instruction", 0 },
	{ 54, "WBINVD", "WBINVD or WBNOINVD instruction", 0 },
	{ 55, "XSETBV", "XSETBV instruction", 0 },
	{ 56, "APIC_WRITE", "APIC write", 0 },
	{ 57, "RDRAND", "RDRAND instruction", 0 },
	{ 58, "INVPCID", "INVPCID instruction", 0 },
	{ 59, "VMFUNC", "VMFUNC instruction", 0 },
	{ 60, "ENCLS", "ENCLS instruction", 0 },
	{ 61, "RDSEED", "RDSEED instruction", 0 },
	{ 62, "PML_FULL", "Page-modification log full", 0 },
	{ 63, "XSAVES", "XSAVES instruction", 0 },
	{ 64, "XRSTORS", "XRSTORS instruction", 0 },
	{ 65, "PCONFIG", "PCONFIG instruction", 0 },
	{ 66, "SPP", "SPP-related event", 0 },
	{ 67, "UMWAIT", "UMWAIT instruction", IDLE },
	{ 68, "TPAUSE", "TPAUSE instruction", IDLE },
	{ 69, "LOADIWKEY", "LOADIWKEY instruction", 0 },
	{ 70, "ENCLV", "ENCLV instruction", 0 },
	{ 72, "ENQCMD_PASID_FAIL", "ENQCMD PASID translation failure", 0 },
	{ 73, "ENQCMDS_PASID_FAIL", "ENQCMDS PASID translation failure", 0 },
	{ 74, "BUS_LOCK", "Bus lock", 0 },
	{ 75, "NOTIFY", "Instruction timeout (notify window)", 0 },
	{ 76, "SEAMCALL", "SEAMCALL instruction", 0 },
	{ 77, "TDCALL", "TDCALL instruction", 0 },
	{ 78, "RDMSRLIST", "RDMSRLIST instruction", 0 },
	{ 79, "WRMSRLIST", "WRMSRLIST instruction", 0 },
	{ 80, "URDMSR", "URDMSR instruction", 0 },
	{ 81, "UWRMSR", "UWRMSR instruction", 0 },
	{ 84, "MSR_READ_IMM", "RDMSR with immediate operand", 0 },
	{ 85, "MSR_WRITE_IMM", "WRMSRNS with immediate operand", 0 },
};

#define CR(op, n, descr) { op##_BASE + n, op##_NAME #n, descr " CR" #n, 0 }
#define READ_CR_BASE 0x00
#define READ_CR_NAME "READ_CR"
#define WRITE_CR_BASE 0x10
#define WRITE_CR_NAME "WRITE_CR"
#define READ_DR_BASE 0x20
#define READ_DR_NAME "READ_DR"
#define WRITE_DR_BASE 0x30
#define WRITE_DR_NAME "WRITE_DR"
#define CRS(op, descr)                                                          \
	CR(op, 0, descr), CR(op, 1, descr), CR(op, 2, descr), CR(op, 3, descr),     \
	CR(op, 4, descr), CR(op, 5, descr), CR(op, 6, descr), CR(op, 7, descr),     \
	CR(op, 8, descr), CR(op, 9, descr), CR(op, 10, descr), CR(op, 11, descr),   \
	CR(op, 12, descr), CR(op, 13, descr), CR(op, 14, descr), CR(op, 15, descr)
#define DRS(op, descr)                                                          \
	{ op##_BASE + 0, op##_NAME "0", descr " DR0", 0 },                      \
	{ op##_BASE + 1, op##_NAME "1", descr " DR1", 0 },                      \
	{ op##_BASE + 2, op##_NAME "2", descr " DR2", 0 },                      \
	{ op##_BASE + 3, op##_NAME "3", descr " DR3", 0 },                      \
	{ op##_BASE + 4, op##_NAME "4", descr " DR4", 0 },                      \
	{ op##_BASE + 5, op##_NAME "5", descr " DR5", 0 },                      \
	{ op##_BASE + 6, op##_NAME "6", descr " DR6", 0 },                      \
	{ op##_BASE + 7, op##_NAME "7", descr " DR7", 0 },                      \
	{ op##_BASE + 8, op##_NAME "8", descr " DR8", 0 },                      \
	{ op##_BASE + 9, op##_NAME "9", descr " DR9", 0 },                      \
	{ op##_BASE + 10, op##_NAME "10", descr " DR10", 0 },                   \
	{ op##_BASE + 11, op##_NAME "11", descr " DR11", 0 },                   \
	{ op##_BASE + 12, op##_NAME "12", descr " DR12", 0 },                   \
	{ op##_BASE + 13, op##_NAME "13", descr " DR13", 0 },                   \
	{ op##_BASE + 14, op##_NAME "14", descr " DR14", 0 },                   \
	{ op##_BASE + 15, op##_NAME "15", descr " DR15", 0 }
#define EXCP(vec, mn, descr) { 0x40 + vec, mn "_EXCP", "Exception " #vec ": " descr, 0 }
#define TRAP(n) { 0x90 + n, "CR" #n "_WRITE_TRAP", "Write of CR" #n " (trap, after the write)", 0 }

static const struct em_reason svm_reasons[] = {
	CRS(READ_CR, "Read of"),
	CRS(WRITE_CR, "Write of"),
	DRS(READ_DR, "Read of"),
	DRS(WRITE_DR, "Write of"),
	EXCP(0, "DE", "#DE divide error"),
	EXCP(1, "DB", "#DB debug"),
	EXCP(2, "NMI", "NMI vector"),
	EXCP(3, "BP", "#BP breakpoint"),
	EXCP(4, "OF", "#OF overflow"),
	EXCP(5, "BR", "#BR bound range"),
	EXCP(6, "UD", "#UD invalid opcode"),
	EXCP(7, "NM", "#NM device not available"),
	EXCP(8, "DF", "#DF double fault"),
	EXCP(9, "VEC9", "reserved vector"),
	EXCP(10, "TS", "#TS invalid TSS"),
	EXCP(11, "NP", "#NP segment not present"),
	EXCP(12, "SS", "#SS stack fault"),
	EXCP(13, "GP", "#GP general protection"),
	EXCP(14, "PF", "#PF page fault"),
	EXCP(15, "VEC15", "reserved vector"),
	EXCP(16, "MF", "#MF x87 floating point"),
	EXCP(17, "AC", "#AC alignment check"),
	EXCP(18, "MC", "#MC machine check"),
	EXCP(19, "XF", "#XF SIMD floating point"),
	EXCP(20, "VEC20", "reserved vector"),
	EXCP(21, "CP", "#CP control protection"),
	EXCP(22, "VEC22", "reserved vector"),
	EXCP(23, "VEC23", "reserved vector"),
	EXCP(24, "VEC24", "reserved vector"),
	EXCP(25, "VEC25", "reserved vector"),
	EXCP(26, "VEC26", "reserved vector"),
	EXCP(27, "VEC27", "reserved vector"),
	EXCP(28, "HV", "#HV hypervisor injection"),
	EXCP(29, "VC", "#VC VMM communication"),
	EXCP(30, "SX", "#SX security"),
	EXCP(31, "VEC31", "reserved vector"),
	{ 0x60, "INTR", "Physical interrupt", 0 },
	{ 0x61, "NMI", "Physical NMI", 0 },
	{ 0x62, "SMI", "Physical SMI", 0 },
	{ 0x63, "INIT", "Physical INIT", 0 },
	{ 0x64, "VINTR", "Virtual interrupt (interrupt window)", 0 },
	{ 0x65, "CR0_SEL_WRITE", "Write of CR0 changing bits other than TS or MP", 0 },
	{ 0x66, "IDTR_READ", "Read of IDTR", 0 },
	{ 0x67, "GDTR_READ", "Read of GDTR", 0 },
	{ 0x68, "LDTR_READ", "Read of LDTR", 0 },
	{ 0x69, "TR_READ", "Read of TR", 0 },
	{ 0x6a, "IDTR_WRITE", "Write of IDTR", 0 },
	{ 0x6b, "GDTR_WRITE", "Write of GDTR", 0 },
	{ 0x6c, "LDTR_WRITE", "Write of LDTR", 0 },
	{ 0x6d, "TR_WRITE", "Write of TR", 0 },
	{ 0x6e, "RDTSC", "RDTSC instruction", 0 },
	{ 0x6f, "RDPMC", "RDPMC instruction", 0 },
	{ 0x70, "PUSHF", "PUSHF instruction", 0 },
	{ 0x71, "POPF", "POPF instruction", 0 },
	{ 0x72, "CPUID", "CPUID instruction", 0 },
	{ 0x73, "RSM", "RSM instruction", 0 },
	{ 0x74, "IRET", "IRET instruction", 0 },
	{ 0x75, "SWINT", "Software interrupt (INTn)", 0 },
	{ 0x76, "INVD", "INVD instruction", 0 },
	{ 0x77, "PAUSE", "PAUSE instruction (pause filter)", 0 },
	{ 0x78, "HLT", "HLT instruction", IDLE },
	{ 0x79, "INVLPG", "INVLPG instruction", 0 },
	{ 0x7a, "INVLPGA", "INVLPGA instruction", 0 },
	{ 0x7b, "IOIO", "I/O port access (IN/OUT/INS/OUTS)", 0 },
	{ 0x7c, "MSR", "RDMSR or WRMSR instruction", 0 },
	{ 0x7d, "TASK_SWITCH", "Task switch", 0 },
	{ 0x7e, "FERR_FREEZE", "FP error freeze (FERR_FREEZE)", 0 },
	{ 0x7f, "SHUTDOWN", "Shutdown (triple fault)", 0 },
	{ 0x80, "VMRUN", "VMRUN instruction", 0 },
	{ 0x81, "VMMCALL", "VMMCALL instruction (hypercall)", 0 },
	{ 0x82, "VMLOAD", "VMLOAD instruction", 0 },
	{ 0x83, "VMSAVE", "VMSAVE instruction", 0 },
	{ 0x84, "STGI", "STGI instruction", 0 },
	{ 0x85, "CLGI", "CLGI instruction", 0 },
	{ 0x86, "SKINIT", "SKINIT instruction", 0 },
	{ 0x87, "RDTSCP", "RDTSCP instruction", 0 },
	{ 0x88, "ICEBP", "ICEBP instruction", 0 },
	{ 0x89, "WBINVD", "WBINVD or WBNOINVD instruction", 0 },
	{ 0x8a, "MONITOR", "MONITOR or MONITORX instruction", 0 },
	{ 0x8b, "MWAIT", "MWAIT or MWAITX instruction", IDLE },
	{ 0x8c, "MWAIT_CONDITIONAL", "MWAIT/MWAITX with monitor armed", IDLE },
	{ 0x8d, "XSETBV", "XSETBV instruction", 0 },
	{ 0x8e, "RDPRU", "RDPRU instruction", 0 },
	{ 0x8f, "EFER_WRITE_TRAP", "Write of EFER (trap, after the write)", 0 },
	TRAP(0), TRAP(1), TRAP(2), TRAP(3), TRAP(4), TRAP(5), TRAP(6), TRAP(7),
	TRAP(8), TRAP(9), TRAP(10), TRAP(11), TRAP(12), TRAP(13), TRAP(14), TRAP(15),
	{ 0xa0, "INVLPGB", "INVLPGB instruction", 0 },
	{ 0xa1, "INVLPGB_ILLEGAL", "INVLPGB instruction, illegal", 0 },
	{ 0xa2, "INVPCID", "INVPCID instruction", 0 },
	{ 0xa3, "MCOMMIT", "MCOMMIT instruction", 0 },
	{ 0xa4, "TLBSYNC", "TLBSYNC instruction", 0 },
	{ 0xa5, "BUSLOCK", "Bus lock", 0 },
	{ 0xa6, "IDLE_HLT", "HLT with no pending interrupt (idle HLT)", IDLE },
	{ 0x400, "NPF", "Nested page fault", 0 },
	{ 0x401, "AVIC_INCOMPLETE_IPI", "AVIC: virtual IPI delivery not completed", 0 },
	{ 0x402, "AVIC_NOACCEL", "AVIC: vAPIC access not accelerated", 0 },
	{ 0x403, "VMGEXIT", "VMGEXIT instruction (SEV-ES/SNP guest)", 0 },
	{ 0xfffffffc, "INVALID_PMC", "VMRUN failed: invalid PMC state", 0 },
	{ 0xfffffffd, "IDLE_REQUIRED", "VMRUN failed: sibling thread not idle", 0 },
	{ 0xfffffffe, "BUSY", "VMRUN failed: VMSA busy", 0 },
	{ 0xffffffff, "INVALID", "VMRUN failed: invalid guest state", 0 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Other spellings accepted by em_reason_parse(): the kernel's, the SDM's/APM's. */
struct em_alias {
	uint32_t isa;
	const char *name;
	uint32_t code;
};

static const struct em_alias aliases[] = {
	{ EM_ISA_VMX, "VMXOFF", 26 },
	{ EM_ISA_VMX, "VMXON", 27 },
	{ EM_ISA_VMX, "RDMSR", 31 },
	{ EM_ISA_VMX, "WRMSR", 32 },
	{ EM_ISA_VMX, "IO", 30 },
	{ EM_ISA_VMX, "MWAIT", 36 },
	{ EM_ISA_VMX, "MONITOR", 39 },
	{ EM_ISA_VMX, "PAUSE", 40 },
	/* kernel tracepoint (lower case) and SVM_EXIT_* spellings */
	{ EM_ISA_SVM, "interrupt", 0x60 },
	{ EM_ISA_SVM, "read_idtr", 0x66 },
	{ EM_ISA_SVM, "read_gdtr", 0x67 },
	{ EM_ISA_SVM, "read_ldtr", 0x68 },
	{ EM_ISA_SVM, "read_rt", 0x69 },
	{ EM_ISA_SVM, "read_tr", 0x69 },
	{ EM_ISA_SVM, "write_idtr", 0x6a },
	{ EM_ISA_SVM, "write_gdtr", 0x6b },
	{ EM_ISA_SVM, "write_ldtr", 0x6c },
	{ EM_ISA_SVM, "write_rt", 0x6d },
	{ EM_ISA_SVM, "write_tr", 0x6d },
	{ EM_ISA_SVM, "io", 0x7b },
	{ EM_ISA_SVM, "hypercall", 0x81 },
	{ EM_ISA_SVM, "mwait_cond", 0x8c },
	{ EM_ISA_SVM, "write_efer_trap", 0x8f },
	{ EM_ISA_SVM, "write_cr0_trap", 0x90 },
	{ EM_ISA_SVM, "write_cr2_trap", 0x92 },
	{ EM_ISA_SVM, "write_cr3_trap", 0x93 },
	{ EM_ISA_SVM, "write_cr4_trap", 0x94 },
	{ EM_ISA_SVM, "write_cr8_trap", 0x98 },
	{ EM_ISA_SVM, "bus_lock", 0xa5 },
	{ EM_ISA_SVM, "idle-halt", 0xa6 },
	{ EM_ISA_SVM, "avic_unaccelerated_access", 0x402 },
	{ EM_ISA_SVM, "invalid_guest_state", 0xffffffff },
	{ EM_ISA_SVM, "err", 0xffffffff },
};

/* VMX exit-reason bits above the basic reason (SDM 25.9.1). */
static const struct {
	uint32_t bit;
	const char *name;
} vmx_flags[] = {
	{ 1u << 26, "BUS_LOCK_DETECTED" },
	{ 1u << 27, "ENCLAVE" },
	{ 1u << 28, "PENDING_MTF" },
	{ 1u << 29, "FROM_VMX_ROOT" },
	{ 1u << 31, "FAILED_VMENTRY" },
};

uint32_t em_isa_from_name(const char *s)
{
	if (!s)
		return 0;
	if (!strcasecmp(s, "vmx") || !strcasecmp(s, "intel"))
		return EM_ISA_VMX;
	if (!strcasecmp(s, "svm") || !strcasecmp(s, "amd"))
		return EM_ISA_SVM;
	return 0;
}

const char *em_isa_name(uint32_t isa)
{
	switch (isa) {
	case EM_ISA_VMX:
		return "vmx";
	case EM_ISA_SVM:
		return "svm";
	}
	return NULL;
}

const struct em_reason *em_reasons(uint32_t isa, size_t *n)
{
	size_t cnt = 0;
	const struct em_reason *t = NULL;

	if (isa == EM_ISA_VMX) {
		t = vmx_reasons;
		cnt = ARRAY_SIZE(vmx_reasons);
	} else if (isa == EM_ISA_SVM) {
		t = svm_reasons;
		cnt = ARRAY_SIZE(svm_reasons);
	}
	if (n)
		*n = cnt;
	return t;
}

const struct em_reason *em_reason_lookup(uint32_t isa, uint32_t code)
{
	size_t n, lo = 0, hi;
	const struct em_reason *t = em_reasons(isa, &n);

	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t[mid].code == code)
			return &t[mid];
		if (t[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *em_reason_name(uint32_t isa, uint32_t code, char *buf, size_t len)
{
	const struct em_reason *r;
	uint32_t basic = code, rest = 0;
	size_t off;
	int w;

	if (!buf || !len)
		return buf;
	if (isa == EM_ISA_VMX) {
		basic = code & EM_VMX_BASIC_MASK;
		rest = code & ~EM_VMX_BASIC_MASK;
	}
	r = em_reason_lookup(isa, basic);
	if (r)
		w = snprintf(buf, len, "%s", r->name);
	else
		w = snprintf(buf, len, "UNKNOWN_0x%x", basic);
	off = w < 0 ? 0 : (size_t)w;

	for (size_t i = 0; i < ARRAY_SIZE(vmx_flags) && rest; i++) {
		if (!(rest & vmx_flags[i].bit))
			continue;
		rest &= ~vmx_flags[i].bit;
		if (off < len) {
			w = snprintf(buf + off, len - off, "|%s", vmx_flags[i].name);
			off += w < 0 ? 0 : (size_t)w;
		}
	}
	if (rest && off < len)
		snprintf(buf + off, len - off, "|0x%x", rest);
	return buf;
}

bool em_reason_is_idle(uint32_t isa, uint32_t code)
{
	const struct em_reason *r = em_reason_lookup(isa, code);

	return r && (r->flags & EM_REASON_IDLE);
}

/* Case-insensitive, '-', ' ' and '_' the same ("idle-halt", "PF excp"). */
static int norm(int c)
{
	if (c == '-' || c == ' ')
		return '_';
	return tolower((unsigned char)c);
}

static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (norm(*a) != norm(*b))
			return false;
	return *a == *b;
}

static bool name_prefix(const char *pfx, const char *s)
{
	for (; *pfx; pfx++, s++)
		if (!*s || norm(*pfx) != norm(*s))
			return false;
	return true;
}

static bool name_contains(const char *hay, const char *needle)
{
	for (; *hay; hay++)
		if (name_prefix(needle, hay))
			return true;
	return false;
}

#define MAX_NAME 64

/* Optimal string alignment distance (edits incl. adjacent transpositions). */
static unsigned osa_distance(const char *a, const char *b)
{
	unsigned d[MAX_NAME + 1][MAX_NAME + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAX_NAME || lb > MAX_NAME)
		return MAX_NAME;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = norm(a[i - 1]) != norm(b[j - 1]);
			unsigned v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && norm(a[i - 1]) == norm(b[j - 2]) &&
			    norm(a[i - 2]) == norm(b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* How close name is to the typo s; lower is closer, > limit is no match. */
static unsigned closeness(const char *s, const char *name)
{
	size_t ls = strlen(s);
	unsigned score = osa_distance(s, name);

	if (ls >= 2 && name_prefix(s, name) && score > 1)
		score = 1;
	else if (ls >= 3 && name_contains(name, s) && score > 2)
		score = 2;
	return score;
}

static unsigned limit_for(const char *s)
{
	size_t ls = strlen(s);

	return ls <= 3 ? 1 : ls <= 6 ? 2 : 3;
}

/* Names an "excp<n>"/"excp_<n>" SVM exception intercept (APM VMEXIT_EXCPn). */
static bool parse_excp(const char *s, uint32_t *code)
{
	char *end;
	unsigned long v;

	if (strncasecmp(s, "excp", 4))
		return false;
	s += 4;
	if (*s == '_' || *s == '-' || *s == ' ')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 31)
		return false;
	*code = 0x40 + (uint32_t)v;
	return true;
}

static const struct em_reason *find_name(uint32_t isa, const char *s)
{
	size_t n;
	const struct em_reason *t = em_reasons(isa, &n);

	for (size_t i = 0; i < n; i++)
		if (name_eq(s, t[i].name))
			return &t[i];
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (aliases[i].isa == isa && name_eq(s, aliases[i].name))
			return em_reason_lookup(isa, aliases[i].code);
	return NULL;
}

int em_reason_parse(uint32_t isa, const char *s, uint32_t *code, char *err, size_t errlen)
{
	const char *isan = em_isa_name(isa);
	const struct em_reason *r;
	char dummy[1];

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!isan) {
		snprintf(err, errlen, "unknown isa %u", isa);
		return -1;
	}
	if (!s || !*s) {
		snprintf(err, errlen, "empty %s exit reason", isan);
		return -1;
	}

	if (isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))) {
		char *end;
		long long v;

		int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;

		errno = 0;
		v = strtoll(s, &end, base); /* "030" is 30, not octal */
		if (errno || *end || v < INT32_MIN || v > (long long)UINT32_MAX) {
			snprintf(err, errlen, "invalid %s exit reason '%s'", isan, s);
			return -1;
		}
		if (!em_reason_lookup(isa, (uint32_t)v)) {
			if (isa == EM_ISA_SVM)
				snprintf(err, errlen, "svm has no exit code 0x%x", (uint32_t)v);
			else
				snprintf(err, errlen, "vmx has no exit reason %u", (uint32_t)v);
			return -1;
		}
		if (code)
			*code = (uint32_t)v;
		return 0;
	}

	r = find_name(isa, s);
	if (!r && isa == EM_ISA_SVM) {
		uint32_t c;

		if (parse_excp(s, &c))
			r = em_reason_lookup(isa, c);
	}
	if (r) {
		if (code)
			*code = r->code;
		return 0;
	}

	/* Unknown name: suggest up to 3 close names (or aliases' entries). */
	const struct em_reason *best[3];
	unsigned best_sc[3];
	size_t nbest = 0, n;
	const struct em_reason *t = em_reasons(isa, &n);
	unsigned limit = limit_for(s);

	for (size_t i = 0; i < n; i++) {
		unsigned sc = closeness(s, t[i].name);
		size_t k;

		for (size_t j = 0; j < ARRAY_SIZE(aliases); j++) {
			if (aliases[j].isa == isa && aliases[j].code == t[i].code) {
				unsigned asc = closeness(s, aliases[j].name);

				if (asc < sc)
					sc = asc;
			}
		}
		if (sc > limit)
			continue;
		/* insertion into the sorted top 3; ties keep code order */
		for (k = nbest; k > 0 && best_sc[k - 1] > sc; k--)
			;
		if (k >= ARRAY_SIZE(best))
			continue;
		if (nbest < ARRAY_SIZE(best))
			nbest++;
		for (size_t m = nbest - 1; m > k; m--) {
			best[m] = best[m - 1];
			best_sc[m] = best_sc[m - 1];
		}
		best[k] = &t[i];
		best_sc[k] = sc;
	}

	int w = snprintf(err, errlen, "unknown %s exit reason '%s'", isan, s);
	size_t off = w < 0 ? 0 : (size_t)w;

	for (size_t i = 0; i < nbest && off < errlen; i++) {
		w = snprintf(err + off, errlen - off, "%s%s", i ? ", " : " (did you mean ",
			     best[i]->name);
		off += w < 0 ? 0 : (size_t)w;
	}
	if (nbest && off < errlen)
		snprintf(err + off, errlen - off, "?)");
	return -1;
}
