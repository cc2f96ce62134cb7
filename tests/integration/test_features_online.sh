#!/usr/bin/env bash
# The feature store's online half on real data (Beijing air quality, 420k
# rows): materialize into LMDB and into a real redis-server on loopback,
# answer /features/v1/get-online-features on keel server for both backends
# with the exact newest row per station (computed independently with
# pandas), push then get, freshness, and bad input: unknown view or
# feature, wrong types, a gzip source for an offline push, Redis going down
# (a clear 503; LMDB unaffected).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/server_lib.sh"
PY=/usr/bin/python3                       # the python with pandas
DATA=${KEEL_SRC:-$HERE/../..}/examples/data/beijing_air_quality.csv.gz
END="2016-06-01 12:00:00"
END2="2016-09-01 00:00:00"
command -v redis-server >/dev/null || { echo "redis-server missing (scripts/install-deps.sh)"; exit 1; }

REDIS_PID=
stop_redis() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
  fi
  REDIS_PID=
}
trap 'stop_server; stop_redis; rm -rf "$WORK"' EXIT

printf 'id,ts,note,level\n1,2020-01-01 00:00:00,first,3\n' >"$WORK/manual.csv"
cat >"$WORK/features.yaml" <<EOF
project: air
entities:
  station:
    join_keys: {station: string}
  sensor:
    join_keys: {id: int}
sources:
  beijing:
    path: $DATA
    timestamp: datetime
  manual:
    path: $WORK/manual.csv
    timestamp: ts
feature_views:
  weather:
    entities: [station]
    source: beijing
    online: true
    features: {temp: float, pres: float, rain: float, wd: string, year: int}
  pollution:
    entities: [station]
    source: beijing
    ttl: 3h
    online: true
    features: {pm2_5: float, pm10: float}
  notes:
    entities: [sensor]
    source: manual
    online: true
    features: {note: string, level: int}
feature_services:
  air: [weather:temp, weather:wd, pollution:pm10]
EOF

# Expected: the newest row per station at or before END (and END2), by pandas.
cat >"$WORK/expect.py" <<'EOF'
import json, sys
import pandas as pd
df = pd.read_csv(sys.argv[1], parse_dates=["datetime"])
out = {}
for end in sys.argv[2:]:
    d = df[df.datetime <= pd.Timestamp(end)].sort_values("datetime", kind="stable")
    last = d.groupby("station").tail(1).set_index("station")
    out[end] = {s: {c: (None if pd.isna(r[c]) else (r[c].isoformat() + "Z" if c == "datetime"
                    else r[c].item() if hasattr(r[c], "item") else r[c]))
                    for c in ["datetime", "temp", "pres", "rain", "wd", "year", "pm10"]}
                for s, r in last.iterrows()}
json.dump(out, open("expected.json", "w"))
print(len(out[sys.argv[2]]), "stations")
EOF
# check.py RESPONSE END: the response answers every station with expected values.
cat >"$WORK/check.py" <<'EOF'
import json, sys
resp = json.load(open(sys.argv[1])); exp = json.load(open("expected.json"))[sys.argv[2]]
names = resp["metadata"]["feature_names"]
assert names == ["station", "temp", "pres", "rain", "wd", "year", "pm10"], names
res = resp["results"]
stations = res[0]["values"]
assert sorted(stations) == sorted(exp), (stations, sorted(exp))
bad = 0
for i, s in enumerate(stations):
    for j, name in enumerate(names[1:], start=1):
        got, want = res[j]["values"][i], exp[s][name]
        status = res[j]["statuses"][i]
        if name == "pm10":      # ttl 3h: years old, so outside max age
            ok = status == "OUTSIDE_MAX_AGE" and got is None
        else:
            ok = status == "PRESENT" and got == want and res[j]["event_timestamps"][i] == exp[s]["datetime"]
        if not ok:
            bad += 1
            print(f"{s} {name}: got {got!r} {status} {res[j]['event_timestamps'][i]}, want {want!r} {exp[s]['datetime']}")
    assert res[0]["statuses"][i] == "PRESENT"
