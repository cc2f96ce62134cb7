#!/usr/bin/env bash
# keel quickstart: a real dataset through the platform's loop.
#
# The UCI Adult census data becomes a dataset version (content hash, schema,
# profile) and passes the validation gate; a sweep of rule baselines
# ("income >50K when FEATURE >= THRESHOLD") is evaluated on the official test
# split, each as a run with params, metrics, a confusion-matrix artifact and
# the git commit; then keel trains an XGBoost model on the same dataset
# version, logging every round, the evaluation and the model bundle; the
# runs are searched with MLflow's filter grammar.
# Then the same store is served over MLflow's REST API by `keel server`, and
# any MLflow client (here: curl) logs and searches through it.
# The same training then runs as a declared pipeline (keel run): steps in
# parallel, every output cached by content, lineage from file to source.
# Finally the loop closes on ELEC2: keel serve monitors drift and accuracy,
# an alert rule starts the retraining pipeline, the new version passes its
# gates, is promoted and hot-swapped (docs/monitoring.md). Before it, the
# feature store (examples/features): features defined once over the Beijing
# air-quality data, a point-in-time-correct training set, a model trained on
# it, served from entity keys alone with online features.
set -euo pipefail

KEEL=$(realpath "${1:-build/keel}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA="$ROOT/examples/data/adult.csv.gz"
WORK="$ROOT/build/quickstart"

rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
export KEEL_HOME="$WORK/.keel"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "keel init"
"$KEEL" init "$WORK"
"$KEEL" experiments create adult-baselines --tag dataset=uci-adult --tag owner=quickstart

step "Dataset version: examples/data/adult.csv.gz"
"$KEEL" data add "$DATA" --name adult
"$KEEL" data show adult | head -12
zcat "$DATA" | awk -F, 'NR == 1 || $16 == "test"' > adult_test.csv
echo "validation gate: the test split against adult@1's profile"
"$KEEL" data validate adult_test.csv --against adult | tail -1

step "Sweep: rule baselines on UCI Adult (train 32,561 rows / test 16,281 rows)"
# feature threshold pairs; column numbers are those of adult.csv.
SWEEP="education_num:5:10 education_num:5:11 education_num:5:12 education_num:5:13 education_num:5:14
hours_per_week:13:41 hours_per_week:13:45 hours_per_week:13:50 age:1:35 age:1:40 age:1:45
capital_gain:11:1 capital_gain:11:5000"
for item in $SWEEP; do
  IFS=: read -r feature col threshold <<<"$item"
  # Confusion matrix on the test split, base rate on train (awk: one pass).
  read -r tp fp fn tn train_pos train_n < <(zcat "$DATA" | awk -F, -v c="$col" -v t="$threshold" '
    NR == 1 { next }
    $16 == "train" { train_n++; if ($15 == ">50K") train_pos++; next }
    {
      pred = ($c != "" && $c + 0 >= t); actual = ($15 == ">50K")
      if (pred && actual) tp++; else if (pred) fp++; else if (actual) fn++; else tn++
    }
    END { print tp+0, fp+0, fn+0, tn+0, train_pos+0, train_n+0 }')
  metrics=$(awk -v tp="$tp" -v fp="$fp" -v fn="$fn" -v tn="$tn" 'BEGIN {
    n = tp + fp + fn + tn; p = (tp + fp) ? tp / (tp + fp) : 0; r = (tp + fn) ? tp / (tp + fn) : 0
    f1 = (p + r) ? 2 * p * r / (p + r) : 0
    printf "--metric accuracy=%.6f --metric precision=%.6f --metric recall=%.6f --metric f1=%.6f --metric positive_rate=%.6f",
           (tp + tn) / n, p, r, f1, (tp + fp) / n }')

  run=$("$KEEL" runs create --experiment adult-baselines --name "$feature>=$threshold" \
        --tag model_family=rule-baseline)
  "$KEEL" runs log-input "$run" "$DATA" --name uci-adult --context evaluation >/dev/null
  # shellcheck disable=SC2086
  "$KEEL" runs log-batch "$run" --param feature="$feature" --param threshold="$threshold" \
      --param split=test $metrics \
      --metric train_base_rate="$(awk -v a="$train_pos" -v b="$train_n" 'BEGIN { printf "%.6f", a / b }')" >/dev/null
  mkdir -p "eval/$run"
  printf '{"tp": %d, "fp": %d, "fn": %d, "tn": %d}\n' "$tp" "$fp" "$fn" "$tn" > "eval/$run/confusion.json"
  "$KEEL" artifacts log "$run" "eval/$run/confusion.json" --artifact-path evaluation >/dev/null
  "$KEEL" runs end "$run"
  printf '  %-22s tp=%-5s fp=%-5s fn=%-5s tn=%-5s\n' "$feature>=$threshold" "$tp" "$fp" "$fn" "$tn"
done

step "keel train xgboost on adult@1 (official train/test split)"
"$KEEL" train xgboost --data adult --target income --split column:split \
    --experiment adult-baselines --name xgboost-adult 2>&1 | grep -v "^keel train: round"

step "All runs in the experiment"
"$KEEL" runs list --experiment adult-baselines

step "Search: metrics.f1 > 0.45 and params.feature != 'age', best F1 first"
"$KEEL" runs search --experiment adult-baselines \
    --filter "metrics.f1 > 0.45 and params.feature != 'age'" --order-by "metrics.f1 DESC"

step "Search: the trained models, best test AUC first"
"$KEEL" runs search --experiment adult-baselines --filter "tags.keel.trainer = 'xgboost'" \
    --order-by "metrics.test_auc DESC"

best=$("$KEEL" runs search --experiment adult-baselines --order-by "metrics.test_auc DESC" \
       --max-results 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["info"]["run_id"])')
step "The trained model's run: lineage (dataset version, git commit), metrics, bundle"
"$KEEL" runs get "$best" | grep -v "^train_\|^valid_"
"$KEEL" artifacts ls "$best" model
echo "re-scoring the bundle on the test rows:"
"$KEEL" evaluate "$best" --data adult_test.csv
step "Registry: register the model, check the gates, promote it to @production"
cp "$ROOT/examples/quickstart/gates.yaml" .
"$KEEL" models register adult-income --run "$best"
"$KEEL" ci check --policy gates.yaml adult-income 1
"$KEEL" models promote adult-income 1 --policy gates.yaml
"$KEEL" models lineage adult-income 1

step "keel serve adult-income@production: raw records in, probabilities out"
"$KEEL" serve adult-income@production --port 0 2>"$WORK/serve.log" &
serving=$!
trap 'kill $serving 2>/dev/null' EXIT
until grep -q "listening on" "$WORK/serve.log"; do sleep 0.05; done
serve_base=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/serve.log")
echo "POST $serve_base/invocations (MLflow scoring protocol)"
curl -s -D headers.txt "$serve_base/invocations" -H 'Content-Type: application/json' -d '{"dataframe_records": [
  {"age": 52, "workclass": "Self-emp-inc", "fnlwgt": 287927, "education": "HS-grad", "education_num": 9,
   "marital_status": "Married-civ-spouse", "occupation": "Exec-managerial", "relationship": "Wife",
   "race": "White", "sex": "Female", "capital_gain": 15024, "capital_loss": 0, "hours_per_week": 40,
   "native_country": "United-States"},
  {"age": 22, "workclass": "Private", "fnlwgt": 201490, "education": "HS-grad", "education_num": 9,
   "marital_status": "Never-married", "occupation": "Adm-clerical", "relationship": "Own-child",
   "race": "White", "sex": "Male", "capital_gain": 0, "capital_loss": 0, "hours_per_week": 20,
   "native_country": "United-States"}]}'
