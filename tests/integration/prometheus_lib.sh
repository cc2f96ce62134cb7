# A real Prometheus for a test: scrapes one target, queried through its HTTP
# API, stopped by its PID when the test exits. Needs /usr/bin/prometheus
# (Debian's `prometheus` package), curl and python3; never relies on a
# Prometheus started by the package's init scripts.
#
# Scrape targets are picked up ~5 s after Prometheus starts (its discovery
# manager sends target updates on a fixed 5 s tick; 2.42 has no flag for it),
# so the first `up` wait takes ~6 s; later scrapes follow the interval.
#
# Usage, after lib.sh (and server_lib.sh if the test wants a tracking server):
#
#   source "$HERE/lib.sh"
#   source "$HERE/server_lib.sh"        # optional
#   source "$HERE/prometheus_lib.sh"
#   start_server                         # or `keel serve … &` with its own trap
#   start_prometheus "127.0.0.1:$PORT" 1s
#   prom_wait_for 'up{job="keel"} == 1' 10 >/dev/null && ok || fail "not scraped"
#   prom_query 'keel_requests_total{job="keel"}' > q.json
#
# Traps: start_prometheus prepends stop_prometheus to whatever EXIT trap is
# set when it is called (lib.sh's `rm -rf "$WORK"`, start_server's
# `stop_server; rm -rf "$WORK"`, or a test's own), so Prometheus stops
# before $WORK (its data dir) goes. Start the target first (start_server
# replaces the EXIT trap), then Prometheus — the natural order anyway, since
# Prometheus needs the target's port. A test that sets its own EXIT trap
# after start_prometheus must call stop_prometheus in it.
# shellcheck shell=bash
PROMETHEUS=${PROMETHEUS_BIN:-prometheus}

_prom_alive() {  # running, not a zombie waiting to be reaped
  local s; s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$s" ] && [[ $s != Z* ]]
}

_prom_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_prom_chain_trap() {  # put stop_prometheus in front of the current EXIT trap, once
  local prev; prev=$(trap -p EXIT)
  case $prev in *stop_prometheus*) return 0 ;; esac
  if [ -n "$prev" ]; then
    prev=${prev#"trap -- "}; prev=${prev%" EXIT"}
    eval "prev=$prev"    # unquote what trap -p printed
    # shellcheck disable=SC2064  # expanded now on purpose: the previous trap's text
    trap "stop_prometheus; $prev" EXIT
  else
    trap stop_prometheus EXIT
  fi
}

# start_prometheus TARGET_HOSTPORT [SCRAPE_INTERVAL] (default 1s): scrapes
# http://TARGET/metrics as job "keel"; exports PROM_URL and PROM_PID.
start_prometheus() {
  local target=${1:?start_prometheus TARGET_HOSTPORT [SCRAPE_INTERVAL]} interval=${2:-1s}
  local dir="$WORK/prometheus" port attempt
  command -v "$PROMETHEUS" >/dev/null || { echo "start_prometheus: $PROMETHEUS not found" >&2; return 1; }
  mkdir -p "$dir"
  cat > "$dir/prometheus.yml" <<EOF
global:
  scrape_interval: $interval
  scrape_timeout: $interval
  evaluation_interval: $interval
scrape_configs:
  - job_name: keel
    metrics_path: /metrics
    static_configs:
      - targets: ["$target"]
EOF
  _prom_chain_trap
  # The free port can be taken between the probe and Prometheus binding it:
  # try again on "address already in use".
  for attempt in 1 2 3; do
    port=$(_prom_free_port)
    PROM_URL="http://127.0.0.1:$port"
    "$PROMETHEUS" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
      --web.listen-address="127.0.0.1:$port" --log.level=info \
      </dev/null >"$dir/prometheus.log" 2>&1 &
    PROM_PID=$!
    export PROM_URL PROM_PID
    for _ in $(seq 1 150); do    # 15 s
      if curl -sf --max-time 1 -o /dev/null "$PROM_URL/-/ready"; then return 0; fi
      _prom_alive "$PROM_PID" || break
      sleep 0.1
    done
    if _prom_alive "$PROM_PID"; then break; fi    # alive but never ready
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=
    grep -qi "address already in use" "$dir/prometheus.log" || break
  done
  echo "start_prometheus: Prometheus on $PROM_URL did not become ready (attempt $attempt); log tail:" >&2
  tail -n 20 "$dir/prometheus.log" | sed 's/^/  | /' >&2
  stop_prometheus
  return 1
}

# stop_prometheus: TERM, up to 5 s to exit, then KILL.
stop_prometheus() {
  local pid=${PROM_PID:-}
  [ -n "$pid" ] || return 0
  if _prom_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do _prom_alive "$pid" || break; sleep 0.1; done
    if _prom_alive "$pid"; then
      echo "stop_prometheus: $pid ignored TERM for 5 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  PROM_PID=
}

# prom_query 'PROMQL': an instant query; prints the API's JSON answer.
prom_query() {
  curl -sS --max-time 5 -G --data-urlencode "query=${1:?prom_query PROMQL}" "$PROM_URL/api/v1/query"
}

# prom_wait_for 'PROMQL' [TIMEOUT_S] (default 15): polls until the query
# succeeds with a non-empty result and prints that answer; on timeout prints
# the last answer to stderr and returns 1. A filter such as
# 'metric{…} >= 20' makes it wait for a value.
prom_wait_for() {
  local q=${1:?prom_wait_for PROMQL [TIMEOUT_S]} timeout=${2:-15} out="" deadline
  deadline=$((SECONDS + timeout))
  while :; do
    out=$(prom_query "$q" 2>&1) || true
    if [[ $out == *'"status":"success"'* && $out != *'"result":[]'* ]]; then
      printf '%s\n' "$out"; return 0
    fi
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
  done
  echo "prom_wait_for: no result for '$q' after ${timeout}s; last answer: $out" >&2
  return 1
}
