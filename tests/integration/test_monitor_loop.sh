#!/usr/bin/env bash
# The feedback loop, end to end on ELEC2 (the standard real-world drift
# stream), without a human: a model trained on the first 4,000 half-hours is
# promoted and served with alert rules; the following months are replayed
# through keel serve with their labels arriving as delayed feedback; the
# accuracy rule fires and starts the retraining pipeline (export of the
# labelled production data → train → gates → @production); keel serve
# hot-swaps to the new version and accuracy recovers. Every step is checked
# in the metadata store. Also: bad feedback and bad rule files.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
DATA="$ROOT/examples/data/elec2.csv"

cp -r "$ROOT/examples/monitoring" loop && cd loop
"$KEEL" init . >/dev/null
head -n 4001 "$DATA" | cut -d, -f2- > train.csv          # without the timestamp
"$KEEL" train xgboost --data train.csv --target class --split random:0.2 --rounds 100 \
    --register elec --json >"$WORK/.v1" 2>/dev/null && ok || fail "train v1"
expect_exit 0 -- "$KEEL" models promote elec 1 --policy gates.yaml

# ---- rule files are checked before anything is served ----
bad_rules() {  # bad_rules EXPECTED  (YAML on stdin)
  cat > bad.yaml
  expect_exit 1 -- "$KEEL" serve elec@production --port 0 --rules bad.yaml
  expect_contains "$WORK/.err" "$1"
}
printf 'rules:\n  - name: r\n    model: nope\n    measure: accuracy\n    below: 0.7\n' \
  | bad_rules "bad.yaml:3:12: model 'nope' is not served here"
printf 'rules:\n  - name: r\n    model: elec\n    measure: precision\n    below: 0.7\n' \
  | bad_rules "bad.yaml:4:14: unknown measure 'precision'"
printf 'rules:\n  - name: r\n    model: elec\n    measure: psi\n    feature: colour\n    above: 0.2\n' \
  | bad_rules "bad.yaml:5:14: model 'elec' has no monitored feature 'colour'"
printf 'rules:\n  - name: r\n    model: elec\n    measure: accuracy\n    below: 0.7\n    actions:\n      - pipeline: retrain\n' \
  | bad_rules "a pipeline action needs 'pipelines: FILE'"
printf 'pipelines: keel.yaml\nrules:\n  - name: r\n    model: elec\n    measure: accuracy\n    below: 0.7\n    actions:\n      - pipeline: nothing\n' \
  | bad_rules "pipeline 'nothing'"
printf 'rules:\n  - name: r\n    model: elec\n    measure: accuracy\n    below: lots\n' \
  | bad_rules "bad.yaml:5:12: below must be a number"

# ---- serve with the rules ----
"$KEEL" serve elec@production --port 0 --window-rows 500 --min-window-rows 200 --window 1h \
    --poll-ms 200 --rules rules.yaml 2>"$WORK/serve.log" &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
PORT=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$WORK/serve.log")
[ -n "$PORT" ] && ok || { fail "keel serve did not start"; cat "$WORK/serve.log" >&2; finish; }

# ---- bad feedback ----
curl -s -o "$WORK/.fb" -w '%{http_code}' "localhost:$PORT/feedback" -d '{"feedback": [' >"$WORK/.code"
expect_contains "$WORK/.code" "400"
curl -s "localhost:$PORT/feedback" -d '{"feedback": [{"request_id": "never-seen", "label": 1},
  {"label": 1}]}' >"$WORK/.fb"
expect_contains "$WORK/.fb" '"unknown":1'
expect_contains "$WORK/.fb" '"invalid":1'
curl -s "localhost:$PORT/invocations" -H 'X-Request-Id: probe-1' -d '{"dataframe_records": [{"day_of_week": "Monday", "period": 0.5, "nswprice": 0.05, "nswdemand": 0.4, "vicprice": 0.003, "vicdemand": 0.42, "transfer": 0.41}]}' >/dev/null
curl -s "localhost:$PORT/feedback" -d '{"request_id": "probe-1", "label": [1]}' >"$WORK/.fb"
expect_contains "$WORK/.fb" "a label must be a number, true/false or a class name"
curl -s "localhost:$PORT/feedback" -d '{"request_id": "probe-1", "labels": [1, 0]}' >"$WORK/.fb"
expect_contains "$WORK/.fb" "predicted 1 row(s), got 2 label(s)"

