#!/usr/bin/env bash
# bench_training_set.sh BUILD_DIR — a point-in-time-correct training set:
# `keel features training-set` against the same join in pandas.
#
#   source  examples/data/beijing_air_quality.csv.gz (12 stations x 35,064
#           hours, 9.3 MB gzipped, 42 MB of CSV); two views over it:
#           weather (temp, pres, dewp, wspm; ttl 3h) and pollution (pm10,
#           so2, no2; ttl 6h), entity station (string).
#   labels  1,000,000 rows (station, event_timestamp at a random minute from
#           4 h before the first hour to 8 h after the last, label 0/1), made
#           once by bench_training_set.py with seed 42 and kept in
#           $KEEL_BENCH_CACHE (31 MB).
#   keel    `keel features training-set --entities labels.csv --features
#           <7 features> --out keel.csv`: the whole process (reading
#           features.yaml, loading the source, the join, writing the CSV).
#   pandas  /usr/bin/python3 bench_training_set.py join: read_csv of both
#           files with parse_dates, merge_asof per view (by="station",
#           direction="backward", tolerance=TTL), to_csv — the whole process
#           (interpreter start and imports included, about 0.4 s).
#
# Both outputs are compared (bench_training_set.py compare: every cell
# equal, numbers as floats); they are also byte-identical today, which is
# reported. Wall time and peak RSS from /usr/bin/time -f '%e %M'; each side
# runs KEEL_BENCH_REPS (3) times, interleaved; medians of the times, the
# largest RSS. Targets: pandas/keel time >= 10, keel/pandas memory <= 0.5.
#
# Like every bench: prints its figures and one "summary: " line per figure;
# timings and targets never fail it. It exits 1 when keel or pandas fails
# or their outputs differ, and 0 with a note when /usr/bin/python3 lacks
# pandas or keel lacks the command.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
python="${KEEL_BENCH_PYTHON:-/usr/bin/python3}"
cache="${KEEL_BENCH_CACHE:-$here/.cache}"
reps="${KEEL_BENCH_REPS:-3}"
script="$here/bench_training_set.py"
source_csv="$src/examples/data/beijing_air_quality.csv.gz"
N_LABELS=1000000
SEED=42
FEATURES=weather:temp,weather:pres,weather:dewp,weather:wspm
FEATURES=$FEATURES,pollution:pm10,pollution:so2,pollution:no2
TARGET_RATIO=10
TARGET_MEMORY=0.5

fail() {
  echo "bench_training_set: $*" >&2
  exit 1
}

[ -x "$keel" ] || fail "no keel executable in $build_dir (build it first: make build)"
[ -x /usr/bin/time ] || fail "needs /usr/bin/time (apt-get install time)"
if ! "$keel" features training-set --help >/dev/null 2>&1; then
  echo "bench_training_set: this keel has no 'features training-set'; skipped"
  exit 0
fi
if ! "$python" -c 'import pandas, numpy' 2>/dev/null; then
  echo "bench_training_set: $python lacks pandas; skipped (apt-get install python3-pandas)"
  exit 0
fi
mkdir -p "$cache" || fail "cannot make $cache"
labels="$cache/training_set_labels_${N_LABELS}_$SEED.csv"
if [ ! -s "$labels" ]; then
  echo "making $N_LABELS label rows (seed $SEED) into $labels"
  "$python" "$script" labels "$N_LABELS" "$SEED" "$source_csv" "$labels.tmp" &&
    mv "$labels.tmp" "$labels" || fail "cannot make the label rows"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-pit-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cat > "$work/features.yaml" <<EOF
project: bench
entities:
  station:
    join_keys: {station: string}
sources:
  beijing:
    path: $source_csv
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
EOF

median() { printf "%s\n" "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
largest() { printf "%s\n" "$@" | sort -g | tail -1; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

echo "keel $("$keel" --version | head -1);" \
  "$("$python" -c 'import pandas; print("pandas", pandas.__version__)');" \
  "$(nproc) cores; $reps runs per side, interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "labels: $N_LABELS rows, $(du -m "$labels" | cut -f1) MB; source: $(basename "$source_csv")"
ks=() kkb=() ps=() pkb=()
for i in $(seq 1 "$reps"); do
  (cd "$work" && /usr/bin/time -f '%e %M' -o "$work/keel.time" "$keel" features training-set \
    -f features.yaml --entities "$labels" --features "$FEATURES" --out keel.csv \
    >"$work/keel.out" 2>"$work/keel.err") || { cat "$work/keel.err" >&2; fail "keel failed"; }
  read -r k_s k_kb < <(tail -1 "$work/keel.time")
  (cd "$work" && /usr/bin/time -f '%e %M' -o "$work/pandas.time" "$python" "$script" join \
    "$source_csv" "$labels" pandas.csv 2>"$work/pandas.err") ||
    { cat "$work/pandas.err" >&2; fail "pandas failed"; }
  read -r p_s p_kb < <(tail -1 "$work/pandas.time")
  echo "  run $i: keel $k_s s, $(mib "$k_kb"); pandas $p_s s, $(mib "$p_kb")"
  ks+=("$k_s") kkb+=("$k_kb") ps+=("$p_s") pkb+=("$p_kb")
done
sed 's/^/  /' "$work/keel.out"
"$python" "$script" compare "$work/keel.csv" "$work/pandas.csv" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "keel's output differs from pandas'"
same_bytes="byte-identical"
cmp -s "$work/keel.csv" "$work/pandas.csv" || same_bytes="equal values, different text"

km="$(median "${ks[@]}")"
pm="$(median "${ps[@]}")"
kmax="$(largest "${kkb[@]}")"
pmax="$(largest "${pkb[@]}")"
ratio="$(awk -v k="$km" -v p="$pm" 'BEGIN { printf "%.1f", p / k }')"
memory="$(awk -v k="$kmax" -v p="$pmax" 'BEGIN { printf "%.2f", k / p }')"
ratio_ok="$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) ? "met" : "NOT met" }')"
memory_ok="$(awk -v r="$memory" -v t="$TARGET_MEMORY" \
  'BEGIN { print (r <= t) ? "met" : "NOT met" }')"
printf "  %-7s %9s %12s\n" side "time s" "peak RSS"
printf "  %-7s %9s %12s\n" keel "$km" "$(mib "$kmax")"
printf "  %-7s %9s %12s\n" pandas "$pm" "$(mib "$pmax")"
echo "  outputs: $same_bytes"
echo "ratio pandas/keel (PIT join, 1M labels x 2 views): $ratio" \
  "(target >= $TARGET_RATIO: $ratio_ok)"
echo "memory keel/pandas: $memory (target <= $TARGET_MEMORY: $memory_ok)"
echo "summary: training set 1M labels x 2 views (7 features, beijing):" \
  "keel $km s, $(mib "$kmax");" \
  "pandas $pm s, $(mib "$pmax"); pandas/keel $ratio (>= $TARGET_RATIO: $ratio_ok);" \
  "memory keel/pandas $memory (<= $TARGET_MEMORY: $memory_ok); outputs $same_bytes"
exit 0
