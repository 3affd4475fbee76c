#!/usr/bin/env python3
"""Check the L1 console log of tests/kpatch/run.sh; print TAP lines.

usage: check.py CONSOLE_LOG FIRST_TEST_NUMBER HAVE_EXITMON HAVE_L2
       check.py --none FIRST_TEST_NUMBER skip|fail REASON
       check.py --count

The list of checks is fixed (CHECKS below): every run prints exactly
len(CHECKS) TAP lines, each ok or not ok, in the same order. A check whose
scenario is missing from the log, exited non-zero or printed the wrong
number of query lines is "not ok"; a check that raises is "not ok" with the
exception, and the later checks still run. Checks that need exitmon or the
L2 guest are "# SKIP" when run.sh could not pack them into L1 (a failure
under CI=true, see tests/run-all.sh). --none prints every check as skipped
or failed with REASON (the rig did not run); --count prints len(CHECKS).
Exit status: 1 if any check is not ok, else 0.
The query list, N and M of each scenario are those of l1-init.sh.
"""
import json
import re
import statistics
import sys
import traceback

FE, FF, FC, FD = 0x4ffffffe, 0x4fffffff, 0x4ffffffc, 0x4ffffffd
UNDEF = {0xa7, 0x3ff, 0x404, 0x10072, 0xffff, 0x7fffffff, 0x80000000}
NEVER = {0xffffffff, 0x1, 0xa6}  # SVM: VMEXIT_INVALID, READ_CR1, IDLE_HLT: defined, never taken here
NQ = 28  # queries in l1-init.sh's $Q
# Module loads in l1-init.sh: load-stock + 3 cost rounds; load-off + 3 cost
# rounds + load-global + load-on.
LOADS = {"stock": 4, "patched": 6}


def cyc(r):
    return (r[1] << 32) | r[2]


class Fail(Exception):
    """The check cannot pass: message says why."""


sections, rcs, text = {}, {}, ""


def sec(name, rc=0):
    """A scenario's output; Fail if it did not run or exited != rc."""
    if name not in sections:
        raise Fail(f"scenario {name} did not run (no @@begin/@@end in the console log)")
    if rc is not None and rcs[name] != rc:
        raise Fail(f"scenario {name} exited {rcs[name]}, expected {rc}: {sections[name][-300:]!r}")
    return sections[name]


def queries(name, nvms=1, nq=NQ, nb=0):
    """({vm: [(k, leaf, ecx, (a, b, c, d))]}, {vm: (n, m, work_ns)}, {vm: baselines}).
    Fail unless every VM printed its header, exactly nq query and nb
    baseline lines."""
    qs, hdr, bs = {}, {}, {}
    for line in sec(name).splitlines():
        m = re.match(r"vm=(\d+) ([qb])=(\d+) leaf=(0x[0-9a-f]+) ecx=(0x[0-9a-f]+) -> (\w+) (\w+) (\w+) (\w+)$", line)
        if m:
            vm = int(m.group(1))
            row = (int(m.group(3)), int(m.group(4), 16), int(m.group(5), 16),
                   tuple(int(m.group(i), 16) for i in range(6, 10)))
            (qs if m.group(2) == "q" else bs).setdefault(vm, []).append(row)
            continue
        m = re.match(r"vm=(\d+) n=(\d+) m=(\d+) work_ns=(\d+)$", line)
        if m:
            hdr[int(m.group(1))] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    for vm in range(nvms):
        got = (vm in hdr, len(qs.get(vm, [])), len(bs.get(vm, [])))
        if got != (True, nq, nb):
            raise Fail(f"{name}: vm {vm}: expected a header line, {nq} query and {nb} baseline lines, "
                       f"got header={got[0]} queries={got[1]} baselines={got[2]}")
    return qs, hdr, bs


# --- the checks, in output order ---------------------------------------------
CHECKS = []  # (description, function, needs: None | "exitmon" | "l2")


def check(desc, needs=None):
    def deco(fn):
        CHECKS.append((desc, fn, needs))
        return fn
    return deco


