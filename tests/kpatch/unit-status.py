#!/usr/bin/env python3
"""Unit test, in user space, of the patched vendor code that a TCG rig
cannot run (VMX) or can only sample (SVM):

  vmx_exit_reason_status(), svm_exit_reason_status()  (patch 1)
  kvm_exit_stats_slot()                                (patch 2)

The function bodies are taken verbatim from the patched tree; the
vendors' exit-handler tables are rebuilt from their designated
initializers (indices only), the EXIT_REASON_* / SVM_EXIT_* values from
the uapi headers of the same tree.  Checked for every code 0..0x10000
and edge values:
  - UNDEFINED exactly when user/reasons.c has no entry for the code
    (the guest tool and exitmon name the same set the kernel defines);
  - HANDLED exactly when the handler table has an entry;
  - slot(): defined codes map to distinct slots < OTHER, the rest to OTHER.

usage: unit-status.py PATCHED_SRC_DIR REPO_ROOT FIRST_TEST_NUMBER [UAPI_DIR]
(UAPI_DIR: the uapi asm headers, default those of linux-headers-6.1.0-56-common;
the series does not change them)
Prints TAP lines; exit status 1 if any failed.
"""
import os
import re
import subprocess
import sys
import tempfile

src, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
uapi = sys.argv[4] if len(sys.argv) > 4 else "/usr/src/linux-headers-6.1.0-56-common/arch/x86/include/uapi/asm"
kvm = os.path.join(src, "arch/x86/kvm")


def read(p):
    return open(os.path.join(src, p)).read()


def func(text, name):
    """The full text of a static function definition."""
    m = re.search(r"^static [^\n]*\b%s\([^)]*\)\n\{\n.*?^\}\n" % re.escape(name), text, re.S | re.M)
    if not m:
        raise SystemExit(f"not ok {n + 1} - unit-status: cannot find {name}() in the patched tree")
    return m.group(0)


def table_indices(text, decl):
    i = text.index(decl)
    body = text[i:text.index("\n};", i)]
    return re.findall(r"^\s*\[(\w+)\]\s*=", body, re.M)


vmx_c, svm_c = read("arch/x86/kvm/vmx/vmx.c"), read("arch/x86/kvm/svm/svm.c")
stats_h = read("arch/x86/kvm/exit_stats.h")
host_h = read("arch/x86/include/asm/kvm_host.h")
enum = re.search(r"^enum kvm_exit_reason_status \{.*?^\};\n", host_h, re.S | re.M).group(0)
slots = "\n".join(l for l in stats_h.splitlines() if l.startswith("#define KVM_EXIT_STATS_"))
slot_fn = re.search(r"^static inline u32 kvm_exit_stats_slot\(u32 reason\)\n\{\n.*?^\}\n", stats_h, re.S | re.M).group(0)

vmx_idx = table_indices(vmx_c, "kvm_vmx_exit_handlers[])(struct kvm_vcpu *vcpu) = {")
svm_idx = table_indices(svm_c, "svm_exit_handlers[])(struct kvm_vcpu *vcpu) = {")

