#!/usr/bin/env bash
# Runs every bench_* program built in BUILD_DIR (default: build), then every
# bench/bench_*.sh script with BUILD_DIR as its argument (bench_server.sh:
# the keel server under wrk; bench_pipeline.sh: `keel run` on 1,000 no-op
# steps against make and snakemake), and prints their output, then one
# summary line per measured figure.
#
# Timings never fail the run: the exit status is non-zero only when a bench
# program fails (a keel or SQLite call errors) or crashes. Extra arguments
# are not passed on; run a program by hand for its options
# (e.g. build/bench_ingest --batches 50 --reps 5).
#
# bench_search keeps its 100,000-run store in $KEEL_BENCH_CACHE, by default
# bench/.cache/ in the source tree (not in git), so later runs skip the build.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${1:-build}"
export KEEL_BENCH_CACHE="${KEEL_BENCH_CACHE:-$here/.cache}"
mkdir -p "$KEEL_BENCH_CACHE"

shopt -s nullglob
benches=()
for bin in "$build_dir"/bench_*; do
  [ -f "$bin" ] && [ -x "$bin" ] && benches+=("$bin")
done
for script in "$here"/bench_*.sh; do
  benches+=("$script")
done
if [ ${#benches[@]} -eq 0 ]; then
  echo "bench: no bench_* programs in $build_dir (build it first: make build)" >&2
  exit 1
fi

echo "bench: $(nproc) cores, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(uname -r)"
summary=()
failed=()
for bin in "${benches[@]}"; do
  name="$(basename "$bin")"
  echo
  echo "=== $name"
  out="$(mktemp)"
  if [[ "$bin" == *.sh ]]; then
    bash "$bin" "$build_dir" 2>&1 | tee "$out"
  else
    "$bin" 2>&1 | tee "$out"
  fi
  status=${PIPESTATUS[0]}
  while IFS= read -r line; do
    summary+=("$name: ${line#summary: }")
  done < <(grep '^summary: ' "$out")
  rm -f "$out"
  if [ "$status" -ne 0 ]; then
    if [ "$status" -gt 128 ]; then
      failed+=("$name (killed by signal $((status - 128)))")
    else
      failed+=("$name (exit status $status)")
    fi
  fi
done

echo
echo "=== summary"
for line in "${summary[@]}"; do
  echo "  $line"
done
if [ ${#failed[@]} -gt 0 ]; then
  for f in "${failed[@]}"; do
    echo "  FAILED: $f"
  done
  exit 1
fi
exit 0
