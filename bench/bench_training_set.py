#!/usr/bin/env python3
"""bench_training_set.py — the pandas side of bench_training_set.sh.

  labels N SEED SOURCE OUT     N label rows: station (one of the source's), an
                               event_timestamp at a random minute from 4 h
                               before the first hour to 8 h after the last,
                               a label; numpy's default_rng(SEED)
  join SOURCE LABELS OUT       the point-in-time join as one would write it in
                               pandas: read both CSVs, parse the timestamps,
                               merge_asof per view (by=station,
                               direction="backward", tolerance=TTL), the label
                               columns then view__feature, in label order,
                               written with to_csv
  compare A B                  A and B hold the same rows and values (numbers
                               compared as floats, exactly; empty = NaN)

The views are the ones bench_training_set.sh writes into features.yaml.
"""
import sys

import numpy as np
import pandas as pd

VIEWS = {
    "weather": (["temp", "pres", "dewp", "wspm"], "3h"),
    "pollution": (["pm10", "so2", "no2"], "6h"),
}


def labels(n, seed, source, out):
    rng = np.random.default_rng(seed)
    src = pd.read_csv(source, usecols=["station", "datetime"], parse_dates=["datetime"])
    stations = np.sort(src.station.unique())
    t0 = src.datetime.min() - pd.Timedelta("4h")
    span = (src.datetime.max() + pd.Timedelta("8h") - t0) // pd.Timedelta("1min")
    minutes = rng.integers(0, span + 1, n)
    df = pd.DataFrame({
        "station": rng.choice(stations, n),
        "event_timestamp": t0 + pd.to_timedelta(minutes, unit="min"),
        "label": rng.integers(0, 2, n),
    })
    df.to_csv(out, index=False)


def join(source, labels_path, out):
    src = pd.read_csv(source, parse_dates=["datetime"])
    lab = pd.read_csv(labels_path, parse_dates=["event_timestamp"])
    lab["_row"] = np.arange(len(lab))
    result = lab.sort_values("event_timestamp")
    for view, (features, ttl) in VIEWS.items():
        right = src[["station", "datetime"] + features].sort_values("datetime")
        right = right.rename(columns={f: f"{view}__{f}" for f in features})
        right = right.rename(columns={"datetime": f"_{view}_ts"})
        result = pd.merge_asof(result, right, left_on="event_timestamp",
                               right_on=f"_{view}_ts", by="station", direction="backward",
                               tolerance=pd.Timedelta(ttl))
        result = result.drop(columns=[f"_{view}_ts"])
    result = result.sort_values("_row").drop(columns=["_row"])
    result.to_csv(out, index=False)


def compare(a_path, b_path):
    a = pd.read_csv(a_path)
    b = pd.read_csv(b_path)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        print(f"different shapes or columns: {a.shape} {list(a.columns)} vs {b.shape} "
              f"{list(b.columns)}")
        return 1
    bad = 0
    for c in a.columns:
        if a[c].dtype.kind in "fiu" and b[c].dtype.kind in "fiu":
            x, y = a[c].to_numpy(float), b[c].to_numpy(float)
            diff = ~((x == y) | (np.isnan(x) & np.isnan(y)))
        else:
            diff = (a[c].astype(str) != b[c].astype(str)).to_numpy()
        if diff.any():
            print(f"column {c}: {int(diff.sum())} rows differ, first at row "
                  f"{int(np.flatnonzero(diff)[0])}")
            bad += int(diff.sum())
    print(f"compare: {len(a)} rows x {len(a.columns)} columns, {bad} cells differ")
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "labels" and len(argv) == 6:
        labels(int(argv[2]), int(argv[3]), argv[4], argv[5])
    elif len(argv) == 5 and argv[1] == "join":
        join(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "compare":
        return compare(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
