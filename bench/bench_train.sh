#!/usr/bin/env bash
# bench_train.sh BUILD_DIR — load + train + evaluate: `keel train xgboost`
# against the same work in Python (pandas + python3-xgboost + scikit-learn,
# bench/bench_train_python.py) on three real datasets, same parameters, same
# split rows, same seed.
#
#   adult                examples/data/adult.csv.gz, target income, split by
#                        its `split` column (column:split)
#   credit_default       credit_default.csv from $KEEL_DATASETS, copied once
#                        into $KEEL_BENCH_CACHE; target
#                        default_payment_next_month, --drop ID, random:0.2
#                        with seed 42 (row i is a test row when
#                        splitmix64(42 ^ i) maps below 0.2; the Python side
#                        computes the same function)
#   bike_sharing_hourly  bike_sharing_hourly.csv (copied the same way); target
#                        cnt, --drop casual registered instant dteday, the
#                        last 20% by `datetime` (time:datetime:0.2)
#
#   keel    `keel train xgboost --data FILE … --seed 42 --json` (keel picks its threads) in
#           a fresh keel home (`keel init DIR`, KEEL_HOME=DIR/.keel, run from
#           DIR). The time is the whole process: reading, splitting, encoding,
#           500 rounds at most with early stopping (30), evaluation, and also
#           what only keel does: the run's metadata and per-round metrics in
#           SQLite and the model bundle written and logged as artifacts.
#           Peak RSS from /usr/bin/time.
#   python  /usr/bin/python3 bench_train_python.py with the same arguments;
#           its time is read + encode + train + evaluate measured inside the
#           process (the interpreter start and imports, about 1 s, are not
#           counted); its peak RSS is the process's (imports included).
#
# Each side runs KEEL_BENCH_REPS (3) times, interleaved; medians of the time
# and the largest peak RSS. Targets: |AUC or RMSE difference| <= 0.002 and
# keel's time <= python's; acceptance: AUC >= 0.92 (adult), >= 0.75
# (credit), test R^2 >= 0.88 (bike).
#
# Like every bench: prints its figures and one "summary: " line per figure;
# timings and targets never fail it. It exits 1 when keel or the Python
# script fails, and 0 with a note (keel figures only) when /usr/bin/python3
# lacks pandas, xgboost or scikit-learn.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
python="${KEEL_BENCH_PYTHON:-/usr/bin/python3}"
datasets="${KEEL_DATASETS:-/work/shared/datasets}"
cache="${KEEL_BENCH_CACHE:-$here/.cache}"
reps="${KEEL_BENCH_REPS:-3}"
script="$here/bench_train_python.py"
MAX_DIFF=0.002

fail() {
  echo "bench_train: $*" >&2
  exit 1
}

[ -x "$keel" ] || fail "no keel executable in $build_dir (build it first: make build)"
mkdir -p "$cache" || fail "cannot make $cache"
for f in credit_default.csv bike_sharing_hourly.csv; do
  if [ ! -f "$cache/$f" ] || ! cmp -s "$datasets/$f" "$cache/$f"; then
    cp "$datasets/$f" "$cache/$f.tmp" && mv "$cache/$f.tmp" "$cache/$f" ||
      fail "cannot copy $datasets/$f into $cache"
  fi
done
have_python=1
if ! "$python" -c 'import pandas, xgboost, sklearn' 2>/dev/null; then
  echo "bench_train: $python lacks pandas, xgboost or scikit-learn; keel only" \
    "(apt-get install python3-pandas python3-xgboost python3-sklearn)"
  have_python=0
