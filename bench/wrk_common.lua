-- wrk_common.lua — what the wrk_*.lua scripts share: the run id from the
-- environment and a done() that prints one parseable line for
-- bench_server.sh. Loaded with dofile(); wrk runs each script once per
-- thread plus once in its main thread (where done() runs).
local M = {}

-- The env var name, or an error that names it (wrk prints it and exits).
function M.getenv(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error(name .. " is not set")
  end
  return v
end

-- Prints "wrk-result requests=N non2xx=N socket_errors=N duration_us=N";
-- bench_server.sh reads it. Non-2xx answers are counted, not retried.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d non2xx=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end

return M