echo
grep -i "x-model-version" headers.txt
echo "GET $serve_base/v2/models/adult-income (Open Inference Protocol v2 metadata, first input)"
curl -s "$serve_base/v2/models/adult-income" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(" ", m["name"], "version", m["versions"][0], "inputs:", len(m["inputs"]), "first:", m["inputs"][0])'
kill -TERM $serving && wait $serving 2>/dev/null || true
trap - EXIT

step "keel predict: batch scoring of the test rows (streamed in chunks, both cores)"
"$KEEL" predict adult-income@production --data adult_test.csv --out scores.csv
head -3 scores.csv

step "keel run: the same loop as a pipeline (examples/pipeline/keel.yaml, bike-sharing demand)"
# prepare → a sweep over tree depth (steps in parallel) → select → register;
# every step is a run, its outputs are cached by content.
mkdir -p pipeline/data && cp -r "$ROOT/examples/pipeline" pipeline/
cp "$ROOT/examples/data/bike_sharing_hourly.csv" pipeline/data/
(cd pipeline/pipeline && KEEL_NO_PROGRESS=1 "$KEEL" run && cat work/best.json work/registered.txt)
echo "second run: nothing changed, so every step is a cache hit"
(cd pipeline/pipeline && "$KEEL" run | tail -1)
echo "what would a change of params.rounds re-run, and why?"
(cd pipeline/pipeline && "$KEEL" run -p rounds=300 --dry-run)
echo "where did the registered model's numbers come from?"
(cd pipeline/pipeline && "$KEEL" lineage work/best.json | head -6)

