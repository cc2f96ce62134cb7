#!/usr/bin/env bash
# bench_server.sh BUILD_DIR — `keel server` under load, over loopback.
#
# Starts BUILD_DIR/keel server on a free port in a fresh keel home under
# $TMPDIR, then measures, in this order:
#   - VmRSS of the idle server;
#   - runs/search over an experiment of 10,000 runs (5 params, 5 metrics
#     each; built through the REST API by server_client.py, not timed) with
#     the filter "metrics.m0 > 0.5 and params.p1 = 'v3'": median and p95 of
#     sequential keep-alive calls, max_results 100 and 1000;
#   - runs/create, runs/log-metric (one point per call) and runs/log-batch
#     (1000 metrics per call), each with wrk for KEEL_BENCH_SECONDS (10) as
#     -t1 -c8 and -t2 -c16; the best of the two is the figure;
#   - VmRSS (and VmHWM, the peak) after all of it.
# After every wrk run it counts what the store holds (runs of the
# experiment, metric rows of the run) and fails unless that matches what wrk
# says was answered 200, so a figure is stored work, not answered work.
#
# The MLflow figures are the reference numbers in the issue ("keel server:
# MLflow-compatible tracking REST API"): MLflow's Python server with SQLite
# on this 2-core machine, measured by the issue's author. They are printed
# for the ratio, not measured here (MLflow cannot be installed on this
# machine). wrk and the server share the machine's cores.
#
# Like every bench: prints its figures and one "summary: " line per figure;
# timings never fail it. It exits 1 when the server does not start, answers
# anything but 200, or stores other than what it acknowledged; it exits 0
# with a note, and no figures, when wrk or python3 is missing.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${1:-build}"
keel="$build_dir/keel"
seconds="${KEEL_BENCH_SECONDS:-10}"
client="$here/server_client.py"
export KEEL_BENCH_LUA="$here"

# Reference figures from the issue, and keel's targets.
MLFLOW_BATCH_POINTS=8400     # points/s, log-batch with 1000 metrics per call
MLFLOW_LOG_METRIC=95         # single log-metric calls/s
MLFLOW_CREATE=40             # runs/create calls/s
TARGET_BATCH_POINTS=420000
TARGET_LOG_METRIC=5000
TARGET_SEARCH_MS=20

if [ ! -x "$keel" ]; then
  echo "bench_server: no keel executable in $build_dir (build it first: make build)" >&2
  exit 1
fi
for tool in wrk python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench_server: $tool is not installed; skipped (apt-get install wrk python3)"
    exit 0
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-server-XXXXXX")"
server_pid=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

fail() {
  echo "bench_server: $*" >&2
  exit 1
}

"$keel" init "$work" >/dev/null || fail "keel init $work failed"
KEEL_HOME="$work/.keel" "$keel" server --port 0 --access-log off 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 250); do
  grep -q "listening on" "$work/server.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.02
done
port="$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$work/server.log")"
if [ -z "$port" ]; then
  cat "$work/server.log" >&2
  fail "the server did not start"
fi
base="http://127.0.0.1:$port"
api="$base/api/2.0/mlflow"
db="$work/.keel/keel.db"

proc_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$server_pid/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
met() { awk -v a="$1" -v b="$2" -v dir="$3" \
  'BEGIN { ok = (dir == "min") ? a >= b : a < b; print ok ? "met" : "NOT met" }'; }
# add_summary WORDS...: one summary line, printed at the end.
summary=()
add_summary() { summary+=("$*"); }
thousands() { printf "%'d" "$1" 2>/dev/null || printf "%d" "$1"; }

echo "keel server $("$keel" --version 2>/dev/null | head -1) on $base; $(nproc) cores shared by" \
  "server and client; wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'); ${seconds} s per" \
  "wrk run"
idle_rss="$(proc_kb VmRSS)"
echo "server VmRSS idle: $(mib "$idle_rss")"

