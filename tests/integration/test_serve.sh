#!/usr/bin/env bash
# keel serve end to end: a trained adult model served by alias answers OIP v2
# and /invocations with raw records, equal to batch scoring and consistent
# with `keel evaluate`; the alias moves under load with zero failed
# requests; canary, metrics, prediction log; bad input.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
DATA="$HERE/../../examples/data"
"$KEEL" init >/dev/null
run_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" "$1"; }

zcat "$DATA/adult.csv.gz" | awk -F, 'NR == 1 || $16 == "test"' > test_rows.csv
head -201 test_rows.csv > sample.csv
"$KEEL" data add "$DATA/adult.csv.gz" --name adult >/dev/null
"$KEEL" train xgboost --data adult --target income --split column:split --rounds 60 \
  --early-stopping 0 --json > v1.json
"$KEEL" train xgboost --data adult --target income --split column:split --rounds 80 \
  --early-stopping 0 --seed 7 --json > v2.json
"$KEEL" models register adult --run "$(run_of v1.json)" >/dev/null
"$KEEL" models register adult --run "$(run_of v2.json)" >/dev/null
"$KEEL" models alias set adult production 1 >/dev/null

"$KEEL" serve adult@production --port 0 --poll-ms 100 --log-sample 1 2>"$WORK/serve.log" &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
BASE=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/serve.log")
[ -n "$BASE" ] && ok || { cat "$WORK/serve.log"; fail "serve did not start"; finish; }

# Batch scoring of the same rows is the reference.
expect_exit 0 -- "$KEEL" predict adult@production --data sample.csv --out batch.csv
# Streamed in small chunks, and from gzip, the output is the same bytes.
expect_exit 0 -- "$KEEL" predict adult@production --data sample.csv --out chunked.csv --chunk-size 3000
cmp -s batch.csv chunked.csv && ok || fail "chunked batch scoring differs"
gzip -c sample.csv > sample.csv.gz
expect_exit 0 -- "$KEEL" predict adult@production --data sample.csv.gz --out gz.csv --chunk-size 1
cmp -s batch.csv gz.csv && ok || fail "gzip batch scoring differs"
# A broken row deep in the file: the error names the file's line, and the
# previous output is left as it was.
awk 'NR == 150 { print "1,2,\"unterminated"; next } { print }' sample.csv > broken.csv
cp batch.csv keep.csv
expect_exit 1 -- "$KEEL" predict adult@production --data broken.csv --out keep.csv --chunk-size 2000
expect_contains "$WORK/.err" "broken.csv:150"
cmp -s batch.csv keep.csv && ok || fail "a failed predict changed its --out"
ls keep.csv.tmp.* >/dev/null 2>&1 && fail "a failed predict left its temp file" || ok
cut -d, -f2- sample.csv > nocol.csv
expect_exit 1 -- "$KEEL" predict adult@production --data nocol.csv --out x.csv
expect_contains "$WORK/.err" "age"
expect_exit 2 -- "$KEEL" predict adult@production --data sample.csv --out x.csv --chunk-size 0
python3 - "$BASE" <<'PY' && ok || fail "served predictions differ from batch scoring"
import csv, json, sys, urllib.request
base = sys.argv[1]
rows = list(csv.DictReader(open("sample.csv")))
batch = [float(r["probability"]) for r in csv.DictReader(open("batch.csv"))]
def typed(r):
    out = {}
    for k, v in r.items():
        if k in ("income", "split"): continue
        if v == "": out[k] = None
        elif k in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"): out[k] = int(v)
        else: out[k] = v
    return out
records = [typed(r) for r in rows]
def post(path, body, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body if isinstance(body, bytes) else json.dumps(body).encode(),
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read()), r.headers
inv, headers = post("/invocations", {"dataframe_records": records})
assert headers["X-Model-Version"] == "adult/1", headers["X-Model-Version"]
assert len(inv["predictions"]) == len(batch)
for a, b in zip(inv["predictions"], batch):
    assert abs(a - b) <= 1e-6 * max(1, abs(b)), (a, b)
