#!/usr/bin/env bash
# keel serve scraped by a real Prometheus: a tiny bike-sharing model is
# served, requests are sent, and PromQL through Prometheus's HTTP API sees
# the target up and the request counters with the right labels and values.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/prometheus_lib.sh"
DATA="$HERE/../../examples/data"
"$KEEL" init >/dev/null

"$KEEL" train xgboost --data "$DATA/bike_sharing_hourly.csv" --target cnt --split time:dteday:0.2 \
  --drop casual --drop registered --drop instant --drop dteday --rounds 20 --json > run.json
RUN=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" run.json)
"$KEEL" artifacts get "$RUN" model --out bike >/dev/null    # the bundle; served as model "bike"

"$KEEL" serve bike --port 0 --threads 2 --window 1s --min-window-rows 5 2>"$WORK/serve.log" &
SERVE_PID=$!
stop_serve() {
  if [ -n "${SERVE_PID:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
  fi
  SERVE_PID=
}
trap 'stop_serve; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
TARGET=$(sed -n 's|.*listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$WORK/serve.log")
[ -n "$TARGET" ] || { cat "$WORK/serve.log" >&2; echo "keel serve did not start" >&2; exit 1; }
BASE="http://$TARGET"

start_prometheus "$TARGET" 1s    # chains stop_prometheus in front of the trap above
prom_wait_for 'up{job="keel"} == 1' 15 > up.json && ok || fail "target not up in Prometheus"
expect_contains up.json "\"instance\":\"$TARGET\""

# GOOD valid rows from the CSV (the columns the model was trained on), BAD
# requests with a wrong type.
GOOD=20 BAD=3
python3 - "$BASE" "$DATA/bike_sharing_hourly.csv" "$GOOD" "$BAD" <<'PY' && ok || fail "requests to keel serve"
import csv, http.client, json, sys, urllib.parse
base, path, good, bad = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
drop = {"casual", "registered", "instant", "dteday", "cnt"}
def typed(v):
    for t in (int, float):
        try: return t(v)
        except ValueError: pass
    return v
rows = []
with open(path) as f:
    for r in csv.DictReader(f):
        rows.append({k: typed(v) for k, v in r.items() if k not in drop})
        if len(rows) == good: break
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def post(body):
    c.request("POST", "/invocations", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); return r.status
for rec in rows:
    assert post({"dataframe_records": [rec]}) == 200
for _ in range(bad):
    assert post({"dataframe_records": [dict(rows[0], hr="late")]}) == 400
PY

# The counters, as Prometheus sees them after the next scrapes.
prom_wait_for "keel_requests_total{job=\"keel\",model=\"bike\",code=\"2xx\"} >= $GOOD" 10 >/dev/null \
  && ok || fail "keel_requests_total 2xx never reached $GOOD"
prom_wait_for "keel_requests_total{job=\"keel\",model=\"bike\",code=\"4xx\"} >= $BAD" 10 >/dev/null \
  && ok || fail "keel_requests_total 4xx never reached $BAD"
prom_query 'keel_requests_total{job="keel"}' > requests.json
python3 - "$TARGET" "$GOOD" "$BAD" <<'PY' && ok || fail "keel_requests_total labels/values: $(cat requests.json)"
import json, sys
target, good, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open("requests.json"))
assert r["status"] == "success" and r["data"]["resultType"] == "vector", r
series = {s["metric"]["code"]: (s["metric"], float(s["value"][1])) for s in r["data"]["result"]}
assert set(series) == {"2xx", "4xx", "5xx"}, series
for code, (m, _) in series.items():
    assert m == {"__name__": "keel_requests_total", "job": "keel", "instance": target,
                 "model": "bike", "code": code}, m
assert series["2xx"][1] >= good and series["4xx"][1] >= bad and series["5xx"][1] == 0, series
PY
prom_wait_for "keel_model_version_requests_total{job=\"keel\",model=\"bike\",version=\"file\",code=\"2xx\"} >= $GOOD" 10 \
  >/dev/null && ok || fail "keel_model_version_requests_total 2xx never reached $GOOD"
prom_wait_for 'keel_model_info{job="keel",model="bike",version="file",role="primary"} == 1' 5 >/dev/null \
  && ok || fail "keel_model_info"
prom_wait_for "sum(keel_request_duration_seconds_count{job=\"keel\",model=\"bike\"}) >= $GOOD" 5 >/dev/null \
  && ok || fail "keel_request_duration_seconds histogram"
# The drift gauges of the monitoring windows (closed every second here).
prom_wait_for 'keel_feature_drift{job="keel",model="bike",feature="hr",measure="psi"} >= 0' 10 >/dev/null \
  && ok || fail "keel_feature_drift through PromQL"
prom_wait_for 'count(keel_feature_drift{job="keel",measure="js"}) >= 10' 5 >/dev/null \
  && ok || fail "keel_feature_drift: one series per feature"

# Both stop cleanly and leave nothing running.
pids="$PROM_PID $SERVE_PID"
stop_prometheus
stop_serve
for p in $pids; do ! kill -0 "$p" 2>/dev/null && ok || fail "process $p still running"; done
expect_contains "$WORK/serve.log" "stopped"
grep -q "Sanitizer" "$WORK/serve.log" && fail "sanitizer report: $(cat "$WORK/serve.log")" || ok

finish