# --- runs/search over 10,000 runs -----------------------------------------
echo
echo "--- runs/search: 10,000 runs, filter metrics.m0 > 0.5 and params.p1 = 'v3'"
search_exp="$(python3 "$client" experiment "$base" search)" || fail "experiments/create failed"
t0=$(date +%s.%N)
populate="$(python3 "$client" populate "$base" "$search_exp" 10000)" || fail "populate failed"
expected="${populate#expected=}"
stored="$(python3 "$client" count "$db" runs "$search_exp")" || fail "counting runs failed"
[ "$stored" -eq 10000 ] || fail "search store holds $stored runs, not 10000"
echo "built 10,000 runs through the REST API in $(awk -v a="$t0" -v b="$(date +%s.%N)" \
  'BEGIN { printf "%.1f", b - a }') s (not timed); $expected match the filter"
printf "%12s %10s %10s %8s\n" max_results "median ms" "p95 ms" runs
for max in 100 1000; do
  line="$(python3 "$client" search "$base" "$search_exp" "$max" "$expected" 51)" ||
    fail "runs/search max_results=$max failed"
  median="$(sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  p95="$(sed -n 's/.*p95_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  runs="$(sed -n 's/.*runs=\([0-9]*\).*/\1/p' <<<"$line")"
  printf "%12s %10s %10s %8s\n" "$max" "$median" "$p95" "$runs"
  add_summary "summary: server runs/search 10,000 runs max_results=$max ($runs returned)" \
    "median $median ms p95 $p95 ms (target < $TARGET_SEARCH_MS ms: $(met "$median" \
    "$TARGET_SEARCH_MS" max))"
done

# --- wrk workloads ---------------------------------------------------------
# run_wrk NAME SCRIPT URL THREADS CONNECTIONS: sets wrk_requests, wrk_seconds
# and wrk_conns, and prints wrk's own output; fails on any non-2xx answer or
# socket error.
run_wrk() {
  local name="$1" script="$2" url="$3" t="$4" c="$5" out
  out="$(wrk -t"$t" -c"$c" -d"${seconds}s" -s "$here/$script" "$url" 2>&1)" ||
    { echo "$out" >&2; fail "wrk $name failed"; }
  local result
  result="$(grep '^wrk-result ' <<<"$out")"
  [ -n "$result" ] || { echo "$out" >&2; fail "wrk $name printed no result"; }
  grep -E '^(  [0-9]+ threads|    Latency|Requests/sec)' <<<"$out" | sed 's/^/    /'
  local non2xx socket_errors
  wrk_requests="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")"
  non2xx="$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$result")"
  socket_errors="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$result")"
  wrk_seconds="$(sed -n 's/.*duration_us=\([0-9]*\).*/\1/p' <<<"$result")"
  wrk_seconds="$(awk -v us="$wrk_seconds" 'BEGIN { printf "%.3f", us / 1e6 }')"
  wrk_conns="$c"
  [ "$non2xx" -eq 0 ] || fail "$name -t$t -c$c: $non2xx answers were not 2xx"
  [ "$socket_errors" -eq 0 ] || fail "$name -t$t -c$c: $socket_errors socket errors"
}

# check_stored NAME STORED PER_CALL: the store must hold what wrk counted;
# calls still in flight when wrk stops (at most one per connection) are
# stored without being counted.
check_stored() {
  local name="$1" stored="$2" per_call="$3"
  local low=$((wrk_requests * per_call)) high=$(((wrk_requests + wrk_conns) * per_call))
  if [ "$stored" -lt "$low" ] || [ "$stored" -gt "$high" ]; then
    fail "$name: the store holds $stored, wrk counted $wrk_requests calls of $per_call"
  fi
  echo "    stored: $stored (wrk counted $wrk_requests calls of $per_call)"
}

