#!/usr/bin/env bash
# `keel features training-set` on real data: the Beijing air-quality file
# (12 stations x 35,064 hours) as the source of two views with different
# TTLs (weather 3h, pollution 6h), 40,000 label rows at random seconds. The
# output must equal pandas.merge_asof(direction="backward", by="station",
# tolerance=TTL) exactly, and an oracle that does not use merge_asof at all
# (the source is complete and hourly, so the latest row at or before t is
# the one at t's hour) must agree too — with enough rows where the next
# hour's values differ that a join reaching one hour into the future would
# be caught. Then: a feature service, a dataset-version source (same bytes
# out), the output recorded as a dataset, bad rows (fail with the line,
# skip and count), usage errors.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
DATA=$(cd "$HERE/../../examples/data" && pwd)
SRC=$DATA/beijing_air_quality.csv.gz
PY=/usr/bin/python3

if ! "$PY" -c 'import pandas, numpy' 2>/dev/null; then
  echo "test_training_set: $PY lacks pandas/numpy (scripts/install-deps.sh installs them)" >&2
  exit 1
fi

cat > features.yaml <<EOF
project: air
entities:
  station:
    join_keys: {station: string}
sources:
  beijing:
    path: $DATA/beijing_air_quality.csv.gz
    timestamp: datetime
  beijing_stored:
    dataset: beijing@1
    timestamp: datetime
feature_views:
  weather:
    entities: [station]
    source: beijing
    ttl: 3h
    features: {temp: float, pres: float, dewp: float, wspm: float}
  pollution:
    entities: [station]
    source: beijing
    ttl: 6h
    features: {pm10: float, so2: float, no2: float}
  weather_stored:
    entities: [station]
    source: beijing_stored
    ttl: 3h
    features: {temp: float, pres: float, dewp: float, wspm: float}
feature_services:
  pm25: [weather:temp, weather:pres, pollution:pm10]
EOF

