#!/usr/bin/env bash
# Pipelines on the local executor: keel.yaml validation, the content-addressed
# step cache (hits, misses explained, early cutoff, a fresh checkout sharing
# the store), failures (fail-fast, --keep-going, retries, timeouts, missing
# outputs and deps, a command that does not exist), cancellation by signal,
# kill -9 and --resume, logs and lineage.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh"

"$KEEL" init >/dev/null
mkdir proj && cd proj
printf 'b\na\nc\na\n' > words.txt

cat > keel.yaml <<'EOF'
pipeline: words
params:
  top: 2
steps:
  prepare:
    run: mkdir -p work && sort -u words.txt > work/unique.txt
    deps: [words.txt]
    outs: [work/unique.txt]
  count:
    foreach: [upper, lower]
    run: "tr a-z A-Z < work/unique.txt | { [ ${item} = upper ] && cat || tr A-Z a-z; } > work/${item}.txt"
    deps: [work/unique.txt]
    outs: ["work/${item}.txt"]
  report:
    run: head -n ${params.top} work/upper.txt work/lower.txt > report.txt; echo reported
    deps: [work/upper.txt, work/lower.txt]
    outs: [report.txt]
  whoami:
    uses: experiments list
    needs: [prepare]
    cache: false
EOF

# ---- a first run, then everything cached ----
expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "5 run, 0 cached, 0 failed"
expect_contains report.txt "A"
[ "$(sort -u words.txt | tr -d '\n')" = "abc" ] && ok || fail "words"
RUN1=$(grep -o 'run [0-9a-f]\{32\}' "$WORK/.out" | head -1 | cut -d' ' -f2)
expect_exit 0 -- "$KEEL" pipeline logs "$RUN1" report
expect_contains "$WORK/.out" "reported"
expect_exit 0 -- "$KEEL" pipeline logs "$RUN1" whoami
expect_contains "$WORK/.out" "Default"        # a `uses:` step ran keel in this workspace

expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "1 run, 4 cached"   # whoami has cache: false

# ---- the cache explains itself ----
printf 'b\na\nc\na\nd\n' > words.txt
expect_exit 0 -- "$KEEL" run --dry-run
expect_contains "$WORK/.out" "dep words.txt changed"
expect_contains "$WORK/.out" "after 'prepare', which will run"
expect_exit 0 -- "$KEEL" pipeline status
expect_contains "$WORK/.out" "CACHED"
expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "5 run, 0 cached"
# Early cutoff: an input change that leaves prepare's output as it was runs
# prepare only; everything downstream is a cache hit by content.
printf 'd\nb\na\nc\na\nd\n' > words.txt
expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "2 run, 3 cached"
expect_exit 0 -- "$KEEL" run -p top=1 --dry-run
expect_contains "$WORK/.out" "command changed"

# ---- lineage ----
expect_exit 0 -- "$KEEL" lineage report.txt
expect_contains "$WORK/.out" "produced by step report"
expect_contains "$WORK/.out" "from work/unique.txt"
expect_contains "$WORK/.out" "produced by step prepare"
expect_exit 1 -- "$KEEL" lineage 0000000000000000
expect_contains "$WORK/.err" "matches nothing"

# ---- a fresh checkout sharing the store gets outputs from the cache ----
mkdir ../clone && cp keel.yaml words.txt ../clone/
(cd ../clone && KEEL_HOME="$WORK/.keel" "$KEEL" run >"$WORK/.clone" 2>&1) || fail "clone run"
expect_contains "$WORK/.clone" "1 run, 4 cached"
cmp report.txt ../clone/report.txt && ok || fail "restored report differs"
cmp work/upper.txt ../clone/work/upper.txt && ok || fail "restored upper differs"

# ---- validation: file:line:column before anything runs ----
bad() {  # bad NAME EXPECTED-TEXT  (YAML on stdin)
  cat > "$1.yaml"
  expect_exit 1 -- "$KEEL" run -f "$1.yaml"
  expect_contains "$WORK/.err" "$2"
}
printf 'pipeline: x\nsteps:\n  a:\n    run: [true\n' | bad syntax "syntax.yaml:5:1"
printf 'pipeline: x\nsteps:\n  a:\n    rn: true\n' | bad unknown "unknown.yaml:4:5: unknown key 'rn' in a step"
printf 'pipeline: x\nsteps:\n  a:\n    run: "true"\n    needs: [b]\n  b:\n    run: "true"\n    needs: [a]\n' \
  | bad cycle "the steps form a cycle: "
