#!/usr/bin/env bash
# The `keel` command end to end: the acceptance flow of the tracking issue,
# JSON shapes, exit codes (0 ok, 1 failure, 2 usage), bad input, artifacts.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"

expect_exit 1 -- "$KEEL" experiments list          # no keel home yet
expect_contains "$WORK/.err" "keel init"
expect_exit 0 -- "$KEEL" init
expect_exit 0 -- "$KEEL" init                       # idempotent
expect_exit 0 -- "$KEEL" experiments create demo
expect_exit 1 -- "$KEEL" experiments create demo
expect_contains "$WORK/.err" "already exists"

RUN=$("$KEEL" runs create --experiment demo --name r1)
[[ "$RUN" =~ ^[0-9a-f]{32}$ ]] && ok || fail "run id '$RUN'"
expect_exit 0 -- "$KEEL" runs log-param "$RUN" lr 0.1
expect_exit 0 -- "$KEEL" runs log-metric "$RUN" acc 0.93 --step 1
expect_exit 0 -- "$KEEL" runs log-metric "$RUN" acc 0.97 --step 2
expect_exit 0 -- "$KEEL" runs log-metric "$RUN" delta -0.5
expect_exit 0 -- "$KEEL" runs set-tag "$RUN" team fraud

expect_exit 0 -- "$KEEL" runs list --experiment demo --json
python3 - "$WORK/.out" "$RUN" <<'PY' && ok || fail "runs list --json shape"
import json, sys
doc = json.load(open(sys.argv[1]))
run = doc["runs"][0]
assert run["info"]["run_id"] == sys.argv[2] and run["info"]["run_name"] == "r1"
assert run["info"]["status"] == "RUNNING" and run["info"]["experiment_id"] == "1"
PY

expect_exit 0 -- "$KEEL" runs search --experiment demo --filter "metrics.acc > 0.5" --json
python3 - "$WORK/.out" "$RUN" <<'PY' && ok || fail "runs search --json shape"
import json, sys
doc = json.load(open(sys.argv[1]))
[run] = doc["runs"]
assert run["info"]["run_id"] == sys.argv[2]
metrics = {m["key"]: m for m in run["data"]["metrics"]}
assert metrics["acc"]["value"] == 0.97 and metrics["acc"]["step"] == 2, metrics
assert metrics["delta"]["value"] == -0.5
assert {"key": "lr", "value": "0.1"} in run["data"]["params"]
assert {"key": "team", "value": "fraud"} in run["data"]["tags"]
PY
expect_exit 0 -- "$KEEL" runs search --experiment demo --filter "metrics.acc > 0.99" --json
python3 -c "import json,sys; assert json.load(open('$WORK/.out'))['runs'] == []" && ok || fail "empty search"

# Bad input: exit 1 with a message naming what is wrong; nothing changes.
expect_exit 1 -- "$KEEL" runs log-param "$RUN" lr 0.2
expect_contains "$WORK/.err" "'0.1'"
expect_exit 1 -- "$KEEL" runs search --filter "metrics.acc >> 0.5"
expect_contains "$WORK/.err" "position"
expect_exit 1 -- "$KEEL" runs search --filter "metrics.acc LIKE 'x'"
expect_exit 1 -- "$KEEL" runs log-metric 0123456789abcdef0123456789abcdef acc 1
expect_contains "$WORK/.err" "not found"
expect_exit 1 -- "$KEEL" runs log-metric not-a-run acc 1
expect_exit 1 -- "$KEEL" runs log-param "$RUN" "../evil" x
expect_exit 1 -- "$KEEL" runs end "$RUN" --status DONE
expect_exit 0 -- "$KEEL" runs get "$RUN" --json
python3 -c "
import json; r = json.load(open('$WORK/.out'))['run']
assert r['data']['params'] == [{'key': 'lr', 'value': '0.1'}], r['data']['params']" && ok || fail "params unchanged"

# Usage errors: exit 2.
expect_exit 2 -- "$KEEL"
expect_exit 2 -- "$KEEL" frobnicate
expect_exit 2 -- "$KEEL" runs frobnicate
expect_exit 2 -- "$KEEL" runs log-param "$RUN" only-key
expect_exit 2 -- "$KEEL" runs log-metric "$RUN" acc notanumber
expect_exit 2 -- "$KEEL" runs list --no-such-option
expect_exit 2 -- "$KEEL" runs log-metric "$RUN" acc 1 --step
expect_exit 2 -- "$KEEL" runs create --tag novalue

# --help everywhere, exit 0.
expect_exit 0 -- "$KEEL" --help
for cmd in "init" "experiments create" "experiments list" "experiments get" "experiments rename" \
           "experiments delete" "experiments restore" "runs create" "runs get" "runs list" \
           "runs search" "runs log-param" "runs log-metric" "runs log-batch" "runs set-tag" \
           "runs end" "runs delete" "runs restore" "artifacts log" "artifacts ls" "artifacts get"; do
  # shellcheck disable=SC2086
  expect_exit 0 -- "$KEEL" $cmd --help
  expect_contains "$WORK/.out" "usage: keel"
