#!/usr/bin/env bash
# The registry and CI/CD for models end to end: register trained bundles,
# aliases, gates (pass and fail), promotion, rollback, ci check, audit
# history, lineage, webhooks delivered to a real HTTP receiver, bad input.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
DATA="$HERE/../../examples/data"
"$KEEL" init >/dev/null

run_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" "$1"; }

# Two models of different quality on the same data.
zcat "$DATA/adult.csv.gz" | awk -F, 'NR == 1 || $16 == "test"' > test_rows.csv
"$KEEL" data add "$DATA/adult.csv.gz" --name adult >/dev/null
expect_exit 0 -- "$KEEL" train xgboost --data adult --target income --split column:split --rounds 5 \
  --early-stopping 0 --json
cp "$WORK/.out" weak.json
expect_exit 0 -- "$KEEL" train xgboost --data adult --target income --split column:split --json
cp "$WORK/.out" strong.json

# A webhook receiver that checks signatures and records what it got.
python3 - "$WORK/hooks.log" > "$WORK/hook_port" 2>"$WORK/hook.err" <<'PY' &
import hashlib, hmac, http.server, json, sys
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        want = "sha256=" + hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Keel-Signature", ""))
        log.write(json.dumps({"event": self.headers["X-Keel-Event"], "signed": ok,
                              "body": json.loads(body)}) + "\n"); log.flush()
        self.send_response(200 if ok else 401); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
PY
HOOK_PID=$!
trap 'kill $HOOK_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$WORK/hook_port" ] && break; sleep 0.05; done
expect_exit 0 -- "$KEEL" webhooks add "http://127.0.0.1:$(cat "$WORK/hook_port")/hook" --secret s3cr3t
expect_exit 1 -- "$KEEL" webhooks add "ftp://x" --events alias_moved
expect_exit 1 -- "$KEEL" webhooks add "http://x" --events nonsense

# Register both; versions 1 and 2.
expect_exit 0 -- "$KEEL" models create fraud --description "income classifier" --tag team=risk
expect_exit 0 -- "$KEEL" models register fraud --run "$(run_of weak.json)" --json
expect_contains "$WORK/.out" '"version": 1'
expect_exit 0 -- "$KEEL" models register fraud --run "$(run_of strong.json)" --json
expect_contains "$WORK/.out" '"version": 2'
expect_exit 0 -- "$KEEL" models versions fraud --json
expect_contains "$WORK/.out" "runs:/$(run_of strong.json)/model"

# Policies.
cat > gates.yaml <<'YAML'
evaluation:
  data: test_rows.csv
  target: income
gates:
  - metrics.test_auc >= 0.92
  - beats: production
    metric: auc
    margin: 0.001
  - max_size_mb: 50
  - max_latency_ms: 200
  - signature_compatible_with: production
YAML
# Version 1 (5 rounds) is below 0.92 AUC: ci check says no, promote refuses.
expect_exit 1 -- "$KEEL" ci check --policy gates.yaml fraud 1
expect_contains "$WORK/.out" "FAIL"
expect_exit 1 -- "$KEEL" models promote fraud 1 --policy gates.yaml
expect_contains "$WORK/.err" "not promoted"
expect_exit 1 -- "$KEEL" models alias get fraud production
# Forced promotion needs a reason, and is audited.
expect_exit 2 -- "$KEEL" models promote fraud 1 --policy gates.yaml --force
expect_exit 0 -- "$KEEL" models promote fraud 1 --policy gates.yaml --force --reason "baseline for the test"
# Version 2 passes every gate, including beating @production (version 1) on the same rows.
expect_exit 0 -- "$KEEL" ci check --policy gates.yaml fraud 2 --json
expect_contains "$WORK/.out" '"passed": true'
expect_exit 0 -- "$KEEL" models promote fraud 2 --policy gates.yaml
expect_exit 0 -- "$KEEL" models resolve models:/fraud@production --json
expect_contains "$WORK/.out" '"version": "2"'
expect_exit 0 -- "$KEEL" models resolve models:/fraud/1
# Rollback goes back to version 1, then --to 2.
expect_exit 0 -- "$KEEL" models rollback fraud --json
expect_contains "$WORK/.out" '"version": 1'
expect_exit 0 -- "$KEEL" models rollback fraud --to 2
expect_exit 0 -- "$KEEL" models alias get fraud production --json
expect_contains "$WORK/.out" '"version": "2"'

