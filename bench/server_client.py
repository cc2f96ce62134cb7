#!/usr/bin/env python3
"""server_client.py — the small client bench_server.sh uses besides wrk.

Standard library only. Subcommands (all print one line or a few, and exit
non-zero with a message on stderr when the server answers anything but 200):

  experiment BASE NAME      create an experiment, print its id
  run BASE EXP_ID           create a run, print its id
  populate BASE EXP_ID N    N runs with 5 params p0..p4 (values v0..v9) and
                            5 metrics m0..m4 (uniform in [0, 1), fixed seed),
                            over 4 keep-alive connections; prints
                            "expected=K" where K is how many runs match
                            metrics.m0 > 0.5 and params.p1 = 'v3'
  search BASE EXP_ID MAX EXPECTED REPS
                            2 warm-up calls, then REPS sequential keep-alive
                            POST runs/search calls with that filter and
                            max_results MAX; checks every answer holds
                            min(MAX, EXPECTED) runs and that each one matches;
                            prints "search-result median_ms=… p95_ms=… runs=…"
  count DB WHAT ID          count rows in the store file DB (read-only):
                            WHAT is "metrics" (rows of run ID) or "runs"
                            (runs of experiment ID)

BASE is http://127.0.0.1:PORT.
"""
import http.client
import json
import random
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse

FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def post_raw(self, path, data):
        """Sends the encoded body, returns the answer's bytes (HTTP 200 only)."""
        self.conn.request("POST", "/api/2.0/mlflow/" + path, data,
                          {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        text = resp.read()
        if resp.status != 200:
            sys.exit(f"server_client: POST {path}: HTTP {resp.status}: {text[:300]!r}")
        return text

    def post(self, path, body):
        return json.loads(self.post_raw(path, json.dumps(body).encode()))


def populate(base, exp_id, n):
    rng = random.Random(20240501)
    runs = []
    expected = 0
    for i in range(n):
        params = [{"key": f"p{k}", "value": f"v{rng.randrange(10)}"} for k in range(5)]
        metrics = [{"key": f"m{k}", "value": rng.random(), "timestamp": 1700000000000 + i,
                    "step": 0} for k in range(5)]
        if metrics[0]["value"] > 0.5 and params[1]["value"] == "v3":
            expected += 1
        runs.append((params, metrics))
    failures = []

    def worker(part):
        try:
            c = Client(base)
            for params, metrics in part:
                run = c.post("runs/create", {"experiment_id": exp_id,
                                             "start_time": 1700000000000})
                run_id = run["run"]["info"]["run_id"]
                c.post("runs/log-batch", {"run_id": run_id, "params": params,
                                          "metrics": metrics})
        except SystemExit as e:
            failures.append(str(e))

    threads = [threading.Thread(target=worker, args=(runs[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(failures[0])
    print(f"expected={expected}")


def search(base, exp_id, max_results, expected, reps):
    c = Client(base)
    body = json.dumps({"experiment_ids": [exp_id], "filter": FILTER,
                       "max_results": max_results}).encode()
    want = min(max_results, expected)
    times = []
    for i in range(2 + reps):
        t0 = time.perf_counter()
        text = c.post_raw("runs/search", body)
        dt = time.perf_counter() - t0  # request sent to answer read; decoding is not timed
        runs = json.loads(text).get("runs", [])
        if len(runs) != want:
            sys.exit(f"server_client: search returned {len(runs)} runs, expected {want}")
        for run in runs:
            m0 = [m["value"] for m in run["data"].get("metrics", []) if m["key"] == "m0"]
            p1 = [p["value"] for p in run["data"].get("params", []) if p["key"] == "p1"]
            if not (m0 and m0[0] > 0.5 and p1 == ["v3"]):
                sys.exit(f"server_client: run {run['info']['run_id']} does not match")
        if i >= 2:
            times.append(dt * 1000.0)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, int(0.95 * len(times) + 0.999999) - 1))]
    print(f"search-result median_ms={statistics.median(times):.2f} p95_ms={p95:.2f} "
          f"runs={want} reps={reps}")


def count(db, what, ident):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    if what == "metrics":
        sql = "SELECT count(*) FROM metrics WHERE run_uuid = ?"
    elif what == "runs":
        sql = "SELECT count(*) FROM runs WHERE experiment_id = ?"
    else:
        sys.exit(f"server_client: count {what}: expected metrics or runs")
    print(con.execute(sql, (ident,)).fetchone()[0])
    con.close()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "experiment" and len(args) == 2:
        print(Client(args[0]).post("experiments/create", {"name": args[1]})["experiment_id"])
    elif cmd == "run" and len(args) == 2:
        run = Client(args[0]).post("runs/create", {"experiment_id": args[1],
                                                   "start_time": 1700000000000})
        print(run["run"]["info"]["run_id"])
    elif cmd == "populate" and len(args) == 3:
        populate(args[0], args[1], int(args[2]))
    elif cmd == "search" and len(args) == 5:
        search(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "count" and len(args) == 3:
        count(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