done

# Batches from MLflow's log-batch JSON, atomically.
cat > batch.json <<'JSON'
{"metrics": [{"key": "loss", "value": 0.5, "timestamp": 1700000000000, "step": 1},
             {"key": "loss", "value": "NaN", "timestamp": 1700000000001, "step": 2}],
 "params": [{"key": "depth", "value": "6"}],
 "tags": [{"key": "stage", "value": "tuning"}]}
JSON
expect_exit 0 -- "$KEEL" runs log-batch "$RUN" --file batch.json
echo '{"metrics": [{"key": "loss", "value": 1}], "params": [{"key": "lr", "value": "9"}]}' > bad.json
expect_exit 1 -- "$KEEL" runs log-batch "$RUN" --file bad.json
echo '{"metrics": [{"key": "loss"}]}' > bad2.json
expect_exit 1 -- "$KEEL" runs log-batch "$RUN" --file bad2.json
expect_contains "$WORK/.err" "metrics[0]"
echo '{"metrics": [' > bad3.json
expect_exit 1 -- "$KEEL" runs log-batch "$RUN" --file bad3.json
expect_contains "$WORK/.err" "bad3.json"
expect_exit 0 -- "$KEEL" runs metric-history "$RUN" loss --json
python3 -c "
import json; h = json.load(open('$WORK/.out'))['metrics']
assert [m['step'] for m in h] == [1, 2] and h[1]['value'] == 'NaN', h" && ok || fail "history after failed batch"

# Experiments lifecycle.
expect_exit 0 -- "$KEEL" experiments rename demo demo2
expect_exit 0 -- "$KEEL" experiments get demo2 --json
expect_contains "$WORK/.out" '"name": "demo2"'
expect_exit 0 -- "$KEEL" experiments delete demo2
expect_exit 0 -- "$KEEL" experiments list --view deleted
expect_contains "$WORK/.out" "demo2"
expect_exit 1 -- "$KEEL" runs create --experiment demo2
expect_exit 0 -- "$KEEL" experiments restore demo2
expect_exit 1 -- "$KEEL" experiments delete 0

# Artifacts: log a directory, list it, fetch it back; a corrupted object is caught.
mkdir -p model/sub && echo '{"trees": 3}' > model/model.json && head -c 100000 /dev/urandom > model/sub/weights.bin
expect_exit 0 -- "$KEEL" artifacts log "$RUN" model --artifact-path outputs
# As MLflow's log_artifacts: the directory's contents go under the artifact path.
expect_exit 0 -- "$KEEL" artifacts ls "$RUN" outputs --json
expect_contains "$WORK/.out" '"outputs/model.json"'
expect_contains "$WORK/.out" '"outputs/sub"'
expect_exit 0 -- "$KEEL" artifacts get "$RUN" outputs --out fetched
cmp model/sub/weights.bin fetched/sub/weights.bin && ok || fail "artifact bytes differ"
RUN2=$("$KEEL" runs create --experiment demo2 --name r2)
expect_exit 0 -- "$KEEL" artifacts log "$RUN2" model/sub/weights.bin
[ "$(find .keel/objects -type f -not -path '*/tmp/*' | wc -l)" -eq 2 ] && ok || fail "identical files not deduplicated"
obj=$(find .keel/objects -type f -size +50k | head -1)
chmod u+w "$obj"; printf 'X' | dd of="$obj" bs=1 seek=10 conv=notrunc 2>/dev/null
expect_exit 1 -- "$KEEL" artifacts get "$RUN2" weights.bin --out corrupt
expect_contains "$WORK/.err" "corrupt"
[ ! -e corrupt/weights.bin ] && ok || fail "corrupt artifact was written out"
expect_exit 1 -- "$KEEL" artifacts get "$RUN" no/such/path --out x
expect_exit 1 -- "$KEEL" artifacts log "$RUN" /nonexistent/file

# Dataset inputs (lineage) and git commit recording.
printf 'a,b\n1,2\n' > data.csv
expect_exit 0 -- "$KEEL" runs log-input "$RUN" data.csv --json
expect_contains "$WORK/.out" "$(sha256sum data.csv | cut -d' ' -f1)"
git init -q repo && (cd repo && git config user.email t@e && git config user.name t && touch f && git add f && git commit -qm x)
RUN3=$(cd repo && "$KEEL" runs create --name gitrun)
expect_exit 0 -- "$KEEL" runs get "$RUN3" --json
expect_contains "$WORK/.out" "$(cd repo && git rev-parse HEAD)"

# KEEL_HOME points elsewhere.
mkdir -p other && (cd other && KEEL_HOME="$WORK/.keel" "$KEEL" runs get "$RUN" >/dev/null) && ok || fail "KEEL_HOME"

finish
