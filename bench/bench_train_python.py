#!/usr/bin/env python3
"""bench_train_python.py — the Python side of bench_train.sh: what
`keel train xgboost` does, written with pandas + xgboost + scikit-learn, so
the two can be compared on the same rows, features and parameters.

Usage:
    bench_train_python.py --data FILE --target COL --split SPEC
                          [--drop COL]... [--seed 42] [--threads 2]
                          [--rounds 500] [--early-stopping 30]
                          [--dump-features] [--dump-split PREFIX]

SPEC is keel's: random:FRACTION[:SEED], column:NAME[:TRAIN/TEST] or
time:COLUMN:FRACTION. Prints one line

    python seconds=S maxrss_kb=K baseline_kb=B task=T train_rows=N
           test_rows=N features=N best_round=N auc=A | rmse=R r2=R2 ...

seconds covers read + encode + train + evaluate (not the interpreter start
or the imports; baseline_kb is the peak RSS measured after the imports).
Run it with /usr/bin/python3 (Debian: pandas 1.5, xgboost 1.7.4 on the same
libxgboost keel links, scikit-learn).

How it mirrors keel (src/data/csv.c, split.c, encode.c, src/train/*.c):
  read     only "" and "NA" are missing (keel's defaults); a column is
           int, float, bool (true/false), date (YYYY-MM-DD, as days since
           1970-01-01), datetime (YYYY-MM-DD[ T]HH:MM[:SS], as seconds) or
           string, decided over all rows.
  split    random: row i is a test row when
           (splitmix64(seed ^ i) >> 11) * 2^-53 < FRACTION (keel_split_apply);
           column: rows whose value is TRAIN / TEST (default train/test),
           others in neither; time: rows with a time sorted by it (ties in
           file order), the last llround(m * FRACTION) are the test rows.
  target   fitted on the training rows: a string (or bool) column with 2
           values, or an int column with 2 values, is binary with the
           classes sorted and the later one positive; more values of a
           string column is multiclass (not supported here); a number is
           regression. Rows whose label is missing (or, on the test side, not
           a training class) are dropped from both sides.
  features every column in file order but the target, --drop columns and a
           column: split's column. Numbers (and dates/datetimes as days/
           seconds) as float32; string columns with at most 16 distinct values
           in the (labelled) training rows one-hot in sorted order (unseen/
           missing: all zeros), more: the index in the sorted vocabulary
           (unseen/missing: NaN).
  train    objective binary:logistic / reg:squarederror, tree_method=hist,
           max_depth=6, eta=0.1, seed, nthread, eval_metric logloss / rmse,
           validate_parameters=1; up to --rounds rounds, evals [train, valid],
           early stopping after --early-stopping rounds without a strictly
           better valid metric; prediction uses the best rounds only.
  evaluate AUC (sklearn roc_auc_score) for binary; RMSE and R^2 for
           regression, on the test rows.
"""
import argparse
import math
import re
import resource
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

MAX_ONEHOT = 16
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")


