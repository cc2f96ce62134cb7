-- wrk_log_batch.lua — POST runs/log-batch with 1000 metrics per call into
-- the run KEEL_RUN_ID. Four keys in turn (loss, accuracy, learning_rate,
-- grad_norm), 250 steps each; every call of a thread uses the next 250 steps
-- (step = call * 1000 + i, increasing as a training loop's would; threads
-- count independently, which MLflow allows, and each thread has its own
-- timestamp, since keel, like MLflow, stores an identical point once). The
-- body is rebuilt per call
-- from a table whose odd slots are fixed text, so a call costs one
-- table.concat.
local common = dofile(os.getenv("KEEL_BENCH_LUA") .. "/wrk_common.lua")

local run_id = common.getenv("KEEL_RUN_ID")
local keys = { "loss", "accuracy", "learning_rate", "grad_norm" }
local parts = {}
local call = 0

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  local stamp = tostring(1700000000000 + (tid or 0))
  parts[#parts + 1] = '{"run_id":"' .. run_id .. '","metrics":['
  for i = 0, 999 do
    local key = keys[(i % 4) + 1]
    local value = string.format("%.6f", 1.0 / (1 + i))
    parts[#parts + 1] = (i > 0 and "," or "") .. '{"key":"' .. key .. '","value":' .. value ..
      ',"timestamp":' .. stamp .. ',"step":'
    parts[#parts + 1] = ""                    -- the call number, set per call
    parts[#parts + 1] = string.format("%03d}", math.floor(i / 4))
  end
  parts[#parts + 1] = "]}"
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  call = call + 1
  local c = tostring(call)
  for j = 3, #parts - 1, 3 do
    parts[j] = c
  end
  return wrk.format(nil, nil, nil, table.concat(parts))
end

done = common.done
