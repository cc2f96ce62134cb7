# Shared helpers for integration tests: a temp dir removed on exit, and
# assertions that print what was expected and what came back.
set -euo pipefail
KEEL=${KEEL_BIN:?KEEL_BIN must point at the keel binary}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keel-it-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
FAILS=0
PASSES=0

ok()   { PASSES=$((PASSES + 1)); }
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect_exit CODE -- command...: runs the command, checks its exit status.
expect_exit() {
  local want=$1; shift; [ "$1" = "--" ] && shift
  set +e; "$@" >"$WORK/.out" 2>"$WORK/.err"; local got=$?; set -e
  if [ "$got" -eq "$want" ]; then ok; else
    fail "'$*' exited $got, expected $want"; sed 's/^/  stderr: /' "$WORK/.err" >&2; fi
}

# expect_contains FILE TEXT
expect_contains() {
  if grep -qF -- "$2" "$1"; then ok; else fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" >&2; fi
}

finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