# ---- replay the following months ----
python3 "$ROOT/examples/monitoring/replay.py" "$DATA" "$PORT" 4000 14000 500 >"$WORK/replay.jsonl" \
  && ok || fail "replay"
sleep 1

# The accuracy rule fired on version 1 and started the retraining pipeline.
"$KEEL" monitor events elec --json >"$WORK/.events" && ok || fail "monitor events"
python3 - "$WORK/.events" "$WORK/replay.jsonl" <<'PY' && ok || fail "the loop did not close"
import json, sys
events = json.load(open(sys.argv[1]))
fired = [e for e in events if e["rule"] == "accuracy-drop" and e["state"] == "firing"]
first = min(fired, key=lambda e: e["time"])
assert first["version"] == "1", first
assert first["value"] < 0.74 and first["evidence"]["labels"] >= 500, first
run = first["actions"][0]["run_id"]
assert len(run) == 32, first
drift = [e for e in events if e["rule"] == "price-drift" and e["state"] == "firing"]
assert drift and drift[0]["evidence"]["feature"] == "nswprice", events
# After the swap, the new versions' predictions are better than version 1's
# accuracy when the rule fired.
chunks = [json.loads(l) for l in open(sys.argv[2])]
later = [c for c in chunks if "elec/1" not in c["versions"]]
assert later, "no chunk was answered by a retrained version"
acc = sum(c["accuracy"] for c in later) / len(later)
assert acc > first["value"] + 0.03, (acc, first["value"])
print(run)
PY
RUN=$(python3 -c 'import json,sys; e=[x for x in json.load(open(sys.argv[1])) if x["state"]=="firing" and x["rule"]=="accuracy-drop"]; print(min(e, key=lambda x: x["time"])["actions"][0]["run_id"])' "$WORK/.events")
expect_exit 0 -- "$KEEL" pipeline runs retrain
expect_contains "$WORK/.out" "$RUN  retrain   SUCCEEDED"
expect_contains "$WORK/.out" "alert:accuracy-drop"
expect_exit 0 -- "$KEEL" models resolve models:/elec@production
grep -q "version 1\b" "$WORK/.out" && fail "@production still at version 1" || ok
expect_exit 0 -- "$KEEL" models history elec
expect_contains "$WORK/.out" "retrained by an alert rule"
curl -s "localhost:$PORT/metrics" >"$WORK/.metrics"
expect_contains "$WORK/.metrics" 'keel_model_reloads_total{model="elec"}'
grep -q 'keel_model_reloads_total{model="elec"} 0' "$WORK/.metrics" && fail "no hot swap" || ok
expect_contains "$WORK/.metrics" 'keel_alert_fired_total{rule="accuracy-drop",model="elec"}'
expect_contains "$WORK/.metrics" 'keel_feedback_total{outcome="joined"} 10000'

# What keel serve measured is in the store.
expect_exit 0 -- "$KEEL" monitor status elec
expect_contains "$WORK/.out" "nswprice"
expect_contains "$WORK/.out" "accuracy"
expect_exit 0 -- "$KEEL" monitor history elec --feature nswprice --measure psi --json
python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); assert len(h) >= 10 and all(p["value"] >= 0 for p in h), h' "$WORK/.out" && ok || fail "drift history"
expect_exit 0 -- "$KEEL" monitor history elec
expect_contains "$WORK/.out" "accuracy of elec"
expect_exit 0 -- "$KEEL" monitor export elec --target class --last 100 --out recent.csv
[ "$(wc -l < recent.csv)" = 101 ] && ok || fail "export rows"
expect_contains recent.csv "day_of_week,period,nswprice,nswdemand,vicprice,vicdemand,transfer,class"
expect_exit 1 -- "$KEEL" monitor export nomodel --out x.csv
expect_contains "$WORK/.err" "does not exist"

