#!/usr/bin/env bash
# Tier "serve": `exitmon serve` and `exitmon run --textfile`, checked by
# promtool, the OpenMetrics parser of python3-prometheus-client, a real
# Prometheus (Debian 2.42, scrape_interval 1s) and hostile clients, plus
# the systemd unit and the Grafana dashboard's queries. Loopback only.
# TAP on stdout ("ok N" / "not ok N"), progress on stderr. Needs root (it
# installs prometheus from apt when missing, loads BPF); without it, or
# without the packages, it skips with the reason, and under CI=true a skip
# is a failure. Bounded: every wait has a deadline, ~50 s in all.
set -uo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
EXITMON=${SERVE_EXITMON:-$TOP/exitmon}
PY=/usr/bin/python3 # the system one: python3-prometheus-client is there

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
check() { # description command...
	local what=$1
	shift
	if "$@" >&2; then ok "$what"; else notok "$what"; fi
}
skip() { # description reason
	n=$((n + 1))
	if [ "${CI:-}" = true ]; then
		echo "not ok $n - $1 # did not run under CI=true: $2"
		failed=1
	else
		echo "ok $n - $1 # SKIP $2"
	fi
}
finish() { echo "1..$n"; exit "$failed"; }
log() { echo "serve: $*" >&2; }

