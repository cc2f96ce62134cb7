-- wrk_log_metric.lua — POST runs/log-metric, one point per call, into the
-- run KEEL_RUN_ID: key "loss", the step counting up per thread (threads
-- count independently, which MLflow allows, each with its own timestamp,
-- since an identical point is stored once).
local common = dofile(os.getenv("KEEL_BENCH_LUA") .. "/wrk_common.lua")

local run_id = common.getenv("KEEL_RUN_ID")
local head
local step = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  head = '{"run_id":"' .. run_id .. '","key":"loss","value":0.125,"timestamp":' ..
    tostring(1700000000000 + (tid or 0)) .. ',"step":'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  step = step + 1
  return wrk.format(nil, nil, nil, head .. step .. "}")
end

done = common.done
