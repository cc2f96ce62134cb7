#!/usr/bin/env bash
# bench_monitor_serve.sh BUILD_DIR — what online monitoring costs keel serve:
# the same adult model, the same request bodies (one raw record each, as in
# bench_serve.sh), served with monitoring on (the default: windowed
# histograms of all 14 inputs and the prediction, and every request
# remembered for delayed labels) and off (--no-monitor --feedback-capacity
# 0). wrk -t1 -c16 for KEEL_BENCH_SECONDS (5) per run, the two modes
# alternating KEEL_BENCH_REPS (3) times; medians compared. Target: the cost
# is under 10% of throughput. The prediction log is off in both
# (--log-sample 0), as in bench_serve.sh. Timings never fail the bench.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
seconds="${KEEL_BENCH_SECONDS:-5}"
reps="${KEEL_BENCH_REPS:-3}"
python=/usr/bin/python3
export KEEL_BENCH_LUA="$here"

fail() { echo "bench_monitor_serve: $*" >&2; exit 1; }
[ -x "$keel" ] || fail "no keel executable in $build_dir"
command -v wrk >/dev/null || { echo "bench_monitor_serve: wrk is not installed; skipped"; exit 0; }

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-monitor-XXXXXX")"
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The adult bundle, trained here (about 2 s).
"$keel" init "$work" >/dev/null
run="$(cd "$work" && KEEL_HOME="$work/.keel" "$keel" train xgboost \
  --data "$src/examples/data/adult.csv.gz" --target income --split column:split --json 2>/dev/null |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')" || fail "train failed"
(cd "$work" && KEEL_HOME="$work/.keel" "$keel" artifacts get "$run" model --out "$work/bundle" \
  >/dev/null) || fail "no bundle"
"$python" "$here/serve_bench_util.py" bodies "$work/bundle" "$src/examples/data/adult.csv.gz" 100 \
  "$work/bodies.txt" "$work/rows.csv" split=test >/dev/null || fail "no request bodies"
export KEEL_BENCH_BODIES="$work/bodies.txt"

# serve_rps MODE-ARGS...: one wrk run against a fresh keel serve; prints req/s.
serve_rps() {
  local log="$work/serve.log" port rps
  (cd "$work" && KEEL_HOME="$work/.keel" exec "$keel" serve "$work/bundle" --port 0 \
    --log-sample 0 --access-log off "$@") 2>"$log" &
  server_pid=$!
  for _ in $(seq 1 250); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.02; done
  port="$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$log")"
  [ -n "$port" ] || { cat "$log" >&2; fail "keel serve did not start"; }
  rps="$(wrk -t1 -c16 -d"${seconds}s" -s "$here/wrk_invocations.lua" \
    "http://127.0.0.1:$port/invocations" 2>&1 | awk '/^Requests\/sec:/ { print $2 }')"
  if [ "${1:-}" != "--no-monitor" ]; then
    curl -s "http://127.0.0.1:$port/metrics" | grep -q 'keel_feature_drift{' ||
      fail "monitoring on, but no drift gauge on /metrics"
  fi
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=
  echo "${rps%.*}"
}

on=(); off=()
for i in $(seq 1 "$reps"); do
  off+=("$(serve_rps --no-monitor --feedback-capacity 0)")
  on+=("$(serve_rps --window 1s --min-window-rows 100 ${KEEL_BENCH_ON_ARGS:-})")
  echo "  run $i: monitoring off ${off[-1]} req/s, on ${on[-1]} req/s"
done
median() { printf "%s\n" "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
m_on="$(median "${on[@]}")"; m_off="$(median "${off[@]}")"
cost="$(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }')"
met="$(awk -v c="$cost" 'BEGIN { print (c < 10) ? "met" : "NOT met" }')"
echo "keel serve, adult, one raw record per request, wrk -t1 -c16 ${seconds}s x $reps:" \
  "monitoring off $m_off req/s, on $m_on req/s"
echo "monitoring cost: $cost% of throughput (target < 10%)"
echo "summary: serving with monitoring on vs off (adult, 1 record/request): $m_on vs $m_off req/s," \
  "cost $cost% (< 10%: $met)"
