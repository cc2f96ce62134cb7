#!/usr/bin/env bash
# The Slurm executor against a real single-node cluster (munge, slurmctld,
# slurmd from Debian) started here on loopback: a pipeline whose steps are
# batch jobs with resources, a failing step (its exit code from Slurm), a
# retried step, a timeout (scancel), a cancel by signal, the step cache, and
# a controller that is down (clear error, nothing recorded).
CLUSTER="$(cd "$(dirname "$0")" && pwd)/slurm_cluster.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm-wlm/munge are not installed (scripts/install-deps.sh installs them)" >&2
  exit 1
fi
trap 'bash "$CLUSTER" stop "$WORK/slurm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
eval "$(bash "$CLUSTER" start "$WORK/slurm" | tail -n 1)"
[ -n "${SLURM_CONF:-}" ] && ok || { fail "cluster did not start"; finish; }

"$KEEL" init >/dev/null
mkdir proj && cd proj
seq 1 100 > numbers.txt
cat > keel.yaml <<'EOF'
pipeline: cluster
params:
  scale: 3
steps:
  prepare:
    run: mkdir -p work && awk '{print $1 * ${params.scale}}' numbers.txt > work/scaled.txt && hostname > work/host.txt
    deps: [numbers.txt]
    outs: [work/scaled.txt, work/host.txt]
    resources: {cpus: 1, memory: 100M}
  total:
    foreach: [sum, max]
    run: "if [ ${item} = sum ]; then awk '{s += $1} END {print s}' work/scaled.txt; else sort -n work/scaled.txt | tail -n 1; fi > work/${item}.txt"
    deps: [work/scaled.txt]
    outs: ["work/${item}.txt"]
  flaky:
    run: if [ -f .tried ]; then echo ok > flaky.txt; else touch .tried; echo first try fails >&2; exit 1; fi
    outs: [flaky.txt]
    retries: 1
    backoff: 0.2s
EOF

expect_exit 0 -- "$KEEL" run --executor slurm -j 8
expect_contains "$WORK/.out" "start   prepare (slurm job "
expect_contains "$WORK/.out" "retry   flaky: exit 1"
expect_contains "$WORK/.out" "4 run, 0 cached, 0 failed"
expect_contains work/sum.txt "15150"
expect_contains work/max.txt "300"
RUN=$(grep -o 'run [0-9a-f]\{32\}' "$WORK/.out" | head -1 | cut -d' ' -f2)
expect_exit 0 -- "$KEEL" pipeline logs "$RUN" flaky --attempt 1 --stderr
expect_contains "$WORK/.out" "first try fails"
# The job ids keel recorded are the cluster's.
JOB=$(sqlite3 "$WORK/.keel/keel.db" "SELECT job_id FROM pipeline_steps WHERE run_id = '$RUN' AND step = 'prepare'")
scontrol show job -o "$JOB" >"$WORK/.job" 2>&1 && ok || fail "job $JOB unknown to Slurm"
expect_contains "$WORK/.job" "JobState=COMPLETED"
expect_contains "$WORK/.job" "MinMemoryNode=100M"

# Cached on the second run, whatever the executor.
expect_exit 0 -- "$KEEL" run --executor slurm
expect_contains "$WORK/.out" "0 run, 4 cached"

# A failing step: Slurm's exit code; fail-fast scancels the others.
cat > fail.yaml <<'EOF'
pipeline: cluster_fail
steps:
  bad:
    run: sleep 0.5; exit 3
  slow:
    run: sleep 60
  never:
    run: "true"
    needs: [bad]
