#!/usr/bin/env bash
# bench_pipeline.sh BUILD_DIR — `keel run` on 1,000 no-op steps against GNU
# make and snakemake running the same DAG, local executor, 2 jobs at a time.
#
# bench/gen_pipeline_dag.py writes one DAG three ways (keel.yaml, Makefile,
# Snakefile) into a temp dir: root s000, 9 middle layers (8 of 111 steps and
# one of 110), sink s999 — 1,000 steps, 2,858 edges. Step i of a layer needs
# steps i, i+1 and 7i (mod width) of the layer before; every step is needed
# by the next layer (fan-in) and the sink needs the whole last layer. Every
# step's command is `true`.
#
#   keel       `keel run -j 2` in the directory holding keel.yaml, KEEL_HOME
#              and KEEL_STORE_URI unset. First run: every timed run starts
#              from a fresh workspace (rm -rf .keel; keel init — not timed),
#              so all 1,000 steps execute and are recorded in the metadata
#              store. Cached: `keel run -j 2` again in the workspace of a
#              completed run (nothing to execute).
#   make       `make -j2 -f Makefile`: .PHONY targets with recipe `@true`, `all`
#              needs the sink. make keeps no state, so every run is a first
#              run. Run with the MAKEFLAGS of `make bench` removed.
#   snakemake  `snakemake -j 2 --quiet all --scheduler greedy` (Debian 7.21):
#              one rule per step, `output: touch("done/sNNN")`, `input:` the
#              done files of its needs, `shell: "true"`. --quiet all prints
#              nothing; --scheduler greedy halves its time on this DAG (the
#              default ILP scheduler re-solves at every job selection). No
#              conda/containers (not enabled by default). Its metadata
#              (.snakemake/metadata, like keel's store) is kept. First run:
#              rm -rf done .snakemake; the "nothing to do" run follows each.
#
# Wall clock from date(1) around each command; peak memory is /usr/bin/time's
# %M (the largest RSS of the process or any one descendant, not a sum).
# keel and make run KEEL_BENCH_REPS (5) times, interleaved, then keel's
# cached run as many times; snakemake KEEL_BENCH_SNAKEMAKE_REPS (2) times (a
# first run takes ~6 s on 2 cores). Medians of the times, the largest RSS.
# Targets: keel/make <= 1.50, snakemake/keel >= 20, keel cached < 200 ms.
#
# Like every bench: prints its figures and one "summary: " line per figure;
# timings and targets never fail it. It exits 1 when keel, make or snakemake
# fails a run; a tool that is missing (or a keel without `run`) is skipped
# with a note.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${1:-build}"
keel="$(cd "$(dirname "$build_dir/keel")" 2>/dev/null && pwd)/keel"
reps="${KEEL_BENCH_REPS:-5}"
sm_reps="${KEEL_BENCH_SNAKEMAKE_REPS:-2}"
python="${KEEL_BENCH_PYTHON:-/usr/bin/python3}"
[ -x "$python" ] || python="$(command -v python3)"
STEPS=1000
JOBS=2
SM_FLAGS=(--quiet all --scheduler greedy)
TARGET_MAKE_RATIO=1.50
TARGET_SM_RATIO=20
TARGET_CACHED_MS=200

fail() {
  echo "bench_pipeline: $*" >&2
  exit 1
}

[ -n "$python" ] || fail "python3 is needed to generate the DAG"
have_keel=1
if [ ! -x "$keel" ]; then
  echo "bench_pipeline: no keel executable in $build_dir (build it first: make build); skipping keel"
  have_keel=0
elif ! "$keel" run --help >/dev/null 2>&1; then
  echo "keel run not available; skipping keel"
  have_keel=0
fi
have_make=1
command -v make >/dev/null || { echo "bench_pipeline: make is not installed; skipping make"; have_make=0; }
have_sm=1
command -v snakemake >/dev/null ||
  { echo "bench_pipeline: snakemake is not installed; skipping it (apt-get install snakemake)"; have_sm=0; }
have_time=1
[ -x /usr/bin/time ] ||
  { echo "bench_pipeline: /usr/bin/time is missing; no peak memory (apt-get install time)"; have_time=0; }

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-bench-pipeline-XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$python" "$here/gen_pipeline_dag.py" "$work/dag" "$STEPS" >"$work/gen.txt" || fail "gen_pipeline_dag.py failed"
for d in keel make snakemake; do
  mkdir -p "$work/$d" || fail "cannot make $work/$d"
done
cp "$work/dag/keel.yaml" "$work/keel/" && cp "$work/dag/Makefile" "$work/make/" &&
  cp "$work/dag/Snakefile" "$work/snakemake/" || fail "cannot copy the DAG files"