def load_check(kind):
    loads = re.findall(rf"^@@load {kind} btf=(\S*) bpf_errors=(\d+)$", text, re.M)
    bad = [f"btf={b or '-'} bpf_errors={e}" for b, e in loads if b != "kvm,kvm_amd" or e != "0"]
    return (len(loads) == LOADS[kind] and not bad, f"{LOADS[kind]} loads, each btf=kvm,kvm_amd bpf_errors=0",
            f"{len(loads)} loads; bad: {bad}")


@check("every load of the stock modules: kvm and kvm_amd BTF accepted (/sys/kernel/btf/*), no 'BPF:' errors in dmesg")
def _():
    return load_check("stock")


@check("every load of the patched modules: kvm and kvm_amd BTF accepted (/sys/kernel/btf/*), no 'BPF:' errors in dmesg")
def _():
    return load_check("patched")


def interface(name, stock_name):
    """Exact oracle checks of one single-VM run with the interface on; the
    five results in order (each (ok, expected, got))."""
    qs, hdr, _ = queries(name)
    N, M, _ = hdr[0]
    q = qs[0]
    out = []
    errs, cy = [], {}
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
        if leaf in (FD, FF) and ecx not in UNDEF | NEVER:
            if r[0] != 0 or r[3] != 0 or cyc(r) == 0:
                errs.append(f"q{k} leaf {leaf:#x} ecx {ecx:#x}: expected nonzero cycles in EBX:ECX, EAX=EDX=0, got {r}")
            cy.setdefault((leaf, ecx), []).append(cyc(r))
    out.append((not errs, "exact counts", "; ".join(errs[:4])))
    fd, ff = cy.get((FD, 0), []), cy.get((FF, 0x72), [])
    mono = len(fd) == 2 and len(ff) == 2 and fd[1] > fd[0] > 0 and ff[1] > ff[0] > 0 and fd[1] >= ff[1]
    out.append((mono, "FD q4 < FD q7, FF72 q5 < q6, FD >= FF72", f"FD {fd} FF72 {ff}"))
    bad = [(k, leaf, ecx, r) for k, leaf, ecx, r in q if ecx in UNDEF and leaf in (FE, FF)
           and r != (0, 0, 0, 0xffffffff)]
    nundef = len([1 for k, leaf, ecx, r in q if ecx in UNDEF and leaf in (FE, FF)])
    out.append((not bad and nundef == 8, "8 queries, each (0,0,0,0xffffffff)", f"{nundef} queries; bad: {bad[:3]}"))
    bad = [(k, leaf, ecx, r) for k, leaf, ecx, r in q if ecx in NEVER and leaf in (FE, FF)
           and r != (0, 0, 0, 0)]
    out.append((not bad, "(0,0,0,0)", bad[:3]))
    sq, _, _ = queries(stock_name)

    def other(qq):
        return [(k, leaf, ecx, r) for k, leaf, ecx, r in qq if not FC <= leaf <= FF]
    o1, o2 = other(q), other(sq[0])
    out.append((len(o1) == 3 and o1 == o2, o2, o1))
    return out


_iface_cache = {}


def iface(name, stock_name, i):
    """Result i of interface(name); Fail/exception of the scenario repeats
    for each of its five checks."""
    if name not in _iface_cache:
        try:
            _iface_cache[name] = interface(name, stock_name)
        except Exception as e:  # noqa: BLE001 -- reported by each check
            _iface_cache[name] = e
    r = _iface_cache[name]
    if isinstance(r, Exception):
        raise r
    return r[i]


IFACE_DESCS = (
    "CPUID/IOIO/HLT/NPF/total counts equal the oracle (own queries counted)",
    "cycles nonzero and monotonic (total and CPUID), total >= CPUID",
    "8 queries of undefined reasons (0xa7, 0x3ff, 0x404, 0x10072, 0xffff, 0x7fffffff, 0x80000000) give EAX=EBX=ECX=0 EDX=0xffffffff",
    "defined reasons KVM never took here (0x1 READ_CR1, 0xa6 IDLE_HLT, 0xffffffff VMEXIT_INVALID) read their counters: all zeroes",
    "the 3 other leaves (0, 0x40000000, 0x4ffffffb) answer as on stock KVM",
)


