#!/usr/bin/env python3
"""Check the L1 console log of tests/kpatch/run.sh; print TAP lines.

usage: check.py CONSOLE_LOG FIRST_TEST_NUMBER HAVE_EXITMON [HAVE_L2]
The query list, N and M of each scenario are those of l1-init.sh.
"""
import json
import re
import sys

log_path, first, have_exitmon = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
have_l2 = len(sys.argv) > 4 and sys.argv[4] == "1"
text = open(log_path, errors="replace").read().replace("\r", "")

sections, rcs = {}, {}
for m in re.finditer(r"^@@begin (\S+)\n(.*?)^@@end \1 rc=(\d+)$", text, re.S | re.M):
    sections[m.group(1)] = m.group(2)
    rcs[m.group(1)] = int(m.group(3))

n = first
fails = 0


def tap(okay, desc, expected=None, got=None):
    global n, fails
    n += 1
    if okay:
        print(f"ok {n} - {desc}")
    else:
        fails += 1
        print(f"not ok {n} - {desc}")
        print(f"# expected {expected}")
        print(f"# got {got}")


def note(s):
    print(f"# {s}")


def queries(name):
    """{vm: [(k, leaf, ecx, (a, b, c, d))]}, {vm: (n, m, work_ns)}"""
    qs, hdr = {}, {}
    for line in sections.get(name, "").splitlines():
        m = re.match(r"vm=(\d+) q=(\d+) leaf=(0x[0-9a-f]+) ecx=(0x[0-9a-f]+) -> (\w+) (\w+) (\w+) (\w+)", line)
        if m:
            vm = int(m.group(1))
            qs.setdefault(vm, []).append((int(m.group(2)), int(m.group(3), 16), int(m.group(4), 16),
                                          tuple(int(m.group(i), 16) for i in range(5, 9))))
            continue
        m = re.match(r"vm=(\d+) n=(\d+) m=(\d+) work_ns=(\d+)", line)
        if m:
            hdr[int(m.group(1))] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return qs, hdr


def ran(name):
    if name not in sections:
        tap(False, f"scenario {name} ran in L1", "its @@begin/@@end markers", "missing (see console log)")
        return False
    if rcs[name] != 0:
        tap(False, f"scenario {name} exits 0", "rc=0", f"rc={rcs[name]}: {sections[name][-300:]!r}")
        return False
    return True


FE, FF, FC, FD = 0x4ffffffe, 0x4fffffff, 0x4ffffffc, 0x4ffffffd
UNDEF = {0xa7, 0x3ff, 0x404, 0x10072, 0xffff, 0x7fffffff, 0x80000000}
UNHANDLED = {0xffffffff, 0x1, 0xa6}  # SVM: VMEXIT_INVALID, READ_CR1, IDLE_HLT (no 6.1 handler)
CYC = lambda r: (r[1] << 32) | r[2]