EOF
expect_exit 1 -- "$KEEL" run -f fail.yaml --executor slurm -j 4
expect_contains "$WORK/.out" "FAILED  bad: exit 3"
expect_contains "$WORK/.out" "cancel  slow"
SLOW=$(sqlite3 "$WORK/.keel/keel.db" "SELECT job_id FROM pipeline_steps WHERE step = 'slow' ORDER BY start_time DESC LIMIT 1")
for _ in $(seq 50); do squeue -h -t all -j "$SLOW" -o %T | grep -q CANCELLED && break; sleep 0.1; done
squeue -h -t all -j "$SLOW" -o %T | grep -q CANCELLED && ok || fail "slow job $SLOW not cancelled"
NEVER=$(sqlite3 "$WORK/.keel/keel.db" "SELECT status FROM pipeline_steps WHERE step = 'never' ORDER BY start_time DESC LIMIT 1")
[ "$NEVER" = "SKIPPED" ] && ok || fail "never: $NEVER"

# A timeout: keel scancels the job at the deadline.
printf 'pipeline: cluster_timeout\nsteps:\n  stuck:\n    run: sleep 120\n    timeout: 2s\n' > timeout.yaml
start=$(date +%s)
expect_exit 1 -- "$KEEL" run -f timeout.yaml --executor slurm
expect_contains "$WORK/.out" "FAILED  stuck: timed out after 2s"
[ $(( $(date +%s) - start )) -lt 30 ] && ok || fail "timeout not enforced on Slurm"

# Cancel by signal: the running job is scancelled and the run CANCELLED.
printf 'pipeline: cluster_cancel\nsteps:\n  long:\n    run: sleep 120\n' > cancel.yaml
KEEL_NO_PROGRESS=1 "$KEEL" run -f cancel.yaml --executor slurm >"$WORK/.cancel" 2>&1 &
kpid=$!
for _ in $(seq 200); do grep -q "start   long" "$WORK/.cancel" && break; sleep 0.05; done
LONG=$(grep -o 'slurm job [0-9]*' "$WORK/.cancel" | awk '{print $3}')
kill -INT $kpid
set +e; wait $kpid; code=$?; set -e
[ $code -eq 1 ] && ok || fail "cancelled run exited $code"
expect_contains "$WORK/.cancel" "CANCELLED"
for _ in $(seq 50); do squeue -h -t all -j "$LONG" -o %T | grep -q CANCELLED && break; sleep 0.1; done
squeue -h -t all -j "$LONG" -o %T | grep -q CANCELLED && ok || fail "job $LONG not cancelled"

# The example pipeline (real data → trained, selected, registered model) on
# the cluster, then fully cached.
mkdir -p "$WORK/ex/data" && cp -r "$ROOT/examples/pipeline" "$WORK/ex/"
cp "$ROOT/examples/data/bike_sharing_hourly.csv" "$WORK/ex/data/"
(cd "$WORK/ex/pipeline" && "$KEEL" run --executor slurm >"$WORK/.ex" 2>&1) || fail "example on slurm"
expect_contains "$WORK/.ex" "start   train[depth=8] (slurm job"
expect_contains "$WORK/.ex" "5 run, 0 cached, 0 failed"
expect_contains "$WORK/ex/pipeline/work/registered.txt" "Registered bike-demand version"
(cd "$WORK/ex/pipeline" && "$KEEL" run --executor slurm >"$WORK/.ex" 2>&1) || fail "example cached"
expect_contains "$WORK/.ex" "0 run, 5 cached"

# The controller down: a clear error and nothing recorded.
before=$(sqlite3 "$WORK/.keel/keel.db" "SELECT count(*) FROM pipeline_runs")
ctld=$(cat "$WORK/slurm/slurmctld.pid")
kill "$ctld"
for _ in $(seq 50); do kill -0 "$ctld" 2>/dev/null || break; sleep 0.1; done
expect_exit 1 -- "$KEEL" run -f cancel.yaml --executor slurm
expect_contains "$WORK/.err" "slurm: the controller does not answer"
after=$(sqlite3 "$WORK/.keel/keel.db" "SELECT count(*) FROM pipeline_runs")
[ "$before" = "$after" ] && ok || fail "a run was recorded against a dead controller ($before → $after)"

finish