step "Feature store: definitions → point-in-time training set → model → online store → prediction from entity keys"
bash "$ROOT/examples/features/run.sh" "$KEEL" "$WORK/features-example" | sed 's/^/  /'

step "The loop on ELEC2: serve with monitoring, drift and accuracy drop detected, retrained and promoted without a human"
# examples/monitoring: a model trained on the first 4,000 half-hours of the
# NSW electricity market is promoted and served with alert rules; the next
# months are replayed as production traffic, their labels arrive later
# through POST /feedback; the accuracy rule starts the retraining pipeline
# (export labelled production data → train → gates → @production) and keel
# serve hot-swaps to the new version.
cp -r "$ROOT/examples/monitoring" loop
(cd loop && "$KEEL" init . >/dev/null && head -n 4001 "$ROOT/examples/data/elec2.csv" | cut -d, -f2- > train.csv &&
 "$KEEL" train xgboost --data train.csv --target class --split random:0.2 --rounds 100 --register elec \
   2>&1 | grep -E "^(test_|Registered)" | head -4 &&
 "$KEEL" models promote elec 1 --policy gates.yaml | tail -1)
(cd loop && exec "$KEEL" serve elec@production --port 0 --window-rows 500 --min-window-rows 200 \
   --poll-ms 200 --rules rules.yaml) 2>"$WORK/loop-serve.log" &
looping=$!
trap 'kill $looping 2>/dev/null' EXIT
until grep -q "listening on" "$WORK/loop-serve.log"; do sleep 0.05; done
loop_port=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$WORK/loop-serve.log")
echo "replaying half-hours 4,000-12,000 through keel serve on port $loop_port (500 per window):"
python3 "$ROOT/examples/monitoring/replay.py" "$ROOT/examples/data/elec2.csv" "$loop_port" 4000 12000 500 |
  python3 -c 'import json, sys
for line in sys.stdin:
    c = json.loads(line)
    print("  rows %5d  answered by %-8s  accuracy %.3f" % (c["rows"], ",".join(c["versions"]), c["accuracy"]))'
sleep 1
echo "alert events (keel monitor events elec):"
(cd loop && "$KEEL" monitor events elec | head -8)
echo "pipeline runs the rules started (keel pipeline runs retrain):"
(cd loop && "$KEEL" pipeline runs retrain)
echo "drift of nswprice per window (keel monitor history elec --feature nswprice):"
(cd loop && "$KEEL" monitor history elec --feature nswprice --limit 5)
echo "Prometheus view: curl localhost:$loop_port/metrics | grep keel_feature_drift"
curl -s "localhost:$loop_port/metrics" | grep 'keel_feature_drift{.*feature="nswprice",measure="psi"' | head -2
kill -TERM $looping && wait $looping 2>/dev/null || true
trap - EXIT

step "keel server: the same store over MLflow's REST API"
"$KEEL" server --port 0 --access-log off 2>"$WORK/server.log" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
until grep -q "listening on" "$WORK/server.log"; do sleep 0.05; done
base=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/server.log")
echo "MLFLOW_TRACKING_URI=$base"
api="$base/api/2.0/mlflow"
exp=$(curl -s "$api/experiments/get-by-name?experiment_name=adult-baselines" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
run=$(curl -s -X POST "$api/runs/create" -H 'Content-Type: application/json' \
      -d "{\"experiment_id\": \"$exp\", \"run_name\": \"logged-over-rest\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])')
curl -s -X POST "$api/runs/log-batch" -H 'Content-Type: application/json' -d "{\"run_id\": \"$run\",
  \"params\": [{\"key\": \"feature\", \"value\": \"education_num\"}],
  \"metrics\": [{\"key\": \"f1\", \"value\": 0.5, \"timestamp\": $(date +%s000), \"step\": 0}]}" >/dev/null
echo "POST runs/search  filter: params.feature = 'education_num' and metrics.f1 >= 0.488"
curl -s -X POST "$api/runs/search" -H 'Content-Type: application/json' \
     -d "{\"experiment_ids\": [\"$exp\"], \"filter\": \"params.feature = 'education_num' and metrics.f1 >= 0.488\",
          \"order_by\": [\"metrics.f1 DESC\"]}" |
  python3 -c 'import json,sys
for r in json.load(sys.stdin)["runs"]:
    m = {x["key"]: x["value"] for x in r["data"]["metrics"]}
    print("  %-20s f1=%.4f" % (r["info"]["run_name"], m["f1"]))'
kill -TERM $server && wait $server 2>/dev/null || true
trap - EXIT

echo
echo "keel home: $KEEL_HOME — try: KEEL_HOME=$KEEL_HOME $KEEL runs search --filter \"metrics.recall > 0.8\""