def check_interface(name, stock_name):
    """Exact oracle checks of one single-VM run with the interface on."""
    if not ran(name):
        return
    qs, hdr = queries(name)
    if 0 not in qs or 0 not in hdr:
        tap(False, f"{name}: query results", "28 query lines", "none")
        return
    N, M, _ = hdr[0]
    q = qs[0]
    errs = []
    cyc = {}
    for k, leaf, ecx, r in q:
        cpuid_k = N + k + 1          # the query itself included
        io_k = M + 1 + 4 * k         # work OUTs, sync OUT, 4 reports per earlier query
        if leaf == FE and ecx == 0x72 and r != (cpuid_k, 0, 0, 0):
            errs.append(f"q{k} CPUID exits: expected ({cpuid_k},0,0,0) got {r}")
        if leaf == FE and ecx == 0x7b and r != (io_k, 0, 0, 0):
            errs.append(f"q{k} IOIO exits: expected ({io_k},0,0,0) got {r}")
        if leaf == FE and ecx == 0x78 and r != (0, 0, 0, 0):
            errs.append(f"q{k} HLT exits before the hlt: expected 0 got {r}")
        if leaf == FE and ecx == 0x400 and not (r[0] >= 1 and r[1:] == (0, 0, 0)):
            errs.append(f"q{k} NPF exits: expected >=1 got {r}")
        if leaf == FC:
            known = cpuid_k + io_k
            if not (r[1:] == (0, 0, 0) and known + 1 <= r[0] <= known + 64):
                errs.append(f"q{k} total exits: expected {known}+NPF+INTR (<= +64) got {r}")
        if leaf in (FD, FF) and ecx not in UNDEF | UNHANDLED:
            if r[0] != 0 or r[3] != 0 or CYC(r) == 0:
                errs.append(f"q{k} leaf {leaf:#x} ecx {ecx:#x}: expected nonzero cycles in EBX:ECX, EAX=EDX=0, got {r}")
            cyc.setdefault((leaf, ecx), []).append(CYC(r))
    tap(not errs, f"{name}: CPUID/IOIO/HLT/NPF/total counts equal the oracle (N={N}, M={M}, own queries counted)",
        "exact counts", "; ".join(errs[:4]))
    fd, ff = cyc.get((FD, 0), []), cyc.get((FF, 0x72), [])
    mono = len(fd) == 2 and len(ff) == 2 and fd[1] > fd[0] > 0 and ff[1] > ff[0] > 0 and fd[1] >= ff[1]
    tap(mono, f"{name}: cycles nonzero and monotonic (total and CPUID), total >= CPUID",
        "FD q4 < FD q7, FF72 q5 < q6, FD >= FF72", f"FD {fd} FF72 {ff}")
    bad = [(k, leaf, ecx, r) for k, leaf, ecx, r in q if ecx in UNDEF and leaf in (FE, FF)
           and r != (0, 0, 0, 0xffffffff)]
    nundef = len([1 for k, leaf, ecx, r in q if ecx in UNDEF and leaf in (FE, FF)])
    tap(not bad and nundef >= 8, f"{name}: {nundef} undefined reasons (0xa7, 0x3ff, 0x404, 0x10072, 0xffff, 0x7fffffff, 0x80000000) give EAX=EBX=ECX=0 EDX=0xffffffff",
        "(0,0,0,0xffffffff)", bad[:3])
    bad = [(k, leaf, ecx, r) for k, leaf, ecx, r in q if ecx in UNHANDLED and leaf in (FE, FF)
           and r != (0, 0, 0, 0)]
    tap(not bad, f"{name}: defined reasons KVM does not handle (0x1 READ_CR1, 0xa6 IDLE_HLT, 0xffffffff VMEXIT_INVALID) give all zeroes",
        "(0,0,0,0)", bad[:3])
    sq, _ = queries(stock_name)
    other = lambda qq: [(k, leaf, ecx, r) for k, leaf, ecx, r in qq if not FC <= leaf <= FF]
    o1, o2 = other(q), other(sq.get(0, []))
    tap(o1 and o1 == o2, f"{name}: other leaves (0, 0x40000000, 0x4ffffffb) answer as on stock KVM",
        o2, o1)
    return N, M, q


# --- interface on -----------------------------------------------------------
res = check_interface("on-single", "stock-amd")
if "on-single-hist" in sections and res:
    N, M, q = res
    hist = {int(a): int(b) for a, b in re.findall(r"exit_reason:\s+(\d+) \} hitcount:\s+(\d+)", sections["on-single-hist"])}
    nq = len(q)
    exp = {114: N + nq, 123: M + 1 + 4 * nq, 120: 1}
    got = {k: hist.get(k) for k in exp}
    tap(got == exp, "on-single: the kvm_exit tracepoint (ftrace hist) agrees with the oracle (CPUID, IOIO, HLT)",
        exp, got)
    note(f"on-single kvm_exit hist: {hist}")
check_interface("on-intel", "stock-intel")
check_interface("onload-single", "stock-amd")

