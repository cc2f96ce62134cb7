#!/usr/bin/env bash
# bench_features_online.sh BUILD_DIR — the feature store's online path:
#   1. materialization of all of Beijing air quality (420k rows, 12 stations,
#      two views) into LMDB and into a real redis-server: rows/s, the CSV
#      read included;
#   2. in-process lookups of one entity with 10 features (bench_online_lookup):
#      p50/p99 for LMDB (target p99 < 10 us) and for Redis;
#   3. POST /features/v1/get-online-features on keel server (LMDB), wrk -t2
#      -c16: one entity per request, and batches of all 12 stations;
#   4. the Redis path against redis-benchmark -t get on the same machine,
#      with one connection (as our sequential client) and with 50.
# Timings never fail the bench.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
build_dir="${1:-build}"
keel="$(cd "$build_dir" 2>/dev/null && pwd)/keel"
lookup="$(cd "$build_dir" 2>/dev/null && pwd)/bench_online_lookup"
seconds="${KEEL_BENCH_SECONDS:-5}"
data="$src/examples/data/beijing_air_quality.csv.gz"

fail() { echo "bench_features_online: $*" >&2; exit 1; }
[ -x "$keel" ] || fail "no keel executable in $build_dir"
[ -x "$lookup" ] || fail "no bench_online_lookup in $build_dir"
command -v redis-server >/dev/null || fail "redis-server missing (scripts/install-deps.sh)"

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-online-XXXXXX")"
server_pid= redis_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
"$keel" init "$work" >/dev/null
export KEEL_HOME="$work/.keel"
cat >features.yaml <<EOF
project: air
entities:
  station:
    join_keys: {station: string}
sources:
  beijing:
    path: $data
    timestamp: datetime
feature_views:
  weather:
    entities: [station]
    source: beijing
    online: true
    features: {temp: float, pres: float, dewp: float, rain: float, wd: string, wspm: float}
  pollution:
    entities: [station]
    source: beijing
    online: true
    features: {pm2_5: float, pm10: float, so2: float, no2: float, co: float, o3: float}
EOF

rport=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >redis.log 2>&1 &
redis_pid=$!
for _ in $(seq 1 200); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.02; done

echo "== materialization (all 420,768 rows, 2 views, CSV read included)"
for store in "$work/.keel/online" "redis://127.0.0.1:$rport"; do
  "$keel" features materialize --end 2030-01-01 --store "$store" | tail -1
done

echo "== in-process lookup, 1 entity x 10 features"
"$lookup" "$work/lmdb-bench" | tee lmdb.txt
"$lookup" "redis://127.0.0.1:$rport/1" | tee redis.txt

echo "== HTTP get-online-features (keel server, LMDB, wrk -t2 -c16 ${seconds}s)"
"$keel" server --port 0 --access-log off --features features.yaml 2>server.log &
server_pid=$!
until grep -q "listening on" server.log 2>/dev/null; do sleep 0.02; done
port=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' server.log)
stations='["Aotizhongxin","Changping","Dingling","Dongsi","Guanyuan","Gucheng","Huairou","Nongzhanguan","Shunyi","Tiantan","Wanliu","Wanshouxigong"]'
feats='["weather:temp","weather:pres","weather:dewp","weather:rain","weather:wd","pollution:pm2_5","pollution:pm10","pollution:so2","pollution:no2","pollution:co"]'
for batch in 1 12; do
  if [ "$batch" = 1 ]; then ents='["Dongsi"]'; else ents=$stations; fi
  body="{\"features\": $feats, \"entities\": {\"station\": $ents}}"
  curl -s -X POST "http://127.0.0.1:$port/features/v1/get-online-features" -d "$body" | grep -q '"PRESENT"' || fail "get-online-features did not answer"
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$body" >post.lua
  if command -v wrk >/dev/null; then
    rps=$(wrk -t2 -c16 -d"${seconds}s" -s post.lua "http://127.0.0.1:$port/features/v1/get-online-features" | awk '/Requests\/sec/ {print $2}')
    echo "batch of $batch entities x 10 features: $rps requests/s = $(echo "$rps * $batch" | bc) entity lookups/s"
  fi
done

echo "== Redis: keel's path vs redis-benchmark -t get (same machine)"
rb1=$(redis-benchmark -p "$rport" -t get -n 100000 -c 1 --csv | awk -F'"' '/^"GET"/ {print $4}')
rb50=$(redis-benchmark -p "$rport" -t get -n 200000 -c 50 --csv | awk -F'"' '/^"GET"/ {print $4}')
ours=$(sed -n 's/.*mean [0-9.]* us, \([0-9]*\) lookups\/s.*/\1/p' redis.txt)
lm=$(sed -n 's/.*p99 \([0-9.]*\) us.*/\1/p' lmdb.txt)
echo "redis-benchmark GET: $rb1 req/s with 1 connection, $rb50 req/s with 50"
echo "keel online lookup over Redis (1 connection, 1 entity x 10 features): $ours lookups/s" \
     "= $(echo "scale=2; $ours / $rb1" | bc) x redis-benchmark -c 1"
echo "LMDB in-process p99: $lm us (target < 10 us)"