now() { date +%s.%N; }
median() { printf "%s\n" "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
largest() { printf "%s\n" "$@" | sort -g | tail -1; }
mib() { awk -v kb="$1" 'BEGIN { if (kb == "") print "n/a"; else printf "%.1f", kb / 1024 }'; }

# timed DIR LOG CMD...: run CMD in DIR with stdout and stderr to LOG; sets
# t_s (wall seconds) and t_kb (peak RSS, empty without /usr/bin/time).
# Returns CMD's exit status.
timed() {
  local dir="$1" log="$2" t0 t1 rc
  shift 2
  rm -f "$work/time.txt"
  t0="$(now)"
  if [ "$have_time" -eq 1 ]; then
    (cd "$dir" && /usr/bin/time -f "%M" -o "$work/time.txt" "$@") >"$log" 2>&1
  else
    (cd "$dir" && "$@") >"$log" 2>&1
  fi
  rc=$?
  t1="$(now)"
  t_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
  t_kb=
  [ "$have_time" -eq 1 ] && [ -s "$work/time.txt" ] && t_kb="$(tail -1 "$work/time.txt")"
  return $rc
}

# The commands, each in the environment a user would run it from.
# (/usr/bin/time runs them, so they are argument lists, not functions).
keel_run=(env -u KEEL_HOME -u KEEL_STORE_URI timeout 600 "$keel" run -j "$JOBS")
make_env=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEFILES -u GNUMAKEFLAGS)
make_run=("${make_env[@]}" make -j"$JOBS" -f Makefile)
sm_run=(snakemake -j "$JOBS" "${SM_FLAGS[@]}")
keel_fresh() {
  (cd "$work/keel" && rm -rf .keel && env -u KEEL_HOME -u KEEL_STORE_URI "$keel" init >/dev/null) ||
    fail "keel init in $work/keel failed"
}
show_fail() { tail -20 "$2" >&2; fail "$1"; }

versions="$(cat "$work/gen.txt")"
[ "$have_keel" -eq 1 ] && versions+="; keel $("$keel" --version 2>/dev/null | head -1)"
[ "$have_make" -eq 1 ] && versions+="; $(make --version | head -1)"
[ "$have_sm" -eq 1 ] && versions+="; snakemake $(snakemake --version 2>/dev/null)"
echo "$versions; $(nproc) cores; -j $JOBS; load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$have_make" -eq 1 ]; then
  n="$(cd "$work/make" && "${make_env[@]}" make -n -j"$JOBS" -f Makefile | grep -c '^true s[0-9]*$')"
  [ "$n" = "$STEPS" ] || fail "make -n lists $n recipes, not $STEPS"
fi

# keel first runs and make runs, interleaved.
kf=() kfkb=() mk=() mkkb=()
for i in $(seq 1 "$reps"); do
  line="  run $i:"
  if [ "$have_keel" -eq 1 ]; then
    keel_fresh
    timed "$work/keel" "$work/keel.log" "${keel_run[@]}" || show_fail "keel run -j $JOBS failed (run $i)" "$work/keel.log"
    kf+=("$t_s")
    [ -n "$t_kb" ] && kfkb+=("$t_kb")
    line+=" keel $t_s s"
  fi
  if [ "$have_make" -eq 1 ]; then
    timed "$work/make" "$work/make.log" "${make_run[@]}" || show_fail "make -j$JOBS failed (run $i)" "$work/make.log"
    mk+=("$t_s")
    [ -n "$t_kb" ] && mkkb+=("$t_kb")
    line+=" make $t_s s"
  fi
  echo "$line"
done

# keel fully cached: the workspace of the last completed first run.
kc=() kckb=()
if [ "$have_keel" -eq 1 ]; then
  for i in $(seq 1 "$reps"); do
    timed "$work/keel" "$work/keel.log" "${keel_run[@]}" || show_fail "cached keel run -j $JOBS failed" "$work/keel.log"
    kc+=("$t_s")
    [ -n "$t_kb" ] && kckb+=("$t_kb")
  done
  echo "  keel cached: ${kc[*]} s"
fi

sf=() sfkb=() sn=() snkb=()
if [ "$have_sm" -eq 1 ]; then
  for i in $(seq 1 "$sm_reps"); do
    rm -rf "$work/snakemake/done" "$work/snakemake/.snakemake"
    timed "$work/snakemake" "$work/sm.log" "${sm_run[@]}" || show_fail "snakemake failed (run $i)" "$work/sm.log"
    sf+=("$t_s")
    [ -n "$t_kb" ] && sfkb+=("$t_kb")
    n="$(find "$work/snakemake/done" -type f | wc -l)"
    [ "$n" = "$STEPS" ] || fail "snakemake made $n done files, not $STEPS"
    timed "$work/snakemake" "$work/sm.log" "${sm_run[@]}" || show_fail "snakemake (nothing to do) failed" "$work/sm.log"
    sn+=("$t_s")
    [ -n "$t_kb" ] && snkb+=("$t_kb")
    echo "  snakemake run $i: ${sf[-1]} s, then nothing to do ${sn[-1]} s"
  done
