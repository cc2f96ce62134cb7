# Starting and stopping a keel server for a test: on a free loopback port,
# in the test's temp dir, stopped by its PID when the test exits.
# shellcheck shell=bash
start_server() {
  "$KEEL" init "$WORK" >/dev/null
  "$KEEL" server --port 0 --access-log "$WORK/access.log" "$@" 2>"$WORK/server.log" &
  SERVER_PID=$!
  trap 'stop_server; rm -rf "$WORK"' EXIT
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$WORK/server.log" 2>/dev/null; then break; fi
    sleep 0.02
  done
  PORT=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$WORK/server.log")
  [ -n "$PORT" ] || { cat "$WORK/server.log" >&2; echo "server did not start" >&2; exit 1; }
  BASE="http://127.0.0.1:$PORT"
}

stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