work=$(mktemp -d /tmp/exitmon-serve.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

# --- usage checks: no root needed -----------------------------------------
if [ ! -x "$EXITMON" ]; then
	notok "exitmon binary $EXITMON exists (run make first)"
	finish
fi
help=$("$EXITMON" serve -h)
missing=""
for flag in --listen --per-vm --max-series --reason --textfile 10283; do
	grep -q -- "$flag" <<<"$help" || missing="$missing $flag"
done
check "serve -h describes --listen, --per-vm, --max-series, --reason, --textfile and the port${missing:+ (missing:$missing)}" \
	test -z "$missing"
usage_exit() { # expected-status args...
	local want=$1 out rc
	shift
	out=$("$EXITMON" "$@" 2>&1 >/dev/null)
	rc=$?
	[ "$rc" -eq "$want" ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [ -n "$out" ]
}
bad=""
for l in 1.2.3.4 localhost:80 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:-1 '[::1]' ::1:80 '127.0.0.1:80x' ':80'; do
	usage_exit 2 serve --listen "$l" || bad="$bad $l"
done
check "bad --listen values exit 2 with one line${bad:+ (not:$bad)}" test -z "$bad"
check "--max-series 0 exits 2" usage_exit 2 serve --max-series 0
check "--textfile with serve exits 2" usage_exit 2 serve --textfile /tmp
check "--listen with run exits 2" usage_exit 2 run --listen 127.0.0.1:10283
check "serve --per-vcpu exits 2" usage_exit 2 serve --per-vcpu

# --- setup -----------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "serve tier" "needs root (BPF, apt)"
	finish
fi
need=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || need+=(prometheus)
$PY -c 'import prometheus_client.openmetrics.parser' 2>/dev/null || need+=(python3-prometheus-client)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
		--no-install-recommends "${need[@]}" >"$work/apt.log" 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
			--no-install-recommends "${need[@]}" >"$work/apt.log" 2>&1; }
fi
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null ||
   ! $PY -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
	skip "serve tier" "prometheus / python3-prometheus-client not installable ($(tail -1 "$work/apt.log" 2>/dev/null))"
	finish
fi
if ! make -s build/tests/prom_render >"$work/make.log" 2>&1; then
	notok "build the snapshot renderer (build/tests/prom_render): $(tail -1 "$work/make.log")"
	finish
fi
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # seconds command...: polls every 0.2 s
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
OM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
# The strict OpenMetrics 1.0 parser of python3-prometheus-client.
cat >"$work/om_check.py" <<'EOF'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
assert text.endswith("# EOF\n"), "does not end in # EOF"
fams = list(text_string_to_metric_families(text))
assert any(f.name == "exitmon_build" and f.type == "info" for f in fams), "no exitmon_build info"
EOF
om_check() { $PY "$work/om_check.py" "$1" 2>"$work/om.err"; }
# Text format: no # EOF, every sample "name{labels} value" (no timestamp).
text_ok() { ! grep -q '^# EOF' "$1" && ! grep -v '^#' "$1" | grep -qvE '^[a-z_]+(\{[^ ]*\})? [^ ]+$'; }

# --- formats on saved snapshots (populated histograms, per-VM series) -----
# a fixed list, so the tier's test count is too
# (extremes: its 2^63-1 values halved, since the loader refuses row sums above 2^63-1)
sed 's/9223372036854775807/4611686018427387904/g' tests/fuzz/corpus/extremes.json >"$work/extremes.json"
for b in empty extremes svm-breakdown vmx-small; do
	f=tests/fuzz/corpus/$b.json
	[ "$b" = extremes ] && f=$work/extremes.json
	build/tests/prom_render "$f" text >"$work/$b.prom"
	build/tests/prom_render "$f" om 1 >"$work/$b.om"
	check "promtool check metrics: text format of snapshot $b" \
		bash -c "promtool check metrics <'$work/$b.prom'"
	check "text format of snapshot $b: no # EOF, no timestamps" text_ok "$work/$b.prom"
	check "OpenMetrics parser: OpenMetrics format of snapshot $b (--max-series 1)" om_check "$work/$b.om"
done

# --- the live server -------------------------------------------------------
port=$(free_port)
base=http://127.0.0.1:$port
"$EXITMON" serve --listen "127.0.0.1:$port" --ready-file "$work/ready" 2>"$work/serve.err" &
spid=$!
pids+=("$spid")
if ! wait_for 30 test -e "$work/ready"; then
	why=$(tail -1 "$work/serve.err")
	kill "$spid" 2>/dev/null
	if grep -qE "tracepoints not found|BTF not available" <<<"$why"; then
		skip "live serve checks" "$why"
	else
		notok "exitmon serve starts ($why)"
	fi
	finish
fi
ok "exitmon serve starts on 127.0.0.1:$port"
check "a second serve on the same port exits 1 with one line" \
	usage_exit 1 serve --listen "127.0.0.1:$port"
# libmicrohttpd is loaded by serve (dlopen), not linked: without it serve
# says so in one line and exits 1 (hidden here by a bind mount of /dev/null)
mhd=$(ldconfig -p | awk '$1 == "libmicrohttpd.so.12" && /x86-64/ { print $NF; exit }')
check "serve without libmicrohttpd exits 1 with one line naming it; run does not need it" \
	unshare -m bash -c "mount --bind /dev/null '$(readlink -f "$mhd")' &&
		out=\$('$EXITMON' serve --listen 127.0.0.1:1 2>&1 >/dev/null); rc=\$?;
		echo \"\$out\"; [ \$rc -eq 1 ] && [ \$(wc -l <<<\"\$out\") -eq 1 ] &&
		grep -q 'cannot load libmicrohttpd.so.12' <<<\"\$out\" &&
		'$EXITMON' reasons >/dev/null"
# --ready-file names a path to create, never one to overwrite (root truncating
# an existing file): refused before attaching, the file left as it was
echo keep >"$work/existing"
check "serve --ready-file of an existing file exits 1 with one line, file untouched" \
	bash -c "$(declare -f usage_exit); EXITMON='$EXITMON' usage_exit 1 serve --listen 127.0.0.1:1 --ready-file '$work/existing' && [ \"\$(cat '$work/existing')\" = keep ]"

req() { # out-prefix curl-args...: writes $out.h (headers) and $out.b (body)
	local o=$1
	shift
	curl -s -m 5 -D "$work/$o.h" -o "$work/$o.b" "$@"
}
status() { head -1 "$work/$1.h" | cut -d' ' -f2; }
ctype() { grep -i '^content-type:' "$work/$1.h" | cut -d' ' -f2- | tr -d '\r'; }

req text "$base/metrics"
check "GET /metrics: 200, Content-Type text 0.0.4" \
	test "$(status text) $(ctype text)" = "200 text/plain; version=0.0.4; charset=utf-8"
check "promtool check metrics: live text format" bash -c "promtool check metrics <'$work/text.b'"
check "live text format: no # EOF, no timestamps" text_ok "$work/text.b"
req om -H "Accept: $OM_ACCEPT" "$base/metrics"
check "GET /metrics with Prometheus' Accept: Content-Type OpenMetrics 1.0.0" \
	test "$(ctype om)" = "application/openmetrics-text; version=1.0.0; charset=utf-8"
check "OpenMetrics parser: live OpenMetrics format (ends in # EOF, info type)" om_check "$work/om.b"
hsize=$(curl -s -m 5 -I -D "$work/head.h" -o /dev/null -w '%{size_download}' "$base/metrics")
check "HEAD /metrics: 200, a Content-Type and Content-Length, no body" \
	bash -c "[ '$(status head)' = 200 ] && [ -n '$(ctype head)' ] && grep -qi '^content-length: [1-9]' '$work/head.h' && [ '$hsize' = 0 ]"
req post -X POST --data x "$base/metrics"
check "POST: 405 with Allow: GET, HEAD and a Content-Type" \
	bash -c "[ '$(status post)' = 405 ] && grep -qi '^allow: GET, HEAD' '$work/post.h' && [ -n '$(ctype post)' ]"
req put -X PUT --data x "$base/"
check "PUT: 405" test "$(status put)" = 405
req nf "$base/nothing"
check "unknown path: 404 with a Content-Type" bash -c "[ '$(status nf)' = 404 ] && [ -n '$(ctype nf)' ]"
req root "$base/"
check "/ is an HTML landing page linking /metrics" \
	bash -c "[ '$(status root)' = 200 ] && grep -q 'href=\"/metrics\"' '$work/root.b' && [ '$(ctype root)' = 'text/html; charset=utf-8' ]"
# counters never go down between scrapes
req text2 "$base/metrics"
check "counters of a second scrape are >= the first" \
	bash -c "join <(grep -E '^exitmon_[a-z_]+_total' '$work/text.b' | sort) <(grep -E '^exitmon_[a-z_]+_total' '$work/text2.b' | sort) | awk '\$3 < \$2 { bad = 1 } END { exit bad }'"

# scrape CPU on this host (the 256-CPU figure needs the nested rig)
cpu() { awk '{ print $14 + $15 }' "/proc/$spid/stat"; }
c0=$(cpu)
for _ in $(seq 50); do curl -s -o /dev/null "$base/metrics"; done
c1=$(cpu)
ms=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) / 50 ))
check "scrape CPU on this host ($(nproc --all) CPUs, no exits): ${ms} ms per scrape <= 50 ms" test "$ms" -le 50