# Audit history and lineage.
expect_exit 0 -- "$KEEL" models history fraud --json
for action in gate_failed gates_overridden; do expect_contains "$WORK/.out" "\"$action\""; done
expect_contains "$WORK/.out" "baseline for the test"
expect_exit 0 -- "$KEEL" models lineage fraud 2 --json
expect_contains "$WORK/.out" "$(run_of strong.json)"
expect_contains "$WORK/.out" "$(zcat -f "$DATA/adult.csv.gz" >/dev/null; sha256sum "$DATA/adult.csv.gz" | cut -d' ' -f1)"

# Webhooks arrived, signed: version_created x2, gate_failed, alias_moved.
for _ in $(seq 1 50); do [ "$(wc -l < "$WORK/hooks.log" 2>/dev/null || echo 0)" -ge 5 ] && break; sleep 0.1; done
python3 - "$WORK/hooks.log" <<'PY' && ok || fail "webhook deliveries"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in events]
assert all(e["signed"] for e in events), events
assert kinds.count("version_created") == 2, kinds
assert "gate_failed" in kinds and "alias_moved" in kinds, kinds
PY
expect_exit 0 -- "$KEEL" webhooks deliveries --json
expect_contains "$WORK/.out" '"delivered": true'

# Bad input.
expect_exit 1 -- "$KEEL" models register nosuch --run 0123456789abcdef0123456789abcdef
expect_exit 1 -- "$KEEL" models alias set fraud production 99
expect_exit 1 -- "$KEEL" models get nosuch
expect_contains "$WORK/.err" "nosuch"
expect_exit 1 -- "$KEEL" models create fraud
printf 'gates:\n  - metrics.test_auc >= oops\n' > bad1.yaml
expect_exit 1 -- "$KEEL" ci check --policy bad1.yaml fraud 2
expect_contains "$WORK/.err" "bad1.yaml:2:5"
printf 'gates:\n  - maxx_size: 3\n' > bad2.yaml
expect_exit 1 -- "$KEEL" ci check --policy bad2.yaml fraud 2
expect_contains "$WORK/.err" "bad2.yaml:2:5"
printf 'gates: [unclosed\n' > bad3.yaml
expect_exit 1 -- "$KEEL" ci check --policy bad3.yaml fraud 2
expect_contains "$WORK/.err" "bad3.yaml:"
printf 'gates:\n  - metrics.no_such_metric >= 1\n' > missing.yaml
expect_exit 1 -- "$KEEL" ci check --policy missing.yaml fraud 2
expect_contains "$WORK/.out" "no metric 'no_such_metric'"
expect_exit 2 -- "$KEEL" ci check fraud 2
# train --register: the run's bundle becomes a new version (the model is
# created when new); a bad name is refused before any training or run.
count_runs() { "$KEEL" runs list --max-results 1000 --json |
  python3 -c "import json,sys; print(len(json.load(sys.stdin).get('runs', [])))"; }
before=$(count_runs)
expect_exit 2 -- "$KEEL" train xgboost --data adult --target income --split column:split \
  --rounds 3 --register 'bad/name'
expect_contains "$WORK/.err" "--register: invalid registered model name"
[ "$(count_runs)" = "$before" ] && ok || fail "a refused --register must not leave a run"
for want in 1 2; do
  expect_exit 0 -- "$KEEL" train xgboost --data adult --target income --split column:split \
    --rounds 3 --early-stopping 0 --register income-auto --json
  cp "$WORK/.out" "reg$want.json"
  python3 - "reg$want.json" "$want" <<'PY' && ok || fail "train --register json (version $want)"
import json, sys
r = json.load(open(sys.argv[1]))["registered"]
assert r == {"name": "income-auto", "version": int(sys.argv[2])}, r
PY
done
expect_exit 0 -- "$KEEL" models versions income-auto --json
expect_contains "$WORK/.out" "runs:/$(run_of reg1.json)/model"
expect_contains "$WORK/.out" "runs:/$(run_of reg2.json)/model"
expect_exit 0 -- "$KEEL" models resolve models:/income-auto/2
expect_contains "$WORK/.out" "$(run_of reg2.json)"

finish