sys.exit(1 if bad else 0)
EOF
(cd "$WORK" && $PY expect.py "$DATA" "$END" "$END2") >"$WORK/.n" && ok || fail "pandas expectations"
expect_contains "$WORK/.n" "12 stations"

"$KEEL" init "$WORK" >/dev/null
export KEEL_HOME="$WORK/.keel"
F="$WORK/features.yaml"

# ---- materialize into LMDB ----
expect_exit 0 -- "$KEEL" features materialize -f "$F" --end "$END"
expect_contains "$WORK/.out" "weather: (beginning, 2016-06-01 12:00:00]:"
expect_contains "$WORK/.out" "12 entities, 12 written"
expect_contains "$WORK/.out" "rows/s"
[ -f "$WORK/.keel/online/data.mdb" ] && ok || fail "no LMDB at .keel/online"
expect_exit 2 -- "$KEEL" features materialize -f "$F"
expect_exit 2 -- "$KEEL" features materialize -f "$F" --end yesterday

# keel features get, for humans and as JSON.
want_temp=$($PY -c "import json;print(json.load(open('$WORK/expected.json'))['$END']['Aotizhongxin']['temp'])")
expect_exit 0 -- "$KEEL" features get -f "$F" --entity station=Aotizhongxin --features weather:temp,weather:wd,pollution:pm10 --json
$PY -c "import json,sys; d=json.load(open('$WORK/.out')); assert d['weather:temp']['value']==$want_temp and d['weather:temp']['status']=='PRESENT' and d['pollution:pm10']['status']=='OUTSIDE_MAX_AGE', d" && ok || fail "features get --json: $(cat "$WORK/.out")"
expect_exit 0 -- "$KEEL" features get -f "$F" --entity station=Aotizhongxin --features weather:temp
expect_contains "$WORK/.out" "PRESENT"
expect_exit 1 -- "$KEEL" features get -f "$F" --entity station=Aotizhongxin --features weather:nope
expect_contains "$WORK/.err" "nope"

# ---- keel server over LMDB ----
start_server --features "$F"
post() { curl -s -o "$WORK/.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@"; }
STATIONS=$($PY -c "import json;print(json.dumps(sorted(json.load(open('$WORK/expected.json'))['$END'])))")
REQ="{\"features\": [\"weather:temp\", \"weather:pres\", \"weather:rain\", \"weather:wd\", \"weather:year\", \"pollution:pm10\"], \"entities\": {\"station\": $STATIONS}}"

check_get() {  # check_get WHAT END
  local code; code=$(post "$BASE/features/v1/get-online-features" -d "$REQ")
  if [ "$code" = 200 ] && (cd "$WORK" && $PY check.py .body "$2"); then ok
  else fail "$1: get-online-features -> $code $(head -c 400 "$WORK/.body")"; fi
}
check_get "LMDB" "$END"

# A feature service; an unknown station is NOT_FOUND.
code=$(post "$BASE/features/v1/get-online-features" -d '{"feature_service": "air", "entities": {"station": ["Aotizhongxin", "Atlantis"]}}')
[ "$code" = 200 ] && ok || fail "feature_service -> $code"
$PY -c "import json; d=json.load(open('$WORK/.body')); assert d['metadata']['feature_names']==['station','temp','wd','pm10'], d; assert d['results'][1]['statuses']==['PRESENT','NOT_FOUND'], d" && ok || fail "service answer: $(cat "$WORK/.body")"

