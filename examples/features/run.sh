#!/usr/bin/env bash
# The feature store end to end (run by the quickstart and by
# tests/integration/test_features_example.sh): definitions → a
# point-in-time-correct training set → a model → the online store → a
# prediction from entity keys alone.
#
#   bash examples/features/run.sh KEEL WORKDIR
set -euo pipefail
KEEL=$(realpath "$1")
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK" && mkdir -p "$WORK/features" "$WORK/data"
cp "$HERE/features.yaml" "$WORK/features/"
cp "$HERE/../data/beijing_air_quality.csv.gz" "$WORK/data/"
cd "$WORK/features"
"$KEEL" init . >/dev/null
export KEEL_HOME="$WORK/features/.keel"   # this example's own home, whatever the caller's

echo "-- keel features apply: the definitions, checked and versioned"
"$KEEL" features apply
"$KEEL" features list

echo "-- label rows: PM2.5 of every 5th hour of 2016 at each station, observed 30 minutes after the hour"
zcat ../data/beijing_air_quality.csv.gz | awk -F, 'NR > 1 && $3 == 2016 && NR % 5 == 0 && $7 != "" {
    split($2, t, /[ :]/); printf "%s,%s %02d:30:00,%s\n", $1, t[1], t[2], $7 }' |
  { echo "station,event_timestamp,pm2_5"; cat; } > labels.csv
echo "$(($(wc -l < labels.csv) - 1)) label rows, e.g. $(sed -n 2p labels.csv)"

echo "-- keel features training-set: each row gets the latest readings at or before its time"
"$KEEL" features training-set --entities labels.csv --service pm25 --out train.csv
head -2 train.csv

echo "-- keel train on the training set; register and promote"
"$KEEL" train xgboost --data train.csv --target pm2_5 --drop station --drop event_timestamp \
    --split time:event_timestamp:0.2 --rounds 200 --experiment pm25 --register pm25 --json \
    2>/dev/null | python3 -c 'import json, sys
r = json.load(sys.stdin)
print("  run %s: test R2 %.3f, RMSE %.1f on the last 20%% in time; registered as %s version %d" % (
    r["run_id"], r["metrics"]["r2"], r["metrics"]["rmse"], r["registered"]["name"],
    r["registered"]["version"]))'
"$KEEL" models alias pm25 production 1 >/dev/null 2>&1 || "$KEEL" models promote pm25 1 --force \
    --reason "example" >/dev/null
"$KEEL" models resolve models:/pm25@production

echo "-- keel features materialize: the newest readings per station into the online store (LMDB)"
"$KEEL" features materialize --end "2017-02-28 23:00:00"

echo "-- fresh readings pushed to the online store through keel server"
"$KEEL" server --port 0 --access-log off --features features.yaml 2>"$WORK/server.log" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
until grep -q "listening on" "$WORK/server.log"; do sleep 0.05; done
base=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/server.log")
now=$(date -u '+%Y-%m-%d %H:%M:%S')
curl -s "$base/features/v1/push" -d "{\"push_source_name\": \"beijing\", \"to\": \"online\",
  \"df\": {\"station\": [\"Aotizhongxin\"], \"datetime\": [\"$now\"], \"temp\": [2.5], \"pres\": [1021.0],
           \"dewp\": [-12.0], \"wspm\": [1.8], \"rain\": [0.0], \"pm10\": [180.0], \"so2\": [20.0],
           \"no2\": [85.0], \"co\": [1900.0], \"o3\": [12.0]}}"
echo
curl -s "$base/features/v1/get-online-features" -d '{"feature_service": "pm25",
  "entities": {"station": ["Aotizhongxin", "Dongsi"]}}' |
  python3 -c 'import json, sys
r = json.load(sys.stdin)
names = r["metadata"]["feature_names"]
for name, res in list(zip(names, r["results"]))[:5]:
    print("  %-16s %s  %s" % (name, res["values"], res["statuses"]))'
kill -TERM $server && wait $server 2>/dev/null || true
trap - EXIT

echo "-- keel serve: the request carries only the station; features come from the online store"
"$KEEL" serve pm25@production --port 0 --features features.yaml --feature-service pm25 \
    2>"$WORK/serve.log" &
serving=$!
trap 'kill $serving 2>/dev/null' EXIT
until grep -q "listening on" "$WORK/serve.log"; do sleep 0.05; done
serve_base=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/serve.log")
curl -s "$serve_base/invocations" -d '{"dataframe_records": [{"station": "Aotizhongxin"}, {"station": "Dongsi"}]}'
echo "   (Aotizhongxin: from the pushed readings; Dongsi: its readings are older than the views' TTL, so missing)"
kill -TERM $serving && wait $serving 2>/dev/null || true
trap - EXIT
