#!/usr/bin/env bash
# MLflow compatibility, judged by a client no one here wrote: the npm
# package `mlflow` 2.0.7 drives a real keel server over loopback.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/server_lib.sh"

NPM_DIR=${KEEL_NPM_CACHE:-$WORK/npm}
mkdir -p "$NPM_DIR"
cp "$HERE/npm/package.json" "$HERE/npm/mlflow_client.js" "$NPM_DIR/"
if [ ! -d "$NPM_DIR/node_modules/mlflow" ]; then
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
    || { echo "npm install of mlflow@2.0.7 failed" >&2; exit 1; }
fi

start_server
node "$NPM_DIR/mlflow_client.js" "$BASE" && ok || fail "npm mlflow client"
stop_server
expect_contains "$WORK/server.log" "stopped"
finish