if ran("on-two"):
    qs, hdr = queries("on-two")
    errs = []
    for vm in (0, 1):
        if vm not in hdr or vm not in qs:
            errs.append(f"vm{vm} missing")
            continue
        N, M, _ = hdr[vm]
        r = {(leaf, ecx): v for k, leaf, ecx, v in qs[vm]}
        if r.get((FE, 0x72)) != (N + 1, 0, 0, 0):
            errs.append(f"vm{vm} CPUID expected {N + 1} got {r.get((FE, 0x72))}")
        if r.get((FE, 0x7b)) != (M + 1 + 4, 0, 0, 0):
            errs.append(f"vm{vm} IOIO expected {M + 5} got {r.get((FE, 0x7b))}")
        tot = r.get((FC, 0), (0,))[0]
        if not N + 3 + M + 9 <= tot <= N + 3 + M + 9 + 64:
            errs.append(f"vm{vm} total expected ~{N + M + 12} got {tot}")
    tap(not errs, "two VMs at once (N=300/600, M=10/20): each sees exactly its own counts (scope=vm)",
        "own counts", "; ".join(errs))

if ran("scope-global") and ran("on-global"):
    qs, hdr = queries("on-global")
    s = sections["scope-global"].split()
    vals = [r for vm in qs for k, leaf, ecx, r in qs[vm] if leaf == FE]
    both = sum(hdr[v][0] for v in hdr)
    okg = s == ["global"] and len(vals) == 2 and all(v[0] >= both + 2 and v[3] == 0 for v in vals)
    tap(okg, "kvm.exit_stats_scope=global: a VM's CPUID count includes the other VM's exits",
        f">= {both + 2} in each VM", vals)
if "scope-vm" in sections and "scope-bad" in sections:
    tap(sections["scope-vm"].split() == ["vm"] and sections["scope-bad"].split()[-1:] == ["vm"],
        "exit_stats_scope accepts vm|global, rejects anything else",
        "vm / write of 'bogus' refused, still vm", (sections["scope-vm"], sections["scope-bad"]))

# --- interface off == stock ---------------------------------------------------
for off, stock, desc in (("off-intel", "stock-intel", "loaded with exit_stats=0, Intel guest CPUID"),
                         ("off-amd", "stock-amd", "loaded with exit_stats=0, no guest CPUID"),
                         ("rtoff-intel", "stock-intel", "turned off at runtime, Intel guest CPUID")):
    if ran(off) and ran(stock):
        a, _ = queries(off)
        b, _ = queries(stock)
        tap(a and a == b, f"interface off ({desc}): all {len(a.get(0, []))} query leaves answer exactly as stock KVM",
            b.get(0, [])[:3], [x for x in a.get(0, []) if x not in b.get(0, [])][:3])
# the Intel-vendor stock answers really differ per leaf (the comparison means something)
si, _ = queries("stock-intel")
if si.get(0):
    tap(len({r for k, leaf, ecx, r in si[0]}) >= 3, "stock KVM answers the leaves non-trivially with an Intel guest CPUID",
        ">= 3 distinct answers", len({r for k, leaf, ecx, r in si[0]}))
for name, exp in (("param-default", ["N", "vm"]), ("enable", ["Y"]), ("disable", ["N"]), ("param-on", ["Y"])):
    if name in sections:
        tap(sections[name].split() == exp, f"kvm parameters: {name} reads {' '.join(exp)}", exp, sections[name].split())

# --- cost --------------------------------------------------------------------
import statistics
costs = {}
for name, body in sections.items():
    m = re.match(r"cost-(stock|on|off)-\d+$", name)
    if m:
        _, hdr = queries(name)
        if 0 in hdr and hdr[0][0]:
            costs.setdefault(m.group(1), []).append(hdr[0][2] / hdr[0][0])