fi
have_time=1
[ -x /usr/bin/time ] || have_time=0

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-train-XXXXXX")"
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { printf "%s\n" "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
largest() { printf "%s\n" "$@" | sort -g | tail -1; }
mib() { awk -v kb="$1" 'BEGIN { if (kb == "") print "n/a"; else printf "%.1f MiB", kb / 1024 }'; }
field() { sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p" "$2" | head -1; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# keel_once LABEL ARGS...: one timed `keel train` in a fresh home; sets
# k_s, k_kb and leaves the JSON answer in $work/keel.json.
keel_once() {
  local home="$work/home" t0 t1
  rm -rf "$home"
  mkdir -p "$home"
  "$keel" init "$home" >/dev/null || fail "keel init $home failed"
  t0="$(now)"
  if [ "$have_time" -eq 1 ]; then
    (cd "$home" && KEEL_HOME="$home/.keel" /usr/bin/time -f "%M" -o "$work/time.txt" \
      "$keel" train xgboost "$@" >"$work/keel.json" 2>"$work/keel.err") ||
      { cat "$work/keel.err" >&2; fail "keel train $* failed"; }
  else
    (cd "$home" && KEEL_HOME="$home/.keel" "$keel" train xgboost "$@" \
      >"$work/keel.json" 2>"$work/keel.err") ||
      { cat "$work/keel.err" >&2; fail "keel train $* failed"; }
  fi
  t1="$(now)"
  k_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
  k_kb=
  [ "$have_time" -eq 1 ] && k_kb="$(tail -1 "$work/time.txt")"
  rm -rf "$home"
}

summary=()
# add_summary WORDS...: one summary line, printed at the end.
add_summary() { summary+=("$*"); }
echo "keel $("$keel" --version 2>/dev/null | head -1); $("$python" -c \
  'import pandas, xgboost, sklearn; print("pandas", pandas.__version__, "xgboost", xgboost.__version__, "sklearn", sklearn.__version__)' \
  2>/dev/null); $(nproc) cores; $reps runs per side, interleaved; keel chooses its threads (1 below ~8M cells), python nthread 2 (its default: all cores);" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

# bench_case LABEL METRIC(auc|rmse) ACCEPT_KEY ACCEPT_MIN ARGS...
bench_case() {
  local label="$1" metric="$2" accept_key="$3" accept_min="$4"
  shift 4
  local args=("$@" --seed 42)
  local ks=() kin=() kkb=() ps=() pps=() pkb=() i line t0
  local k_metric k_accept k_best k_train k_test k_feat p_metric p_best p_train p_test p_feat
  echo
  echo "--- $label: ${args[*]}"
  for i in $(seq 1 "$reps"); do
    keel_once "${args[@]}" --json
    ks+=("$k_s")
    # The part of keel's time that python's figure also covers.
    kin+=("$(awk -v a="$(field data "$work/keel.json")" -v b="$(field train "$work/keel.json")" \
      -v c="$(field evaluate "$work/keel.json")" 'BEGIN { printf "%.4f", a + b + c }')")
    [ -n "$k_kb" ] && kkb+=("$k_kb")
    k_metric="$(field "$metric" "$work/keel.json")"
    k_accept="$(field "$accept_key" "$work/keel.json")"
    k_best="$(field best_round "$work/keel.json")"
    k_train="$(field train_rows "$work/keel.json")"
    k_test="$(field test_rows "$work/keel.json")"
    k_feat="$(field features "$work/keel.json")"
    if [ "$have_python" -eq 1 ]; then
      t0="$(now)"
      line="$(cd "$work" && "$python" "$script" "${args[@]}" 2>"$work/py.err")" ||
        { cat "$work/py.err" >&2; fail "bench_train_python.py ${args[*]} failed"; }
      pps+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }')")
      ps+=("$(kv seconds "$line")")
      pkb+=("$(kv maxrss_kb "$line")")
      p_metric="$(kv "$metric" "$line")"
      p_best="$(kv best_round "$line")"
      p_train="$(kv train_rows "$line")"
      p_test="$(kv test_rows "$line")"
      p_feat="$(kv features "$line")"
    fi
    echo "  run $i: keel $k_s s ($metric $k_metric)${p_metric:+; python $(kv seconds "$line") s ($metric $p_metric)}"
  done
  local km kmax
  km="$(median "${ks[@]}")"
  kmax="$( [ ${#kkb[@]} -gt 0 ] && largest "${kkb[@]}")"
  local accept_ok
  accept_ok="$(awk -v v="$k_accept" -v m="$accept_min" 'BEGIN { print ((v >= m) ? "met" : "NOT met") }')"
  printf "  %-8s %8s %8s %9s %6s %12s %9s %10s\n" side train test features best "$metric" "time s" "peak RSS"
  printf "  %-8s %8s %8s %9s %6s %12.6f %9.3f %10s\n" keel "$k_train" "$k_test" "$k_feat" \
    "$k_best" "$k_metric" "$km" "$(mib "$kmax")"
  echo "  keel test $accept_key $k_accept (acceptance >= $accept_min: $accept_ok)"
  if [ "$have_python" -eq 0 ]; then
    add_summary "summary: train $label: keel $metric $(printf %.6f "$k_metric"), $km s, $(mib "$kmax");" \
      "$accept_key $(printf %.4f "$k_accept") (>= $accept_min: $accept_ok)"
    return
  fi
  local pm pmax diff diff_ok ratio time_ok same
  pm="$(median "${ps[@]}")"
  pmax="$(largest "${pkb[@]}")"
  printf "  %-8s %8s %8s %9s %6s %12.6f %9.3f %10s\n" python "$p_train" "$p_test" "$p_feat" \
    "$p_best" "$p_metric" "$pm" "$(mib "$pmax")"
  same="same rows, features and best round"
  if [ "$k_train" != "$p_train" ] || [ "$k_test" != "$p_test" ] || [ "$k_feat" != "$p_feat" ] ||
    [ "$k_best" != "$p_best" ]; then
    same="DIFFERENT rows/features/best round"
  fi
  diff="$(awk -v a="$k_metric" -v b="$p_metric" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.6f", d }')"
  diff_ok="$(awk -v d="$diff" -v m="$MAX_DIFF" 'BEGIN { print ((d <= m) ? "met" : "NOT met") }')"
  ratio="$(awk -v a="$km" -v b="$pm" 'BEGIN { printf "%.2f", a / b }')"
  time_ok="$(awk -v a="$km" -v b="$pm" 'BEGIN { print ((a <= b) ? "met" : "NOT met") }')"
  local kinm ppm
  kinm="$(median "${kin[@]}")"
  ppm="$(median "${pps[@]}")"
  echo "  keel in-process data + train + evaluate (what python's time covers; keel also" \
    "records the run and bundle): $kinm s, keel/python $(awk -v a="$kinm" -v b="$pm" \
    'BEGIN { printf "%.2f", a / b }')"
  echo "  whole processes: keel $km s, python with interpreter start and imports $ppm s," \
    "keel/python $(awk -v a="$km" -v b="$ppm" 'BEGIN { printf "%.2f", a / b }')"
  echo "  $same; |$metric difference| $diff (target <= $MAX_DIFF: $diff_ok);" \
    "keel/python time $ratio (target <= 1: $time_ok)"
  add_summary "summary: train $label $metric: keel $(printf %.6f "$k_metric"), python" \
    "$(printf %.6f "$p_metric"), |diff| $diff (<= $MAX_DIFF: $diff_ok); $same"
  add_summary "summary: train $label time: keel $km s, python $pm s, keel/python $ratio" \
    "(<= 1: $time_ok); peak RSS keel $(mib "$kmax"), python $(mib "$pmax")"
  add_summary "summary: train $label like for like: keel data+train+evaluate $kinm s vs python" \
    "$pm s, $(awk -v a="$kinm" -v b="$pm" 'BEGIN { printf "%.2f", a / b }'); whole processes keel" \
    "$km s vs python $ppm s, $(awk -v a="$km" -v b="$ppm" 'BEGIN { printf "%.2f", a / b }')"
  add_summary "summary: train $label keel test $accept_key $(printf %.4f "$k_accept")" \
    "(acceptance >= $accept_min: $accept_ok)"
}

bench_case adult auc auc 0.92 --data "$src/examples/data/adult.csv.gz" --target income \
  --split column:split
bench_case credit_default auc auc 0.75 --data "$cache/credit_default.csv" \
  --target default_payment_next_month --drop ID --split random:0.2
bench_case bike_sharing_hourly rmse r2 0.88 --data "$cache/bike_sharing_hourly.csv" --target cnt \
  --drop casual --drop registered --drop instant --drop dteday --split time:datetime:0.2

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the times)"
for line in "${summary[@]}"; do
  echo "$line"
done
exit 0
