"""8 concurrent writers x 10,000 metric points against a keel server: four
log to runs of their own, four share one run; a few use single log-metric
calls. Afterwards every point must be stored exactly once.
Usage: python3 server_concurrency.py http://127.0.0.1:PORT"""
import http.client
import json
import sys
import threading
import urllib.parse

BASE = urllib.parse.urlparse(sys.argv[1])
WRITERS, POINTS, BATCH = 8, 10_000, 1000


def conn():
    return http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=60)


def call(c, method, path, body=None):
    data = json.dumps(body) if body is not None else None
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    payload = r.read()
    if r.status != 200:
        raise RuntimeError(f"{method} {path} -> {r.status} {payload[:300]!r}")
    return json.loads(payload) if payload else {}


def create_run(c, exp):
    return call(c, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]


def writer(w, run_id, errors):
    try:
        c = conn()
        key = f"w{w}"
        singles = 200 if w % 2 == 0 else 0   # half the writers also send single calls
        for start in range(0, POINTS - singles, BATCH):
            n = min(BATCH, POINTS - singles - start)
            metrics = [{"key": key, "value": w + i / POINTS, "timestamp": 1700000000000 + start + i,
                        "step": start + i} for i in range(n)]
            call(c, "POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics})
        for i in range(POINTS - singles, POINTS):
            call(c, "POST", "/api/2.0/mlflow/runs/log-metric",
                 {"run_id": run_id, "key": key, "value": w + i / POINTS, "timestamp": 1700000000000 + i, "step": i})
        c.close()
    except Exception as e:  # reported by the main thread
        errors.append(f"writer {w}: {e}")


def main():
    c = conn()
    exp = call(c, "POST", "/api/2.0/mlflow/experiments/create", {"name": "concurrency"})["experiment_id"]
    shared = create_run(c, exp)
    runs = [create_run(c, exp) if w < 4 else shared for w in range(WRITERS)]
    errors = []
    threads = [threading.Thread(target=writer, args=(w, runs[w], errors)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = list(errors)
    for w in range(WRITERS):
        h = call(c, "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={runs[w]}&metric_key=w{w}")
        steps = [m["step"] for m in h.get("metrics", [])]
        if sorted(steps) != list(range(POINTS)):
            failures.append(f"writer {w}: {len(steps)} points stored, {len(set(steps))} distinct steps")
        latest = {m["key"]: m for m in call(c, "GET", f"/api/2.0/mlflow/runs/get?run_id={runs[w]}")["run"]["data"]["metrics"]}
        if latest.get(f"w{w}", {}).get("step") != POINTS - 1:
            failures.append(f"writer {w}: latest value is not the last step")
    for f in failures:
        print("FAIL:", f)
    print(f"{WRITERS * POINTS} points from {WRITERS} writers; {len(failures)} problems")
    sys.exit(1 if failures else 0)


main()