cols = list(records[0].keys())
split, _ = post("/invocations", {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in records]}})
assert split["predictions"] == inv["predictions"]
csv_body = open("sample.csv", "rb").read()
viacsv, _ = post("/invocations", csv_body, "text/csv")
for a, b in zip(viacsv["predictions"], batch):
    assert abs(a - b) <= 1e-6 * max(1, abs(b)), (a, b)
inputs = []
for c in cols:
    vals = [r[c] for r in records]
    text = any(isinstance(v, str) for v in vals)
    inputs.append({"name": c, "shape": [len(vals)], "datatype": "BYTES" if text else "INT64", "data": vals})
oip, _ = post("/v2/models/adult/infer", {"inputs": inputs})
assert oip["model_name"] == "adult" and oip["model_version"] == "1"
assert oip["outputs"][0]["shape"] == [len(batch)]
for a, b in zip(oip["outputs"][0]["data"], batch):
    assert abs(a - b) <= 1e-6 * max(1, abs(b)), (a, b)
PY
# The batch predictions reproduce `keel evaluate`'s AUC on those rows.
expect_exit 0 -- "$KEEL" evaluate "$(run_of v1.json)" --data sample.csv --json
/usr/bin/python3 - <<'PY' && ok || fail "batch predictions disagree with keel evaluate"
import csv, json
from sklearn.metrics import roc_auc_score
y = [1 if r["income"] == ">50K" else 0 for r in csv.DictReader(open("sample.csv"))]
p = [float(r["probability"]) for r in csv.DictReader(open("batch.csv"))]
auc = json.load(open(".out"))["auc"]
assert abs(roc_auc_score(y, p) - auc) < 1e-6, (roc_auc_score(y, p), auc)
PY

# OIP metadata and health.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/health/ready")" = 200 ] && ok || fail "ready"
curl -s "$BASE/v2/models/adult" > meta.json
expect_contains meta.json '"name":"workclass"'
expect_contains meta.json '"datatype":"BYTES"'
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/models/adult/versions/1/ready")" = 200 ] && ok || fail "version ready"

# Bad input: clear 4xx, and the server keeps serving.
bad() {  # bad STATUS PATH BODY [CTYPE]
  local got; got=$(curl -s -o "$WORK/.body" -w '%{http_code}' -X POST -H "Content-Type: ${4:-application/json}" --data-binary "$3" "$BASE$2")
  if [ "$got" = "$1" ]; then ok; else fail "$2 $3 -> $got $(head -c 200 "$WORK/.body")"; fi
}
bad 400 /invocations '{"dataframe_records": [{"age": 39'
bad 400 /invocations '{"dataframe_records": [{"age": "old"}]}'
expect_contains "$WORK/.body" "age"
bad 400 /invocations '{"dataframe_records": [{"agee": 39}]}'
expect_contains "$WORK/.body" "agee"
bad 400 /invocations '{"something_else": 1}'
bad 400 /v2/models/adult/infer '{"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]}'
bad 400 /v2/models/adult/infer '{"inputs": [{"name": "age", "shape": [1], "datatype": "FP128", "data": [1]}]}'
bad 404 /v2/models/nosuch/infer '{"inputs": []}'
bad 404 /v2/models/adult/versions/9/infer '{"inputs": []}'
python3 -c "import json; print(json.dumps({'instances': [[1]*13]*10001}))" > big.json
bad 413 /invocations @big.json
[ "$(curl -s "$BASE/ping" -o /dev/null -w '%{http_code}')" = 200 ] && ok || fail "ping after bad input"