# Push fresh values (now), then get them back: PRESENT within the TTL too.
NOW=$(date -u '+%Y-%m-%d %H:%M:%S')
code=$(post "$BASE/features/v1/push" -d "{\"push_source_name\": \"beijing\", \"to\": \"online\", \"df\": {\"station\": [\"Aotizhongxin\"], \"datetime\": [\"$NOW\"], \"temp\": [21.5], \"pres\": [1001.0], \"rain\": [null], \"wd\": [\"SE\"], \"year\": [2026], \"pm2_5\": [12.0], \"pm10\": [34.0]}}")
[ "$code" = 200 ] && ok || fail "push -> $code $(cat "$WORK/.body")"
expect_contains "$WORK/.body" '"weather":1'
code=$(post "$BASE/features/v1/get-online-features" -d '{"features": ["weather:temp", "weather:rain", "weather:wd", "pollution:pm10"], "entities": {"station": ["Aotizhongxin"]}}')
$PY -c "import json; d=json.load(open('$WORK/.body')); r=d['results']; assert [x['values'][0] for x in r]==['Aotizhongxin',21.5,None,'SE',34.0], r; assert r[4]['statuses']==['PRESENT'], r" && ok || fail "push then get: $(cat "$WORK/.body")"
# An older push does not replace the newer values.
code=$(post "$BASE/features/v1/push" -d '{"feature_view": "weather", "df": {"station": ["Aotizhongxin"], "datetime": ["2014-01-01 00:00:00"], "temp": [-40.0]}}')
expect_contains "$WORK/.body" '"weather":0'

# Offline: plain CSV appended; gzip source refused with why.
code=$(post "$BASE/features/v1/push" -d "{\"push_source_name\": \"manual\", \"to\": \"online_and_offline\", \"df\": {\"id\": [2], \"ts\": [\"$NOW\"], \"note\": [\"has, comma\"], \"level\": [5]}}")
[ "$code" = 200 ] && ok || fail "offline push -> $code $(cat "$WORK/.body")"
expect_contains "$WORK/manual.csv" "2,$NOW,\"has, comma\",5"
code=$(post "$BASE/features/v1/push" -d '{"push_source_name": "beijing", "to": "offline", "df": {"station": ["X"], "datetime": ["2020-01-01 00:00:00"]}}')
[ "$code" = 400 ] && grep -q "gzip-compressed CSV" "$WORK/.body" && ok || fail "gzip offline push -> $code $(cat "$WORK/.body")"

# Bad input names what is wrong.
expect_http() {  # expect_http CODE TEXT BODY
  local code; code=$(post "$BASE/features/v1/$4" -d "$3")
  if [ "$code" = "$1" ] && grep -qF -- "$2" "$WORK/.body"; then ok
  else fail "$3 -> $code $(head -c 300 "$WORK/.body"), expected $1 '$2'"; fi
}
expect_http 404 "nosuchview" '{"features": ["nosuchview:temp"], "entities": {"station": ["A"]}}' get-online-features
expect_http 404 "nosuchfeature" '{"features": ["weather:nosuchfeature"], "entities": {"station": ["A"]}}' get-online-features
expect_http 404 "no feature service 'nope'" '{"feature_service": "nope", "entities": {"station": ["A"]}}' get-online-features
expect_http 400 "join key 'station'" '{"features": ["weather:temp"], "entities": {"city": ["A"]}}' get-online-features
expect_http 400 "entities.station[0]" '{"features": ["weather:temp"], "entities": {"station": [1.5]}}' get-online-features
expect_http 400 "df.temp[0]: expected float, got a string" '{"feature_view": "weather", "df": {"station": ["A"], "datetime": ["2020-01-01 00:00:00"], "temp": ["warm"]}}' push
expect_http 400 "df.year[0]: expected int" '{"feature_view": "weather", "df": {"station": ["A"], "datetime": ["2020-01-01 00:00:00"], "year": [1.5]}}' push
expect_http 400 "df.datetime[0]" '{"feature_view": "weather", "df": {"station": ["A"], "datetime": ["soon"]}}' push
expect_http 404 "no source 'nope'" '{"push_source_name": "nope", "df": {"a": [1]}}' push
expect_http 400 "'to' must be" '{"feature_view": "weather", "to": "elsewhere", "df": {"a": [1]}}' push

curl -s "$BASE/metrics" >"$WORK/.metrics"
expect_contains "$WORK/.metrics" 'keel_feature_view_staleness_seconds{project="air",view="weather"}'
curl -s "$BASE/features/v1/freshness" >"$WORK/.fresh"
$PY -c "import json; d=json.load(open('$WORK/.fresh')); v={x['view']:x for x in d['views']}; assert v['weather']['max_event_timestamp']=='${NOW/ /T}Z', v; assert v['pollution']['staleness_seconds'] < 600, v" && ok || fail "freshness: $(cat "$WORK/.fresh")"
stop_server