# --- a real Prometheus -----------------------------------------------------
# Besides exitmon serve, two static targets serve the populated snapshot
# svm-breakdown in each format, so Prometheus ingests real histograms.
build/tests/prom_render tests/fuzz/corpus/vmx-small.json text >"$work/static.text"
build/tests/prom_render tests/fuzz/corpus/vmx-small.json om >"$work/static.om"
sport=$(free_port)
$PY - "$sport" "$work" 2>"$work/static.err" <<'EOF' &
import http.server, sys
port, work = int(sys.argv[1]), sys.argv[2]
types = {"/text": "text/plain; version=0.0.4; charset=utf-8",
         "/om": "application/openmetrics-text; version=1.0.0; charset=utf-8"}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in types:
            self.send_error(404)
            return
        body = open(work + "/static" + self.path.replace("/", "."), "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", types[self.path])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
pids+=($!)
pport=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exitmon
    static_configs:
      - targets: ["127.0.0.1:$port"]
  - job_name: static-text
    metrics_path: /text
    static_configs:
      - targets: ["127.0.0.1:$sport"]
  - job_name: static-om
    metrics_path: /om
    static_configs:
      - targets: ["127.0.0.1:$sport"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)
api="http://127.0.0.1:$pport/api/v1"
q() { curl -s -m 5 --get --data-urlencode "query=$1" "$api/query"; }
upq() { [ "$(q "up{job=\"$1\"}" | jq -r '.data.result[0].value[1]' 2>/dev/null)" = 1 ]; }
if ! wait_for 60 curl -sf -m 2 -o /dev/null "http://127.0.0.1:$pport/-/ready"; then
	notok "prometheus starts ($(tail -1 "$work/prometheus.log"))"
	finish
fi
ok "prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }') started on 127.0.0.1:$pport"
for j in exitmon static-text static-om; do
	check "prometheus: target $j is up" wait_for 30 upq "$j"
done
targets=$(curl -s -m 5 "$api/targets")
check "prometheus: no scrape errors (lastError empty on every target)" \
	test "$(jq -r '[.data.activeTargets[] | select(.lastError != "")] | length' <<<"$targets")" = 0
names=$(curl -s -m 5 "$api/label/__name__/values" | jq -r '.data[]')
missing=""
for m in exitmon_build_info exitmon_seen_exits_total exitmon_filtered_exits_total \
	exitmon_unpaired_entries_total exitmon_overflows_total exitmon_scrape_collect_seconds \
	exitmon_bpf_map_memory_bytes exitmon_exits_total exitmon_exit_handling_seconds_bucket \
	exitmon_exit_handling_seconds_sum exitmon_exit_handling_seconds_count; do
	grep -qx "$m" <<<"$names" || missing="$missing $m"
done
check "prometheus: every exitmon series is present${missing:+ (missing:$missing)}" test -z "$missing"
check "prometheus: exitmon serve's series are there (build_info, overflows x4)" \
	test "$(q 'count({job="exitmon",__name__=~"exitmon_build_info|exitmon_overflows_total"})' | jq -r '.data.result[0].value[1]')" = 5
# Prometheus keeps OpenMetrics metadata under the family name (exitmon_build)
meta=$(curl -s -m 5 --get --data-urlencode 'match_target={job="exitmon"}' "$api/targets/metadata" |
	jq -r '[.data[] | select(.metric == "exitmon_build" or .metric == "exitmon_build_info") | .type] | join(",")')
check "prometheus scraped exitmon serve as OpenMetrics (build info family has type info: $meta)" test "$meta" = info
same=$(q 'count(exitmon_exits_total{job="static-text"} == ignoring(job) exitmon_exits_total{job="static-om"})' | jq -r '.data.result[0].value[1]')
all=$(q 'count(exitmon_exits_total{job="static-text"})' | jq -r '.data.result[0].value[1]')
check "prometheus: the same exit counts from both formats ($same of $all series)" \
	bash -c "[ '$all' != null ] && [ '$same' = '$all' ]"
inf=$(q 'count(exitmon_exit_handling_seconds_bucket{le="+Inf"} == ignoring(le) exitmon_exit_handling_seconds_count)' | jq -r '.data.result[0].value[1]')
hists=$(q 'count(exitmon_exit_handling_seconds_count)' | jq -r '.data.result[0].value[1]')
check "prometheus: bucket +Inf equals _count in every histogram ($inf of $hists)" \
	bash -c "[ '$hists' != null ] && [ '$inf' = '$hists' ]"

# --- Grafana dashboard -----------------------------------------------------
dash=contrib/grafana-dashboard.json
check "dashboard is valid JSON with panels" jq -e '.panels | length > 0' "$dash"
# Grafana's variables replaced by what they expand to, for promtool
jq -r '.panels[].targets[]?.expr' "$dash" |
	sed -e 's/\$__rate_interval/1m/g' -e 's/\$instance/.*/g' -e 's/\${instance:regex}/.*/g' >"$work/exprs"
{
	echo "groups:"
	echo "  - name: exitmon-dashboard"
	echo "    rules:"
	i=0
	while IFS= read -r e; do
		i=$((i + 1))
		echo "      - record: exitmon:dashboard_query_$i"
		printf '        expr: %s\n' "$(jq -Rn --arg e "$e" '$e')"
	done <"$work/exprs"
} >"$work/dashboard.rules.yml"
check "promtool check rules accepts the $(wc -l <"$work/exprs") dashboard queries" \
	promtool check rules "$work/dashboard.rules.yml"
bad=""
while IFS= read -r e; do
	[ "$(q "$e" | jq -r .status)" = success ] || bad="$bad [$e]"
done <"$work/exprs"
check "prometheus evaluates every dashboard query${bad:+ (failed:$bad)}" test -z "$bad"

# --- hostile clients -------------------------------------------------------
log "hostile clients (~16 s)"
if $PY tests/serve/hostile.py "$port" "$spid" >"$work/hostile.out" 2>&1; then hrc=0; else hrc=1; fi
while read -r word rest; do
	if [ "$word" = ok ]; then ok "hostile: $rest"; else notok "hostile: $rest"; fi
done <"$work/hostile.out"
[ "$hrc" -eq 0 ] || grep -q '^fail' "$work/hostile.out" || notok "hostile.py failed: $(tail -1 "$work/hostile.out")"
check "prometheus: exitmon target up after the hostile clients" wait_for 10 upq exitmon
check "exitmon serve still running" kill -0 "$spid"
kill -TERM "$spid"
wait "$spid" 2>/dev/null
src=$?
check "SIGTERM stops exitmon serve with status 0" test "$src" -eq 0

# --- serve --per-vm (no VM here: the per-VM families must still be valid)
vport=$(free_port)
"$EXITMON" serve --per-vm --max-series 2 --listen "127.0.0.1:$vport" --ready-file "$work/vready" 2>"$work/vm.err" &
vpid=$!
pids+=("$vpid")
if wait_for 30 test -e "$work/vready" && req pervm "http://127.0.0.1:$vport/metrics"; then
	check "serve --per-vm --max-series 2: promtool check metrics, exitmon_vms_in_other 0" \
		bash -c "promtool check metrics <'$work/pervm.b' && grep -qx 'exitmon_vms_in_other 0' '$work/pervm.b'"
else
	notok "serve --per-vm --max-series 2 starts and answers ($(tail -1 "$work/vm.err"))"
fi
kill -TERM "$vpid" 2>/dev/null
wait "$vpid" 2>/dev/null

# --- run --textfile --------------------------------------------------------
mkdir "$work/tf"
"$EXITMON" run --textfile "$work/tf" -i 0.3 -d 1.2 -o json >/dev/null 2>"$work/tf.err"
check "run --textfile: exits 0 ($(tail -1 "$work/tf.err"))" test $? -eq 0
check "run --textfile: promtool check metrics DIR/exitmon.prom" bash -c "promtool check metrics <'$work/tf/exitmon.prom'"
check "run --textfile: only exitmon.prom left in DIR" test "$(ls -A "$work/tf")" = exitmon.prom
check "run --textfile: no # EOF, no timestamps" text_ok "$work/tf/exitmon.prom"
"$EXITMON" run --textfile "$work/nonexistent" -d 0.5 >/dev/null 2>"$work/tf.err"
check "run --textfile to a missing directory: status 1, the error names it" \
	bash -c "[ $? -eq 1 ] && tail -1 '$work/tf.err' | grep -q 'textfile directory $work/nonexistent'"

mkdir "$work/tf2" && mkfifo "$work/tf2/exitmon.prom"
timeout 10 "$EXITMON" run --textfile "$work/tf2" -i 0.3 -d 1.2 >/dev/null 2>"$work/tf.err"
check "run --textfile where exitmon.prom is a FIFO: status 1, one error line, the FIFO stays" \
	bash -c "[ $? -eq 1 ] && [ \$(grep -c exitmon.prom '$work/tf.err') -eq 1 ] && tail -1 '$work/tf.err' | grep -q 'is a FIFO' && [ -p '$work/tf2/exitmon.prom' ]"

# --- systemd unit ----------------------------------------------------------
unit=contrib/exitmon.service
missing=""
for d in 'AmbientCapabilities=CAP_BPF CAP_PERFMON' NoNewPrivileges=yes ProtectSystem=strict \
	ProtectHome=yes PrivateTmp=yes DynamicUser=yes Restart=on-failure LimitMEMLOCK=infinity; do
	grep -q "^$d" "$unit" || missing="$missing $d"
done
check "unit has the hardening directives${missing:+ (missing:$missing)}" test -z "$missing"
cp "$EXITMON" "$work/exitmon"
chmod 755 "$work/exitmon"
sed "s#/usr/local/sbin/exitmon#$work/exitmon#" "$unit" >"$work/exitmon.service"
if command -v systemd-analyze >/dev/null; then
	out=$(cd "$work" && systemd-analyze verify --man=no "$work/exitmon.service" 2>&1)
	check "systemd-analyze verify: no complaint${out:+ ($out)}" test -z "$out"
else
	skip "systemd-analyze verify" "systemd-analyze missing"
fi
# The unit's capabilities as an unprivileged user (what DynamicUser gets):
# enough to serve, and each one needed. setpriv stands in for systemd, which
# is not PID 1 here.
caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g')
as_user() { # caps args...
	local c=$1 set
	shift
	set=$(tr ' ' '\n' <<<"$c" | sed '/^$/d; s/^/+/' | paste -sd,)
	timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
		${set:+--inh-caps="$set" --ambient-caps="$set"} "$work/exitmon" "$@"
}
if ! command -v setpriv >/dev/null; then
	skip "the unit's capabilities suffice" "setpriv missing"
else
	uport=$(free_port)
	as_user "$caps" serve --listen "127.0.0.1:$uport" 2>"$work/user.err" &
	upid=$!
	pids+=("$upid")
	if wait_for 20 curl -sf -m 2 -o "$work/user.b" "http://127.0.0.1:$uport/metrics"; then
		ok "uid 65534 with only the unit's capabilities ($caps) serves /metrics"
	else
		notok "uid 65534 with only the unit's capabilities ($caps) serves /metrics ($(tail -1 "$work/user.err"))"
	fi
	attach=$(sed -n 's/.*attach="\([a-z_]*\)".*/\1/p' "$work/user.b" | head -1)
	kill "$upid" 2>/dev/null
	wait "$upid" 2>/dev/null
	for c in $caps; do
		# dac_read_search only matters when tracefs is used (classic tracepoints)
		if [ "$c" = dac_read_search ] && [ "$attach" != tp ]; then
			ok "cap_$c not needed with attach $attach (tracefs not read)"
			continue
		fi
		less=$(tr ' ' '\n' <<<"$caps" | grep -vx "$c" | paste -sd' ')
		out=$(as_user "$less" serve --listen "127.0.0.1:$uport" 2>&1 >/dev/null)
		rc=$?
		check "without cap_$c it fails with status 1 and one line" \
			bash -c "[ $rc -eq 1 ] && [ \$(wc -l <<<'$out') -eq 1 ]"
	done
fi
finish
