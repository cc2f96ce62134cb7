#!/usr/bin/env bash
# bench_drift.sh BUILD_DIR — offline drift, `keel monitor drift` against the
# same job in Python, on 1,000,000 rows x 20 numeric features.
#
# Data (written once to $KEEL_BENCH_CACHE by numpy, seed fixed, "%.6g"): a
# reference and a current file of 1,000,000 rows each, about 135 MB each.
# Features cycle through normal, lognormal, Poisson counts (integers),
# uniform [0, 100) and gamma; f03, f10 and f17 have 1% missing cells. In the
# current file every fourth feature is shifted (f00, f04, f08, f12, f16: mean
# +0.3, spread x1.2, count rate 4 → 4.5, +5, …).
#
#   keel    `keel monitor drift --reference ref.csv --current cur.csv --json`:
#           reads both files (two threads), then PSI, KS D + p-value, JS, W1,
#           missing rates and out-of-range counts per feature (features spread
#           over the cores). Whole-process wall time from date(1); the
#           compute-only time is the "seconds.measure" keel reports (the same
#           run), and once more with --threads 1.
#   python  /usr/bin/python3: pandas.read_csv of both files, then per feature
#           (NaN dropped) scipy.stats.ks_2samp(method='asymp') and a numpy PSI
#           on the reference's deciles (np.quantile, np.unique, searchsorted,
#           shares floored at 1e-4) — fewer measures than keel computes.
#           Whole-process wall time (interpreter start and imports included)
#           and the compute-only time measured inside (arrays already loaded).
#
# Peak memory: /usr/bin/time %M of each process. Each side runs
# KEEL_BENCH_REPS (3) times, interleaved; medians of the times, the largest
# RSS. The bench also checks that both sides found the same KS D (1e-9) and
# PSI (1e-9) per feature. Target: keel >= 10x faster, whole job.
#
# Like every bench: prints its figures and "summary: " lines; timings never
# fail it. It exits 1 when keel or Python fails or their numbers disagree;
# a keel without `monitor drift`, or a Python without scipy, is a note.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
python="${KEEL_BENCH_PYTHON:-/usr/bin/python3}"
cache="${KEEL_BENCH_CACHE:-$here/.cache}"
reps="${KEEL_BENCH_REPS:-3}"
ROWS=1000000

fail() {
  echo "bench_drift: $*" >&2
  exit 1
}

[ -x "$keel" ] || fail "no keel executable in $build_dir (build it first: make build)"
if ! "$keel" monitor drift --help >/dev/null 2>&1; then
  echo "bench_drift: this keel has no 'monitor drift' (not registered); skipped"
  exit 0
fi
if ! "$python" -c 'import numpy, pandas, scipy' 2>/dev/null; then
  echo "bench_drift: $python lacks numpy, pandas or scipy; skipped" \
    "(apt-get install python3-pandas python3-scipy)"
  exit 0
fi
have_time=1
[ -x /usr/bin/time ] || have_time=0
mkdir -p "$cache" || fail "cannot make $cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-drift-XXXXXX")"
trap 'rm -rf "$work"' EXIT

ref="$cache/drift_ref_1m.csv"
cur="$cache/drift_cur_1m.csv"
gen() {  # gen FILE SEED SHIFT
  [ -s "$1" ] && return 0
  echo "bench_drift: writing $1 (once)"
  "$python" - "$1" "$2" "$3" "$ROWS" <<'EOF' || fail "cannot write $1"
import sys
import numpy as np, pandas as pd
out, seed, shift, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
rng = np.random.default_rng(seed)
cols = {}
for j in range(20):
    s = shift and j % 4 == 0
    k = j % 5
    if k == 0: x = rng.normal(0.3 if s else 0.0, 1.0, rows)
    elif k == 1: x = rng.lognormal(0.0, 0.6 if s else 0.5, rows)
    elif k == 2: x = rng.poisson(4.5 if s else 4.0, rows).astype(float)
    elif k == 3: x = rng.uniform(0, 100, rows) + (5 if s else 0)
    else: x = rng.gamma(2.0, 3.3 if s else 3.0, rows)
    if j % 7 == 3:
        x[rng.random(rows) < 0.01] = np.nan
    cols[f"f{j:02d}"] = x
pd.DataFrame(cols).to_csv(out + ".tmp", index=False, float_format="%.6g")
import os
os.replace(out + ".tmp", out)
EOF
}
gen "$ref" 1 0
gen "$cur" 2 1

cat > "$work/drift.py" <<'EOF'
import resource, sys, time, json
t0 = time.perf_counter()
import numpy as np, pandas as pd
from scipy import stats
ref = pd.read_csv(sys.argv[1]); cur = pd.read_csv(sys.argv[2])
t1 = time.perf_counter()
out = {}
for c in ref.columns:
    a = ref[c].to_numpy(); b = cur[c].to_numpy()
    a = a[~np.isnan(a)]; b = b[~np.isnan(b)]
    ks = stats.ks_2samp(a, b, method="asymp")
    edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)))
    inner = edges[1:-1]; nb = max(len(edges) - 1, 1)
    r = np.bincount(np.searchsorted(inner, a, side="left"), minlength=nb) / len(a)
    q = np.bincount(np.searchsorted(inner, b, side="left"), minlength=nb) / len(b)
    r = np.maximum(r, 1e-4); q = np.maximum(q, 1e-4)
    out[c] = (float(ks.statistic), float(ks.pvalue), float(np.sum((q - r) * np.log(q / r))))
