#!/usr/bin/env python3
"""serve_flask_peer.py — the Python model server bench_serve.sh measures keel
serve against: what a team writes when it serves a keel-trained XGBoost model
without keel.

A Flask app with one endpoint, POST /invocations, taking the same body keel
takes, {"dataframe_records": [{column: value, ...}, ...]}, and answering
{"predictions": [p, ...]}. Each record is encoded exactly as the bundle's
keel.json "encoder" says (keel's src/data/encode.c):

  numeric   the value as a float; null (or "NaN") is missing (NaN)
  onehot    one feature per vocabulary entry, 1.0 for the record's value;
            all zeros for an unseen or missing value
  ordinal   one feature, the value's index in the vocabulary; NaN for an
            unseen or missing value

into a float32 numpy row, then predicted with python3-xgboost: a Booster
loaded once from the bundle's model.json, nthread=1, inplace_predict with
NaN as missing (the model is the bundle's, already cut to its best round).
Unknown columns, missing columns and wrongly typed values answer 400, as
keel does.

The bundle directory comes from $KEEL_BUNDLE. Deployments, as bench_serve.sh
runs them (with OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE):

  gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench serve_flask_peer:app
  python3 bench/serve_flask_peer.py --port PORT     # Flask's built-in server

The built-in server is threaded (Flask's default) and its per-request log
line is turned off, as keel runs with --access-log off and gunicorn has no
access log by default.
"""
import json
import logging
import math
import os
import sys

import numpy as np
import xgboost as xgb
from flask import Flask, jsonify, request


def load_bundle(bundle):
    with open(os.path.join(bundle, "keel.json")) as f:
        manifest = json.load(f)
    encoder = manifest["encoder"]
    columns = []  # (name, kind, first_feature, {category: index} or None, numeric?)
    first = 0
    for col in encoder["columns"]:
        kind = col["encoding"]
        if kind == "numeric":
            columns.append((col["column"], kind, first, None))
            first += 1
        else:
            index = {v: i for i, v in enumerate(col["vocabulary"])}
            columns.append((col["column"], kind, first, index))
            first += len(index) if kind == "onehot" else 1
    width = len(encoder["feature_names"])
    assert first == width, (first, width)
    booster = xgb.Booster(model_file=os.path.join(bundle, manifest.get("model_file", "model.json")))
    booster.set_param({"nthread": 1})
    return manifest, columns, width, booster


class BadRequest(Exception):
    pass


def encode(records, columns, width):
    x = np.zeros((len(records), width), dtype=np.float32)
    names = {c[0] for c in columns}
    for r, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise BadRequest(f"row {r}: expected an object of column values")
        for key in rec:
            if key not in names:
                raise BadRequest(f"row {r}: unknown column '{key}'")
        row = x[r]
        for name, kind, first, index in columns:
            if name not in rec:
                raise BadRequest(f"row {r}: missing column '{name}'")
            v = rec[name]
            if kind == "numeric":
                if v is None or v == "NaN" or v == "nan":
                    row[first] = math.nan
                elif isinstance(v, (int, float)):  # bool is an int: 1/0, as keel
                    row[first] = v
                else:
                    raise BadRequest(f"row {r}, column '{name}': expected a number")
                continue
            if v is not None and not isinstance(v, str):
                raise BadRequest(f"row {r}, column '{name}': expected a string")
            i = index.get(v) if v is not None else None
            if kind == "onehot":
                if i is not None:
                    row[first + i] = 1.0
            else:
                row[first] = math.nan if i is None else i
    return x


MANIFEST, COLUMNS, WIDTH, BOOSTER = load_bundle(os.environ["KEEL_BUNDLE"])
app = Flask(__name__)


@app.post("/invocations")
def invocations():
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("dataframe_records"), list):
        return jsonify({"error": "expected {\"dataframe_records\": [...]}"}), 400
    records = body["dataframe_records"]
    if not records:
        return jsonify({"error": "the request has no rows"}), 400
    try:
        x = encode(records, COLUMNS, WIDTH)
    except BadRequest as e:
        return jsonify({"error": str(e)}), 400
    p = BOOSTER.inplace_predict(x, missing=np.nan)
    return jsonify({"predictions": [float(v) for v in p.ravel()]})


@app.get("/ping")
def ping():
    return "\n"


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 5000
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="127.0.0.1", port=port, threaded=True)
