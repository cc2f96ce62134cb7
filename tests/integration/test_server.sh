#!/usr/bin/env bash
# keel server under real traffic and bad traffic: startup time, concurrent
# writers, malformed and oversize requests, slow and truncated uploads,
# graceful shutdown. The server must keep serving throughout.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/server_lib.sh"

# Starts in under 100 ms on an empty store (first-time migration included).
"$KEEL" init "$WORK/fresh" >/dev/null
t0=$(date +%s%N)
KEEL_HOME="$WORK/fresh/.keel" "$KEEL" server --port 0 --access-log off 2>"$WORK/fresh.log" &
pid=$!
until grep -q "listening on" "$WORK/fresh.log" 2>/dev/null; do sleep 0.002; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -TERM $pid; wait $pid
echo "startup: ${ms} ms"
# Sanitizer builds start slower; hold them to a looser bound.
limit=100; [ -n "${KEEL_SANITIZED:-}" ] && limit=1000
[ "$ms" -lt "$limit" ] && ok || fail "server took ${ms} ms to start (limit ${limit} ms)"

start_server
api="$BASE/api/2.0/mlflow"
post() { curl -s -o "$WORK/.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@"; }

expect_status() {  # expect_status CODE ERROR_CODE -- curl args…
  local want=$1 code=$2; shift 3
  local got; got=$(post "$@")
  if [ "$got" = "$want" ] && grep -q "\"error_code\":\"$code\"" "$WORK/.body"; then ok
  else fail "$* -> $got $(head -c 300 "$WORK/.body"), expected $want $code"; fi
}

exp=$(curl -s -X POST "$api/experiments/create" -d '{"name":"bad-input"}' | sed 's/.*"experiment_id":"\([0-9]*\)".*/\1/')
run=$(curl -s -X POST "$api/runs/create" -d "{\"experiment_id\":\"$exp\"}" | sed 's/.*"run_id":"\([0-9a-f]*\)".*/\1/')
[[ "$run" =~ ^[0-9a-f]{32}$ ]] && ok || fail "run create"

# Malformed JSON, wrong types, missing fields, unknown ids, deep JSON, oversize.
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-metric" -d '{"run_id": '
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-metric" -d '[1,2,3]'
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-metric" -d "$(printf '%.0s[' $(seq 1 100))"
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-metric" -d "{\"run_id\":\"$run\",\"key\":\"k\",\"value\":\"abc\",\"timestamp\":1}"
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-metric" -d "{\"run_id\":\"$run\",\"key\":\"k\",\"value\":1}"
grep -q timestamp "$WORK/.body" && ok || fail "missing-field message names the field"
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-parameter" -d "{\"run_id\":\"$run\",\"key\":7,\"value\":\"v\"}"
expect_status 404 RESOURCE_DOES_NOT_EXIST -- "$api/runs/log-parameter" -d '{"run_id":"0123456789abcdef0123456789abcdef","key":"k","value":"v"}'
expect_status 404 RESOURCE_DOES_NOT_EXIST -- "$api/runs/create" -d '{"experiment_id":"99999"}'
head -c 2000000 /dev/zero | tr '\0' 'a' > "$WORK/big"
expect_status 413 BAD_REQUEST -- "$api/runs/log-parameter" --data-binary @"$WORK/big"
python3 -c "
import json; print(json.dumps({'run_id': '$run', 'metrics': [{'key': 'k', 'value': 1, 'timestamp': 1, 'step': i} for i in range(1001)]}))" > "$WORK/over.json"
expect_status 400 INVALID_PARAMETER_VALUE -- "$api/runs/log-batch" --data-binary @"$WORK/over.json"

# Artifact proxy: bad paths, a truncated upload, a slow upload.
art="$BASE/api/2.0/mlflow-artifacts/artifacts/$exp/$run/artifacts"
code=$(curl -s -o "$WORK/.body" -w '%{http_code}' -X PUT --data-binary x --path-as-is "$art/../../etc/passwd")
[ "$code" = 400 ] && ok || fail "dot-dot artifact path -> $code"
code=$(curl -s -o "$WORK/.body" -w '%{http_code}' -X PUT --data-binary x "$BASE/api/2.0/mlflow-artifacts/artifacts//etc/passwd")
[ "$code" = 400 ] && ok || fail "absolute artifact path -> $code"
# Declared 1 MB, send 1000 bytes, hang up: nothing may be recorded.
python3 - "$PORT" "$exp" "$run" <<'PY'
import socket, sys
port, exp, run = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(f"PUT /api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/partial.bin HTTP/1.1\r\n"
          f"Host: x\r\nContent-Length: 1000000\r\n\r\n".encode() + b"x" * 1000)
s.close()
PY
# The server notices the hang-up on its own schedule (at the latest after
# its 10 s idle timeout); give it 15 s.
for _ in $(seq 1 300); do
  [ -z "$(find "$WORK/.keel/objects/tmp" -type f 2>/dev/null)" ] && break
  sleep 0.05
done
code=$(curl -s -o "$WORK/.body" -w '%{http_code}' "$art/partial.bin")
[ "$code" = 404 ] && ok || fail "truncated upload left an artifact ($code)"
[ -z "$(find "$WORK/.keel/objects/tmp" -type f 2>/dev/null)" ] && ok || fail "truncated upload left a temp file"
# A slow upload (rate-limited) still completes and reads back identical.
head -c 300000 /dev/urandom > "$WORK/slow.bin"
curl -s -f -X PUT --limit-rate 200k --data-binary @"$WORK/slow.bin" "$art/slow.bin" >/dev/null && ok || fail "slow upload"
curl -s -f "$art/slow.bin" -o "$WORK/slow.back" && cmp -s "$WORK/slow.bin" "$WORK/slow.back" && ok || fail "slow upload round trip"

# Still serving after all of that.
[ "$(curl -s "$BASE/health")" = OK ] && ok || fail "health after bad input"

# Eight concurrent writers, every point stored exactly once.
python3 "$HERE/server_concurrency.py" "$BASE" && ok || fail "concurrent writers"

# Graceful shutdown: SIGTERM during a request stream; the store stays sound.
stop_server
expect_contains "$WORK/server.log" "stopped"
echo "PRAGMA integrity_check;" | sqlite3 "$WORK/.keel/keel.db" > "$WORK/.integrity"
expect_contains "$WORK/.integrity" "ok"
finish