def iface_checks(name, stock_name):
    for i, d in enumerate(IFACE_DESCS):
        check(f"{name}: {d}")(lambda i=i: iface(name, stock_name, i))


iface_checks("on-single", "stock-amd")


@check("on-single: the kvm_exit tracepoint (ftrace hist) agrees with the oracle (CPUID, IOIO, HLT)")
def _():
    qs, hdr, _ = queries("on-single")
    N, M, _ = hdr[0]
    hist = {int(a): int(b) for a, b in re.findall(r"exit_reason:\s+(\d+) \} hitcount:\s+(\d+)", sec("on-single-hist"))}
    exp = {114: N + NQ, 123: M + 1 + 4 * NQ, 120: 1}
    return {k: hist.get(k) for k in exp} == exp, exp, hist


iface_checks("on-intel", "stock-intel")
iface_checks("onload-single", "stock-amd")


@check("on-single: 0x4ffffffc equals KVM's binary statistic 'exits' read right after the query, minus the report exit (2 queries)")
def _():
    qs, _, _ = queries("on-single")
    stat = {int(k): int(v) for k, v in re.findall(r"^vm=0 q=(\d+) stat_exits=(\d+)$", sec("on-single"), re.M)}
    got = [(k, r[0], stat.get(k)) for k, leaf, ecx, r in qs[0] if leaf == FC]
    # The query's CPUID is counted in EAX; the VMM reads the statistic at
    # the first report OUT, the next exit.
    return len(got) == 2 and all(s == t + 1 for _, t, s in got), "stat_exits == EAX + 1", got


def sleep_run(name):
    """(IOIO cycles at the query, sleep cycles of the 5 sleeping OUTs)."""
    qs, hdr, _ = queries(name, nq=1)
    mhz = re.search(r"([0-9.]+) MHz", sec("tsc"))
    if not mhz:
        raise Fail(f"no TSC frequency in dmesg: {sections['tsc']!r}")
    return cyc(qs[0][0][3]), hdr[0][1] * 20000 * float(mhz.group(1))


@check("exit_stats_time=handler (default): a VMM sleeping 20 ms in userspace on each of 5 IOIO exits adds < 10% of the sleep to IOIO time")
def _():
    got, slept = sleep_run("time-handler")
    return got < slept / 10, f"< {slept / 10:.0f} cycles", f"{got} cycles"


@check("exit_stats_time=entry: the same run's IOIO time covers the 5 x 20 ms of sleep")
def _():
    if sec("time-entry-set").split() != ["entry"] or sec("time-handler-set").split() != ["handler"]:
        raise Fail(f"exit_stats_time did not switch: {sections['time-entry-set']!r} {sections['time-handler-set']!r}")
    got, slept = sleep_run("time-entry")
    return got >= slept, f">= {slept:.0f} cycles", f"{got} cycles"


@check("emulated CPUID (force_emulation_prefix, em_cpuid): answered exactly, CPUID == N, #UD (0x46) == queries so far")
def _():
    if sec("fep-on").split() != ["1"]:
        raise Fail(f"force_emulation_prefix did not switch on: {sections['fep-on']!r}")
    qs, hdr, _ = queries("fep", nq=3)
    N, M, _ = hdr[0]
    r = [x[3] for x in qs[0]]
    exp = [(N, 0, 0, 0), (2, 0, 0, 0)]
    tot = N + M + 1 + 4 * 2 + 3  # CPUIDs, OUTs, 2 earlier queries' reports, 3 #UDs
    okf = r[:2] == exp and r[2][1:] == (0, 0, 0) and tot + 1 <= r[2][0] <= tot + 64
    return okf, f"{exp} and total {tot}+NPF+INTR", r


@check("two VMs at once (N=300/600, M=10/20): each sees exactly its own counts (scope=vm)")
def _():
    qs, hdr, _ = queries("on-two", nvms=2, nq=4)
    errs = []
    for vm in (0, 1):
        N, M, _ = hdr[vm]
        r = {(leaf, ecx): v for k, leaf, ecx, v in qs[vm]}
        if r.get((FE, 0x72)) != (N + 1, 0, 0, 0):
            errs.append(f"vm{vm} CPUID expected {N + 1} got {r.get((FE, 0x72))}")
        if r.get((FE, 0x7b)) != (M + 1 + 4, 0, 0, 0):
            errs.append(f"vm{vm} IOIO expected {M + 5} got {r.get((FE, 0x7b))}")
        tot = r.get((FC, 0), (0,))[0]
        if not N + 3 + M + 9 <= tot <= N + 3 + M + 9 + 64:
            errs.append(f"vm{vm} total expected ~{N + M + 12} got {tot}")
    return not errs, "own counts", "; ".join(errs)


