#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, growing the kept
# corpus in tests/fuzz/corpus/<name>/. Crashes are written to tests/fuzz/crashes/.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/crashes"
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); corpus="$here/corpus/${name#fuzz_}"
  mkdir -p "$corpus"
  echo "fuzz: $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -artifact_prefix="$here/crashes/" "$corpus"
done