if costs.get("stock"):
    base = min(costs["stock"])
    ncost = queries("cost-stock-1")[1].get(0, (0,))[0]
    note(f"cost per CPUID exit in L1, N={ncost}, {len(costs['stock'])} runs each (min / median, ratio of mins to stock):")
    for k in ("stock", "off", "on"):
        if costs.get(k):
            note(f"  {k:5s} {min(costs[k]) / 1000:7.2f} / {statistics.median(costs[k]) / 1000:7.2f} us  "
                 f"{min(costs[k]) / base:.3f}x  runs: {', '.join(f'{v / 1000:.2f}' for v in costs[k])}")
    rounds = [(costs["off"][i] / costs["stock"][i], costs["on"][i] / costs["stock"][i], costs["on"][i] / costs["off"][i])
              for i in range(min(len(costs.get(k, [])) for k in ("stock", "off", "on")))]
    for i, (a, b, c) in enumerate(rounds):
        note(f"  round {i + 1}: off/stock {a:.3f}  on/stock {b:.3f}  on/off {c:.3f}")
    if rounds:
        note("  median of rounds: off/stock %.3f  on/stock %.3f  on/off %.3f" %
             tuple(statistics.median(r[j] for r in rounds) for j in range(3)))
    ok_cost = all(min(v) < 2 * base for v in costs.values())
    tap(ok_cost, "cost per exit with the interface on/off stays within 2x stock (sanity; TCG is noisy)",
        "< 2x", {k: [round(x) for x in v] for k, v in costs.items()})

# --- the guest tool in L1 (not a KVM guest) ------------------------------------
if "query-absent" in sections:
    s = sections["query-absent"]
    tap(rcs["query-absent"] == 1 and "interface absent" in s,
        "exitmon-query in a non-KVM guest (L1 under TCG) says the interface is absent, exit 1",
        "rc=1 + 'interface absent'", f"rc={rcs['query-absent']} {s[:200]!r}")
if "query-absent-json" in sections:
    try:
        j = json.loads(sections["query-absent-json"].strip().splitlines()[-1])
        okj = j.get("interface") is False and rcs["query-absent-json"] == 1
    except Exception as e:  # noqa
        okj, j = False, repr(e)
    tap(okj, "exitmon-query -o json reports interface:false there", '{"interface":false,...}', j)

# --- exitmon (host side) vs the interface --------------------------------------
if have_exitmon:
    if ran("exitmon-kvmq") and "exitmon-json" in sections:
        qs, hdr = queries("exitmon-kvmq")
        N, M, _ = hdr[0]
        nq = len(qs[0])
        # Interface value at its query + what the remaining queries add.
        iface = {}
        for k, leaf, ecx, r in qs[0]:
            if leaf == FE and ecx == 0x72:
                iface[0x72] = r[0] + (nq - k - 1)
            if leaf == FE and ecx == 0x7b:
                iface[0x7b] = r[0] + 4 * (nq - k)
        got = {}
        try:
            snap = json.loads(sections["exitmon-json"])

            def walk(o):
                if isinstance(o, dict):
                    code = o.get("reason", o.get("code"))
                    if isinstance(code, int) and code in (0x72, 0x7b) and "count" in o:
                        got[code] = got.get(code, 0) + o["count"]
                    for v in o.values():
                        walk(v)
                elif isinstance(o, list):
                    for v in o:
                        walk(v)
            walk(snap)
        except Exception as e:  # noqa
            got = {"error": repr(e), "out": sections.get("exitmon-out", "")[:300]}
        tap(got == iface and iface == {0x72: N + nq, 0x7b: M + 1 + 4 * nq},
            "exitmon's host-side CPUID/IOIO counts equal the guest-read interface counts for the same VM",
            iface, got)
        # Time: interface cycles per CPUID exit vs exitmon's ns per CPUID exit.
        mhz = re.search(r"([0-9.]+) MHz", sections.get("tsc-khz", ""))
        r = {(leaf, ecx): (k, v) for k, leaf, ecx, v in qs[0]}
        try:
            row = [o for o in snap["rows"] if o.get("reason") == 0x72][0]
            em_ns = row["lat_sum_ns"] / row["lat_count"]
            k6, v6 = r[(FF, 0x72)]
            # at query k the CPUIDs whose time is accounted: N + k (not the query itself)
            if_ns = ((v6[1] << 32) | v6[2]) / (N + k6) / float(mhz.group(1)) * 1000
            note(f"time per CPUID exit: interface {if_ns / 1000:.2f} us (TSC {mhz.group(1)} MHz), "
                 f"exitmon {em_ns / 1000:.2f} us (kvm_exit -> kvm_entry, includes its own BPF overhead)")
            tap(0.5 < if_ns / em_ns < 3, "interface time per CPUID exit is within 0.5x-3x of exitmon's latency for the same VM",
                "ratio in (0.5, 3)", round(if_ns / em_ns, 3))
        except Exception as e:  # noqa
            tap(False, "interface time per CPUID exit vs exitmon's latency", "both available", repr(e))