@check("a 2-vCPU VM (N=300, M=10 each), queried by vCPU 0 behind a barrier: the VM's CPUID and IOIO counts are exactly the sum of both vCPUs")
def _():
    qs, hdr, _ = queries("on-vcpus", nq=3)
    if not re.search(r"^vm=0 vcpus=2$", sec("on-vcpus"), re.M):
        raise Fail("kvmq did not run 2 vCPUs")
    N, M, _ = hdr[0]
    r = [x[3] for x in qs[0]]
    exp = [(2 * N + 1, 0, 0, 0), (2 * (M + 1) + 4, 0, 0, 0)]
    known = 2 * N + 3 + 2 * (M + 1) + 8  # CPUIDs incl. 3 queries, OUTs incl. 2 queries' reports
    okv = r[:2] == exp and r[2][1:] == (0, 0, 0) and known + 1 <= r[2][0] <= known + 64
    return okv, f"{exp} and total {known}+NPF+INTR", r


def deltas(name):
    """Per VM: (own N, CPUID count at the query - at the baseline)."""
    qs, hdr, bs = queries(name, nvms=2, nq=1, nb=1)
    out = {}
    for vm in (0, 1):
        (_, _, _, b), (_, _, _, q) = bs[vm][0], qs[vm][0]
        if b[1:] != (0, 0, 0) or q[1:] != (0, 0, 0):
            raise Fail(f"{name}: vm {vm}: EBX/ECX/EDX of a count leaf must be 0: {b} {q}")
        out[vm] = (hdr[vm][0], q[0] - b[0])
    return out


@check("kvm.exit_stats_scope=vm, VMs with baselines: query - baseline == exactly the VM's own N + 1 CPUIDs")
def _():
    d = deltas("vm-base")
    exp = {vm: n + 1 for vm, (n, _) in d.items()}
    return {vm: x for vm, (_, x) in d.items()} == exp, exp, d


@check("kvm.exit_stats_scope=global: each VM's query - baseline includes the other VM's work (N0 + N1 + 1 .. + 2 queries)")
def _():
    if sec("scope-global").split() != ["global"]:
        raise Fail(f"scope did not switch to global: {sections['scope-global']!r}")
    d = deltas("on-global")
    both = sum(n for n, _ in d.values())
    # Lower bound: both VMs' work + this query; the other VM's baseline and
    # its own final query may or may not fall in between.
    okg = all(both + 1 <= x <= both + 3 for _, x in d.values())
    return okg, f"{both + 1}..{both + 3} in each VM (own N alone would be ~{min(n for n, _ in d.values()) + 1})", d


@check("exit_stats_scope=global warns once in dmesg (set twice)")
def _():
    got = sec("scope-warn").split()
    return got == ["1"], ["1"], got


@check("exit_stats_scope accepts vm|global, rejects anything else")
def _():
    v, b = sec("scope-vm"), sec("scope-bad")
    return (v.split() == ["vm"] and b.split()[-1:] == ["vm"],
            "vm / write of 'bogus' refused, still vm", (v, b))


def fresh(name):
    """(N, M, [b 0x72, b 0x7b, q 0x72, q 0x7b] EAX) of a lone VM's run; the
    other registers of a count leaf must be 0."""
    qs, hdr, bs = queries(name, nq=2, nb=2)
    rows = [r for _, _, _, r in bs[0] + qs[0]]
    if any(r[1:] != (0, 0, 0) for r in rows):
        raise Fail(f"{name}: EBX/ECX/EDX of a count leaf must be 0: {rows}")
    return hdr[0][0], hdr[0][1], [r[0] for r in rows]


