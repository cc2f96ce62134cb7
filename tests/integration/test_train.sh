#!/usr/bin/env bash
# Data and training end to end on real data: dataset versions, validation,
# the acceptance figures (adult AUC >= 0.92, credit_default AUC >= 0.75,
# bike_sharing R² >= 0.88), byte-identical retraining, evaluate, bad input.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
DATA="$HERE/../../examples/data"
"$KEEL" init >/dev/null

metric() {  # metric FILE KEY → value from a --json result
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics'][sys.argv[2]])" "$1" "$2"
}
at_least() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$1" "$2"; }

# Dataset versions: content-addressed, same bytes = same version.
expect_exit 0 -- "$KEEL" data add "$DATA/adult.csv.gz" --name adult --json
expect_contains "$WORK/.out" '"version": 1'
expect_contains "$WORK/.out" '"rows": 48842'
expect_exit 0 -- "$KEEL" data add "$DATA/adult.csv.gz" --name adult --json
expect_contains "$WORK/.out" '"existed": true'
expect_exit 0 -- "$KEEL" data profile adult --json
expect_contains "$WORK/.out" '"missing_rate"'
expect_exit 0 -- "$KEEL" data list
expect_contains "$WORK/.out" "adult"

# Validation: the test split passes against the whole; a damaged copy fails.
zcat "$DATA/adult.csv.gz" | awk -F, 'NR == 1 || $16 == "test"' > test_rows.csv
expect_exit 0 -- "$KEEL" data validate test_rows.csv --against adult
zcat "$DATA/adult.csv.gz" | awk -F, 'BEGIN { OFS = "," } NR > 1 { $1 = $1 + 200; $2 = "Spacefleet" } { print }' \
  | cut -d, -f1-15 > broken.csv
expect_exit 1 -- "$KEEL" data validate broken.csv --against adult --json
expect_contains "$WORK/.out" '"check": "out_of_range"'
expect_contains "$WORK/.out" '"check": "unseen_category"'
expect_contains "$WORK/.out" '"check": "missing_column"'

# Acceptance: three real datasets.
expect_exit 0 -- "$KEEL" train xgboost --data adult --target income --split column:split \
  --experiment acceptance --json
cp "$WORK/.out" adult.json
at_least "$(metric adult.json auc)" 0.92 && ok || fail "adult AUC $(metric adult.json auc) < 0.92"
expect_exit 0 -- "$KEEL" train xgboost --data "$DATA/credit_default.csv" --target default_payment_next_month \
  --drop ID --experiment acceptance --json
at_least "$(metric "$WORK/.out" auc)" 0.75 && ok || fail "credit AUC $(metric "$WORK/.out" auc) < 0.75"
expect_exit 0 -- "$KEEL" train xgboost --data "$DATA/bike_sharing_hourly.csv" --target cnt \
  --drop casual --drop registered --drop instant --drop dteday --split time:datetime:0.2 \
  --experiment acceptance --json
at_least "$(metric "$WORK/.out" r2)" 0.88 && ok || fail "bike R² $(metric "$WORK/.out" r2) < 0.88"

# The run carries params, per-round metrics, inputs, the bundle.
run=$(python3 -c "import json; print(json.load(open('adult.json'))['run_id'])")
expect_exit 0 -- "$KEEL" runs get "$run" --json
expect_contains "$WORK/.out" '"key": "test_auc"'
expect_contains "$WORK/.out" '"key": "valid_logloss"'
expect_contains "$WORK/.out" '"mlflow.data.context"'
expect_contains "$WORK/.out" '"status": "FINISHED"'
expect_exit 0 -- "$KEEL" artifacts ls "$run" model
for f in model.json keel.json feature_importance.json; do expect_contains "$WORK/.out" "model/$f"; done
expect_exit 0 -- "$KEEL" runs metric-history "$run" valid_logloss --json
python3 -c "import json; h = json.load(open('$WORK/.out'))['metrics']; assert len(h) > 50" && ok || fail "per-round history"

# Reproducible: same data, params and seed give the same model bytes.
expect_exit 0 -- "$KEEL" train xgboost --data adult --target income --split column:split --json
again=$(python3 -c "import json; print(json.load(open('$WORK/.out'))['model_sha256'])")
first=$(python3 -c "import json; print(json.load(open('adult.json'))['model_sha256'])")
[ "$again" = "$first" ] && ok || fail "retraining changed the model ($first vs $again)"

# evaluate reproduces the test metric on the test rows.
expect_exit 0 -- "$KEEL" evaluate "$run" --data test_rows.csv --json
python3 -c "
import json
a = json.load(open('adult.json'))['metrics']['auc']; b = json.load(open('$WORK/.out'))['auc']
assert abs(a - b) < 1e-9, (a, b)" && ok || fail "evaluate disagrees with training"

# Bad input: clear errors, exit 1, no run left RUNNING.
expect_exit 1 -- "$KEEL" train xgboost --data adult --target nope
expect_contains "$WORK/.err" "'nope'"
printf 'a,b\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n7,x\n8,x\n' > constant.csv
expect_exit 1 -- "$KEEL" train xgboost --data constant.csv --target b --split random:0.5
expect_contains "$WORK/.err" "constant"
expect_exit 1 -- "$KEEL" train xgboost --data adult --target income --param max_dept=3
expect_contains "$WORK/.err" "max_dept"
expect_exit 1 -- "$KEEL" train xgboost --data adult --target income --param max_depth=abc
expect_contains "$WORK/.err" "max_depth"
printf 'a,b\n' > empty.csv
expect_exit 1 -- "$KEEL" train xgboost --data empty.csv --target b
printf 'a,b,c\n1,2\n' > ragged.csv
expect_exit 1 -- "$KEEL" train xgboost --data ragged.csv --target b
expect_contains "$WORK/.err" "ragged.csv:2"
printf 'a,b,c\n1,,0\n2,,1\n3,,0\n4,,1\n' > allmissing.csv
expect_exit 1 -- "$KEEL" train xgboost --data allmissing.csv --target c --split random:0.5
expect_contains "$WORK/.err" "'b'"
expect_exit 1 -- "$KEEL" train xgboost --data nosuch --target x
expect_exit 2 -- "$KEEL" train xgboost --data adult
expect_exit 1 -- "$KEEL" train xgboost --data adult --target income --split bogus:1
expect_exit 0 -- "$KEEL" runs search --filter "attributes.status = 'RUNNING'" --json
python3 -c "import json; assert json.load(open('$WORK/.out'))['runs'] == []" && ok || fail "a failed training left a RUNNING run"
finish
