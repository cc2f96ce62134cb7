#!/usr/bin/env bash
# MLflow REST compatibility as data: every tests/data/mlflow/*.json case file
# (request in, partial response out; format in tests/data/mlflow/README.md)
# runs against one real keel server on loopback, each file with fresh variables.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/server_lib.sh"

CASES_DIR=$(cd "$HERE/../data/mlflow" && pwd)
shopt -s nullglob
CASE_FILES=("$CASES_DIR"/*.json)
[ "${#CASE_FILES[@]}" -gt 0 ] || { echo "no case files in $CASES_DIR" >&2; exit 1; }

start_server
set +e
python3 "$HERE/mlflow_cases.py" "$BASE" "${CASE_FILES[@]}" >"$WORK/cases.out"
CASES_RC=$?
set -e
grep -v '^RESULT ' "$WORK/cases.out" || true
read -r _ N_PASSED N_FAILED < <(grep '^RESULT ' "$WORK/cases.out" || echo "RESULT 0 1")
PASSES=$((PASSES + N_PASSED))
FAILS=$((FAILS + N_FAILED))
if [ "$CASES_RC" -ne 0 ] && [ "$N_FAILED" -eq 0 ]; then fail "mlflow_cases.py exited $CASES_RC"; fi
stop_server
expect_contains "$WORK/server.log" "stopped"
finish