def fresh_own(n, m):
    """What a lone VM of kvmq -b 0x72 -b 0x7b -q 0x72 -q 0x7b reads of its
    own exits: CPUIDs at b0 (itself), OUTs at b1 (b0's 4 reports), CPUIDs
    at q0 (2 baselines, the work, itself), OUTs at q1 (8 baseline reports,
    start, work, sync, q0's 4 reports); and its totals at hlt."""
    return [1, 4, n + 3, m + 14], (n + 4, m + 18)


@check("global scope on freshly enabled counters (reloaded with kvm.exit_stats=1 exit_stats_scope=global): a lone VM's baselines and queries read exactly its own CPUID/IOIO exits (1, 4, N+3, M+14)")
def _():
    if sec("global-params").split() != ["Y", "global"]:
        raise Fail(f"reload did not set both parameters: {sections['global-params']!r}")
    n, m, got = fresh("global-fresh-1")
    exp, _ = fresh_own(n, m)
    return got == exp, exp, got


@check("global scope, a second VM after it: each value is exactly the first VM's totals (CPUID N1+4, IOIO M1+18) plus its own")
def _():
    n1, m1, _ = fresh("global-fresh-1")
    n2, m2, got = fresh("global-fresh-2")
    own, _ = fresh_own(n2, m2)
    _, (tc, ti) = fresh_own(n1, m1)
    exp = [v + (tc if i % 2 == 0 else ti) for i, v in enumerate(own)]
    return got == exp, exp, got


for off, stock, desc in (("off-intel", "stock-intel", "loaded with exit_stats=0, Intel guest CPUID"),
                         ("off-amd", "stock-amd", "loaded with exit_stats=0, no guest CPUID"),
                         ("rtoff-intel", "stock-intel", "turned off at runtime, Intel guest CPUID")):
    @check(f"interface off ({desc}): all {NQ} query leaves answer exactly as stock KVM")
    def _(off=off, stock=stock):
        a, _, _ = queries(off)
        b, _, _ = queries(stock)
        return a[0] == b[0], b[0][:3], [x for x in a[0] if x not in b[0]][:3]


@check("stock KVM answers the leaves non-trivially with an Intel guest CPUID")
def _():
    si, _, _ = queries("stock-intel")
    distinct = len({r for k, leaf, ecx, r in si[0]})
    return distinct >= 3, ">= 3 distinct answers", distinct


for name, exp in (("param-default", ["N", "vm", "handler"]), ("enable", ["Y"]), ("disable", ["N"]), ("param-on", ["Y"])):
    @check(f"kvm parameters: {name} reads {' '.join(exp)}")
    def _(name=name, exp=exp):
        got = sec(name).split()
        return got == exp, exp, got


@check("cost per exit with the interface on/off stays within 3x stock (sanity; TCG on a busy machine spreads rounds 0.7-2.6x)")
def _():
    costs = {}
    for kind in ("stock", "off", "on"):
        for i in (1, 2, 3):
            _, hdr, _ = queries(f"cost-{kind}-{i}", nq=0)
            if not hdr[0][0]:
                raise Fail(f"cost-{kind}-{i}: N is 0")
            costs.setdefault(kind, []).append(hdr[0][2] / hdr[0][0])
    base = min(costs["stock"])
    note(f"cost per CPUID exit in L1, N={queries('cost-stock-1', nq=0)[1][0][0]}, 3 runs each "
         "(min / median, ratio of mins to stock):")
    for k in ("stock", "off", "on"):
        note(f"  {k:5s} {min(costs[k]) / 1000:7.2f} / {statistics.median(costs[k]) / 1000:7.2f} us  "
             f"{min(costs[k]) / base:.3f}x  runs: {', '.join(f'{v / 1000:.2f}' for v in costs[k])}")
    rounds = [(costs["off"][i] / costs["stock"][i], costs["on"][i] / costs["stock"][i],
               costs["on"][i] / costs["off"][i]) for i in range(3)]
    for i, (a, b, c) in enumerate(rounds):
        note(f"  round {i + 1}: off/stock {a:.3f}  on/stock {b:.3f}  on/off {c:.3f}")
    note("  median of rounds: off/stock %.3f  on/stock %.3f  on/off %.3f" %
         tuple(statistics.median(r[j] for r in rounds) for j in range(3)))
    return (all(min(v) < 3 * base for v in costs.values()), "< 3x",
            {k: [round(x) for x in v] for k, v in costs.items()})