else:
    note("exitmon not available: host-side comparison not run")

# --- exitmon-query in a real Linux guest (L2) -----------------------------------
if have_l2:
    if ran("l2-query"):
        s = sections["l2-query"]
        m = re.search(r"^total: (\d+) exits, (\d+) cycles$", s, re.M)
        rows = {int(c, 16) if c.startswith("0x") else int(c): (int(e), int(y))
                for c, e, y in re.findall(r"^\S+\s+(0x[0-9a-f]+|0)\s+(\d+)\s+(\d+)", s, re.M)}
        okq = (m and "svm exit reasons" in s and 0x72 in rows and rows[0x72][0] >= 358
               and int(m.group(1)) >= sum(e for c, (e, y) in rows.items() if c not in (0x72, 0x7b))
               and int(m.group(2)) > 0)
        # (the total is read first; CPUID and IOIO grow meanwhile: the tool's
        # own queries and its console output)
        tap(okq, "exitmon-query in a Linux guest of the patched KVM: totals and per-reason rows (svm), CPUID >= its own 358 queries, total >= the other rows' sum",
            "interface table", s[:600])
    if ran("l2-query-json") and ran("l2-query-json2"):
        try:
            j1 = json.loads(sections["l2-query-json"].strip().splitlines()[-1])
            j2 = json.loads(sections["l2-query-json2"].strip().splitlines()[-1])
            rs = {r["code"]: r for r in j1["reasons"]}
            c1, c2 = rs[0x72]["exits"], j2["reasons"][0]["exits"]
            okj = (j1["interface"] and j1["isa"] == "svm" and rs[0x3ff]["defined"] is False
                   and rs[0x78]["defined"] is True and c1 > 0 and rs[0x72]["cycles"] > 0
                   and c2 > c1 and j2["total"]["exits"] > j1["total"]["exits"])
            got = (j1, j2)
        except Exception as e:  # noqa
            okj, got = False, repr(e)
        tap(okj, "exitmon-query -o json in the guest: interface true, --reason by name and number, counts grow between runs",
            "valid JSON, CPUID count growing", got)
    if "l2-query-off" in sections:
        s = sections["l2-query-off"]
        tap(rcs["l2-query-off"] == 1 and "interface absent" in s,
            "after kvm.exit_stats=0 on the host, exitmon-query in the same guest says the interface is absent",
            "rc=1 + 'interface absent'", f"rc={rcs['l2-query-off']} {s[:300]!r}")
    else:
        tap(False, "L2 guest ran exitmon-query with the interface off", "@@begin l2-query-off", "missing")
    m1, m2 = re.search(r"@@l2 start ([0-9.]+)", text), re.search(r"@@l2 end ([0-9.]+)", text)
    if m1 and m2:
        note(f"L2 Linux guest boot + queries took {float(m2.group(1)) - float(m1.group(1)):.1f} s in L1")

if "dmesg-check" in sections:
    tap(sections["dmesg-check"].strip() == "", "no WARNING/BUG/oops in the L1 kernel log", "nothing", sections["dmesg-check"][:400])
tap("@@done" in text, "L1 ran every scenario and powered off", "@@done", text[-300:])
sys.exit(1 if fails else 0)