t2 = time.perf_counter()
json.dump({"read": t1 - t0, "compute": t2 - t1, "features": out,
           "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, open(sys.argv[3], "w"))
EOF

now() { date +%s.%N; }
median() { printf "%s\n" "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
largest() { printf "%s\n" "$@" | sort -g | tail -1; }
mib() { awk -v kb="$1" 'BEGIN { if (kb == "") print "n/a"; else printf "%.0f MiB", kb / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
timed() {  # timed OUT CMD...: stdout to OUT.stdout; sets t_s and t_kb
  local out="$1" t0 t1
  shift
  t0="$(now)"
  if [ "$have_time" -eq 1 ]; then
    /usr/bin/time -f "%M" -o "$work/time.txt" "$@" >"$out.stdout" 2>"$work/err.txt"
  else
    "$@" >"$out.stdout" 2>"$work/err.txt"
  fi
  local status=$?
  t1="$(now)"
  t_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  t_kb=
  [ "$have_time" -eq 1 ] && t_kb="$(tail -1 "$work/time.txt")"
  return $status
}

echo "keel $("$keel" --version | head -1); $("$python" -c 'import numpy, pandas, scipy; print("numpy", numpy.__version__, "pandas", pandas.__version__, "scipy", scipy.__version__)');" \
  "$(nproc) cores; $reps runs per side, interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "files: $(du -m "$ref" | cut -f1) MB + $(du -m "$cur" | cut -f1) MB, $ROWS rows x 20 numeric features"

ks=() km=() km1=() kkb=() ps=() pc=() pkb=()
for i in $(seq 1 "$reps"); do
  timed "$work/keel" "$keel" monitor drift --reference "$ref" --current "$cur" --json
  status=$?
  [ "$status" -le 1 ] || { cat "$work/err.txt" >&2; fail "keel monitor drift exited $status"; }
  cp "$work/keel.stdout" "$work/keel.json"
  ks+=("$t_s")
  [ -n "$t_kb" ] && kkb+=("$t_kb")
  km+=("$("$python" -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["seconds"]["measure"])' "$work/keel.json")")
  timed "$work/keel1" "$keel" monitor drift --reference "$ref" --current "$cur" --json --threads 1
  km1+=("$("$python" -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["seconds"]["measure"])' "$work/keel1.stdout")")
  timed "$work/py" "$python" "$work/drift.py" "$ref" "$cur" "$work/py.json" ||
    { cat "$work/err.txt" >&2; fail "python drift failed"; }
  ps+=("$t_s")
  pc+=("$("$python" -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["compute"])' "$work/py.json")")
  [ -n "$t_kb" ] && pkb+=("$t_kb")
  echo "  run $i: keel ${ks[-1]} s (measure ${km[-1]} s, 1 thread ${km1[-1]} s); python ${ps[-1]} s (compute ${pc[-1]} s)"
done

# Same answers?
agree="$("$python" - "$work/keel.json" "$work/py.json" <<'EOF'
import json, sys
k = {f["name"]: f for f in json.load(open(sys.argv[1]))["features"]}
p = json.load(open(sys.argv[2]))["features"]
worst = 0.0
for name, (d, pv, psi) in p.items():
    f = k[name]
    for got, want in ((f["ks"], d), (f["psi"], psi)):
        worst = max(worst, abs(got - want) / max(abs(want), 1e-300))
    worst = max(worst, abs(f["ks_pvalue"] - pv) * 1e-3)   # p-values: 1e-6 absolute
drifted = sorted(n for n, f in k.items() if f["drifted"])
print(f"{worst:.1e} {len(drifted)} {','.join(drifted)}")
EOF
)" || fail "cannot compare the answers"
read -r worst n_drifted drifted <<<"$agree"
same="$(awk -v w="$worst" 'BEGIN { print (w <= 1e-9) ? "same" : "DIFFERENT" }')"

k_med="$(median "${ks[@]}")"; km_med="$(median "${km[@]}")"; km1_med="$(median "${km1[@]}")"
p_med="$(median "${ps[@]}")"; pc_med="$(median "${pc[@]}")"
k_max="$( [ ${#kkb[@]} -gt 0 ] && largest "${kkb[@]}")"; p_max="$( [ ${#pkb[@]} -gt 0 ] && largest "${pkb[@]}")"
whole="$(ratio "$p_med" "$k_med")"; compute="$(ratio "$pc_med" "$km_med")"; compute1="$(ratio "$pc_med" "$km1_med")"
met="$(awk -v r="$whole" 'BEGIN { print (r >= 10) ? "met" : "NOT met" }')"

printf "  %-8s %10s %12s %10s\n" side "whole s" "compute s" "peak RSS"
printf "  %-8s %10s %12s %10s\n" keel "$k_med" "$km_med" "$(mib "$k_max")"
printf "  %-8s %10s %12s %10s\n" python "$p_med" "$pc_med" "$(mib "$p_max")"
echo "  keel compute on 1 thread: $km1_med s"
echo "  answers: KS D, p-value and PSI $same (worst relative difference $worst);" \
  "$n_drifted features drifted: $drifted"
echo "ratio python/keel (1M x 20, whole job): $whole (target >= 10: $met)"
echo "ratio python/keel (1M x 20, compute only): $compute ($(nproc) threads; 1 thread: $compute1)"
echo "peak memory: keel $(mib "$k_max"), python $(mib "$p_max")"
echo "summary: drift 1M x 20 whole job: keel $k_med s, python $p_med s, python/keel $whole (>= 10: $met)"
echo "summary: drift 1M x 20 compute only: keel $km_med s ($(nproc) threads) / $km1_med s (1 thread)," \
  "python $pc_med s, python/keel $compute / $compute1"
echo "summary: drift 1M x 20 peak RSS: keel $(mib "$k_max"), python $(mib "$p_max"); answers $same"
[ "$same" = same ] || exit 1
exit 0