@check("KVM selftest x86_64/exit_stats_test (patch 3) with kvm.exit_stats=1 at load: passes, exact CPUID/IO counts in each of its 5 rounds")
def _():
    s = sec("selftest")
    rounds = re.findall(r"^round \d+: ", s, re.M)
    return (len(rounds) == 5 and "5 rounds of 200 CPUIDs: ok" in s,
            "rc=0, 5 rounds, ok", s[-600:])


@check("KVM selftest exit_stats_test skips (KSFT_SKIP, exit 4) with kvm.exit_stats=0")
def _():
    s = sec("selftest-off", rc=4)
    return "SKIP" in s and "exit_stats is not 1" in s, "rc=4 + SKIP", s[-300:]


@check("exitmon-query in a non-KVM guest (L1 under TCG) says the interface is absent, exit 1")
def _():
    s = sec("query-absent", rc=1)
    return "interface absent" in s, "rc=1 + 'interface absent'", s[:200]


@check("exitmon-query -o json reports interface:false there")
def _():
    j = json.loads(sec("query-absent-json", rc=1).strip().splitlines()[-1])
    return j.get("interface") is False, '{"interface":false,...}', j


def exitmon_snapshot():
    qs, hdr, _ = queries("exitmon-kvmq")
    snap = json.loads(sec("exitmon-json"))
    return qs[0], hdr[0], snap


@check("exitmon's host-side CPUID/IOIO counts equal the guest-read interface counts for the same VM", needs="exitmon")
def _():
    q, (N, M, _), snap = exitmon_snapshot()
    # Interface value at its query + what the remaining queries add.
    iface_v = {}
    for k, leaf, ecx, r in q:
        if leaf == FE and ecx == 0x72:
            iface_v[0x72] = r[0] + (NQ - k - 1)
        if leaf == FE and ecx == 0x7b:
            iface_v[0x7b] = r[0] + 4 * (NQ - k)
    got = {}
    for row in snap["rows"]:
        if row.get("reason") in (0x72, 0x7b) and row.get("tgid", 0) == 0 and row.get("vcpu", -1) == -1:
            got[row["reason"]] = got.get(row["reason"], 0) + row["count"]
    exp = {0x72: N + NQ, 0x7b: M + 1 + 4 * NQ}
    return got == iface_v == exp, f"oracle {exp}, interface {iface_v}", got


@check("interface time per CPUID exit is within 0.5x-3x of exitmon's latency for the same VM", needs="exitmon")
def _():
    q, (N, M, _), snap = exitmon_snapshot()
    mhz = re.search(r"([0-9.]+) MHz", sec("tsc-khz"))
    if not mhz:
        raise Fail(f"no TSC frequency in dmesg: {sections['tsc-khz']!r}")
    r = {(leaf, ecx): (k, v) for k, leaf, ecx, v in q}
    row = [o for o in snap["rows"] if o.get("reason") == 0x72][0]
    em_ns = row["lat_sum_ns"] / row["lat_count"]
    k6, v6 = r[(FF, 0x72)]
    # at query k the CPUIDs whose time is accounted: N + k (not the query itself)
    if_ns = cyc(v6) / (N + k6) / float(mhz.group(1)) * 1000
    note(f"time per CPUID exit: interface {if_ns / 1000:.2f} us (TSC {mhz.group(1)} MHz), "
         f"exitmon {em_ns / 1000:.2f} us (kvm_exit -> kvm_entry, includes its own BPF overhead)")
    return 0.5 < if_ns / em_ns < 3, "ratio in (0.5, 3)", round(if_ns / em_ns, 3)


