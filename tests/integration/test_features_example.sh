#!/usr/bin/env bash
# The feature store example (examples/features/run.sh) end to end: definitions
# applied, a point-in-time training set from real data, a model trained on
# it, materialized online features, fresh values pushed over HTTP, and a
# prediction from entity keys alone in keel serve.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh"

bash "$ROOT/examples/features/run.sh" "$KEEL" "$WORK/ex" >"$WORK/.run" 2>&1 && ok ||
  { fail "examples/features/run.sh"; cat "$WORK/.run" >&2; finish; }
expect_contains "$WORK/.run" "project air: definitions version 1"
expect_contains "$WORK/.run" "Wrote train.csv: 20631 rows, 0 skipped"
expect_contains "$WORK/.run" "registered as pm25 version 1"
expect_contains "$WORK/.run" '"online":{"weather":1,"pollution":1}'
expect_contains "$WORK/.run" "temp             [2.5, None]  ['PRESENT', 'OUTSIDE_MAX_AGE']"
# Two predictions, the first from the pushed readings; a request without
# the entity key is refused, naming it.
python3 - "$WORK/.run" <<'PY' && ok || fail "predictions from entity keys"
import json, re, sys
line = next(l for l in open(sys.argv[1]) if l.startswith('{"predictions"'))
preds = json.loads(line[:line.index('}') + 1])["predictions"]
assert len(preds) == 2 and all(isinstance(p, float) for p in preds), preds
PY
# The training set is point-in-time correct: every joined reading is from
# the label's hour (the labels are at hh:30, readings hourly), none later.
python3 - "$WORK/ex/features/train.csv" "$ROOT/examples/data/beijing_air_quality.csv.gz" <<'PY' && ok || fail "point in time"
import csv, gzip, sys
src = {}
with gzip.open(sys.argv[2], "rt") as f:
    for r in csv.DictReader(f):
        src[(r["station"], r["datetime"])] = r
rows = list(csv.DictReader(open(sys.argv[1])))
checked = 0
for r in rows[::50]:
    hour = r["event_timestamp"][:14] + "00:00"
    s = src[(r["station"], hour)]
    for col, name in (("weather__temp", "temp"), ("pollution__pm10", "pm10")):
        if s[name] != "":
            assert float(r[col]) == float(s[name]), (r, s)
            checked += 1
assert checked > 700, checked
PY
# Bad input to enrichment: a record without the entity key; flags that go together.
cd "$WORK/ex/features"
expect_exit 1 -- "$KEEL" serve pm25@production --port 0 --features features.yaml
expect_contains "$WORK/.err" "--features and --feature-service go together"
expect_exit 1 -- "$KEEL" serve pm25@production --port 0 --features features.yaml --feature-service nope
expect_contains "$WORK/.err" "declares no feature service 'nope'"
"$KEEL" serve pm25@production --port 0 --features features.yaml --feature-service pm25 \
    2>"$WORK/serve.log" &
serving=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
base=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/serve.log")
code=$(curl -s -o "$WORK/.e" -w '%{http_code}' "$base/invocations" -d '{"dataframe_records": [{"city": "x"}]}')
[ "$code" = 400 ] && ok || fail "record without the key: $code"
expect_contains "$WORK/.e" "row 0: the entity key 'station' is missing"
curl -s "$base/metrics" >"$WORK/.m"
expect_contains "$WORK/.m" 'keel_feature_view_staleness_seconds{project="air",view="weather"}'
kill -TERM $serving; wait $serving 2>/dev/null || true
# Lineage of the training set: a run with the label rows and the source as inputs.
expect_exit 0 -- "$KEEL" runs search --experiment features:air --json
expect_contains "$WORK/.out" '"keel.features.digest"'
expect_contains "$WORK/.out" '"feature-source"'
finish