fi

# row LABEL TIMES_NAME KB_NAME: a table row from the named arrays, or nothing.
row() {
  local label="$1"
  local -n ts="$2" kbs="$3"
  [ ${#ts[@]} -gt 0 ] || return 0
  local kb=
  [ ${#kbs[@]} -gt 0 ] && kb="$(largest "${kbs[@]}")"
  printf "  %-44s %9.3f %9s\n" "$label" "$(median "${ts[@]}")" "$(mib "$kb")"
}
echo
printf "  %-44s %9s %9s\n" tool "wall s" "peak MiB"
row "keel run -j $JOBS (first: all $STEPS steps)" kf kfkb
row "keel run -j $JOBS (fully cached)" kc kckb
row "make -j$JOBS (phony, always runs)" mk mkkb
row "snakemake -j $JOBS (first: all $STEPS jobs)" sf sfkb
row "snakemake -j $JOBS (nothing to do)" sn snkb
echo "  (median of $reps runs for keel and make, $sm_reps for snakemake; snakemake flags: ${SM_FLAGS[*]})"
echo

summary=()
# add_summary WORDS...: one summary line, printed at the end.
add_summary() { summary+=("$*"); }
kfm= mkm= sfm=
[ ${#kf[@]} -gt 0 ] && kfm="$(median "${kf[@]}")"
[ ${#mk[@]} -gt 0 ] && mkm="$(median "${mk[@]}")"
[ ${#sf[@]} -gt 0 ] && sfm="$(median "${sf[@]}")"
met() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == "<=") ? v <= t : (op == ">=") ? v >= t : v < t;
  print (ok ? "met" : "NOT met") }'; }
if [ -n "$kfm" ] && [ -n "$mkm" ]; then
  r="$(awk -v a="$kfm" -v b="$mkm" 'BEGIN { printf "%.2f", a / b }')"
  echo "ratio keel/make ($STEPS no-op steps, -j$JOBS): $r (target <= $TARGET_MAKE_RATIO)"
  add_summary "summary: pipeline $STEPS no-op steps -j$JOBS: keel $kfm s, make $mkm s, keel/make $r" \
    "(<= $TARGET_MAKE_RATIO: $(met "$r" "<=" "$TARGET_MAKE_RATIO")); peak RSS keel" \
    "$(mib "$(largest "${kfkb[@]:-}")") MiB, make $(mib "$(largest "${mkkb[@]:-}")") MiB"
fi
if [ -n "$kfm" ] && [ -n "$sfm" ]; then
  r="$(awk -v a="$sfm" -v b="$kfm" 'BEGIN { printf "%.1f", a / b }')"
  echo "ratio snakemake/keel: $r (target >= $TARGET_SM_RATIO)"
  add_summary "summary: pipeline $STEPS no-op steps -j$JOBS: snakemake $sfm s, keel $kfm s," \
    "snakemake/keel $r (>= $TARGET_SM_RATIO: $(met "$r" ">=" "$TARGET_SM_RATIO")); peak RSS" \
    "snakemake $(mib "$(largest "${sfkb[@]:-}")") MiB"
fi
if [ ${#kc[@]} -gt 0 ]; then
  ms="$(awk -v s="$(median "${kc[@]}")" 'BEGIN { printf "%.0f", s * 1000 }')"
  echo "keel fully cached: $ms ms (target < $TARGET_CACHED_MS ms)"
  add_summary "summary: pipeline keel fully cached ($STEPS steps): $ms ms" \
    "(< $TARGET_CACHED_MS ms: $(met "$ms" "<" "$TARGET_CACHED_MS"))"
fi
if [ -z "$kfm" ]; then
  [ -n "$mkm" ] && add_summary "summary: pipeline $STEPS no-op steps -j$JOBS: make $mkm s (keel skipped)"
  [ -n "$sfm" ] && add_summary "summary: pipeline $STEPS no-op steps -j$JOBS: snakemake $sfm s," \
    "nothing to do $(median "${sn[@]}") s (keel skipped)"
  if [ -n "$mkm" ] && [ -n "$sfm" ]; then
    echo "ratio snakemake/make: $(awk -v a="$sfm" -v b="$mkm" 'BEGIN { printf "%.1f", a / b }') (reference; keel skipped)"
  fi
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the times)"
for line in "${summary[@]}"; do
  echo "$line"
done
exit 0