# Labels: random seconds over the whole span and a little beyond; a tenth
# exactly on the hour; rows exactly at and just past each TTL after the last
# hour; an unknown station.
"$PY" - "$DATA/beijing_air_quality.csv.gz" labels.csv <<'PY'
import sys
import numpy as np, pandas as pd
src = pd.read_csv(sys.argv[1], usecols=["station", "datetime"], parse_dates=["datetime"])
stations = np.sort(src.station.unique())
rng = np.random.default_rng(7)
n = 40000
t0 = src.datetime.min() - pd.Timedelta("2h")
span = int((src.datetime.max() + pd.Timedelta("8h") - t0) / pd.Timedelta("1s"))
secs = rng.integers(0, span, n)
secs[: n // 10] -= secs[: n // 10] % 3600  # t0 is on the hour
ts = t0 + pd.to_timedelta(secs, unit="s")
st = rng.choice(stations, n)
last = src.datetime.max()
extra_ts = [last + pd.Timedelta(x) for x in ["3h", "3h1s", "6h", "6h1s"]] + [last]
extra = pd.DataFrame({"station": ["Dongsi"] * 5 + ["Nowhere"],
                      "event_timestamp": extra_ts + [last]})
df = pd.DataFrame({"station": st, "event_timestamp": ts})
df = pd.concat([df, extra], ignore_index=True)
df["label"] = rng.integers(0, 2, len(df))
df.to_csv(sys.argv[2], index=False, date_format="%Y-%m-%d %H:%M:%S")
PY
[ -s labels.csv ] && ok || fail "no labels generated"
ROWS=$(($(wc -l < labels.csv) - 1))

F=weather:temp,weather:pres,weather:dewp,weather:wspm,pollution:pm10,pollution:so2,pollution:no2
expect_exit 0 -- "$KEEL" features training-set --entities labels.csv --features "$F" \
  --out train.csv --json
expect_contains "$WORK/.out" "\"rows\": $ROWS"
expect_contains "$WORK/.out" '"skipped": 0'
expect_contains "$WORK/.out" '"name": "pollution__no2"'

"$PY" - "$SRC" labels.csv train.csv <<'PY' && ok || fail "point-in-time check"
import sys
import numpy as np, pandas as pd
views = {"weather": (["temp", "pres", "dewp", "wspm"], "3h"),
         "pollution": (["pm10", "so2", "no2"], "6h")}
src = pd.read_csv(sys.argv[1], parse_dates=["datetime"])
lab = pd.read_csv(sys.argv[2], parse_dates=["event_timestamp"])
out = pd.read_csv(sys.argv[3], parse_dates=["event_timestamp"])
want_cols = list(lab.columns) + [f"{v}__{f}" for v, (fs, _) in views.items() for f in fs]
assert list(out.columns) == want_cols, list(out.columns)
assert len(out) == len(lab)
assert (out.station.values == lab.station.values).all(), "label rows reordered"
assert (out.event_timestamp.values == lab.event_timestamp.values).all()
assert (out.label.values == lab.label.values).all()

def same(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return (a == b) | (np.isnan(a) & np.isnan(b))

left = lab.reset_index().sort_values("event_timestamp")
by_hour = src.set_index(["station", "datetime"])
floor = lab.event_timestamp.dt.floor("h")
nxt = floor + pd.Timedelta("1h")
leak_visible = 0
for view, (feats, ttl) in views.items():
    right = src[["station", "datetime"] + feats].sort_values("datetime")
    m = pd.merge_asof(left, right, left_on="event_timestamp", right_on="datetime", by="station",
                      direction="backward", tolerance=pd.Timedelta(ttl)).set_index("index")
    m = m.sort_index()
    # Oracle without merge_asof: the row at the label's hour, when within the TTL.
    at = by_hour.reindex(pd.MultiIndex.from_arrays([lab.station, floor]))
    after = by_hour.reindex(pd.MultiIndex.from_arrays([lab.station, nxt]))
    fresh = (lab.event_timestamp - floor) <= pd.Timedelta(ttl)  # always true here, hourly
    for f in feats:
        got = out[f"{view}__{f}"].to_numpy(float)
        want = m[f].to_numpy(float)
        bad = ~same(got, want)
        assert not bad.any(), f"{view}__{f}: {bad.sum()} rows differ from merge_asof, " \
            f"first {lab[bad].head(3).to_dict('records')}"
        oracle = np.where(fresh, at[f].to_numpy(float), np.nan)
        # Past the last hour the hour row does not exist: merge_asof covers those.
        have = at.index.get_level_values(1) <= src.datetime.max()
        bad = ~same(got, oracle) & np.asarray(have) & np.asarray(
            lab.event_timestamp >= src.datetime.min())
        assert not bad.any(), f"{view}__{f}: {bad.sum()} rows differ from the hourly oracle"
        # A value from the next hour (the future) would differ here:
        differs = ~same(at[f].to_numpy(float), after[f].to_numpy(float))
        leak_visible += int(differs.sum())
        assert not (same(got, after[f].to_numpy(float)) & differs).any(), "future value joined"
assert leak_visible > 10000, leak_visible
# The rows at the TTL edges after the last hour (Dongsi): weather 3h in, 3h1s out.
tail = out.tail(6)
w, p = tail.weather__temp.to_numpy(float), tail.pollution__pm10.to_numpy(float)
assert not np.isnan(w[0]) and np.isnan(w[1]), w
assert np.isnan(w[2]) and not np.isnan(p[2]) and np.isnan(p[3]), p
assert np.isnan(w[5]) and np.isnan(p[5]), "unknown station joined something"
print(f"{len(out)} rows x {len(want_cols)} columns: equal to merge_asof and the hourly "
      f"oracle; {leak_visible} cells where a one-hour leak would show")
PY

# A feature service: the same values as those columns of the full run.
expect_exit 0 -- "$KEEL" features training-set --entities labels.csv --service pm25 \
  --out service.csv
expect_contains "$WORK/.out" "weather__temp"
cut -d, -f1-5,8 train.csv > want_service.csv
cmp -s service.csv want_service.csv && ok || fail "--service pm25 differs from --features"

# A dataset-version source gives the same bytes; the output is recorded as a dataset.
"$KEEL" init >/dev/null
expect_exit 0 -- "$KEEL" data add "$DATA/beijing_air_quality.csv.gz" --name beijing
expect_exit 0 -- "$KEEL" features training-set --entities labels.csv \
  --features weather_stored:temp,weather_stored:pres,weather_stored:dewp,weather_stored:wspm \
  --out stored.csv --dataset pit_weather --json
expect_contains "$WORK/.out" '"name": "pit_weather"'
expect_contains "$WORK/.out" '"version": 1'
cut -d, -f1-7 train.csv | sed '1s/weather__/weather_stored__/g' > want_stored.csv
cmp -s stored.csv want_stored.csv && ok || fail "dataset source differs from the CSV source"

# Bad rows: fail names the file and line; skip leaves them out and counts them.
{ head -3 labels.csv; echo ",2015-01-01 00:00:00,1"; echo "Dongsi,not a time,0"; echo "Dongsi,,0";
  sed -n 4,6p labels.csv; } > bad.csv
expect_exit 1 -- "$KEEL" features training-set --entities bad.csv --features "$F" --out bad_out.csv
expect_contains "$WORK/.err" "bad.csv:4: missing join key 'station'"
[ ! -e bad_out.csv ] && ok || fail "a failed run left bad_out.csv"
expect_exit 0 -- "$KEEL" features training-set --entities bad.csv --features "$F" \
  --out bad_out.csv --on-bad-row skip --json
expect_contains "$WORK/.out" '"rows": 5'
expect_contains "$WORK/.out" '"skipped": 3'

# Usage errors exit 2.
expect_exit 2 -- "$KEEL" features training-set --entities labels.csv --features "$F" \
  --service pm25 --out x.csv
expect_exit 2 -- "$KEEL" features training-set --entities labels.csv --features "$F" \
  --out x.csv --on-bad-row maybe
expect_exit 2 -- "$KEEL" features training-set --features "$F" --out x.csv
expect_exit 1 -- "$KEEL" features training-set --entities labels.csv --features weather:nope \
  --out x.csv
expect_exit 1 -- "$KEEL" features training-set --entities labels.csv --service nope --out x.csv
expect_contains "$WORK/.err" "no feature service 'nope'"

finish