printf 'pipeline: x\nsteps:\n  a:\n    run: "true"\n    needs: [nope]\n' | bad needs "needs 'nope', which is not a step"
printf 'pipeline: x\nsteps:\n  a:\n    run: "true"\n    outs: [o]\n  b:\n    run: "true"\n    outs: [o]\n' \
  | bad outs "'o' is an output of both step 'a'"
printf 'pipeline: x\nsteps:\n  a:\n    run: "true"\n    retries: many\n' | bad type "type.yaml:5:14: retries must be a whole number"
printf 'pipeline: x\nsteps:\n  a:\n    run: "echo ${params.nope}"\n' | bad ref "'\${params.nope}' refers to nothing"
printf 'pipeline: x\nsteps:\n  a:\n    run: "true"\n    uses: train\n' | bad both "needs exactly one of 'run' or 'uses'"
printf 'pipeline: x\nschedule: "61 * * * *"\nsteps:\n  a:\n    run: "true"\n' | bad cron "minute field: 61 is out of range"
expect_exit 1 -- "$KEEL" run -p nope=1
expect_contains "$WORK/.err" "declares no param 'nope'"
expect_exit 1 -- "$KEEL" run -f missing.yaml
expect_contains "$WORK/.err" "missing.yaml"
expect_exit 2 -- "$KEEL" run -j 0
expect_exit 1 -- "$KEEL" run --executor nowhere
expect_contains "$WORK/.err" "unknown executor 'nowhere'"

# ---- failures ----
cat > fail.yaml <<'EOF'
pipeline: failing
steps:
  bad:
    run: echo about to fail >&2; exit 3
    retries: 1
    backoff: 0.1s
  after_bad:
    run: "true"
    needs: [bad]
  slow:
    run: sleep 0.5 && echo slept > slept.txt
    outs: [slept.txt]
    cache: false
EOF
expect_exit 1 -- "$KEEL" run -f fail.yaml -j 2
expect_contains "$WORK/.out" "retry   bad: exit 3; attempt 2 of 2"
expect_contains "$WORK/.out" "FAILED  bad: exit 3 (attempt 2"
expect_contains "$WORK/.out" "| about to fail"          # the stderr tail is shown
expect_contains "$WORK/.out" "cancel  slow"              # fail-fast stops the others
expect_exit 1 -- "$KEEL" run -f fail.yaml -j 2 --keep-going --json
python3 - "$WORK/.out" <<'PY' && ok || fail "keep-going results"
import json, sys
r = {s["step"]: s for s in json.load(open(sys.argv[1]))["steps"]}
assert r["bad"]["result"] == "fail", r
assert r["slow"]["result"] == "ran", r
assert r["after_bad"]["result"] == "skip" and "needs 'bad', which failed" in r["after_bad"]["why"], r
PY

cat > more.yaml <<'EOF'
pipeline: more
steps:
  flaky:
    run: if [ -f .tried ]; then echo second > flaky.txt; else touch .tried; exit 1; fi
    outs: [flaky.txt]
    retries: 2
    backoff: 50ms
  sleepy:
    run: sleep 30
    timeout: 0.5s
    needs: [flaky]
EOF
start=$(date +%s)
expect_exit 1 -- "$KEEL" run -f more.yaml
expect_contains "$WORK/.out" "retry   flaky"
expect_contains "$WORK/.out" "done    flaky"
expect_contains "$WORK/.out" "FAILED  sleepy: timed out after 0.5s"
[ $(( $(date +%s) - start )) -lt 10 ] && ok || fail "timeout not enforced"
RUN_MORE=$(grep -o 'run [0-9a-f]\{32\}' "$WORK/.out" | head -1 | cut -d' ' -f2)
expect_exit 0 -- "$KEEL" pipeline logs "$RUN_MORE" flaky --attempt 2
expect_exit 0 -- "$KEEL" pipeline runs more
expect_contains "$WORK/.out" "FAILED"

printf 'pipeline: outs\nsteps:\n  lazy:\n    run: "true"\n    outs: [never.txt]\n' > outs.yaml
expect_exit 1 -- "$KEEL" run -f outs.yaml
expect_contains "$WORK/.out" "did not write its declared output 'never.txt'"
printf 'pipeline: deps\nsteps:\n  a:\n    run: "true"\n    deps: [nofile.csv]\n' > deps.yaml
expect_exit 1 -- "$KEEL" run -f deps.yaml
expect_contains "$WORK/.out" "dep 'nofile.csv' does not exist"
printf 'pipeline: cmd\nsteps:\n  a:\n    run: no-such-command-xyz --flag\n' > cmd.yaml
expect_exit 1 -- "$KEEL" run -f cmd.yaml
expect_contains "$WORK/.out" "exit 127: command not found"
expect_contains "$WORK/.out" "not found"

