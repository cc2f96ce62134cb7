"""select_best.py METRIC FILE... — print the `keel train --json` result with
the highest METRIC (a step of examples/pipeline/keel.yaml)."""
import json
import sys

metric, files = sys.argv[1], sys.argv[2:]
results = [json.load(open(f)) for f in files]
best = max(results, key=lambda r: r["metrics"][metric])
json.dump({"run_id": best["run_id"], metric: best["metrics"][metric],
           "candidates": len(results)}, sys.stdout, indent=2)
print()
