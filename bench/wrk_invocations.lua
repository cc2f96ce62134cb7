-- wrk_invocations.lua — POST /invocations with one raw record per request,
-- as a team's client sends it: {"dataframe_records":[{column: value, …}]}.
-- The bodies come from the file $KEEL_BENCH_BODIES, one JSON body per line
-- (bench_serve.sh writes them from real rows of the dataset); each wrk
-- thread formats every request once in init() and then sends them in turn,
-- so wrk spends no time building requests.
--
-- With $KEEL_BENCH_DELAY_MS set, every connection waits that many
-- milliseconds after an answer before it sends the next request (wrk's
-- delay() hook): bench_serve.sh uses it with a chosen number of connections
-- to hold the load at a given rate and read the latency there. wrk's
-- latency runs from sending a request to its full answer; the delay is not
-- in it.
local common = dofile(os.getenv("KEEL_BENCH_LUA") .. "/wrk_common.lua")

local requests = {}
local next_request = 0

function init(args)
  local path = common.getenv("KEEL_BENCH_BODIES")
  local f = assert(io.open(path, "r"))
  local headers = { ["Content-Type"] = "application/json" }
  for line in f:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", "/invocations", headers, line)
    end
  end
  f:close()
  if #requests == 0 then
    error(path .. " holds no bodies")
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

local delay_ms = tonumber(os.getenv("KEEL_BENCH_DELAY_MS") or "")
if delay_ms ~= nil and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

done = common.done
