#!/usr/bin/env bash
# Offline drift (`keel monitor drift`) on real data, every number recomputed
# independently with scipy/numpy from the same files:
#   bike_sharing_hourly  first half in time (reference) vs second half, vs a
#                        shifted copy (warmer, drier, windspeed often missing,
#                        more rentals), vs itself; the same reference as a
#                        dataset version and as a trained model's bundle
#   adult                first half of the rows vs second half, vs a shifted
#                        copy (an unseen workclass, older, occupation often
#                        missing)
#   cities               a synthetic column of 80 categories, so a profile
#                        reference pools the tail into "other"
# Exact measures (PSI, JS, KS D, W1, chi-square, counts) must agree to 1e-9
# relative, p-values to 1e-6; the profile-based KS and W1 are checked
# against the documented approximation. Then exit codes (0 / 1 / 2) and bad
# input.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
DATA="$HERE/../../examples/data"
PY=/usr/bin/python3

if ! "$PY" -c 'import scipy, numpy, pandas' 2>/dev/null; then
  echo "test_drift: $PY lacks scipy, numpy or pandas (scripts/install-deps.sh installs them)" >&2
  exit 1
fi
"$KEEL" init >/dev/null

# ---- data ----
head -n 8690 "$DATA/bike_sharing_hourly.csv" > bike_ref.csv
{ head -n 1 "$DATA/bike_sharing_hourly.csv"; tail -n +8691 "$DATA/bike_sharing_hourly.csv"; } > bike_cur.csv
zcat "$DATA/adult.csv.gz" > adult.csv
head -n 24422 adult.csv > adult_ref.csv
{ head -n 1 adult.csv; tail -n +24423 adult.csv; } > adult_cur.csv
"$PY" - <<'EOF'
import numpy as np, pandas as pd
rng = np.random.default_rng(9)
read = dict(dtype=str, keep_default_na=False, na_values=["", "NA"])
b = pd.read_csv("bike_cur.csv", **read)
b["temp"] = (b["temp"].astype(float) + 0.1).round(4).astype(str)
b["hum"] = (b["hum"].astype(float) * 0.8).round(4).astype(str)
w = b["windspeed"].copy()
w[rng.random(len(w)) < 0.2] = np.nan
b["windspeed"] = w
b["cnt"] = (b["cnt"].astype(int) * 13 // 10).astype(str)
b.to_csv("bike_shift.csv", index=False)
a = pd.read_csv("adult_cur.csv", **read)
wc = a["workclass"].copy()
wc[(wc == "Private") & (rng.random(len(wc)) < 0.3)] = "Gig-economy"
a["workclass"] = wc
a["age"] = (a["age"].astype(int) + 5).astype(str)
occ = a["occupation"].copy()
occ[rng.random(len(occ)) < 0.2] = np.nan
a["occupation"] = occ
a.to_csv("adult_shift.csv", index=False)
names = [f"city{i:02d}" for i in range(80)]
p = 1.0 / np.arange(1, 81); p /= p.sum()
pd.DataFrame({"city": rng.choice(names, 6000, p=p), "x": rng.normal(0, 1, 6000).round(6)}).to_csv("cities_ref.csv", index=False)
q = p[::-1].copy(); q /= q.sum()
cur = rng.choice(names + ["new1", "new2", "new3"], 4000, p=np.concatenate([q * 0.97, [0.01] * 3]))
pd.DataFrame({"city": cur, "x": rng.normal(0.2, 1, 4000).round(6)}).to_csv("cities_cur.csv", index=False)
EOF

# ---- the independent computation ----
cat > check.py <<'EOF'
"""check.py KEEL_JSON REFERENCE CURRENT [PROFILE_JSON]: recomputes every
measure keel reported, from the files, with scipy/numpy."""
import json, math, sys
import numpy as np, pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

EPS = 1e-4
out = json.load(open(sys.argv[1]))
read = dict(dtype=str, keep_default_na=False, na_values=["", "NA"])
cur_df = pd.read_csv(sys.argv[3], **read)
profile = json.load(open(sys.argv[4]))["reference_profile"] if len(sys.argv) > 4 else None
ref_df = None if profile else pd.read_csv(sys.argv[2], **read)
failures = []

def close(what, got, want, rel):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        ok = got is None
    elif got is None:
        ok = False
    else:
        ok = abs(got - want) <= rel * abs(want) or abs(got - want) <= 1e-12
    if not ok:
        failures.append(f"{what}: keel {got!r}, python {want!r}")

def numbers(s, kind):
    s = s.dropna()
    if kind == "date":
        return ((pd.to_datetime(s) - pd.Timestamp("1970-01-01")).dt.days).astype(float).to_numpy()
    if kind == "datetime":
        return ((pd.to_datetime(s) - pd.Timestamp("1970-01-01")).dt.total_seconds()).to_numpy()
    if kind == "bool":
        return s.str.lower().map({"true": 1.0, "false": 0.0}).to_numpy()
    return s.astype(float).to_numpy()

def edges_of(s):  # keel_frame_profile's decile edges: numpy's linear quantiles, duplicates dropped
    n, e = len(s), []
    for d in range(11):
        pos = (d / 10.0) * (n - 1); lo = math.floor(pos); hi = min(lo + 1, n - 1)
        v = s[lo] + (s[hi] - s[lo]) * (pos - lo)
        if not e or v > e[-1]:
            e.append(v)
    return np.array(e)

def binned(edges, x):  # edges[b] < x <= edges[b+1], ends clamped
    return np.bincount(np.searchsorted(edges[1:-1], x, side="left"), minlength=max(len(edges) - 1, 1)).astype(float)

def psi(r, c):
    r = np.maximum(r / r.sum(), EPS); c = np.maximum(c / c.sum(), EPS)
    return float(np.sum((c - r) * np.log(c / r)))

for f in out["features"]:
    name = f["name"]; tag = f"{name}"
    cur = cur_df[name]; cur_rows = len(cur)
    cur_missing = float(cur.isna().sum()) / cur_rows
    if f["kind"] == "numeric":
        y = np.sort(numbers(cur, f["type"]))
        if profile is None:
            x = np.sort(numbers(ref_df[name], f["reference_type"]))
            ref_missing = float(ref_df[name].isna().sum()) / len(ref_df)
            edges = edges_of(x); rc = binned(edges, x)
        else:
            col = profile["columns"][name]
            ref_missing = col["missing_rate"]
            edges = np.array(col["bins"], dtype=float); rc = np.array(col["bin_counts"], dtype=float)
        cc = binned(edges, y)
        if len(edges) == 1:  # a constant reference: below, at, above its value
            rb = np.array([0.0, rc[0], 0.0])
            cb = np.array([(y < edges[0]).sum(), (y == edges[0]).sum(), (y > edges[0]).sum()], dtype=float)
        else:
            rb, cb = rc, cc
        close(tag + " psi", f["psi"], psi(rb, cb), 1e-9)
        close(tag + " js", f["js"], float(jensenshannon(rb, cb, base=2)), 1e-9)
        close(tag + " out_of_range", f["out_of_range"], float(((y < edges[0]) | (y > edges[-1])).sum()), 0)
        close(tag + " bins", f["bins"], float(len(rb)), 0)
        if profile is None:
            ks = stats.ks_2samp(x, y, method="asymp")
            close(tag + " ks", f["ks"], float(ks.statistic), 1e-9)
            close(tag + " ks_pvalue", f["ks_pvalue"], float(ks.pvalue), 1e-6)
            close(tag + " wasserstein", f["wasserstein"], float(stats.wasserstein_distance(x, y)), 1e-9)
        else:
            # The documented approximation: both sides' in-range mass spread
            # evenly within each reference bin, values outside [min, max] kept.
            n = len(y); below = y[y < edges[0]]; above = y[y > edges[-1]]
            inside = binned(edges, y[(y >= edges[0]) & (y <= edges[-1])])
            d = len(below) / n; w = (np.sum(edges[0] - below) + np.sum(above - edges[-1])) / n
            if len(edges) == 1:
                d = max(d, len(above) / n)
            else:
                fr, fc = 0.0, len(below) / n
                for k in range(len(edges) - 1):
                    fr1 = fr + rc[k] / rc.sum(); fc1 = fc + inside[k] / n
                    d0, d1, width = fr - fc, fr1 - fc1, edges[k + 1] - edges[k]
                    d = max(d, abs(d1))
                    if d0 * d1 >= 0:
                        w += width * (abs(d0) + abs(d1)) / 2
                    else:
                        w += width * (d0 * d0 + d1 * d1) / (2 * (abs(d0) + abs(d1)))
                    fr, fc = fr1, fc1
            close(tag + " ks (approx)", f["ks"], d, 1e-9)
            close(tag + " wasserstein (approx)", f["wasserstein"], w, 1e-9)
            close(tag + " ks_pvalue", f["ks_pvalue"], None, 0)
    else:
        cv = cur.dropna()
        if profile is None:
            counts = ref_df[name].dropna().value_counts()
            ref_missing = float(ref_df[name].isna().sum()) / len(ref_df)
            other = 0.0
        else:
            col = profile["columns"][name]
            counts = pd.Series(col["top"], dtype=float); other = float(col["other"])
            ref_missing = col["missing_rate"]
        cats = sorted(counts.index)
        rc = np.array([counts[c] for c in cats] + [other], dtype=float)
        cur_counts = cv.value_counts()
        cc = np.array([float(cur_counts.get(c, 0)) for c in cats] + [float((~cv.isin(cats)).sum())])
        close(tag + " psi", f["psi"], psi(rc, cc), 1e-9)
        close(tag + " js", f["js"], float(jensenshannon(rc, cc, base=2)), 1e-9)
        used = rc > 0
        obs = cc[used]; exp = rc[used] / rc[used].sum() * obs.sum()
        if used.sum() > 1 and obs.sum() > 0:
            chi = stats.chisquare(f_obs=obs, f_exp=exp)
            close(tag + " chi2", f["chi2"], float(chi.statistic), 1e-9)
            close(tag + " chi2_pvalue", f["chi2_pvalue"], float(chi.pvalue), 1e-6)
        unseen = set(cv.unique()) - set(cats)
        close(tag + " unseen_categories", f["unseen_categories"], float(len(unseen)), 0)
        close(tag + " unseen_values", f["unseen_values"], float(cv.isin(unseen).sum()), 0)
    close(tag + " missing_delta", f["missing_delta"], cur_missing - ref_missing, 1e-9)

drifted = sum(1 for f in out["features"] if f["drifted"])
if drifted != out["drifted"]:
    failures.append(f"drifted count {out['drifted']} but {drifted} features say so")
for msg in failures:
    print("  " + msg)
print(f"{len(out['features'])} features, {len(failures)} mismatches")
sys.exit(1 if failures else 0)
EOF

check() {  # check NAME EXPECTED_EXIT REF CUR [PROFILE] — runs keel, then check.py
  local name=$1 want=$2 ref=$3 cur=$4 profile=${5:-}
  expect_exit "$want" -- "$KEEL" monitor drift --reference "$ref" --current "$cur" --json
  cp "$WORK/.out" "$name.json"
  if "$PY" check.py "$name.json" "$ref" "$cur" $profile > "$name.check"; then ok; else
    fail "$name: keel and scipy disagree"; sed 's/^/  /' "$name.check" >&2; fi
}

# ---- exact, against sample references ----
check bike_self 0 bike_ref.csv bike_ref.csv
"$PY" - bike_self.json <<'EOF' && ok || fail "a reference against itself is not all zero"
import json, sys
for f in json.load(open(sys.argv[1]))["features"]:
    assert not f["drifted"], f
    assert f["psi"] == 0 and f["js"] == 0 and f["missing_delta"] == 0, f
    if f["kind"] == "numeric":
        assert f["ks"] == 0 and f["ks_pvalue"] == 1 and f["wasserstein"] == 0 and f["out_of_range"] == 0, f
EOF
check bike_halves 1 bike_ref.csv bike_cur.csv
check bike_shift 1 bike_ref.csv bike_shift.csv
"$PY" - bike_shift.json <<'EOF' && ok || fail "bike_shift: the shifted features should drift"
import json, sys
f = {x["name"]: x for x in json.load(open(sys.argv[1]))["features"]}
assert "missing_delta" in f["windspeed"]["reasons"], f["windspeed"]
assert f["temp"]["drifted"] and f["hum"]["drifted"] and f["cnt"]["drifted"]
assert f["windspeed"]["missing_rate_current"] > 0.15
EOF
check adult_halves_any "$( "$KEEL" monitor drift --reference adult_ref.csv --current adult_cur.csv >/dev/null 2>&1; echo $? )" adult_ref.csv adult_cur.csv
check adult_shift 1 adult_ref.csv adult_shift.csv
"$PY" - adult_shift.json <<'EOF' && ok || fail "adult_shift: workclass/age/occupation should drift"
import json, sys
f = {x["name"]: x for x in json.load(open(sys.argv[1]))["features"]}
assert f["workclass"]["kind"] == "categorical" and f["workclass"]["unseen_categories"] == 1, f["workclass"]
assert f["workclass"]["unseen_values"] > 1000 and f["workclass"]["drifted"]
assert f["age"]["drifted"] and "ks_pvalue" in f["age"]["reasons"]
assert "missing_delta" in f["occupation"]["reasons"]
EOF
check cities 1 cities_ref.csv cities_cur.csv

# A dataset version gives the same numbers as its file.
expect_exit 0 -- "$KEEL" data add bike_ref.csv --name bike_ref
expect_exit 1 -- "$KEEL" monitor drift --reference bike_ref --current bike_shift.csv --json
"$PY" - "$WORK/.out" bike_shift.json <<'EOF' && ok || fail "dataset reference differs from its file"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["reference"]["kind"] == "dataset" and a["reference"]["name"] == "bike_ref@1", a["reference"]
assert a["features"] == b["features"]
EOF

# ---- profiles: a trained model's bundle, and a pooled "other" ----
expect_exit 0 -- "$KEEL" train xgboost --data bike_ref.csv --target cnt --drop casual \
  --drop registered --drop instant --rounds 20 --json
RUN=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$WORK/.out")
expect_exit 0 -- "$KEEL" artifacts get "$RUN" model --out fetched
BUNDLE=$(dirname "$(find fetched -name keel.json | head -n 1)")
[ -f "$BUNDLE/keel.json" ] && ok || fail "no keel.json in the fetched bundle"
check bike_bundle 1 "$BUNDLE" bike_shift.csv "$BUNDLE/keel.json"
"$PY" - bike_bundle.json <<'EOF' && ok || fail "bundle reference: method, columns"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["reference"]["kind"] == "bundle" and o["method"] == "profile", o["reference"]
names = {f["name"] for f in o["features"]}
assert "temp" in names and "cnt" in names and "casual" not in names, names
assert all(f["ks_pvalue"] is None for f in o["features"])
EOF
check bike_bundle_self 0 "$BUNDLE" bike_ref.csv "$BUNDLE/keel.json"
expect_exit 0 -- "$KEEL" data add cities_ref.csv --name cities
expect_exit 0 -- "$KEEL" data profile cities --json
mkdir -p cities_bundle
"$PY" -c 'import json,sys; json.dump({"reference_profile": json.load(open(sys.argv[1]))["profile"]}, open("cities_bundle/keel.json", "w"))' "$WORK/.out"
"$PY" -c 'import json; c = json.load(open("cities_bundle/keel.json"))["reference_profile"]["columns"]["city"]; assert c["other"] > 0 and len(c["top"]) == 50' \
  && ok || fail "the cities profile should pool 30 categories into other"
check cities_profile 1 cities_bundle cities_cur.csv cities_bundle/keel.json

# ---- thresholds, columns, the table ----
expect_exit 0 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_shift.csv \
  --psi-threshold 100 --ks-pvalue 0 --js-threshold 1 --chi2-pvalue 0 --missing-threshold 1
expect_contains "$WORK/.out" "0 of 18 features drifted"
expect_exit 1 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_shift.csv --columns temp,hr
expect_contains "$WORK/.out" "FEATURE"
expect_contains "$WORK/.out" "OUT OF RANGE"
expect_contains "$WORK/.out" "1 of 2 features drifted"
expect_exit 0 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_shift.csv --columns hr,weekday --json
"$PY" -c 'import json,sys; o = json.load(open(sys.argv[1])); assert [f["name"] for f in o["features"]] == ["hr", "weekday"] and o["drifted"] == 0, o' "$WORK/.out" \
  && ok || fail "--columns hr,weekday"
expect_exit 0 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_shift.csv --columns temp --psi-threshold 5 --ks-pvalue 0 --js-threshold 0.9
expect_contains "$WORK/.out" "0 of 1 features drifted"

# ---- bad input ----
expect_exit 1 -- "$KEEL" monitor drift --reference bike_ref.csv --current nosuch.csv
expect_contains "$WORK/.err" "nosuch.csv"
expect_exit 1 -- "$KEEL" monitor drift --reference nosuch_ref.csv --current bike_cur.csv
expect_contains "$WORK/.err" "nosuch_ref.csv"
mkdir -p not_a_bundle
expect_exit 1 -- "$KEEL" monitor drift --reference not_a_bundle --current bike_cur.csv
expect_contains "$WORK/.err" "not_a_bundle"
expect_contains "$WORK/.err" "keel.json"
echo '{"format": "keel-bundle/1"}' > not_a_bundle/keel.json
expect_exit 1 -- "$KEEL" monitor drift --reference not_a_bundle --current bike_cur.csv
expect_contains "$WORK/.err" "reference_profile"
echo '{"reference_profile": ' > not_a_bundle/keel.json
expect_exit 1 -- "$KEEL" monitor drift --reference not_a_bundle --current bike_cur.csv
expect_contains "$WORK/.err" "keel.json"
expect_exit 2 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_cur.csv --columns temp,nope
expect_contains "$WORK/.err" "'nope'"
expect_exit 2 -- "$KEEL" monitor drift --current bike_cur.csv
expect_contains "$WORK/.err" "--reference"
expect_exit 2 -- "$KEEL" monitor drift --reference bike_ref.csv --current bike_cur.csv --ks-pvalue 2
expect_contains "$WORK/.err" "--ks-pvalue"
printf 'a,b\n1,2\n' > other.csv
expect_exit 1 -- "$KEEL" monitor drift --reference bike_ref.csv --current other.csv
expect_contains "$WORK/.err" "no column in common"
printf 'temp,hum\n0.5,0.5\n0.6\n' > ragged.csv
expect_exit 1 -- "$KEEL" monitor drift --reference bike_ref.csv --current ragged.csv
expect_contains "$WORK/.err" "ragged.csv:3"
finish