# ---- incremental: from each view's last end ----
expect_exit 0 -- "$KEEL" features materialize-incremental -f "$F" --end "$END2"
expect_contains "$WORK/.out" "weather: (2016-06-01 12:00:00, 2016-09-01 00:00:00]:"
want2=$($PY -c "import json;print(json.load(open('$WORK/expected.json'))['$END2']['Dongsi']['temp'])")
expect_exit 0 -- "$KEEL" features get -f "$F" --entity station=Dongsi --features weather:temp --json
$PY -c "import json; d=json.load(open('$WORK/.out')); assert d['weather:temp']['value']==$want2, d" && ok || fail "incremental: $(cat "$WORK/.out")"

# ---- Redis ----
RPORT=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 200); do redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.02; done
RURI="redis://127.0.0.1:$RPORT/2"
expect_exit 0 -- "$KEEL" features materialize -f "$F" --end "$END" --store "$RURI"
expect_contains "$WORK/.out" "12 entities, 12 written"
# 12 stations x 2 views, and a freshness record per view written
[ "$(redis-cli -p "$RPORT" -n 2 dbsize)" = 26 ] && ok || fail "redis dbsize $(redis-cli -p "$RPORT" -n 2 dbsize), expected 26"
start_server --features "$F" --online-store "$RURI"
check_get "Redis" "$END"
code=$(post "$BASE/features/v1/push" -d "{\"feature_view\": \"pollution\", \"df\": {\"station\": [\"Dongsi\"], \"datetime\": [\"$NOW\"], \"pm10\": [77.0]}}")
code=$(post "$BASE/features/v1/get-online-features" -d '{"features": ["pollution:pm10"], "entities": {"station": ["Dongsi", "Aotizhongxin"]}}')
$PY -c "import json; d=json.load(open('$WORK/.body')); r=d['results'][1]; assert r['values']==[77.0,None] and r['statuses']==['PRESENT','OUTSIDE_MAX_AGE'], d" && ok || fail "redis push then get: $(cat "$WORK/.body")"

# Redis down: a clear 503 naming the store; LMDB unaffected.
stop_redis
code=$(post "$BASE/features/v1/get-online-features" -d '{"features": ["weather:temp"], "entities": {"station": ["Dongsi"]}}')
[ "$code" = 503 ] && grep -q "$RURI: cannot connect" "$WORK/.body" && ok || fail "redis down -> $code $(cat "$WORK/.body")"
curl -s -o /dev/null -w '%{http_code}' "$BASE/health" | grep -q 200 && ok || fail "server died with redis"
expect_exit 1 -- "$KEEL" features materialize -f "$F" --end "$END" --store "$RURI"
expect_contains "$WORK/.err" "cannot connect"
expect_exit 0 -- "$KEEL" features get -f "$F" --entity station=Dongsi --features weather:temp --json
$PY -c "import json; d=json.load(open('$WORK/.out')); assert d['weather:temp']['value']==$want2, d" && ok || fail "LMDB after redis down: $(cat "$WORK/.out")"
stop_server

# ---- a dataset-version source materializes like a CSV path ----
expect_exit 0 -- "$KEEL" data add "$WORK/manual.csv" --name manual-notes
cat >"$WORK/features-ds.yaml" <<EOF
project: ds
entities:
  sensor:
    join_keys: {id: int}
sources:
  manual:
    dataset: manual-notes
    timestamp: ts
feature_views:
  notes:
    entities: [sensor]
    source: manual
    online: true
    features: {note: string, level: int}
EOF
expect_exit 0 -- "$KEEL" features materialize -f "$WORK/features-ds.yaml" --end "2021-01-01 00:00:00" \
  --store "$WORK/ds-online"
expect_contains "$WORK/.out" "1 rows read"
expect_exit 0 -- "$KEEL" features get -f "$WORK/features-ds.yaml" --entity id=1 \
  --features notes:note,notes:level --store "$WORK/ds-online" --json
expect_contains "$WORK/.out" '"first"'

finish
