#!/usr/bin/env bash
# bench_serve.sh BUILD_DIR — `keel serve` under load over loopback, against
# peers measured on the same machine in the same run, for two models:
#
#   adult    examples/data/adult.csv.gz, target income, --split column:split,
#            --rounds 300 --early-stopping 0 (the issue's model; depth 6 is
#            keel's default)
#   credit   credit_default.csv from $KEEL_DATASETS, copied into
#            $KEEL_BENCH_CACHE; target default_payment_next_month, --drop ID,
#            --split random:0.2, --rounds 300 --early-stopping 0
#
# Each model is trained once in a temp keel home and its bundle directory
# (`keel artifacts get RUN model --out DIR`: model.json + keel.json) is
# cached in $KEEL_BENCH_CACHE as serve-v$BUNDLE_VERSION-NAME-keelVERSION.
# The request bodies are real rows (adult: the first 100 test rows; credit:
# the first 100 rows), one raw record per request, as a team's client sends
# them: {"dataframe_records":[{column: value, …}]} with the signature's
# columns (bench/serve_bench_util.py bodies). wrk sends them in turn
# (bench/wrk_invocations.lua).
#
# Servers, each started on a free loopback port and stopped by its PID:
#   keel      BUILD_DIR/keel serve BUNDLE --port 0 --log-sample 0
#             --access-log off (one worker thread per core)
#   gunicorn  bench/serve_flask_peer.py (Flask + python3-xgboost, the bundle's
#             encoder re-implemented, Booster from the same model.json,
#             nthread=1) under gunicorn -w 2, OMP_NUM_THREADS=1
#   flask     the same app on Flask's built-in (threaded) server
#   nginx     nginx with a minimal config in a temp prefix: access_log off,
#             location = /invocations { return 200 '<keel's answer to the
#             first body>'; } — the ceiling of an HTTP server that does no
#             work; worker_processes auto (2)
# Every server gets the same load: wrk -t1 -c16 for KEEL_BENCH_SECONDS (10).
#
# Checks (they fail the bench, timings never do): every wrk answer is 2xx
# (wrk's non-2xx count, through wrk_common.lua's done()); no socket errors
# against keel; keel's, gunicorn's and Flask's answer to the first body
# equals `keel predict BUNDLE` on the same row (to 1e-6).
#
# Also measured: keel's latency at about half of its maximum rate. wrk2 is
# not in Debian, so this is wrk with a 1 ms pause per connection after each
# answer (wrk's delay() hook, KEEL_BENCH_DELAY_MS in wrk_invocations.lua) and
# as many connections as a 3-second probe says give half the maximum rate;
# the p50/p90/p99 are wrk's --latency (send to full answer; the pause is not
# in it). Memory: VmRSS of keel serve with the model loaded (before any
# request), VmRSS and VmHWM after the load; the same for gunicorn's master
# and workers and for Flask's server. CPU: cores each server used while wrk
# ran (from /proc/PID/stat).
#
# The gunicorn, Flask and nginx figures from the issue are printed beside the
# measured ones; the targets (keel >= 15x gunicorn, keel >= 0.5x nginx) are
# checked against the figures measured in this run. wrk and the servers share
# the machine's cores (2 here).
#
# Like every bench: prints its figures and one "summary: " line per figure;
# timings never fail it. It exits 0 with a note when wrk is missing, and
# skips a peer (with a note) when gunicorn, Flask/xgboost or nginx is.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
seconds="${KEEL_BENCH_SECONDS:-10}"
cache="${KEEL_BENCH_CACHE:-$here/.cache}"
datasets="${KEEL_DATASETS:-/work/shared/datasets}"
python=/usr/bin/python3
util="$here/serve_bench_util.py"
export KEEL_BENCH_LUA="$here"
export OMP_WAIT_POLICY=PASSIVE
BUNDLE_VERSION=1
CONNS=16
N_BODIES=100

# The issue's figures (adult, this machine) and keel's targets.
REF_GUNICORN=4000
REF_FLASK=1100
REF_NGINX=120000
TARGET_VS_GUNICORN=15
TARGET_VS_NGINX=0.5