# Move the alias under load: zero failed requests, and version 2 answers.
python3 - "$BASE" <<'PY' > load.txt &
import json, sys, time, http.client, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
body = json.dumps({"dataframe_records": [{"age": 39, "workclass": "State-gov", "fnlwgt": 77516, "education": "Bachelors",
  "education_num": 13, "marital_status": "Never-married", "occupation": "Adm-clerical", "relationship": "Not-in-family",
  "race": "White", "sex": "Male", "capital_gain": 2174, "capital_loss": 0, "hours_per_week": 40, "native_country": "United-States"}]})
c = http.client.HTTPConnection(u.hostname, u.port)
codes, versions, end = {}, set(), time.time() + 3
while time.time() < end:
    c.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    versions.add(r.getheader("X-Model-Version"))
print(json.dumps({"codes": codes, "versions": sorted(versions)}))
PY
LOAD_PID=$!
sleep 1
"$KEEL" models alias set adult production 2 >/dev/null
wait $LOAD_PID
python3 -c "
import json; r = json.load(open('load.txt'))
assert list(r['codes']) == ['200'], r
assert r['versions'] == ['adult/1', 'adult/2'], r" && ok || fail "hot reload under load: $(cat load.txt)"

# A version whose model file is corrupt in the object store: the reload
# fails (hash mismatch) and the server keeps answering with version 2.
"$KEEL" train xgboost --data adult --target income --split column:split --rounds 5 \
  --early-stopping 0 --seed 11 --json > v3.json
"$KEEL" models register adult --run "$(run_of v3.json)" >/dev/null   # version 3
hash=$("$KEEL" artifacts ls "$(run_of v3.json)" model --json |
       python3 -c 'import json,sys; print([f["sha256"] for f in json.load(sys.stdin)["files"] if f["path"] == "model/model.json"][0])')
obj=".keel/objects/${hash:0:2}/${hash:2}"
chmod u+w "$obj" && printf 'X' | dd of="$obj" bs=1 seek=100 conv=notrunc 2>/dev/null
"$KEEL" models alias set adult production 3 >/dev/null
sleep 0.6
curl -s -D hdr.txt -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"dataframe_records": [{"age": 39, "workclass": "State-gov", "fnlwgt": 77516, "education": "Bachelors", "education_num": 13, "marital_status": "Never-married", "occupation": "Adm-clerical", "relationship": "Not-in-family", "race": "White", "sex": "Male", "capital_gain": 2174, "capital_loss": 0, "hours_per_week": 40, "native_country": "United-States"}]}' \
  "$BASE/invocations"
expect_contains hdr.txt "X-Model-Version: adult/2"
curl -s "$BASE/metrics" > metrics_broken.txt
grep -q 'keel_model_reload_failures_total{model="adult"} [1-9]' metrics_broken.txt && ok || fail "reload failure not counted"
expect_contains "$WORK/serve.log" "still serving version 2"
"$KEEL" models alias set adult production 2 >/dev/null

# The same under wrk: the alias moves twice during the run, no non-2xx.
python3 - <<'PY' > bodies.jsonl
import csv, json
ints = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
for r in csv.DictReader(open("sample.csv")):
    rec = {k: (None if v == "" else int(v) if k in ints else v) for k, v in r.items() if k not in ("income", "split")}
    print(json.dumps({"dataframe_records": [rec]}))
PY
KEEL_BENCH_BODIES=$WORK/bodies.jsonl KEEL_BENCH_LUA=$HERE/../../bench \
  wrk -t1 -c8 -d4s -s "$HERE/../../bench/wrk_invocations.lua" "$BASE/invocations" > wrk.txt 2>&1 &
WRK_PID=$!
sleep 1
"$KEEL" models alias set adult production 1 >/dev/null
sleep 1
"$KEEL" models alias set adult production 2 >/dev/null
wait $WRK_PID
grep -q "Requests/sec" wrk.txt && ! grep -q "Non-2xx" wrk.txt && ! grep -q "Socket errors" wrk.txt \
  && ok || fail "wrk during alias moves: $(cat wrk.txt)"