def splitmix64(x):
    """keel_splitmix64 on a numpy uint64 array (arithmetic mod 2^64)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def llround(v):
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


# ---- reading: keel's column types ----

def column_kind(s):
    """('num', float64 values) or ('string', the column with NaN for missing).

    The checks run on the distinct values, as keel's inference runs on every
    value: true/false -> bool, all YYYY-MM-DD -> date (days), dates or
    datetimes -> datetime (seconds)."""
    if s.dtype == bool or s.dtype.kind in "iuf":
        return "num", s.to_numpy(dtype=np.float64)
    distinct = pd.Series(s.dropna().unique(), dtype=object)
    if len(distinct) == 0:
        return "string", s
    if distinct.str.lower().isin(["true", "false"]).all():
        return "num", s.str.lower().map({"true": 1.0, "false": 0.0}).to_numpy(dtype=np.float64)
    is_date = distinct.str.match(DATE_RE)
    if is_date.all():
        t = pd.to_datetime(s, format="%Y-%m-%d")
        days = t.to_numpy().astype("datetime64[D]").astype(np.int64).astype(np.float64)
        return "num", np.where(t.isna().to_numpy(), np.nan, days)
    if (is_date | distinct.str.match(DATETIME_RE)).all():
        plain = (distinct.str.len() == 19).all() and (distinct.str[10] == " ").all()
        t = (pd.to_datetime(s, format="%Y-%m-%d %H:%M:%S") if plain
             else pd.to_datetime(s.str.replace("T", " ", regex=False)))
        secs = t.to_numpy().astype("datetime64[s]").astype(np.int64).astype(np.float64)
        return "num", np.where(t.isna().to_numpy(), np.nan, secs)
    return "string", s


def read(path):
    frame = pd.read_csv(path, keep_default_na=False, na_values=["", "NA"],
                        low_memory=False)
    return frame


# ---- split ----

def split_rows(frame, spec, kinds):
    n = len(frame)
    if spec.startswith("random:"):
        parts = spec.split(":")
        frac = float(parts[1])
        seed = int(parts[2]) if len(parts) > 2 else 42
        idx = np.arange(n, dtype=np.uint64)
        u = (splitmix64(np.uint64(seed) ^ idx) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
        test = u < frac
        return np.flatnonzero(~test), np.flatnonzero(test)
    if spec.startswith("column:"):
        rest = spec[len("column:"):]
        name, _, values = rest.partition(":")
        train_v, test_v = values.split("/") if values else ("train", "test")
        col = frame[name]
        return (np.flatnonzero((col == train_v).values),
                np.flatnonzero((col == test_v).values))
    if spec.startswith("time:"):
        rest = spec[len("time:"):]
        name, _, frac = rest.rpartition(":")
        kind, t = kinds[name] = column_kind(frame[name])
        if kind != "num":
            raise SystemExit("time split: column %s is not a time or number" % name)
        t = np.asarray(t, dtype=np.float64)
        have = np.flatnonzero(~np.isnan(t))
        order = have[np.argsort(t[have], kind="stable")]
        m = len(order)
        cut = m - llround(m * float(frac))
        return order[:cut], order[cut:]  # in time order, as keel builds its matrices
    raise SystemExit("unknown split " + spec)


# ---- target, encoding ----

def fit_target(col, train):
    """(task, classes or None); classes sorted as keel sorts them."""
    kind, v = column_kind(col)
    tr = v.iloc[train] if kind == "string" else pd.Series(v).iloc[train]
    distinct = tr.dropna().unique()
    if kind == "string" or col.dtype == bool:
        classes = sorted(distinct)
        return ("binary" if len(classes) == 2 else "multiclass"), classes
    if col.dtype.kind in "iu" and len(distinct) == 2:
        return "binary", sorted(distinct)
    return "regression", None


def labels(col, rows, task, classes):
    vals = col.iloc[rows]
    if task == "regression":
        return vals.astype(np.float64).astype(np.float32).values
    index = {c: float(k) for k, c in enumerate(classes)}
    return vals.map(index).astype(np.float64).astype(np.float32).values


def sanitize(name):
    out = []
    for ch in name:
        out.append({"[": "(", "]": ")", "<": "lt", ",": "_", " ": "_", "\t": "_"}.get(ch, ch))
    return "".join(out)


def encode(frame, exclude, train, test, kinds):
    """Fits keel's encoders on the train rows; returns (X_train, X_test, names)."""
    blocks_tr, blocks_te, names = [], [], []
    for name in frame.columns:
        if name in exclude:
            continue
        kind, v = kinds[name] if name in kinds else column_kind(frame[name])
        if kind == "num":
            v = np.asarray(v, dtype=np.float64).astype(np.float32)
            blocks_tr.append(v[train][:, None])
            blocks_te.append(v[test][:, None])
            names.append(sanitize(name))
            continue
        vocab = sorted(v.iloc[train].dropna().unique())
        codes = pd.Categorical(v, categories=vocab).codes  # -1: missing or unseen
        if len(vocab) <= MAX_ONEHOT:
            for side, rows in ((blocks_tr, train), (blocks_te, test)):
                c = codes[rows]
                side.append((c[:, None] == np.arange(len(vocab))[None, :]).astype(np.float32))
            names.extend(sanitize("%s=%s" % (name, c)) for c in vocab)
        else:
            ordinal = codes.astype(np.float32)
            ordinal[codes < 0] = np.nan
            blocks_tr.append(ordinal[train][:, None])
            blocks_te.append(ordinal[test][:, None])
            names.append(sanitize(name))
    unique = []
    for i, n in enumerate(names):
        cand, k = n, 2
        while cand in unique:
            cand = "%s_%d" % (n, k)
            k += 1
        unique.append(cand)
    return (np.ascontiguousarray(np.hstack(blocks_tr), dtype=np.float32),
            np.ascontiguousarray(np.hstack(blocks_te), dtype=np.float32), unique)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--split", default="random:0.2")
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--early-stopping", type=int, default=30)
    ap.add_argument("--dump-features", action="store_true",
                    help="print the feature names on stderr")
    ap.add_argument("--phases", action="store_true",
                    help="print the time of each phase on stderr")
    ap.add_argument("--dump-split", metavar="PREFIX",
                    help="write the train/test row indexes to PREFIX.train/.test")
    a = ap.parse_args()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    start = time.perf_counter()
    marks = [("start", start)]

    def mark(name):
        marks.append((name, time.perf_counter()))

    frame = read(a.data)
    mark("read")
    if a.split.startswith("random:") and len(a.split.split(":")) == 2:
        a.split += ":%d" % a.seed
    kinds = {}  # column -> column_kind(), computed once
    train, test = split_rows(frame, a.split, kinds)
    task, classes = fit_target(frame[a.target], train)
    if task == "multiclass":
        raise SystemExit("multiclass targets are not part of this bench")
    y_train = labels(frame[a.target], train, task, classes)
    y_test = labels(frame[a.target], test, task, classes)
    keep_tr, keep_te = ~np.isnan(y_train), ~np.isnan(y_test)
    train, y_train = train[keep_tr], y_train[keep_tr]
    test, y_test = test[keep_te], y_test[keep_te]
    exclude = {a.target, *a.drop}
    if a.split.startswith("column:"):
        exclude.add(a.split[len("column:"):].split(":")[0])
    mark("split+target")
    x_train, x_test, names = encode(frame, exclude, train, test, kinds)
    mark("encode")
    if a.dump_features:
        print("features: " + " ".join(names), file=sys.stderr)
    if a.dump_split:
        np.savetxt(a.dump_split + ".train", train, fmt="%d")
        np.savetxt(a.dump_split + ".test", test, fmt="%d")

    dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=names,
                         nthread=a.threads)
    dtest = xgb.DMatrix(x_test, label=y_test, missing=np.nan, feature_names=names,
                        nthread=a.threads)
    mark("dmatrix")
    params = {
        "objective": "binary:logistic" if task == "binary" else "reg:squarederror",
        "tree_method": "hist", "max_depth": 6, "eta": 0.1, "seed": a.seed,
        "nthread": a.threads, "eval_metric": "logloss" if task == "binary" else "rmse",
        "validate_parameters": 1,
    }
    booster = xgb.train(params, dtrain, num_boost_round=a.rounds,
                        evals=[(dtrain, "train"), (dtest, "valid")],
                        early_stopping_rounds=a.early_stopping if a.early_stopping > 0 else None,
                        verbose_eval=False)
    mark("train")
    best = booster.best_iteration + 1 if a.early_stopping > 0 else a.rounds
    pred = booster.predict(dtest, iteration_range=(0, best)).astype(np.float64)
    yt = y_test.astype(np.float64)
    if task == "binary":
        result = "auc=%.9f" % roc_auc_score(yt, pred)
    else:
        sse = float(np.sum((yt - pred) ** 2))
        sst = float(np.sum((yt - yt.mean()) ** 2))
        result = "rmse=%.9f r2=%.9f" % (math.sqrt(sse / len(yt)), 1 - sse / sst)
    mark("evaluate")
    seconds = time.perf_counter() - start
    if a.phases:
        print("phases: " + " ".join("%s=%.1fms" % (marks[i][0], 1e3 * (marks[i][1] - marks[i - 1][1]))
                                    for i in range(1, len(marks))), file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("python seconds=%.6f maxrss_kb=%d baseline_kb=%d task=%s train_rows=%d "
          "test_rows=%d features=%d best_round=%d %s"
          % (seconds, peak, baseline, task, len(train), len(test), len(names), best, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