fail() {
  echo "bench_serve: $*" >&2
  exit 1
}

[ -x "$keel" ] || fail "no keel executable in $build_dir (build it first: make build)"
if ! command -v wrk >/dev/null; then
  echo "bench_serve: wrk is not installed; skipped (apt-get install wrk)"
  exit 0
fi
have_python=1
if ! "$python" -c 'import flask, xgboost, numpy' 2>/dev/null; then
  echo "bench_serve: $python lacks flask, xgboost or numpy; no Python peers" \
    "(apt-get install python3-flask python3-xgboost)"
  have_python=0
fi
have_gunicorn=1
command -v gunicorn >/dev/null || {
  echo "bench_serve: gunicorn is not installed; no gunicorn peer (apt-get install gunicorn)"
  have_gunicorn=0
}
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
have_nginx=1
[ -x "$nginx_bin" ] || {
  echo "bench_serve: nginx is not installed; no nginx peer (apt-get install nginx)"
  have_nginx=0
}
mkdir -p "$cache" || fail "cannot make $cache"
if [ ! -f "$cache/credit_default.csv" ] || ! cmp -s "$datasets/credit_default.csv" \
  "$cache/credit_default.csv"; then
  cp "$datasets/credit_default.csv" "$cache/credit_default.csv.tmp" &&
    mv "$cache/credit_default.csv.tmp" "$cache/credit_default.csv" ||
    fail "cannot copy $datasets/credit_default.csv into $cache"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-serve-XXXXXX")"
server_pid=
# stop_server: stops the server started last, by its PID.
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

summary=()
add_summary() { summary+=("$*"); }
mib() { awk -v kb="$1" 'BEGIN { if (kb == "") print "n/a"; else printf "%.1f MiB", kb / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "met" : "NOT met" }'; }
thousands() { printf "%'d" "$1" 2>/dev/null || printf "%d" "$1"; }
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
clk_tck="$(getconf CLK_TCK)"
# cpu_ticks PID...: user + system ticks of those processes.
cpu_ticks() {
  local total=0 p t
  for p in "$@"; do
    t="$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)"
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
# thread_ticks PID: "TID TICKS", one line per thread of PID.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null)"
  done
}
# server_pids: the server and its children (gunicorn's workers).
server_pids() { echo "$server_pid" $(pgrep -P "$server_pid" 2>/dev/null); }

# wait_http URL BODY LOG: waits until URL answers a prediction (20 s at most)
# while the server lives; prints the first prediction.
wait_http() {
  local url="$1" body="$2" log="$3" out
  for _ in $(seq 1 200); do
    kill -0 "$server_pid" 2>/dev/null || break
    if out="$("$python" "$util" post "$url" "$body" 2>/dev/null)"; then
      echo "$out"
      return 0
    fi
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}

# run_wrk LABEL URL CONNS [--latency]: wrk -t1 against URL/invocations with
# the bodies in $KEEL_BENCH_BODIES; sets wrk_rps, wrk_p50, wrk_p99 (ms),
# wrk_cores (the server's CPU while wrk ran) and wrk_out (wrk's output);
# prints wrk's output. Fails on
# any non-2xx answer; socket errors fail only against keel.
run_wrk() {
  local label="$1" url="$2" c="$3" extra="${4:-}" out result t0 t1 c0 c1
  c0="$(cpu_ticks $(server_pids))"
  t0="$(date +%s.%N)"
  out="$(wrk -t1 -c"$c" -d"${seconds}s" $extra -s "$here/wrk_invocations.lua" "$url/invocations" 2>&1)" ||
    { echo "$out" >&2; fail "wrk $label failed"; }
  t1="$(date +%s.%N)"
  c1="$(cpu_ticks $(server_pids))"
  wrk_out="$out"
  result="$(grep '^wrk-result ' <<<"$out")"
  [ -n "$result" ] || { echo "$out" >&2; fail "wrk $label printed no result"; }
  grep -vE '^(wrk-result|Running|Transfer)' <<<"$out" | sed 's/^/    /'
  local requests non2xx socket_errors us
  requests="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")"
  non2xx="$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$result")"
  socket_errors="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$result")"
  us="$(sed -n 's/.*duration_us=\([0-9]*\).*/\1/p' <<<"$result")"
  wrk_rps="$(awk -v n="$requests" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')"
  wrk_p50="$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$result" | awk '{ printf "%.3f", $1 / 1000 }')"
  wrk_p99="$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$result" | awk '{ printf "%.3f", $1 / 1000 }')"
  wrk_cores="$(awk -v t="$((c1 - c0))" -v hz="$clk_tck" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%.2f", t / hz / (b - a) }')"
  [ "$non2xx" -eq 0 ] || fail "$label: $non2xx of $requests answers were not 2xx"
  if [ "$socket_errors" -ne 0 ]; then
    [[ "$label" == keel* ]] && fail "$label: $socket_errors socket errors"
    echo "    ($socket_errors socket errors; the peer closes connections)"
  fi
  echo "    => $(thousands "$wrk_rps") requests/s, all 2xx; p50 $wrk_p50 ms, p99 $wrk_p99 ms;" \
    "server CPU $wrk_cores cores"
}