@check("exitmon-query in a Linux guest of the patched KVM: totals and per-reason rows (svm), CPUID >= its own 358 queries, total >= the other rows' sum", needs="l2")
def _():
    s = sec("l2-query")
    m = re.search(r"^total: (\d+) exits, (\d+) cycles$", s, re.M)
    rows = {int(c, 16) if c.startswith("0x") else int(c): (int(e), int(y))
            for c, e, y in re.findall(r"^\S+\s+(0x[0-9a-f]+|0)\s+(\d+)\s+(\d+)", s, re.M)}
    # (the total is read first; CPUID and IOIO grow meanwhile: the tool's
    # own queries and its console output)
    okq = bool(m and "svm exit reasons" in s and 0x72 in rows and rows[0x72][0] >= 358
               and int(m.group(1)) >= sum(e for c, (e, y) in rows.items() if c not in (0x72, 0x7b))
               and int(m.group(2)) > 0)
    return okq, "interface table", s[:600]


@check("exitmon-query -o json in the guest: interface true, --reason by name and number, counts grow between runs", needs="l2")
def _():
    j1 = json.loads(sec("l2-query-json").strip().splitlines()[-1])
    j2 = json.loads(sec("l2-query-json2").strip().splitlines()[-1])
    rs = {r["code"]: r for r in j1["reasons"]}
    c1, c2 = rs[0x72]["exits"], j2["reasons"][0]["exits"]
    okj = (j1["interface"] and j1["isa"] == "svm" and rs[0x3ff]["defined"] is False
           and rs[0x78]["defined"] is True and c1 > 0 and rs[0x72]["cycles"] > 0
           and c2 > c1 and j2["total"]["exits"] > j1["total"]["exits"])
    return okj, "valid JSON, CPUID count growing", (j1, j2)


@check("after kvm.exit_stats=0 on the host, exitmon-query in the same guest says the interface is absent", needs="l2")
def _():
    s = sec("l2-query-off", rc=1)
    m1, m2 = re.search(r"@@l2 start ([0-9.]+)", text), re.search(r"@@l2 end ([0-9.]+)", text)
    if m1 and m2:
        note(f"L2 Linux guest boot + queries took {float(m2.group(1)) - float(m1.group(1)):.1f} s in L1")
    return "interface absent" in s, "rc=1 + 'interface absent'", s[:300]


@check("no WARNING/BUG/oops/'BPF:' error in the L1 kernel log")
def _():
    s = sec("dmesg-check")
    return s.strip() == "", "nothing", s[:400]


@check("L1 ran every scenario and powered off")
def _():
    return "@@done" in text, "@@done", text[-300:]


# --- output ----------------------------------------------------------------------
out_lines = []


def note(s):
    out_lines.append(f"# {s}")


def main(argv):
    global text
    if argv[1:2] == ["--count"]:
        print(len(CHECKS))
        return 0
    fails = 0
    if argv[1:2] == ["--none"]:
        n, how, reason = int(argv[2]), argv[3], argv[4]
        for i, (desc, _, _) in enumerate(CHECKS):
            if how == "skip":
                print(f"ok {n + i + 1} - {desc} # SKIP {reason}")
            else:
                print(f"not ok {n + i + 1} - {desc}\n# {reason}")
        return 0 if how == "skip" else 1
    log_path, n = argv[1], int(argv[2])
    have = {None: True, "exitmon": argv[3] == "1", "l2": argv[4] == "1"}
    text = open(log_path, errors="replace").read().replace("\r", "")
    for m in re.finditer(r"^@@begin (\S+)\n(.*?)^@@end \1 rc=(\d+)$", text, re.S | re.M):
        sections[m.group(1)] = m.group(2)
        rcs[m.group(1)] = int(m.group(3))
    for desc, fn, needs in CHECKS:
        n += 1
        out_lines.clear()
        if not have[needs]:
            print(f"ok {n} - {desc} # SKIP {needs} not packed into L1 (see run.sh)")
            continue
        try:
            okay, expected, got = fn()
            diag = [f"expected {expected}", f"got {got}"]
        except Fail as e:
            okay, diag = False, [str(e)]
        except Exception:  # noqa: BLE001 -- a crash is a failed check, not a lost one
            okay = False
            diag = ["check crashed:"] + traceback.format_exc().strip().splitlines()[-4:]
        print(f"{'ok' if okay else 'not ok'} {n} - {desc}")
        for line in out_lines if okay else out_lines + diag:
            print(line if line.startswith("#") else f"# {line}")
        fails += not okay
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