# bench_workload NAME SCRIPT PATH PER_CALL UNIT: runs both client shapes,
# each on a fresh experiment and run; sets best (per second, in UNIT) and
# best_shape.
bench_workload() {
  local name="$1" script="$2" path="$3" per_call="$4" unit="$5" shape
  best=0
  best_shape=
  for shape in "1 8" "2 16"; do
    set -- $shape
    local exp run stored rate
    exp="$(python3 "$client" experiment "$base" "$name-t$1-c$2")" ||
      fail "experiments/create failed"
    run="$(python3 "$client" run "$base" "$exp")" || fail "runs/create failed"
    echo "  -t$1 -c$2"
    KEEL_EXPERIMENT_ID="$exp" KEEL_RUN_ID="$run" run_wrk "$name" "$script" "$api/$path" "$1" "$2"
    if [ "$path" = runs/create ]; then
      # The experiment also holds the run made above for KEEL_RUN_ID.
      stored="$(python3 "$client" count "$db" runs "$exp")" || fail "counting runs failed"
      stored=$((stored - 1))
    else
      stored="$(python3 "$client" count "$db" metrics "$run")" || fail "counting metrics failed"
    fi
    check_stored "$name" "$stored" "$per_call"
    rate="$(awk -v n="$wrk_requests" -v k="$per_call" -v s="$wrk_seconds" \
      'BEGIN { printf "%.0f", n * k / s }')"
    echo "    $(thousands "$rate") $unit/s"
    if [ "$rate" -gt "$best" ]; then
      best="$rate"
      best_shape="-t$1 -c$2"
    fi
  done
}

echo
echo "--- runs/create"
bench_workload runs-create wrk_runs_create.lua runs/create 1 runs
echo "best: $(thousands "$best") runs/s ($best_shape); MLflow reference $MLFLOW_CREATE runs/s;" \
  "keel/MLflow $(ratio "$best" "$MLFLOW_CREATE")x"
add_summary "summary: server runs/create $best runs/s ($best_shape), MLflow reference" \
  "$MLFLOW_CREATE/s, keel/MLflow $(ratio "$best" "$MLFLOW_CREATE")x"

echo
echo "--- runs/log-metric, one point per call"
bench_workload log-metric wrk_log_metric.lua runs/log-metric 1 calls
echo "best: $(thousands "$best") calls/s ($best_shape); MLflow reference $MLFLOW_LOG_METRIC" \
  "calls/s; keel/MLflow $(ratio "$best" "$MLFLOW_LOG_METRIC")x; target >=" \
  "$(thousands "$TARGET_LOG_METRIC"): $(met "$best" "$TARGET_LOG_METRIC" min)"
add_summary "summary: server runs/log-metric $best calls/s ($best_shape), MLflow reference" \
  "$MLFLOW_LOG_METRIC/s, keel/MLflow $(ratio "$best" "$MLFLOW_LOG_METRIC")x (target >=" \
  "$TARGET_LOG_METRIC: $(met "$best" "$TARGET_LOG_METRIC" min))"

echo
echo "--- runs/log-batch, 1000 metrics per call"
bench_workload log-batch wrk_log_batch.lua runs/log-batch 1000 points
echo "best: $(thousands "$best") points/s ($best_shape); MLflow reference" \
  "$(thousands "$MLFLOW_BATCH_POINTS") points/s; keel/MLflow" \
  "$(ratio "$best" "$MLFLOW_BATCH_POINTS")x; target >= $(thousands "$TARGET_BATCH_POINTS"):" \
  "$(met "$best" "$TARGET_BATCH_POINTS" min)"
add_summary "summary: server runs/log-batch $best points/s ($best_shape), MLflow reference" \
  "$MLFLOW_BATCH_POINTS/s, keel/MLflow $(ratio "$best" "$MLFLOW_BATCH_POINTS")x (target >=" \
  "$TARGET_BATCH_POINTS: $(met "$best" "$TARGET_BATCH_POINTS" min))"

after_rss="$(proc_kb VmRSS)"
peak_rss="$(proc_kb VmHWM)"
echo
echo "server VmRSS idle $(mib "$idle_rss"), after the benchmark $(mib "$after_rss")," \
  "peak (VmHWM) $(mib "$peak_rss")"
stop_server

echo
for line in "${summary[@]}"; do
  echo "$line"
done
echo "summary: server VmRSS idle $(mib "$idle_rss"), after $(mib "$after_rss"), peak" \
  "$(mib "$peak_rss")"