c = f"""
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <linux/types.h>
typedef uint32_t u32;
typedef uint64_t u64;
#define __user
#include "{uapi}/vmx.h"
#include "{uapi}/svm.h"
#include "{root}/bpf/exitmon.h"
#include "{root}/user/reasons.h"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
static unsigned long nospec_calls;
#define array_index_nospec(i, n) (nospec_calls++, (i))
struct kvm_vcpu;
static int h(struct kvm_vcpu *v) {{ (void)v; return 1; }}
{enum}
{slots}
{slot_fn}
static int (*kvm_vmx_exit_handlers[])(struct kvm_vcpu *vcpu) = {{
{''.join(f'	[{i}] = h,{chr(10)}' for i in vmx_idx)}}};
static const int kvm_vmx_max_exit_handlers = ARRAY_SIZE(kvm_vmx_exit_handlers);
static int (*const svm_exit_handlers[])(struct kvm_vcpu *vcpu) = {{
{''.join(f'	[{i}] = h,{chr(10)}' for i in svm_idx)}}};
{func(vmx_c, "vmx_exit_reason_status")}
{func(svm_c, "svm_exit_reason_status")}

static int n = {n}, fails;
static void tap(bool ok, const char *desc, const char *detail)
{{
	printf("%s %d - unit-status: %s\\n", ok ? "ok" : "not ok", ++n, desc);
	if (!ok) {{ fails++; printf("# %s\\n", detail); }}
}}

int main(void)
{{
	static const u32 edge[] = {{ 0x10000, 0x10072, 0x7fffffff, 0x80000000, 0x8000000a,
		0xf0000000, 0xfffffffb, 0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff }};
	const char *isa_name[] = {{ "", "vmx", "svm" }};
	for (u32 isa = EM_ISA_VMX; isa <= EM_ISA_SVM; isa++) {{
		char bad_def[256] = "", bad_h[256] = "", bad_slot[256] = "", d[300];
		unsigned char used[KVM_EXIT_STATS_SLOTS] = {{0}};
		size_t ndef = 0, nh = 0;
		for (uint64_t i = 0; i <= 0x10000 + sizeof(edge) / sizeof(edge[0]); i++) {{
			u32 code = i <= 0x10000 ? (u32)i : edge[i - 0x10001];
			enum kvm_exit_reason_status st = isa == EM_ISA_VMX ?
				vmx_exit_reason_status(code) : svm_exit_reason_status(code);
			bool named = em_reason_lookup(isa, code) != NULL;
			bool handler = isa == EM_ISA_VMX ?
				code < (u32)kvm_vmx_max_exit_handlers && kvm_vmx_exit_handlers[code] :
				code < ARRAY_SIZE(svm_exit_handlers) && svm_exit_handlers[code];
			if ((st != KVM_EXIT_REASON_UNDEFINED) != named && !*bad_def)
				snprintf(bad_def, sizeof(bad_def), "code %#x: kernel status %d, reasons.c %s", code, st, named ? "names it" : "has no entry");
			if (st != KVM_EXIT_REASON_UNDEFINED && (st == KVM_EXIT_REASON_HANDLED) != handler && !*bad_h)
				snprintf(bad_h, sizeof(bad_h), "code %#x: status %d, handler table %s", code, st, handler ? "has it" : "has not");
			ndef += st != KVM_EXIT_REASON_UNDEFINED;
			nh += st == KVM_EXIT_REASON_HANDLED;
			u32 s = kvm_exit_stats_slot(code);
			if (st == KVM_EXIT_REASON_HANDLED) {{
				if (s >= KVM_EXIT_STATS_OTHER || used[s]++)
					snprintf(bad_slot, sizeof(bad_slot), "handled code %#x -> slot %u (other %u)", code, s, KVM_EXIT_STATS_OTHER);
			}} else if (st == KVM_EXIT_REASON_UNDEFINED && s != KVM_EXIT_STATS_OTHER && code > 0xffff) {{
				snprintf(bad_slot, sizeof(bad_slot), "undefined code %#x -> slot %u", code, s);
			}}
		}}
		snprintf(d, sizeof(d), "%s", bad_def);
		char desc[200];
		snprintf(desc, sizeof(desc), "%s: %zu codes defined, exactly the codes user/reasons.c names (0..0x10000 + edges)", isa_name[isa], ndef);
		tap(!*bad_def, desc, d);
		snprintf(desc, sizeof(desc), "%s: %zu handled, exactly the non-NULL entries of the handler table", isa_name[isa], nh);
		tap(!*bad_h, desc, bad_h);
		snprintf(desc, sizeof(desc), "%s: every handled code has its own statistics slot; codes > 0xffff go to 'other'", isa_name[isa]);
		tap(!*bad_slot, desc, bad_slot);
	}}
	tap(nospec_calls > 0, "the handler tables are indexed through array_index_nospec()", "no call");
	return fails != 0;
}}
"""
with tempfile.TemporaryDirectory() as d:
    cf, exe = os.path.join(d, "t.c"), os.path.join(d, "t")
    open(cf, "w").write(c)
    r = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-function", "-O1", "-I" + root,
                        cf, os.path.join(root, "user/reasons.c"), "-o", exe], capture_output=True, text=True)
    if r.returncode:
        print(f"not ok {n + 1} - unit-status: the extracted vendor code compiles in user space")
        print("# expected a build")
        print("# got " + r.stderr[:1500].replace("\n", "\n# "))
        sys.exit(1)
    r = subprocess.run([exe], capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.exit(r.returncode)