# Metrics and the prediction log.
curl -s "$BASE/metrics" > metrics.txt
expect_contains metrics.txt 'keel_requests_total{model="adult",code="2xx"}'
expect_contains metrics.txt 'keel_model_info{model="adult",version="2",role="primary"} 1'
grep -q 'keel_model_reloads_total{model="adult"} [3-9]' metrics.txt && ok || fail "reloads not counted"
expect_contains metrics.txt 'keel_request_duration_seconds_bucket'
for v in 1 2; do
  grep -Eq "^keel_model_version_requests_total\{model=\"adult\",version=\"$v\",code=\"2xx\"\} [1-9]" \
    metrics.txt && ok || fail "no 2xx counted for version $v"
done
grep -Eq '^keel_model_version_requests_total\{model="adult",version="[12]",code="4xx"\} [1-9]' \
  metrics.txt && ok || fail "bad requests not counted per version"
kill -TERM $SERVE_PID; wait $SERVE_PID 2>/dev/null
expect_contains "$WORK/serve.log" "stopped"
log=".keel/predictions/adult.jsonl"
[ -s "$log" ] && ok || fail "no prediction log"
python3 -c "
import json
lines = [json.loads(l) for l in open('$log')]
assert all({'request_id', 'version', 'inputs', 'outputs'} <= set(l) for l in lines)
assert {l['version'] for l in lines} == {'1', '2'}" && ok || fail "prediction log content"

# Several models in one server, a canary taking half the traffic, a shadow.
"$KEEL" artifacts get "$(run_of v1.json)" model --out bundle1 >/dev/null
"$KEEL" models alias set adult candidate 1 >/dev/null
"$KEEL" serve adult@production bundle1 --port 0 --canary adult@candidate:50 \
  --shadow models:/adult/1 --log-dir shadowlog 2>"$WORK/serve2.log" &
SERVE_PID=$!
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/serve2.log" && break; sleep 0.05; done
BASE=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/serve2.log")
python3 - "$BASE" <<'PY' && ok || fail "canary split / second model"
import json, sys, urllib.request
base = sys.argv[1]
rec = {"age": 39, "workclass": "State-gov", "fnlwgt": 77516, "education": "Bachelors", "education_num": 13,
       "marital_status": "Never-married", "occupation": "Adm-clerical", "relationship": "Not-in-family",
       "race": "White", "sex": "Male", "capital_gain": 2174, "capital_loss": 0, "hours_per_week": 40,
       "native_country": "United-States"}
seen = {}
for _ in range(100):
    req = urllib.request.Request(base + "/invocations", data=json.dumps({"dataframe_records": [rec]}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        v = r.headers["X-Model-Version"]; seen[v] = seen.get(v, 0) + 1
assert seen == {"adult/1": 50, "adult/2": 50}, seen
inputs = [{"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "INT64", "data": [v]}
          for k, v in rec.items()]
req = urllib.request.Request(base + "/v2/models/bundle1/infer", data=json.dumps({"inputs": inputs}).encode(),
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    out = json.loads(r.read())
assert out["model_name"] == "bundle1" and len(out["outputs"][0]["data"]) == 1, out
PY
curl -s "$BASE/metrics" > metrics2.txt
expect_contains metrics2.txt 'role="canary"'
expect_contains metrics2.txt 'role="shadow"'
kill -TERM $SERVE_PID; wait $SERVE_PID 2>/dev/null
python3 -c "
import json
roles = [json.loads(l)['role'] for l in open('shadowlog/adult.jsonl')]
assert roles.count('shadow') == 100 and roles.count('canary') == 50, {r: roles.count(r) for r in set(roles)}" \
  && ok || fail "shadow and canary in the prediction log"

# A model that cannot load is refused at start with a clear error.
echo '{"learner": {}}' > broken.json
expect_exit 1 -- "$KEEL" serve broken.json --port 0
expect_exit 1 -- "$KEEL" serve nosuch@production --port 0
finish