# A pipeline trigger that fails (here: keel.yaml was edited after keel serve
# checked the rules, and the pipeline is gone) is recorded with its error,
# retried in the next windows, and the alert stays open while it is.
kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null || true
cat > failing-rules.yaml <<'YAML'
pipelines: keel.yaml
rules:
  - name: always
    model: elec
    measure: psi
    feature: any
    above: 0
    actions:
      - pipeline: retrain
        retries: 2
YAML
"$KEEL" serve elec@production --port 0 \
    --window-rows 200 --min-window-rows 100 --window 1h --rules failing-rules.yaml \
    2>"$WORK/serve2.log" &
SERVE_PID=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve2.log" && break; sleep 0.05; done
sed -i 's/^pipeline: retrain$/pipeline: retrain-renamed/' keel.yaml
PORT=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$WORK/serve2.log")
python3 "$ROOT/examples/monitoring/replay.py" "$DATA" "$PORT" 20000 20800 200 >/dev/null && ok || fail "replay 2"
sleep 1
"$KEEL" monitor events elec --json >"$WORK/.events2"
python3 - "$WORK/.events2" <<'PY' && ok || fail "failed trigger not recorded and retried"
import json, sys
ev = [e for e in json.load(open(sys.argv[1])) if e["rule"] == "always"]
states = [e["state"] for e in sorted(ev, key=lambda e: e["time"])]
assert states[0] == "firing" and states.count("retried") == 2, states
assert "resolved" not in states, states
first = min(ev, key=lambda e: e["time"])
assert "no pipeline 'retrain'" in first["actions"][0]["error"], first
PY

# One run at a time: a rule that fires again (a new episode) while the
# pipeline it started is still running does not start another.
kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null || true
printf 'pipeline: slow\nsteps:\n  wait:\n    run: sleep 8.%s\n    cache: false\n' "$$" > slow.yaml
cat > flip-rules.yaml <<'YAML'
pipelines: slow.yaml
rules:
  - name: flip
    model: elec
    measure: psi
    feature: period
    above: 1.0
    actions:
      - pipeline: slow
YAML
"$KEEL" serve elec@production --port 0 --window-rows 200 --min-window-rows 200 --window 1h \
    --rules flip-rules.yaml 2>"$WORK/serve3.log" &
SERVE_PID=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve3.log" && break; sleep 0.05; done
PORT=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$WORK/serve3.log")
python3 - "$DATA" "$PORT" <<'PY' && ok || fail "flip windows"
import csv, http.client, json, sys, time
rows = list(csv.DictReader(open(sys.argv[1])))[:4000:20]      # 200 training-like rows
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=30)
feats = ["day_of_week", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"]
def window(drift):
    for r in rows:
        rec = {k: (r[k] if k == "day_of_week" else float(r[k])) for k in feats}
        if drift:
            rec["period"] = 0.0
        conn.request("POST", "/invocations", body=json.dumps({"dataframe_records": [rec]}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse(); resp.read()
        assert resp.status == 200
    time.sleep(0.6)
window(True); window(False); window(True)
PY
sleep 0.5
"$KEEL" monitor events elec --json >"$WORK/.events3"
python3 - "$WORK/.events3" <<'PY' && ok || fail "a second run started while the first was running"
import json, sys
ev = sorted((e for e in json.load(open(sys.argv[1])) if e["rule"] == "flip"), key=lambda e: e["time"])
states = [e["state"] for e in ev]
assert states[:3] == ["firing", "resolved", "firing"], states
first, again = ev[0]["actions"][0], ev[2]["actions"][0]
assert len(first["run_id"]) == 32, first
assert again.get("skipped") and again["run_id"] == first["run_id"], again
PY
runs=$("$KEEL" pipeline runs slow --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$runs" = 1 ] && ok || fail "slow pipeline runs: $runs"
pkill -f "sleep 8.$$" 2>/dev/null || true

finish
