#!/usr/bin/env bash
# Installs every Debian package keel's build, tests and benchmarks need.
# Idempotent: packages already present are not touched, and apt-get runs only
# when something is missing, so repeated `make` calls stay fast.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries (DESIGN.md §6)
  libsqlite3-dev libjansson-dev libssl-dev libgit2-dev zlib1g-dev libyaml-dev
  libmicrohttpd-dev libxgboost-dev libcurl4-openssl-dev
  # tests and tools they drive
  libcmocka-dev sqlite3 git python3 curl
  # benchmark peers
  hyperfine python3-pandas python3-xgboost python3-sklearn wrk
  gunicorn python3-flask nginx
  # pipelines: Slurm executor tests and the snakemake benchmark peer
  slurm-wlm munge libslurm-dev bc snakemake
  # monitoring: drift measures checked against scipy; a real Prometheus scraping keel serve
  python3-scipy prometheus
  # feature store: online store (LMDB, Redis)
  liblmdb-dev redis-server redis-tools
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# Node.js and npm run the MLflow client compatibility test. The machine image
# may carry its own Node.js build (with npm inside); only a machine without
# npm gets Debian's.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