# bundle_for NAME TRAIN-ARGS...: the cached bundle directory of NAME, trained
# first when it is not cached; sets bundle.
bundle_for() {
  local name="$1"
  shift
  local version
  version="$("$keel" --version 2>/dev/null | head -1 | awk '{ print $NF }' | tr -c 'A-Za-z0-9.\n' '_')"
  bundle="$cache/serve-v$BUNDLE_VERSION-$name-keel$version"
  if [ -f "$bundle/model.json" ] && [ -f "$bundle/keel.json" ]; then
    echo "bundle: $bundle (cached)"
    return
  fi
  local home="$work/train-$name" run
  mkdir -p "$home"
  "$keel" init "$home" >/dev/null || fail "keel init $home failed"
  (cd "$home" && KEEL_HOME="$home/.keel" "$keel" train xgboost "$@" --json \
    >"$work/train.json" 2>"$work/train.err") ||
    { cat "$work/train.err" >&2; fail "keel train $* failed"; }
  run="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' \
    "$work/train.json")" || fail "no run id from keel train"
  rm -rf "$bundle.tmp"
  (cd "$home" && KEEL_HOME="$home/.keel" "$keel" artifacts get "$run" model --out "$bundle.tmp" \
    >/dev/null) || fail "keel artifacts get $run model failed"
  rm -rf "$bundle"
  mv "$bundle.tmp" "$bundle" || fail "cannot write $bundle"
  rm -rf "$home"
  echo "bundle: $bundle (trained: keel train xgboost $*)"
}

echo "keel $("$keel" --version 2>/dev/null | head -1); $(nproc) cores shared by the servers and" \
  "wrk $(wrk --version 2>&1 | head -1 | awk '{ print $2 }'); wrk -t1 -c$CONNS, $seconds s per" \
  "run; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$have_python" -eq 1 ] && echo "peers: $("$python" -c 'import flask, xgboost, numpy; \
print("flask", flask.__version__, "xgboost", xgboost.__version__, "numpy", numpy.__version__)')" \
  "$([ "$have_gunicorn" -eq 1 ] && gunicorn --version 2>&1 | head -1)" \
  "$([ "$have_nginx" -eq 1 ] && "$nginx_bin" -v 2>&1 | sed 's/.*version: //')"

