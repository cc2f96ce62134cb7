#!/usr/bin/env bash
# Pipelines started by `keel server`: POST /api/keel/v1/pipelines/NAME/runs
# with params (bad pipeline, bad params, bad body), GET of the run, and cron
# schedules: runs missed while no server was up are reported, made up once
# with catchup: true, and not run without it.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
source "$HERE/server_lib.sh"

cat > keel.yaml <<'EOF'
pipelines:
  retrain:
    params:
      days: 30
    steps:
      train:
        run: echo "trained on ${params.days} days" > model.txt
        outs: [model.txt]
  nightly:
    schedule: "*/5 * * * *"
    catchup: true
    steps:
      report:
        run: date > nightly.txt
        cache: false
  hourly:
    schedule: "0 * * * *"
    steps:
      report:
        run: date > hourly.txt
        cache: false
EOF
"$KEEL" init "$WORK" >/dev/null
# The schedules were last checked two hours ago: a server that was down.
"$KEEL" pipeline list >/dev/null
sqlite3 "$WORK/.keel/keel.db" "INSERT INTO pipeline_schedules (pipeline, last_check) VALUES
  ('nightly', strftime('%s','now') - 7200), ('hourly', strftime('%s','now') - 7200)"
start_server

# ---- HTTP trigger ----
curl -s -X POST "$BASE/api/keel/v1/pipelines/retrain/runs" -d '{"params": {"days": 7}}' >"$WORK/.r"
python3 - "$WORK/.r" <<'PY' && ok || { fail "trigger response"; cat "$WORK/.r" >&2; }
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["run_id"]) == 32 and r["pipeline"] == "retrain" and r["status"] == "RUNNING", r
PY
RUN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$WORK/.r")
for _ in $(seq 100); do
  curl -s "$BASE/api/keel/v1/pipelines/runs/$RUN" >"$WORK/.g"
  grep -q '"SUCCEEDED"' "$WORK/.g" && break; sleep 0.05
done
expect_contains "$WORK/.g" '"status":"SUCCEEDED"'
expect_contains "$WORK/.g" '"trigger":"http"'
expect_contains "$WORK/.g" '"days":"7"'
expect_contains model.txt "trained on 7 days"

# Prometheus' view of the runs.
curl -s "$BASE/metrics" >"$WORK/.metrics"
expect_contains "$WORK/.metrics" 'keel_pipeline_runs{pipeline="retrain",status="SUCCEEDED"} 1'

code=$(curl -s -o "$WORK/.e" -w '%{http_code}' -X POST "$BASE/api/keel/v1/pipelines/nope/runs" -d '{}')
[ "$code" = 404 ] && ok || fail "unknown pipeline: $code"
expect_contains "$WORK/.e" "no pipeline 'nope'"
code=$(curl -s -o "$WORK/.e" -w '%{http_code}' -X POST "$BASE/api/keel/v1/pipelines/retrain/runs" -d '{"params": {"weeks": 1}}')
[ "$code" = 400 ] && ok || fail "unknown param: $code"
expect_contains "$WORK/.e" "declares no param 'weeks'"
code=$(curl -s -o "$WORK/.e" -w '%{http_code}' -X POST "$BASE/api/keel/v1/pipelines/retrain/runs" -d '{"params": [1]}')
[ "$code" = 400 ] && ok || fail "params list: $code"
code=$(curl -s -o "$WORK/.e" -w '%{http_code}' -X POST "$BASE/api/keel/v1/pipelines/retrain/runs" -d '{"params": ')
[ "$code" = 400 ] && ok || fail "malformed body: $code"
code=$(curl -s -o "$WORK/.e" -w '%{http_code}' "$BASE/api/keel/v1/pipelines/runs/0123456789abcdef0123456789abcdef")
[ "$code" = 404 ] && ok || fail "unknown run: $code"

# ---- schedules: missed runs reported; catchup makes them up once ----
for _ in $(seq 200); do [ -f nightly.txt ] && break; sleep 0.05; done
[ -f nightly.txt ] && ok || fail "catchup run of nightly did not happen"
expect_contains "$WORK/server.log" "pipeline nightly missed"
expect_contains "$WORK/server.log" "catchup: running it once now"
expect_contains "$WORK/server.log" "pipeline hourly missed"
expect_contains "$WORK/server.log" "(catchup is off)"
sleep 0.3
[ -f hourly.txt ] && fail "hourly ran without catchup" || ok
missed=$(sqlite3 "$WORK/.keel/keel.db" "SELECT missed FROM pipeline_schedules WHERE pipeline = 'nightly'")
[ "$missed" -ge 23 ] && ok || fail "nightly missed count $missed"
runs=$(sqlite3 "$WORK/.keel/keel.db" "SELECT count(*) FROM pipeline_runs WHERE pipeline = 'nightly' AND trigger = 'schedule'")
[ "$runs" = 1 ] && ok || fail "nightly scheduled runs: $runs"

finish
