#!/bin/bash
# exitmon-query's decoding against a model of the host (build with
# -DEXITMON_QUERY_FAKE).  Usage: fake-tests.sh BINARY FIRST_TEST_NUMBER
# Prints TAP lines (no plan); exit status = number of TAP lines printed,
# failures counted in $FAKE_FAILS_FILE if set.
bin=$1; n=$2; count=0; fails=0
t() { # t DESC EXPECTED GOT  (ok when EXPECTED == GOT)
	n=$((n + 1)); count=$((count + 1))
	if [ "$2" == "$3" ]; then echo "ok $n - exitmon-query: $1"
	else fails=$((fails + 1)); echo "not ok $n - exitmon-query: $1"; echo "# expected $2"; echo "# got $3"; fi
}
jq_() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

out=$(EXITMON_FAKE=svm "$bin" -o json); rc=$?
t "svm host: interface found, isa svm, exit 0" "True svm 0" "$(echo "$out" | jq_ 'j["interface"], j["isa"]') $rc"
t "svm host: CPUID(0x72) and IOIO(0x7b) listed with counts; cycles use EBX as the high word" \
	"[(114, 'CPUID'), (123, 'IOIO')] True" \
	"$(echo "$out" | jq_ '[(r["code"], r["name"]) for r in j["reasons"]], [r for r in j["reasons"] if r["code"]==123][0]["cycles"] == 2000*((1<<32)+7)')"
out=$(EXITMON_FAKE=vmx "$bin" -o json); rc=$?
t "vmx host: isa vmx, CPUID is reason 10" "vmx [10, 30] 0" \
	"$(echo "$out" | jq_ 'j["isa"], [r["code"] for r in j["reasons"]]' | tr -d '\n' | sed 's/^\(vmx\)\[/\1 [/') $rc"
for m in absent stock-intel static; do
	out=$(EXITMON_FAKE=$m "$bin"); rc=$?
	t "$m host: says the interface is absent, exit 1" "1 1" "$rc $(echo "$out" | grep -c 'interface absent')"
done
out=$(EXITMON_FAKE=stock-intel "$bin" -o json); rc=$?
t "absent -> JSON interface:false" "False 1" "$(echo "$out" | jq_ 'j["interface"]') $rc"
out=$(EXITMON_FAKE=svm "$bin" -o json -r cpuid -r 0x7b,0xa7 -r 0x3ff); rc=$?
# 3009: the model's 3000 + this tool's 8 earlier CPUIDs + the query itself
t "--reason by name, number, list, raw undefined number" "[(114, True, 3009), (123, True, 2000), (167, False, 0), (1023, False, 0)] 0" \
	"$(echo "$out" | jq_ '[(r["code"], r["defined"], r["exits"]) for r in j["reasons"]]') $rc"
EXITMON_FAKE=svm "$bin" -r nosuch >/dev/null 2>&1; rc=$?
t "unknown reason name is a usage error (exit 2)" 2 $rc
EXITMON_FAKE=svm "$bin" -o xml >/dev/null 2>&1; rc=$?
t "bad -o is a usage error (exit 2)" 2 $rc
out=$(EXITMON_FAKE=svm "$bin"); rc=$?
t "table output has totals and a CPUID row" "1 1 0" \
	"$(echo "$out" | grep -c '^total: [0-9]* exits, [0-9]* cycles$') $(echo "$out" | grep -c '^CPUID  *0x72 ') $rc"
[ -n "${FAKE_FAILS_FILE:-}" ] && echo $fails >"$FAKE_FAILS_FILE"
exit $count