# bench_model NAME DATA FILTER TRAIN-ARGS...
bench_model() {
  local name="$1" data="$2" filter="$3"
  shift 3
  echo
  echo "=== model: $name"
  bundle_for "$name" --data "$data" "$@"
  local info
  info="$("$python" -c '
import json, sys
m = json.load(open(sys.argv[1] + "/model.json"))["learner"]
k = json.load(open(sys.argv[1] + "/keel.json"))
print("%d trees, max_depth %s, %d features from %d input columns (best_round %d)" % (
    len(m["gradient_booster"]["model"]["trees"]), k["params"].get("max_depth", "?"),
    len(k["encoder"]["feature_names"]), len(k["signature"]["inputs"]), k["best_round"]))
' "$bundle")" || fail "cannot read $bundle"
  echo "model: $info"
  local bodies="$work/$name-bodies.txt" rows="$work/$name-rows.csv" first="$work/$name-first.json"
  local n
  n="$("$python" "$util" bodies "$bundle" "$data" "$N_BODIES" "$bodies" "$rows" $filter)" ||
    fail "cannot write request bodies for $name"
  head -1 "$bodies" >"$first"
  export KEEL_BENCH_BODIES="$bodies"
  echo "request bodies: $n rows, $(awk '{ s += length($0) } END { printf "%.0f", s / NR }' \
    "$bodies") bytes on average; the first: $(cat "$first")"
  "$keel" predict "$bundle" --data "$rows" --out "$work/$name-pred.csv" >/dev/null ||
    fail "keel predict $bundle failed"
  local expected
  expected="$(awk -F, 'NR == 2 { print $2 }' "$work/$name-pred.csv")"
  echo "keel predict, first row: $expected"

  # --- keel serve
  echo
  echo "--- keel serve"
  local log="$work/keel-$name.log" url port
  (cd "$work" && exec "$keel" serve "$bundle" --port 0 --log-sample 0 --access-log off) 2>"$log" &
  server_pid=$!
  for _ in $(seq 1 250); do
    grep -q "listening on" "$log" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.02
  done
  port="$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$log")"
  [ -n "$port" ] || { cat "$log" >&2; fail "keel serve did not start"; }
  url="http://127.0.0.1:$port"
  local loaded_rss got answer
  loaded_rss="$(proc_kb "$server_pid" VmRSS)"
  answer="$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$first" \
    "$url/invocations")"
  got="$("$python" "$util" post "$url" "$first")" || fail "keel serve did not answer"
  "$python" "$util" close "$got" "$expected" ||
    fail "keel serve answered $got for the first row; keel predict says $expected"
  echo "  first row: served $got = keel predict $expected; answer ${#answer} bytes: $answer"
  echo "  VmRSS with the model loaded: $(mib "$loaded_rss")"
  # keel serve's worker threads each accept connections on their own; how
  # wrk's connections fall between them changes from run to run, so the
  # maximum is measured KEEL_BENCH_KEEL_REPS (3) times and the median is
  # the figure. Each run prints the CPU each worker thread used.
  local reps="${KEEL_BENCH_KEEL_REPS:-3}" i rates=() t0s t1s split
  for i in $(seq 1 "$reps"); do
    echo "  max throughput (-c$CONNS), run $i of $reps:"
    t0s="$(thread_ticks "$server_pid")"
    run_wrk "keel $name" "$url" "$CONNS"
    t1s="$(thread_ticks "$server_pid")"
    split="$(join <(sort <<<"$t0s") <(sort <<<"$t1s") | awk -v hz="$clk_tck" -v s="$seconds" \
      '{ d = $3 - $2; if (d > 0) printf "%s%.2f", (n++ ? " + " : ""), d / hz / s }
       END { if (!n) printf "-" }')"
    echo "    CPU by server thread (cores): $split"
    rates+=("$wrk_rps $wrk_p50 $wrk_p99 $wrk_cores $split")
  done
  local k_rps k_p50 k_p99 k_cores k_best k_worst k_line
  k_line="$(printf "%s\n" "${rates[@]}" | sort -n | awk -v n="$reps" 'NR == int((n + 1) / 2)')"
  read -r k_rps k_p50 k_p99 k_cores _ <<<"$k_line"
  k_best="$(printf "%s\n" "${rates[@]}" | sort -n | tail -1 | cut -d' ' -f1)"
  k_worst="$(printf "%s\n" "${rates[@]}" | sort -n | head -1 | cut -d' ' -f1)"
  echo "  keel: median $(thousands "$k_rps") requests/s (runs: $(printf "%s\n" "${rates[@]}" |
    cut -d' ' -f1 | paste -sd' '))"
  # Latency at about half of the maximum rate: connections with a 1 ms pause
  # after each answer; 3-second probes find how many give half the rate.
  local half=$((k_rps / 2)) lc="$CONNS" probe achieved
  echo "  latency at about half the maximum ($(thousands "$half") requests/s), 1 ms pause per" \
    "connection:"
  for i in 1 2 3; do
    probe="$(KEEL_BENCH_DELAY_MS=1 wrk -t1 -c"$lc" -d3s -s "$here/wrk_invocations.lua" \
      "$url/invocations" 2>&1 | sed -n 's/.*requests=\([0-9]*\).*duration_us=\([0-9]*\).*/\1 \2/p')"
    achieved="$(awk -v p="$probe" 'BEGIN { split(p, a, " "); printf "%.0f", a[1] / (a[2] / 1e6) }')"
    echo "    probe -c$lc: $(thousands "$achieved") requests/s"
    awk -v a="$achieved" -v h="$half" 'BEGIN { exit !(a > 0.93 * h && a < 1.07 * h) }' && break
    lc="$(awk -v c="$lc" -v a="$achieved" -v h="$half" 'BEGIN { n = int(c * h / (a > 0 ? a : 1) + 0.5);
      if (n < 1) n = 1; if (n > 2000) n = 2000; print n }')"
  done
  KEEL_BENCH_DELAY_MS=1 run_wrk "keel $name half-load" "$url" "$lc" --latency
  local h_rps="$wrk_rps" h_p50="$wrk_p50" h_p99="$wrk_p99" h_p90
  h_p90="$(awk '$1 == "90%" { v = $2; u = 1; if (v ~ /us$/) u = 0.001; else if (v ~ /ms$/) u = 1;
    else if (v ~ /s$/) u = 1000; sub(/[a-z]+$/, "", v); printf "%.3f", v * u }' <<<"$wrk_out")"
  local after_rss peak_rss
  after_rss="$(proc_kb "$server_pid" VmRSS)"
  peak_rss="$(proc_kb "$server_pid" VmHWM)"
  echo "  VmRSS after the load $(mib "$after_rss"), peak (VmHWM) $(mib "$peak_rss")"
  stop_server
  add_summary "summary: serve $name keel $k_rps req/s (median of $reps; $k_worst-$k_best; -t1" \
    "-c$CONNS; p50 $k_p50 ms, p99 $k_p99 ms; server $k_cores cores)"
  add_summary "summary: serve $name keel latency at $h_rps req/s (half of max, -c$lc with 1 ms" \
    "pauses): p50 $h_p50 ms, p90 $h_p90 ms, p99 $h_p99 ms"
  add_summary "summary: serve $name keel VmRSS loaded $(mib "$loaded_rss"), after load" \
    "$(mib "$after_rss"), peak $(mib "$peak_rss")"

  # --- gunicorn + Flask
  local g_rps=""
  if [ "$have_python" -eq 1 ] && [ "$have_gunicorn" -eq 1 ]; then
    echo
    echo "--- gunicorn -w 2 (Flask + python3-xgboost, bench/serve_flask_peer.py)"
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    log="$work/gunicorn-$name.log"
    KEEL_BUNDLE="$bundle" OMP_NUM_THREADS=1 gunicorn -w 2 -b "127.0.0.1:$port" --chdir "$here" \
      serve_flask_peer:app 2>"$log" &
    server_pid=$!
    got="$(wait_http "$url" "$first" "$log")" || fail "gunicorn did not start"
    "$python" "$util" close "$got" "$expected" ||
      fail "gunicorn answered $got for the first row; keel predict says $expected"
    echo "  first row: served $got = keel predict $expected"
    local g_loaded=0 p
    for p in $(server_pids); do g_loaded=$((g_loaded + $(proc_kb "$p" VmRSS))); done
    run_wrk "gunicorn $name" "$url" "$CONNS"
    g_rps="$wrk_rps"
    local g_cores="$wrk_cores" g_p50="$wrk_p50" g_p99="$wrk_p99" g_rss=0 g_hwm=0 detail=""
    local master="$server_pid" r h
    for p in $(server_pids); do
      r="$(proc_kb "$p" VmRSS)"
      h="$(proc_kb "$p" VmHWM)"
      g_rss=$((g_rss + r))
      g_hwm=$((g_hwm + h))
      detail+="$([ "$p" = "$master" ] && echo master || echo worker) $(mib "$r") (peak $(mib "$h")); "
    done
    echo "  memory after the load: ${detail}total VmRSS $(mib "$g_rss"), sum of peaks $(mib "$g_hwm")" \
      "(loaded, before the load: $(mib "$g_loaded"))"
    stop_server
    add_summary "summary: serve $name gunicorn -w 2 $g_rps req/s (p50 $g_p50 ms, p99 $g_p99 ms;" \
      "$g_cores cores); keel/gunicorn $(ratio "$k_rps" "$g_rps")x, best keel run" \
      "$(ratio "$k_best" "$g_rps")x (target >=" \
      "${TARGET_VS_GUNICORN}x: $(met "$(ratio "$k_rps" "$g_rps")" "$TARGET_VS_GUNICORN"));" \
      "issue's gunicorn $REF_GUNICORN req/s"
    add_summary "summary: serve $name gunicorn memory: master+2 workers VmRSS $(mib "$g_rss")," \
      "sum of peaks $(mib "$g_hwm") (keel peak $(mib "$peak_rss"))"
  fi
  if [ "$have_python" -eq 1 ]; then
    echo
    echo "--- Flask built-in server (threaded), same app"
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    log="$work/flask-$name.log"
    KEEL_BUNDLE="$bundle" OMP_NUM_THREADS=1 "$python" "$here/serve_flask_peer.py" --port "$port" \
      2>"$log" &
    server_pid=$!
    got="$(wait_http "$url" "$first" "$log")" || fail "Flask's server did not start"
    "$python" "$util" close "$got" "$expected" ||
      fail "Flask answered $got for the first row; keel predict says $expected"
    echo "  first row: served $got = keel predict $expected"
    run_wrk "flask $name" "$url" "$CONNS"
    local f_rps="$wrk_rps" f_cores="$wrk_cores"
    echo "  memory after the load: VmRSS $(mib "$(proc_kb "$server_pid" VmRSS)"), peak" \
      "$(mib "$(proc_kb "$server_pid" VmHWM)")"
    stop_server
    add_summary "summary: serve $name flask built-in $f_rps req/s ($f_cores cores);" \
      "keel/flask $(ratio "$k_rps" "$f_rps")x; issue's flask $REF_FLASK req/s"
  fi

  # --- nginx, static answer of the same size
  if [ "$have_nginx" -eq 1 ]; then
    echo
    echo "--- nginx: return 200 with keel's answer to the first body (${#answer} bytes)"
    local prefix="$work/nginx-$name"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    cat >"$prefix/nginx.conf" <<EOF
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    location = /invocations {
      default_type application/json;
      return 200 '$answer';
    }
  }
}
EOF
    "$nginx_bin" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" \
      -g 'daemon off;' 2>"$prefix/logs/stderr.log" &
    server_pid=$!
    got="$(wait_http "$url" "$first" "$prefix/logs/stderr.log")" || fail "nginx did not start"
    [ "$(cat "$prefix/nginx.pid" 2>/dev/null)" = "$server_pid" ] ||
      fail "nginx's pid file does not name $server_pid"
    run_wrk "nginx $name" "$url" "$CONNS"
    local n_rps="$wrk_rps" n_cores="$wrk_cores"
    stop_server
    add_summary "summary: serve $name nginx static $n_rps req/s ($n_cores cores); keel/nginx" \
      "$(ratio "$k_rps" "$n_rps")x, best keel run $(ratio "$k_best" "$n_rps")x (target >=" \
      "${TARGET_VS_NGINX}x: $(met "$(ratio "$k_rps" \
      "$n_rps")" "$TARGET_VS_NGINX")); issue's nginx $REF_NGINX req/s"
  fi
}

bench_model adult "$src/examples/data/adult.csv.gz" split=test --target income \
  --split column:split --rounds 300 --early-stopping 0
bench_model credit "$cache/credit_default.csv" "" --target default_payment_next_month \
  --drop ID --split random:0.2 --rounds 300 --early-stopping 0

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine" \
  "skews the figures; wrk and the servers share $(nproc) cores)"
for line in "${summary[@]}"; do
  echo "$line"
done
