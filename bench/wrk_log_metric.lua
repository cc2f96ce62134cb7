-- wrk_log_metric.lua — POST runs/log-metric, one point per call, into the
-- run KEEL_RUN_ID: key "loss", the step counting up per thread (threads
-- count independently, which MLflow allows).
local common = dofile(os.getenv("KEEL_BENCH_LUA") .. "/wrk_common.lua")

local head = '{"run_id":"' .. common.getenv("KEEL_RUN_ID") ..
  '","key":"loss","value":0.125,"timestamp":1700000000000,"step":'
local step = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  step = step + 1
  return wrk.format(nil, nil, nil, head .. step .. "}")
end

done = common.done