# ---- cancel by signal: the step's process group dies, the run is CANCELLED ----
MARK=$$   # makes this run's sleeping processes recognisable
printf 'pipeline: long\nsteps:\n  wait:\n    run: echo waiting; sleep 31.%s\n' "$MARK" > long.yaml
KEEL_NO_PROGRESS=1 "$KEEL" run -f long.yaml >"$WORK/.long" 2>&1 &
kpid=$!
for _ in $(seq 100); do grep -q "start   wait" "$WORK/.long" && break; sleep 0.05; done
RUN_LONG=$(grep -o 'run [0-9a-f]\{32\}' "$WORK/.long" | head -1 | cut -d' ' -f2)
sleep 0.1
expect_exit 0 -- "$KEEL" pipeline logs "$RUN_LONG" wait      # live, while it runs
expect_contains "$WORK/.out" "waiting"
kill -TERM $kpid
set +e; wait $kpid; code=$?; set -e
[ $code -eq 1 ] && ok || fail "cancelled run exited $code"
expect_contains "$WORK/.long" "CANCELLED"
sleep 0.2
pgrep -f "sleep 31.$MARK" >/dev/null && fail "a cancelled step's process survived" || ok

# ---- kill -9 of keel, then --resume finishes only what did not succeed ----
cat > resume.yaml <<'EOF'
pipeline: resumable
steps:
  first:
    run: echo one > one.txt
    outs: [one.txt]
  second:
    run: test -f go || sleep 32.MARK; echo two > two.txt
    deps: [one.txt]
    outs: [two.txt]
EOF
sed -i "s/MARK/$MARK/" resume.yaml
KEEL_NO_PROGRESS=1 "$KEEL" run -f resume.yaml >"$WORK/.resume" 2>&1 &
kpid=$!
for _ in $(seq 100); do grep -q "start   second" "$WORK/.resume" && break; sleep 0.05; done
sleep 0.1   # let the 50 ms commit window pass so first's success is on disk
kill -9 $kpid; wait $kpid 2>/dev/null || true
RUN_R=$(grep -o 'run [0-9a-f]\{32\}' "$WORK/.resume" | head -1 | cut -d' ' -f2)
[ -f two.txt ] && fail "second finished before the kill" || ok
touch go
expect_exit 0 -- "$KEEL" run -f resume.yaml --resume "$RUN_R"
expect_contains "$WORK/.out" "start   second"
grep -q "start   first" "$WORK/.out" && fail "resume re-ran a step that had succeeded" || ok
expect_contains two.txt "two"
sleep 0.2
pgrep -f "sleep 32.$MARK" >/dev/null && fail "the killed run's step survived the resume" || ok
expect_exit 1 -- "$KEEL" run -f resume.yaml --resume "$RUN_R"
expect_contains "$WORK/.err" "already succeeded"
expect_exit 1 -- "$KEEL" run -f keel.yaml --resume "$RUN_R"
expect_contains "$WORK/.err" "is of pipeline 'resumable'"

# ---- list / show ----
expect_exit 0 -- "$KEEL" pipeline list
expect_contains "$WORK/.out" "words"
expect_exit 0 -- "$KEEL" pipeline show --json
expect_contains "$WORK/.out" '"count[upper]"'
expect_exit 1 -- "$KEEL" pipeline cancel "$RUN1"
expect_contains "$WORK/.err" "is not running"

# ---- the example: real data to a registered model, then all cached ----
mkdir -p "$WORK/ex/data" && cp -r "$ROOT/examples/pipeline" "$WORK/ex/"
cp "$ROOT/examples/data/bike_sharing_hourly.csv" "$WORK/ex/data/"
cd "$WORK/ex/pipeline"
expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "5 run, 0 cached, 0 failed"
expect_contains work/registered.txt "Registered bike-demand version 1"
python3 -c 'import json,sys; assert json.load(open("work/best.json"))["r2"] > 0.88' && ok || fail "best R2"
expect_exit 0 -- "$KEEL" run
expect_contains "$WORK/.out" "0 run, 5 cached"
expect_exit 0 -- "$KEEL" models versions bike-demand
expect_contains "$WORK/.out" "1"
# The training runs are children of their pipeline step runs.
expect_exit 0 -- "$KEEL" runs search --experiment bike-demand --filter "tags.mlflow.parentRunId LIKE '%'" --json
expect_contains "$WORK/.out" "depth-8"

finish
