-- wrk_runs_create.lua — POST runs/create into the experiment
-- KEEL_EXPERIMENT_ID with a start time and one tag; keel names each run, as
-- MLflow does when run_name is absent. keel answers with the whole run.
local common = dofile(os.getenv("KEEL_BENCH_LUA") .. "/wrk_common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"experiment_id":"' .. common.getenv("KEEL_EXPERIMENT_ID") ..
  '","start_time":1700000000000,"tags":[{"key":"source","value":"bench"}]}'

done = common.done
